-- Execution control (schema version 2).

-- When a run waits to retry, the wall-clock instant its next attempt is due;
-- NULL otherwise. A daemon that restarts resumes such runs at that instant.
ALTER TABLE runs ADD COLUMN retry_at TEXT;

-- How long the attempt waited for one of the [daemon] max_concurrent slots, in ms.
ALTER TABLE attempts ADD COLUMN waited_ms INTEGER;

-- Bytes of output dropped between the head and the tail kept (max_output), per stream.
ALTER TABLE attempts ADD COLUMN stdout_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN stderr_dropped INTEGER NOT NULL DEFAULT 0;

-- The process that supervises the run (the daemon, or a `cronbox run`). A daemon
-- starting up leaves alone the unfinished runs of another process still alive.
ALTER TABLE runs ADD COLUMN pid INTEGER;

CREATE INDEX runs_pending ON runs (job) WHERE status = 'running';
