-- Indexed runs (schema version 10; issue 17): a job with completions = N runs N
-- indexes, 0..N-1, each in containers of its own with its own attempts.
--
-- attempts.completion_index: the index an attempt ran (CRONBOX_INDEX in its
-- container); NULL for the attempts of a plain run (completions = 1). Named
-- completion_index rather than "index", a keyword SQL would need quoted.
-- attempts.attempt stays numbered 1, 2, 3, ... across the whole run (so that
-- (run_id, attempt) still names one attempt); an index's own attempts are its
-- rows in the order of that number.
ALTER TABLE attempts ADD COLUMN completion_index INTEGER;
CREATE INDEX attempts_run_index ON attempts (run_id, completion_index);

-- Where each index of an indexed run stands, written in the same transaction as
-- the attempt end that decides it, so that a daemon killed at any point never
-- runs a succeeded index again: 'succeeded', 'failed' (its retries spent, or a
-- fatal exit code), or 'retrying' (its next attempt due at retry_at). An index
-- with no row has not ended an attempt yet (pending, or running).
CREATE TABLE run_indexes (
    run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    completion_index INTEGER NOT NULL,
    status           TEXT NOT NULL,      -- 'succeeded' | 'failed' | 'retrying'
    retry_at         TEXT,               -- for 'retrying': when its next attempt is due
    PRIMARY KEY (run_id, completion_index)
) WITHOUT ROWID;

-- The history view, as before, with each attempt's index.
DROP VIEW history;
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
                                             AS duration_ms,
       a.completion_index                    AS completion_index
FROM runs r
LEFT JOIN attempts a ON a.run_id = r.id;
