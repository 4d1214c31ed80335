-- The web dashboard's long-range view (schema version 9).

-- A job's runs started in a window (the job page's weekly durations over a
-- year) from the index: one range of it per job, however many jobs share the
-- history. The expression is the one the query compares, as in
-- runs_status_started.
CREATE INDEX runs_job_started ON runs (job, julianday(started_at));
