-- cronbox history schema, version 1. This schema is a public interface: operators
-- query it with sqlite3. Timestamps are ISO-8601 UTC text with milliseconds
-- ('2026-03-29T01:00:00.000Z'), so SQLite's date functions work on them.

-- One firing of a job: a scheduled tick or a manual trigger.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job          TEXT NOT NULL,
    trigger      TEXT NOT NULL,          -- 'schedule' | 'manual'
    scheduled_at TEXT NOT NULL,          -- the tick's instant; for a manual run, when it was asked for
    status       TEXT NOT NULL,          -- 'running' | 'succeeded' | 'failed' | 'interrupted'
    started_at   TEXT NOT NULL,
    finished_at  TEXT,                   -- NULL while running
    reason       TEXT                    -- why the run failed or was interrupted, in words
);
-- A tick's identity is (job, scheduled instant): a scheduled tick is recorded once.
CREATE UNIQUE INDEX runs_tick ON runs (job, scheduled_at) WHERE trigger = 'schedule';
CREATE INDEX runs_job ON runs (job, id);
CREATE INDEX runs_status ON runs (status);

-- One container execution inside a run.
CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,       -- 1 for the first attempt, 2 for the first retry, ...
    container_id TEXT,                   -- NULL when no container was created
    image        TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,                   -- NULL while running
    exit_code    INTEGER,                -- NULL when the container never ran to an exit
    oom_killed   INTEGER,                -- 0 or 1, from the engine's State.OOMKilled
    outcome      TEXT NOT NULL,          -- 'running' | 'exited' | 'engine-error' | 'image-missing' | 'interrupted'
    error        TEXT,                   -- the engine's message for engine-error / image-missing
    UNIQUE (run_id, attempt)
);
CREATE INDEX attempts_outcome ON attempts (outcome);

-- What an attempt printed, in the order it arrived, stdout and stderr apart.
-- Concatenate the chunks of one stream ordered by seq to get the whole output.
CREATE TABLE output (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    stream     TEXT NOT NULL,            -- 'stdout' | 'stderr'
    seq        INTEGER NOT NULL,         -- 0, 1, 2, ... per attempt and stream
    at         TEXT NOT NULL,            -- when the chunk was received
    data       BLOB NOT NULL,            -- the bytes as the container wrote them
    PRIMARY KEY (attempt_id, stream, seq)
) WITHOUT ROWID;

-- One row per attempt; a run with no attempt appears once, with NULL attempt columns.
CREATE VIEW history AS
SELECT r.id                                  AS run_id,
       r.job                                 AS job,
       r.trigger                             AS trigger,
       r.scheduled_at                        AS scheduled_at,
       r.status                              AS status,
       a.attempt                             AS attempt,
       a.exit_code                           AS exit_code,
       a.outcome                             AS outcome,
       COALESCE(a.started_at, r.started_at)  AS started_at,
       CASE WHEN a.id IS NULL THEN r.finished_at ELSE a.finished_at END AS finished_at,
       CAST(ROUND((julianday(CASE WHEN a.id IS NULL THEN r.finished_at ELSE a.finished_at END)
                   - julianday(COALESCE(a.started_at, r.started_at))) * 86400000) AS INTEGER)
                                             AS duration_ms
FROM runs r
LEFT JOIN attempts a ON a.run_id = r.id;
