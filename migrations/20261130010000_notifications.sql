-- Notifications (schema version 7): the outbox of messages about runs.

-- Which channels each job tells about which events: written by the daemon from
-- the schedule file at start and at each reload ([jobs.NAME] notify, notify_on,
-- notify_cooldown). The triggers below read it, so that a notification row is
-- written in the same transaction as the run's end, whoever writes that end (the
-- daemon, `cronbox run`, the start-up repair).
CREATE TABLE notify_routes (
    job          TEXT NOT NULL,
    channel      TEXT NOT NULL,
    on_failure   INTEGER NOT NULL,
    on_recovery  INTEGER NOT NULL,
    on_success   INTEGER NOT NULL,
    on_missed    INTEGER NOT NULL,
    on_skipped   INTEGER NOT NULL,
    on_overdue   INTEGER NOT NULL,
    cooldown_ms  INTEGER NOT NULL,
    PRIMARY KEY (job, channel)
) WITHOUT ROWID;

-- Dead-man alerts ([jobs.NAME] expect_success_within): since when the daemon
-- knows the job (the start of its count before any success), and when it was
-- found overdue (NULL: it is not). A success of an overdue job writes its
-- overdue_resolved notifications and clears overdue_at (trigger below).
CREATE TABLE overdue_jobs (
    job         TEXT PRIMARY KEY,
    since       TEXT NOT NULL,
    overdue_at  TEXT
) WITHOUT ROWID;

-- Which jobs ping which healthchecks channel, and their check there
-- ([jobs.NAME] healthchecks), written by the daemon as notify_routes.
CREATE TABLE ping_routes (
    job      TEXT PRIMARY KEY,
    channel  TEXT NOT NULL,
    "check"  TEXT NOT NULL
) WITHOUT ROWID;

-- One message to one channel. state: 'pending' (to send at next_attempt_at),
-- 'delivered' (at delivered_at), 'folded' (a repeat within the cooldown, counted
-- in the next message sent), 'abandoned' (retried for 24 hours without success).
-- payload: the JSON body of format json, built at the first attempt and sent
-- unchanged by every retry. last_error names the channel's host only, never its
-- URL. run_id is not a foreign key: retention may delete the run first.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job              TEXT NOT NULL,
    run_id           INTEGER,
    channel          TEXT NOT NULL,
    event            TEXT NOT NULL,   -- failure | recovery | success | missed | skipped,
                                      -- or a ping: ping_start | ping_success | ping_failure
    payload          TEXT,
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    delivered_at     TEXT,
    last_error       TEXT,
    state            TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_route ON notifications (job, channel, event, id);
CREATE INDEX notifications_run ON notifications (run_id);

-- Retention: a run deleted (history_max_age, history_limit) takes its
-- notifications along, except those still pending (their delivery goes on).
CREATE TRIGGER notifications_of_deleted_run AFTER DELETE ON runs
BEGIN
    DELETE FROM notifications WHERE run_id = OLD.id AND state <> 'pending';
END;

-- A run's end writes one row per channel of its job that asks for its event:
-- failed -> failure; succeeded -> recovery when the job's previous finished run
-- failed and the channel asks for recovery, else success; missed; skipped.
CREATE TRIGGER notify_run_ended AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status IN ('failed', 'succeeded', 'missed', 'skipped')
BEGIN
    INSERT INTO notifications (job, run_id, channel, event, created_at, next_attempt_at)
    SELECT NEW.job, NEW.id, channel, event, at, at FROM (
        SELECT r.channel AS channel,
               coalesce(NEW.finished_at, NEW.started_at) AS at,
               CASE NEW.status
                   WHEN 'failed' THEN CASE WHEN r.on_failure THEN 'failure' END
                   WHEN 'missed' THEN CASE WHEN r.on_missed THEN 'missed' END
                   WHEN 'skipped' THEN CASE WHEN r.on_skipped THEN 'skipped' END
                   WHEN 'succeeded' THEN CASE
                       WHEN r.on_recovery AND (
                           SELECT p.status FROM runs p
                           WHERE p.job = NEW.job AND p.id < NEW.id
                             AND p.status IN ('succeeded', 'failed')
                           ORDER BY p.id DESC LIMIT 1) = 'failed' THEN 'recovery'
                       WHEN r.on_success THEN 'success'
                   END
               END AS event
        FROM notify_routes r
        WHERE r.job = NEW.job
    )
    WHERE event IS NOT NULL;
END;

-- Ticks recorded as not run when they are written: skipped, missed.
CREATE TRIGGER notify_run_not_run AFTER INSERT ON runs
WHEN NEW.status IN ('missed', 'skipped')
BEGIN
    INSERT INTO notifications (job, run_id, channel, event, created_at, next_attempt_at)
    SELECT NEW.job, NEW.id, channel, event, at, at FROM (
        SELECT r.channel AS channel,
               coalesce(NEW.finished_at, NEW.started_at) AS at,
               CASE NEW.status
                   WHEN 'failed' THEN CASE WHEN r.on_failure THEN 'failure' END
                   WHEN 'missed' THEN CASE WHEN r.on_missed THEN 'missed' END
                   WHEN 'skipped' THEN CASE WHEN r.on_skipped THEN 'skipped' END
                   WHEN 'succeeded' THEN CASE
                       WHEN r.on_recovery AND (
                           SELECT p.status FROM runs p
                           WHERE p.job = NEW.job AND p.id < NEW.id
                             AND p.status IN ('succeeded', 'failed')
                           ORDER BY p.id DESC LIMIT 1) = 'failed' THEN 'recovery'
                       WHEN r.on_success THEN 'success'
                   END
               END AS event
        FROM notify_routes r
        WHERE r.job = NEW.job
    )
    WHERE event IS NOT NULL;
END;

-- Pings (kind healthchecks): /start when an attempt starts (retries included),
-- then at the run's end the check's URL (success) or /EXIT_CODE, /fail (failure).
-- payload holds the check, so that a ping goes where the route said when it was
-- written.
CREATE TRIGGER ping_attempt_started AFTER INSERT ON attempts
BEGIN
    INSERT INTO notifications (job, run_id, channel, event, payload, created_at, next_attempt_at)
    SELECT p.job, NEW.run_id, p.channel, 'ping_start', json_object('check', p."check"),
           NEW.started_at, NEW.started_at
    FROM ping_routes p
    WHERE p.job = (SELECT job FROM runs WHERE id = NEW.run_id);
END;

CREATE TRIGGER ping_run_ended AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status IN ('failed', 'succeeded')
BEGIN
    INSERT INTO notifications (job, run_id, channel, event, payload, created_at, next_attempt_at)
    SELECT p.job, NEW.id, p.channel,
           CASE NEW.status WHEN 'succeeded' THEN 'ping_success' ELSE 'ping_failure' END,
           json_object('check', p."check"),
           coalesce(NEW.finished_at, NEW.started_at), coalesce(NEW.finished_at, NEW.started_at)
    FROM ping_routes p
    WHERE p.job = NEW.job;
END;

-- The success of a job found overdue resolves it.
CREATE TRIGGER overdue_resolved AFTER UPDATE OF status ON runs
WHEN NEW.status = 'succeeded'
 AND EXISTS (SELECT 1 FROM overdue_jobs o WHERE o.job = NEW.job AND o.overdue_at IS NOT NULL)
BEGIN
    INSERT INTO notifications (job, run_id, channel, event, created_at, next_attempt_at)
    SELECT NEW.job, NEW.id, r.channel, 'overdue_resolved',
           coalesce(NEW.finished_at, NEW.started_at), coalesce(NEW.finished_at, NEW.started_at)
    FROM notify_routes r
    WHERE r.job = NEW.job AND r.on_overdue;
    UPDATE overdue_jobs SET overdue_at = NULL WHERE job = NEW.job;
END;
