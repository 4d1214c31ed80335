-- random_delay (issue 14).

-- The instant a tick of the clock fired: scheduled_at (the tick as the schedule
-- gives it) shifted by the job's random_delay offset, equal to scheduled_at for
-- a job without random_delay. NULL for a run not started by the clock, a skipped
-- tick and the row standing for missed ticks.
ALTER TABLE runs ADD COLUMN fire_at TEXT;

-- A random value made once per database: with each job's name, it fixes the
-- job's random_delay offset, so that the offsets stay across restarts and
-- reloads and differ between boxes that share a schedule file.
CREATE TABLE database_seed (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seed  TEXT NOT NULL
);
INSERT INTO database_seed (id, seed) VALUES (1, lower(hex(randomblob(16))));
