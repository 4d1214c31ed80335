-- Control through the API (schema version 6).

-- The parameters a run was started with through the API (`params`), as a JSON
-- object {"KEY": "value"}; NULL for other runs.
ALTER TABLE runs ADD COLUMN params TEXT;

-- Jobs paused (Kubernetes' suspend): their ticks do not run. While a job is
-- paused, its ticks are accounted as one run with status 'paused' (run_id),
-- counted as missed ticks are (missed_count, missed_first .. scheduled_at).
CREATE TABLE paused_jobs (
    job     TEXT PRIMARY KEY,
    since   TEXT NOT NULL,
    run_id  INTEGER REFERENCES runs (id) ON DELETE SET NULL
) WITHOUT ROWID;
-- Deleting a run (retention) finds the pause that points at it without a scan.
CREATE INDEX paused_jobs_run ON paused_jobs (run_id);
