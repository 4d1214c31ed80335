-- Hardening (schema version 5).

-- Why another process asked this run to stop, or NULL. A daemon whose job has
-- concurrency = "replace" sets 'replaced' on a run that a `cronbox run` process
-- supervises; that process stops the run's container and records the run
-- replaced, and the daemon's new run starts once it has ended.
ALTER TABLE runs ADD COLUMN stop_requested TEXT;
