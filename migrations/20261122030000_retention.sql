-- Bounded history (schema version 4): indexes only, no change to the tables.

-- Retention deletes the runs that finished before an instant (history_max_age)
-- without reading every run. Runs still going have finished_at NULL.
CREATE INDEX runs_finished ON runs (finished_at);

-- "Failed runs this week" as the README writes it: one status, started since an
-- instant computed with julianday(). The expression must match the query's
-- `julianday(started_at)` for SQLite to use the index.
CREATE INDEX runs_status_started ON runs (status, julianday(started_at));
