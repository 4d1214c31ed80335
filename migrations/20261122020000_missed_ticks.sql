-- Missed ticks and catch-up (schema version 3).

-- A run with status 'missed' stands for every tick of one outage of its job:
-- how many ticks were missed, and the first of them (scheduled_at is the last).
ALTER TABLE runs ADD COLUMN missed_count INTEGER;
ALTER TABLE runs ADD COLUMN missed_first TEXT;

-- Each job's horizon: every tick up to this instant is accounted for (run,
-- skipped or missed). A job without a row has never been seen by a daemon.
CREATE TABLE schedule_state (
    job     TEXT PRIMARY KEY,
    horizon TEXT NOT NULL
) WITHOUT ROWID;

-- A tick's identity is (job, scheduled instant), whether it ran on time or as a catch-up.
DROP INDEX runs_tick;
CREATE UNIQUE INDEX runs_tick ON runs (job, scheduled_at) WHERE trigger IN ('schedule', 'catch-up');
