-- Ticks recorded as not run when they are written (skipped, missed) tell the
-- channels that ask for that event; the event is the run's status. Replaces the
-- trigger of 20261130010000, which repeated the whole CASE of notify_run_ended
-- (its other branches could never apply to such a run). Same rows as before.
DROP TRIGGER notify_run_not_run;

CREATE TRIGGER notify_run_not_run AFTER INSERT ON runs
WHEN NEW.status IN ('missed', 'skipped')
BEGIN
    INSERT INTO notifications (job, run_id, channel, event, created_at, next_attempt_at)
    SELECT NEW.job, NEW.id, r.channel, NEW.status,
           coalesce(NEW.finished_at, NEW.started_at), coalesce(NEW.finished_at, NEW.started_at)
    FROM notify_routes r
    WHERE r.job = NEW.job
      AND CASE NEW.status WHEN 'missed' THEN r.on_missed ELSE r.on_skipped END;
END;
