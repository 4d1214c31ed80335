//! The life of a run in the database: its row, its attempts, its end, and the
//! schedule state that says which ticks are accounted for.
//!
//! Each write that records a fact and the state that follows from it does both
//! in one transaction, so that a process killed between any two writes leaves a
//! state the start-up repair turns into the truth:
//! - a tick's run (or its skipped or missed row) and the job's horizon;
//! - an attempt's end and what becomes of its run (a pending retry, or its end);
//! - a new attempt and the clearing of its run's pending retry.
//!
//! A container is removed only after its attempt's end is recorded here.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;
use std::collections::HashMap;

use super::{
    AttemptEnd, RunStatus, StaleAttempt, Store, StoreError, Trigger, inserted_id, parse_timestamp,
    timestamp,
};

/// What becomes of a run when one of its attempts ends, recorded in the same
/// transaction as the attempt's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNext<'a> {
    /// The run waits to retry: its next attempt is due at this instant.
    RetryAt(DateTime<Utc>),
    /// The run is over.
    Finish {
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&'a str>,
    },
}

/// A run still marked running with no attempt going: waiting for its first
/// attempt (a `[daemon] max_concurrent` slot, or the end of a run it replaces),
/// or between two attempts (a pending retry, or a slot for the next attempt).
/// The start-up repair resumes such runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRun {
    pub run_id: i64,
    pub job: String,
    pub trigger: String,
    pub scheduled_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    /// When its next attempt is due; `None`: now (it was waiting for a slot).
    pub retry_at: Option<DateTime<Utc>>,
    /// The highest attempt number it has recorded (0: none yet).
    pub attempts: u32,
    /// The process that supervises it.
    pub pid: Option<u32>,
    /// The parameters it was started with through the API (`runs.params`).
    pub params: Vec<(String, String)>,
}

/// An unfinished run of a job, and the process that supervises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnfinishedRun {
    pub run_id: i64,
    pub pid: Option<u32>,
}

/// A run's parameters as `runs.params` stores them: a JSON object. The value of
/// a parameter `secret` says is one is not stored: it is `null` there (and a run
/// resumed from the database goes on without it).
pub fn params_to_json(params: &[(String, String)], secret: impl Fn(&str) -> bool) -> String {
    let object: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| {
            let value = if secret(k) {
                serde_json::Value::Null
            } else {
                serde_json::Value::String(v.clone())
            };
            (k.clone(), value)
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// A run's parameters from `runs.params` (anything else than an object of
/// strings gives none).
pub fn params_from_json(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(object)) => object
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}

/// Move `job`'s horizon to `at` (never backwards), inside a transaction.
/// Record `end` on attempt `attempt_id` if it is still `running`: an attempt
/// something else already ended (the start-up repair, another process) is
/// not ended twice. `false`: it had already ended, nothing written.
pub(super) async fn end_running_attempt(
    conn: &mut SqliteConnection,
    attempt_id: i64,
    end: &AttemptEnd,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE attempts SET finished_at = ?2, exit_code = ?3, oom_killed = ?4, outcome = ?5, error = ?6
         WHERE id = ?1 AND outcome = 'running'",
    )
    .bind(attempt_id)
    .bind(timestamp(end.finished_at))
    .bind(end.exit_code)
    .bind(end.oom_killed)
    .bind(end.outcome)
    .bind(end.error.as_deref())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn advance_horizon(
    conn: &mut SqliteConnection,
    job: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO schedule_state (job, horizon) VALUES (?1, ?2)
         ON CONFLICT (job) DO UPDATE SET horizon = max(horizon, excluded.horizon)",
    )
    .bind(job)
    .bind(timestamp(at))
    .execute(conn)
    .await?;
    Ok(())
}

/// How long a write waits for SQLite's write lock before the log says that
/// another process holds it (the wait itself goes on to the busy timeout).
pub const LOCK_WAIT_WARNING: std::time::Duration = std::time::Duration::from_secs(1);

impl Store {
    /// Run `body` in one `BEGIN IMMEDIATE` transaction (the write lock taken at
    /// once, waiting for it as the busy timeout says). On any failure, the commit
    /// included, the transaction is rolled back and nothing of it stays.
    ///
    /// Plain `BEGIN`/`COMMIT`/`ROLLBACK` statements rather than sqlx's
    /// transactions: on a full disk SQLite may roll a transaction back by itself,
    /// sqlx's own `ROLLBACK` then fails and sqlx keeps counting the transaction
    /// as open, and every later transaction on that pooled connection is refused.
    /// After a failure the connection is closed rather than returned to the pool,
    /// so no uncertain state outlives it.
    pub(super) async fn in_transaction<T, F>(
        &self,
        what: &'static str,
        body: F,
    ) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(
            &'c mut SqliteConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'c>,
        >,
    {
        let mut conn = self.pool.acquire().await.map_err(self.err(what))?;
        let result = async {
            let begin = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn);
            self.warn_while_locked(what, begin).await?;
            let value = body(&mut conn).await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(value)
        }
        .await;
        if result.is_err() {
            // "No transaction is active" when SQLite already rolled it back: fine.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            drop(conn.detach());
        }
        result.map_err(self.err(what))
    }

    /// Await `begin` (taking the write lock), and say so in the log when it
    /// waits longer than [`LOCK_WAIT_WARNING`]: another process holds the lock
    /// (an operator's `sqlite3` in an open transaction, a backup), and the
    /// scheduler is held up until it lets go or the busy timeout (10 s) ends.
    async fn warn_while_locked<T, E>(
        &self,
        what: &str,
        begin: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        tokio::pin!(begin);
        tokio::select! {
            biased;
            done = &mut begin => return done,
            _ = tokio::time::sleep(LOCK_WAIT_WARNING) => {}
        }
        tracing::warn!(
            database = %self.path.display(),
            "waiting for the database's write lock while {what}: another process holds it (a sqlite3 shell in an open transaction?); end that transaction, or cronbox gives up after the busy timeout (10 s)"
        );
        let done = begin.await;
        if done.is_ok() {
            tracing::info!(database = %self.path.display(), "the database's write lock is free again; {what} goes on");
        }
        done
    }

    /// Record a new run as `running`, with the parameters it was started with
    /// (`params`, a JSON object; API runs only), and, for a tick, move the job's
    /// horizon to `horizon` in the same transaction. `(scheduled_at, fire_at)`:
    /// the tick's instant (or when another run was asked for) and, for a tick,
    /// the instant it fired (shifted by `random_delay`; `runs.fire_at`). Returns
    /// `None` when this scheduled tick is already recorded (a tick's identity is
    /// its job and
    /// instant).
    pub async fn insert_run(
        &self,
        job: &str,
        trigger: Trigger,
        (scheduled_at, fire_at): (DateTime<Utc>, Option<DateTime<Utc>>),
        started_at: DateTime<Utc>,
        horizon: Option<DateTime<Utc>>,
        params: Option<String>,
    ) -> Result<Option<i64>, StoreError> {
        let (job, pid) = (job.to_owned(), std::process::id());
        self.in_transaction("recording a new run", move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "INSERT INTO runs (job, trigger, scheduled_at, status, started_at, pid, params, fire_at)
                     VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)
                     ON CONFLICT (job, scheduled_at) WHERE trigger IN ('schedule', 'catch-up') DO NOTHING",
                )
                .bind(&job)
                .bind(trigger.as_str())
                .bind(timestamp(scheduled_at))
                .bind(timestamp(started_at))
                .bind(pid)
                .bind(params)
                .bind(fire_at.map(timestamp))
                .execute(&mut *conn)
                .await?;
                if let Some(horizon) = horizon {
                    advance_horizon(conn, &job, horizon).await?;
                }
                Ok(inserted_id(&done))
            })
        })
        .await
    }

    /// Record the end of a run.
    pub async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        finished_at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        // A run already ended keeps its end.
        sqlx::query("UPDATE runs SET status = ?2, finished_at = ?3, reason = ?4, retry_at = NULL WHERE id = ?1 AND status = 'running'")
            .bind(run_id)
            .bind(status.as_str())
            .bind(timestamp(finished_at))
            .bind(reason)
            .execute(&self.pool)
            .await
            .map_err(self.err("recording the end of a run"))?;
        Ok(())
    }

    /// Record a run that was not started (a tick, or a request through the
    /// API), with the reason, and for a tick move the job's horizon to `now` in
    /// the same transaction. Returns `None` when this scheduled tick is already
    /// recorded.
    pub async fn insert_skipped_run(
        &self,
        job: &str,
        trigger: Trigger,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        let tick = matches!(trigger, Trigger::Schedule | Trigger::CatchUp);
        let (job, reason) = (job.to_owned(), reason.to_owned());
        self.in_transaction("recording a skipped run", move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "INSERT INTO runs (job, trigger, scheduled_at, status, started_at, finished_at, reason)
                     VALUES (?1, ?2, ?3, 'skipped', ?4, ?4, ?5)
                     ON CONFLICT (job, scheduled_at) WHERE trigger IN ('schedule', 'catch-up') DO NOTHING",
                )
                .bind(&job)
                .bind(trigger.as_str())
                .bind(timestamp(scheduled_at))
                .bind(timestamp(now))
                .bind(&reason)
                .execute(&mut *conn)
                .await?;
                if tick {
                    advance_horizon(conn, &job, now).await?;
                }
                Ok(inserted_id(&done))
            })
        })
        .await
    }

    /// Record ticks of `job` that were missed: one row for the span, whose
    /// `scheduled_at` is the last of them, and move the job's horizon to
    /// `horizon` in the same transaction (the last missed tick when a later tick
    /// of the same wake is still to be recorded, else the wake). `None` when that
    /// tick is already recorded.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_missed(
        &self,
        job: &str,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        count: u64,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (job, reason) = (job.to_owned(), reason.to_owned());
        self.in_transaction("recording missed ticks", move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "INSERT INTO runs (job, trigger, scheduled_at, status, started_at, finished_at, reason, missed_count, missed_first)
                     VALUES (?1, 'schedule', ?2, 'missed', ?3, ?3, ?4, ?5, ?6)
                     ON CONFLICT (job, scheduled_at) WHERE trigger IN ('schedule', 'catch-up') DO NOTHING",
                )
                .bind(&job)
                .bind(timestamp(last))
                .bind(timestamp(now))
                .bind(&reason)
                .bind(i64::try_from(count).unwrap_or(i64::MAX))
                .bind(timestamp(first))
                .execute(&mut *conn)
                .await?;
                advance_horizon(conn, &job, horizon).await?;
                Ok(inserted_id(&done))
            })
        })
        .await
    }

    /// Record a run that never started because it could not start before its
    /// `starting_deadline`: status `missed`, one tick.
    pub async fn mark_missed(
        &self,
        run_id: i64,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET status = 'missed', finished_at = ?2, reason = ?3, retry_at = NULL,
                    missed_count = 1, missed_first = scheduled_at
             WHERE id = ?1 AND status = 'running'",
        )
        .bind(run_id)
        .bind(timestamp(now))
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(self.err("recording a missed run"))?;
        Ok(())
    }

    /// Every job's horizon: the instant up to which its ticks are accounted for.
    pub async fn horizons(&self) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let rows = sqlx::query("SELECT job, horizon FROM schedule_state")
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading the schedule state"))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| Some((row.get::<String, _>(0), parse_timestamp(row.get(1))?)))
            .collect())
    }

    /// Move the horizon of each of `jobs` to `at` (never backwards): for jobs
    /// with no tick in between, or seen for the first time.
    pub async fn set_horizon(&self, jobs: &[&str], at: DateTime<Utc>) -> Result<(), StoreError> {
        // One autocommit statement per job: each is complete in itself.
        for job in jobs {
            sqlx::query(
                "INSERT INTO schedule_state (job, horizon) VALUES (?1, ?2)
                 ON CONFLICT (job) DO UPDATE SET horizon = max(horizon, excluded.horizon)",
            )
            .bind(job)
            .bind(timestamp(at))
            .execute(&self.pool)
            .await
            .map_err(self.err("saving the schedule state"))?;
        }
        Ok(())
    }

    /// The unfinished runs of `job` (running, waiting for a slot, or waiting to
    /// retry), oldest first, whichever process supervises them.
    pub async fn unfinished_runs(&self, job: &str) -> Result<Vec<UnfinishedRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, pid FROM runs WHERE job = ?1 AND status = 'running' ORDER BY id",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("looking for unfinished runs"))?;
        Ok(rows
            .into_iter()
            .map(|row| UnfinishedRun {
                run_id: row.get(0),
                pid: row
                    .get::<Option<i64>, _>(1)
                    .and_then(|p| u32::try_from(p).ok()),
            })
            .collect())
    }

    /// Ask the process supervising each of `runs` to stop it, for `reason`
    /// (`replaced`). Only runs still going are marked.
    pub async fn request_stop(&self, runs: &[i64], reason: &str) -> Result<(), StoreError> {
        for run_id in runs {
            sqlx::query("UPDATE runs SET stop_requested = ?2 WHERE id = ?1 AND status = 'running'")
                .bind(run_id)
                .bind(reason)
                .execute(&self.pool)
                .await
                .map_err(self.err("asking a run to stop"))?;
        }
        Ok(())
    }

    /// The parameters run `run_id` was started with through the API (none for
    /// other runs).
    pub async fn run_params(&self, run_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT params FROM runs WHERE id = ?1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading a run's parameters"))?;
        Ok(row
            .and_then(|row| row.get::<Option<String>, _>(0))
            .map(|json| params_from_json(&json))
            .unwrap_or_default())
    }

    /// Whether run `run_id` is still going, and the process that supervises
    /// it: `None` when there is no such run.
    pub async fn run_owner(&self, run_id: i64) -> Result<Option<(bool, Option<u32>)>, StoreError> {
        let row = sqlx::query("SELECT status = 'running', pid FROM runs WHERE id = ?1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("looking up a run's process"))?;
        Ok(row.map(|row| {
            let pid = row
                .get::<Option<i64>, _>(1)
                .and_then(|p| u32::try_from(p).ok());
            (row.get::<bool, _>(0), pid)
        }))
    }

    /// Why another process asked this run to stop, if it did.
    pub async fn stop_requested(&self, run_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT stop_requested FROM runs WHERE id = ?1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading a run's stop request"))?;
        Ok(row.and_then(|row| row.get(0)))
    }

    /// Runs still marked running with no attempt running (see [`PendingRun`]),
    /// in the order they were waiting: by the instant their next attempt was
    /// due (their start, for those waiting for a first attempt), then by id.
    pub async fn pending_runs(&self) -> Result<Vec<PendingRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.job, r.trigger, r.scheduled_at, r.started_at, r.retry_at, r.pid,
                    (SELECT coalesce(max(a.attempt), 0) FROM attempts a WHERE a.run_id = r.id),
                    r.params
             FROM runs r
             WHERE r.status = 'running'
               AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id AND a.outcome = 'running')
             ORDER BY coalesce(r.retry_at, r.started_at), r.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing runs waiting to go on"))?;
        let mut pending = Vec::new();
        for row in rows {
            let times = (parse_timestamp(row.get(3)), parse_timestamp(row.get(4)));
            let (Some(scheduled_at), Some(started_at)) = times else {
                tracing::warn!(
                    run = row.get::<i64, _>(0),
                    "a run waiting to go on has an unreadable timestamp; left as it is"
                );
                continue;
            };
            pending.push(PendingRun {
                run_id: row.get(0),
                job: row.get(1),
                trigger: row.get(2),
                scheduled_at,
                started_at,
                retry_at: row.get::<Option<&str>, _>(5).and_then(parse_timestamp),
                pid: row
                    .get::<Option<i64>, _>(6)
                    .and_then(|p| u32::try_from(p).ok()),
                attempts: u32::try_from(row.get::<i64, _>(7)).unwrap_or(u32::MAX),
                params: row
                    .get::<Option<&str>, _>(8)
                    .map(params_from_json)
                    .unwrap_or_default(),
            });
        }
        Ok(pending)
    }

    /// Record the start of attempt number `attempt` of a run, after waiting
    /// `waited` for a concurrency slot, and clear the run's pending retry in the
    /// same transaction; returns the attempt's id. Idempotent: a retry after a
    /// write whose success was not reported finds the row.
    pub async fn start_attempt(
        &self,
        run_id: i64,
        attempt: u32,
        image: &str,
        started_at: DateTime<Utc>,
        waited: std::time::Duration,
    ) -> Result<i64, StoreError> {
        let image = image.to_owned();
        let waited = i64::try_from(waited.as_millis()).unwrap_or(i64::MAX);
        self.in_transaction("recording a new attempt", move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO attempts (run_id, attempt, image, started_at, outcome, waited_ms)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5)
                     ON CONFLICT (run_id, attempt) DO UPDATE SET started_at = excluded.started_at, waited_ms = excluded.waited_ms",
                )
                .bind(run_id)
                .bind(attempt)
                .bind(&image)
                .bind(timestamp(started_at))
                .bind(waited)
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE runs SET retry_at = NULL WHERE id = ?1")
                    .bind(run_id)
                    .execute(&mut *conn)
                    .await?;
                let row = sqlx::query("SELECT id FROM attempts WHERE run_id = ?1 AND attempt = ?2")
                    .bind(run_id)
                    .bind(attempt)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(row.get::<i64, _>(0))
            })
        })
        .await
    }

    /// Record the container an attempt runs in.
    pub async fn set_container(
        &self,
        attempt_id: i64,
        container_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE attempts SET container_id = ?2 WHERE id = ?1")
            .bind(attempt_id)
            .bind(container_id)
            .execute(&self.pool)
            .await
            .map_err(self.err("recording an attempt's container"))?;
        Ok(())
    }

    /// Forget an attempt that never had a container (its process stopped
    /// between recording it and creating the container): nothing ran, and the
    /// run makes the same attempt again. An attempt with a container, or one that
    /// ended, is left as it is. Returns whether it was forgotten.
    pub async fn discard_unstarted_attempt(&self, attempt_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM attempts WHERE id = ?1 AND outcome = 'running' AND container_id IS NULL",
        )
        .bind(attempt_id)
        .execute(&self.pool)
        .await
        .map_err(self.err("forgetting an attempt that never started"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Record how an attempt ended and, in the same transaction, what becomes
    /// of its run (`next`). Only an attempt still marked running is recorded:
    /// `false` (and nothing written) when another process recorded its end
    /// meanwhile (a `cronbox run` that finished while a starting daemon looked
    /// at it), so no recorded end is ever overwritten.
    pub async fn end_attempt(
        &self,
        run_id: i64,
        attempt_id: i64,
        end: &AttemptEnd,
        next: RunNext<'_>,
    ) -> Result<bool, StoreError> {
        let end = end.clone();
        let next = match next {
            RunNext::RetryAt(at) => (None, Some(timestamp(at)), None, None),
            RunNext::Finish { status, at, reason } => (
                Some(status.as_str()),
                None,
                Some(timestamp(at)),
                reason.map(str::to_owned),
            ),
        };
        self.in_transaction("recording the end of an attempt", move |conn| {
            Box::pin(async move {
                if !end_running_attempt(conn, attempt_id, &end).await? {
                    return Ok(false);
                }
                let (status, retry_at, finished_at, reason) = next;
                sqlx::query(
                    "UPDATE runs SET status = coalesce(?2, status), retry_at = ?3,
                            finished_at = coalesce(?4, finished_at), reason = coalesce(?5, reason)
                     WHERE id = ?1 AND status = 'running'",
                )
                .bind(run_id)
                .bind(status)
                .bind(retry_at)
                .bind(finished_at)
                .bind(reason)
                .execute(&mut *conn)
                .await?;
                Ok(true)
            })
        })
        .await
    }

    /// Attempts still marked running, oldest first.
    pub async fn running_attempts(&self) -> Result<Vec<StaleAttempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.run_id, r.job, a.attempt, a.container_id, r.pid, r.started_at, a.started_at
             FROM attempts a JOIN runs r ON r.id = a.run_id
             WHERE a.outcome = 'running' ORDER BY a.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing running attempts"))?;
        Ok(rows
            .into_iter()
            .map(|row| StaleAttempt {
                attempt_id: row.get(0),
                run_id: row.get(1),
                job: row.get(2),
                attempt: row.get(3),
                container_id: row.get(4),
                pid: row
                    .get::<Option<i64>, _>(5)
                    .and_then(|p| u32::try_from(p).ok()),
                run_started_at: parse_timestamp(row.get(6)).unwrap_or_default(),
                attempt_started_at: parse_timestamp(row.get(7)).unwrap_or_default(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_parameter_is_stored_without_its_value() {
        let params = [
            ("TARGET".to_owned(), "db-2".to_owned()),
            ("db_password".to_owned(), "hunter2".to_owned()),
        ];
        let json = params_to_json(&params, |key| key == "db_password");
        assert_eq!(json, r#"{"TARGET":"db-2","db_password":null}"#);
        assert_eq!(
            params_from_json(&json),
            [("TARGET".to_owned(), "db-2".to_owned())],
            "a resumed run goes on without it"
        );
    }
}
