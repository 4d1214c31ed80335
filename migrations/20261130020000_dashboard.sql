-- The web dashboard (schema version 7).

-- Each job's latest runs and their statuses from the index alone: the
-- overview's strip of the last 30 runs of every job reads a few index pages
-- per job instead of one table page per run, however long the history.
CREATE INDEX runs_job_status ON runs (job, id, status);
