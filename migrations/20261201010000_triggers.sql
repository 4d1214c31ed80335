-- Triggers besides the clock (schema version 10): job chains and file arrival.

-- The run whose end started this one (trigger 'after'); NULL for other runs.
-- Not a foreign key: retention may delete the parent first.
ALTER TABLE runs ADD COLUMN parent_run_id INTEGER;
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- Which job starts after which ([jobs.NAME] after = { job, on }): written by the
-- daemon from the schedule file at start and at each reload. The trigger below
-- reads it, so that a child run is recorded in the same transaction as its
-- parent's end, whoever writes that end (the daemon, `cronbox run`, the start-up
-- repair).
CREATE TABLE chain_routes (
    child       TEXT NOT NULL,
    parent      TEXT NOT NULL,
    on_success  INTEGER NOT NULL,
    on_failure  INTEGER NOT NULL,
    PRIMARY KEY (child, parent)
) WITHOUT ROWID;

-- A parent's end (succeeded or failed) records one run of each child that asks
-- for it: status 'running' with no attempt and no process (pid NULL) yet, its
-- parent in parent_run_id and in params (the child's CRONBOX_PARENT_JOB,
-- CRONBOX_PARENT_RUN_ID, CRONBOX_PARENT_STATUS). The daemon claims such runs
-- (sets pid) and starts them; one it never started is started at its next start.
CREATE TRIGGER chain_run_ended AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status IN ('succeeded', 'failed')
BEGIN
    INSERT INTO runs (job, trigger, scheduled_at, status, started_at, params, parent_run_id)
    SELECT c.child, 'after', coalesce(NEW.finished_at, NEW.started_at), 'running',
           coalesce(NEW.finished_at, NEW.started_at),
           json_object('CRONBOX_PARENT_JOB', NEW.job,
                       'CRONBOX_PARENT_RUN_ID', CAST(NEW.id AS TEXT),
                       'CRONBOX_PARENT_STATUS', NEW.status),
           NEW.id
    FROM chain_routes c
    WHERE c.parent = NEW.job
      AND ((NEW.status = 'succeeded' AND c.on_success) OR (NEW.status = 'failed' AND c.on_failure))
    ORDER BY c.child;
END;

-- The daemon finds the children it has not claimed yet without a scan.
CREATE INDEX runs_unclaimed ON runs (id) WHERE status = 'running' AND pid IS NULL;

-- File arrival ([jobs.NAME] on_file): one row per file taken, written in the
-- transaction that records its run (trigger 'file'). Its identity (dev, inode,
-- size, mtime_ns, path) is never taken twice for the job. state: 'taken' until
-- after_success / after_failure was applied, then 'done' with action 'kept',
-- 'deleted', 'moved' (to moved_to) or 'failed' (action_error says why; the file
-- is not run again). run_id is not a foreign key: retention may delete the run.
CREATE TABLE input_files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    path          TEXT NOT NULL,
    dev           INTEGER NOT NULL,
    inode         INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    run_id        INTEGER,
    taken_at      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'taken',
    action        TEXT,
    moved_to      TEXT,
    action_error  TEXT,
    UNIQUE (job, dev, inode, size, mtime_ns, path)
);
CREATE INDEX input_files_run ON input_files (run_id);
CREATE INDEX input_files_open ON input_files (job, id) WHERE state = 'taken';
