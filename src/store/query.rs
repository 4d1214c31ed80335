//! Reads for the HTTP API and the metrics: pages of runs by filter (newest
//! first, with an id cursor), one run and its attempts, each job's last run and
//! last success, how many runs wait to start, and whether the database takes
//! writes. Each filter is bound, never written into the SQL text.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use std::collections::HashMap;

use super::{Store, StoreError, parse_timestamp, timestamp};

/// Which runs a page of [`Store::runs`] holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub job: Option<String>,
    /// `runs.status`: `running`, `succeeded`, ...
    pub status: Option<String>,
    /// `runs.trigger`: `schedule`, `api`, ...
    pub trigger: Option<String>,
    /// Only runs with an id below this one (the cursor of the next page).
    pub before: Option<i64>,
    /// At most this many runs.
    pub limit: u32,
}

/// One row of `runs`, as the API shows it. Timestamps as the database stores
/// them (ISO-8601 UTC with milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub trigger: String,
    pub scheduled_at: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub reason: Option<String>,
    /// For a `missed` or `paused` run: how many ticks it stands for, the first
    /// of them (`scheduled_at` is the last).
    pub missed_count: Option<i64>,
    pub missed_first: Option<String>,
    /// The parameters it was started with through the API (a secret's value is
    /// `None`: never stored).
    pub params: Vec<(String, Option<String>)>,
    /// For a tick that ran, the instant it fired (`runs.fire_at`: shifted by
    /// `random_delay`).
    pub fire_at: Option<String>,
}

/// One row of `attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub attempt: i64,
    pub container_id: Option<String>,
    pub image: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    pub oom_killed: Option<bool>,
    pub outcome: String,
    pub error: Option<String>,
    /// Milliseconds it waited for a `max_concurrent` slot.
    pub waited_ms: Option<i64>,
    /// Bytes of output dropped between the head and the tail kept.
    pub stdout_dropped: i64,
    pub stderr_dropped: i64,
}

/// The columns [`run_row`] reads, in its order.
macro_rules! run_columns {
    () => {
        "id, job, trigger, scheduled_at, status, started_at, finished_at, reason, missed_count, missed_first, params, fire_at"
    };
}

fn run_row(row: &SqliteRow) -> RunRow {
    RunRow {
        id: row.get(0),
        job: row.get(1),
        trigger: row.get(2),
        scheduled_at: row.get(3),
        status: row.get(4),
        started_at: row.get(5),
        finished_at: row.get(6),
        reason: row.get(7),
        missed_count: row.get(8),
        missed_first: row.get(9),
        params: row
            .get::<Option<String>, _>(10)
            .map(|json| stored_params(&json))
            .unwrap_or_default(),
        fire_at: row.get(11),
    }
}

/// The parameters in `runs.params`, a secret's as `None`.
fn stored_params(json: &str) -> Vec<(String, Option<String>)> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(object)) => object
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_owned)))
            .collect(),
        _ => Vec::new(),
    }
}

impl Store {
    /// The runs `filter` selects, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        // Only the conditions given, so that SQLite picks the index for them
        // (runs(job, id) for a job's page).
        let mut conditions = Vec::new();
        for (value, condition) in [
            (filter.job.is_some(), "job = ?"),
            (filter.status.is_some(), "status = ?"),
            (filter.trigger.is_some(), "trigger = ?"),
            (filter.before.is_some(), "id < ?"),
        ] {
            if value {
                conditions.push(condition);
            }
        }
        let mut sql = concat!("SELECT ", run_columns!(), " FROM runs").to_owned();
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        // Audited: fixed fragments only; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for text in [&filter.job, &filter.status, &filter.trigger]
            .into_iter()
            .flatten()
        {
            query = query.bind(text);
        }
        if let Some(before) = filter.before {
            query = query.bind(before);
        }
        let rows = query
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading runs"))?;
        Ok(rows.iter().map(run_row).collect())
    }

    /// Run `run_id`, if there is one.
    pub async fn run(&self, run_id: i64) -> Result<Option<RunRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = ?1"
        ))
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading a run"))?;
        Ok(row.as_ref().map(run_row))
    }

    /// The attempts of run `run_id`, in order.
    pub async fn attempts(&self, run_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, container_id, image, started_at, finished_at, exit_code, oom_killed,
                    outcome, error, waited_ms, stdout_dropped, stderr_dropped
             FROM attempts WHERE run_id = ?1 ORDER BY attempt",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading a run's attempts"))?;
        Ok(rows
            .iter()
            .map(|row| AttemptRow {
                attempt: row.get(0),
                container_id: row.get(1),
                image: row.get(2),
                started_at: row.get(3),
                finished_at: row.get(4),
                exit_code: row.get(5),
                oom_killed: row.get(6),
                outcome: row.get(7),
                error: row.get(8),
                waited_ms: row.get(9),
                stdout_dropped: row.get(10),
                stderr_dropped: row.get(11),
            })
            .collect())
    }

    /// Each job's latest run, by job name.
    pub async fn last_runs(&self) -> Result<HashMap<String, RunRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id IN (SELECT max(id) FROM runs GROUP BY job)"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading the last runs"))?;
        Ok(rows
            .iter()
            .map(run_row)
            .map(|run| (run.job.clone(), run))
            .collect())
    }

    /// The latest run of each job of `jobs` that has one, by job name: one
    /// index seek per job (`runs_job`), so its cost does not grow with the
    /// history as [`Store::last_runs`]' scan of every job's runs does.
    pub async fn last_runs_of(&self, jobs: &[&str]) -> Result<HashMap<String, RunRow>, StoreError> {
        let names = serde_json::to_string(jobs).unwrap_or_else(|_| "[]".to_owned());
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id IN (SELECT (SELECT max(r.id) FROM runs r WHERE r.job = j.value)",
            " FROM json_each(?1) j)"
        ))
        .bind(names)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading the jobs' last runs"))?;
        Ok(rows
            .iter()
            .map(run_row)
            .map(|run| (run.job.clone(), run))
            .collect())
    }

    /// How many runs wait to start an attempt at `now`: unfinished, with no
    /// attempt running and no retry due later (waiting for a `max_concurrent`
    /// slot, or for the end of a run they replace).
    pub async fn waiting_runs(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) FROM runs r
             WHERE r.status = 'running' AND (r.retry_at IS NULL OR r.retry_at <= ?1)
               AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id AND a.outcome = 'running')",
        )
        .bind(timestamp(now))
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("counting the runs waiting to start"))?;
        Ok(row.get(0))
    }

    /// Whether the database answers a read now: the newest applied migration,
    /// one indexed row (cheap, whatever the history's size). Its version, for
    /// the dashboard's state panel.
    pub async fn check_readable(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("reading the database's schema version"))?;
        Ok(row.try_get::<Option<i64>, _>(0).ok().flatten().unwrap_or(0))
    }

    /// Whether the database takes writes now: the write lock is taken and given
    /// back at once (`BEGIN IMMEDIATE`, `ROLLBACK`), which a read-only file or a
    /// lock held past the busy timeout refuses. Nothing is written. The check
    /// runs in a task of its own, one at a time: a caller that stops waiting
    /// (the readiness check gives up before the busy timeout) must not drop the
    /// connection between its `BEGIN` and its `ROLLBACK`, which would hand the
    /// pool a connection that holds the write lock, and every write would wait.
    /// A caller waits for its turn before that task is spawned, so callers that
    /// give up while an outside writer holds the lock leave no task behind:
    /// one check at most waits on the lock, however many probes come.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let one = self.writable_check.clone().lock_owned().await;
        let store = self.clone();
        let checked = tokio::spawn(async move {
            let _one = one;
            store.take_write_lock().await
        });
        match checked.await {
            Ok(result) => result,
            // Only when the runtime shuts down (or the task panicked).
            Err(_) => Err(self.err("checking that the database takes writes")(
                sqlx::Error::PoolClosed,
            )),
        }
    }

    async fn take_write_lock(&self) -> Result<(), StoreError> {
        let what = "checking that the database takes writes";
        let mut conn = self.pool.acquire().await.map_err(self.err(what))?;
        let begun = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await;
        // Given back in every case ("no transaction is active" when it failed).
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        begun.map(drop).map_err(self.err(what))
    }

    /// When each job's last run of each final status ended:
    /// `(job, status, finished_at)`.
    pub async fn last_ends(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT job, status, max(finished_at) FROM runs WHERE finished_at IS NOT NULL GROUP BY job, status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading when the last runs ended"))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let at: Option<String> = row.get(2);
                Some((row.get(0), row.get(1), parse_timestamp(&at?)?))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Trigger;

    fn at(text: &str) -> DateTime<Utc> {
        parse_timestamp(text).expect("time")
    }

    #[tokio::test]
    async fn pages_of_runs_follow_the_filter_newest_first_and_continue_from_the_cursor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).await.expect("open");
        let t = at("2026-01-01T00:00:00Z");
        for (job, trigger) in [
            ("a", Trigger::Schedule),
            ("b", Trigger::Api),
            ("a", Trigger::Api),
            ("a", Trigger::Manual),
        ] {
            let scheduled = t + chrono::TimeDelta::minutes(
                store
                    .runs(&RunFilter {
                        limit: 100,
                        ..RunFilter::default()
                    })
                    .await
                    .expect("runs")
                    .len() as i64,
            );
            store
                .insert_run(
                    job,
                    trigger,
                    (scheduled, None),
                    scheduled,
                    None,
                    Some(r#"{"X":"1","S":null}"#.into()),
                )
                .await
                .expect("insert");
        }
        store
            .insert_skipped_run("a", Trigger::Api, t, t, "busy")
            .await
            .expect("skipped");
        let ids = |rows: Vec<RunRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        let page = |filter: RunFilter| {
            let store = store.clone();
            async move { ids(store.runs(&filter).await.expect("runs")) }
        };
        let all = RunFilter {
            limit: 100,
            ..RunFilter::default()
        };
        assert_eq!(page(all.clone()).await, [5, 4, 3, 2, 1]);
        let a = RunFilter {
            job: Some("a".into()),
            limit: 2,
            ..all.clone()
        };
        assert_eq!(page(a.clone()).await, [5, 4]);
        assert_eq!(
            page(RunFilter {
                before: Some(4),
                ..a.clone()
            })
            .await,
            [3, 1]
        );
        assert_eq!(
            page(RunFilter {
                before: Some(1),
                ..a
            })
            .await,
            Vec::<i64>::new()
        );
        let api = RunFilter {
            trigger: Some("api".into()),
            ..all.clone()
        };
        assert_eq!(page(api).await, [5, 3, 2]);
        let skipped = RunFilter {
            status: Some("skipped".into()),
            job: Some("a".into()),
            ..all
        };
        assert_eq!(page(skipped).await, [5]);
        let run = store.run(1).await.expect("run").expect("run 1");
        assert_eq!(
            run.params,
            [
                ("S".to_owned(), None),
                ("X".to_owned(), Some("1".to_owned()))
            ]
        );
        assert!(store.run(99).await.expect("run").is_none());
        let last = store.last_runs().await.expect("last");
        assert_eq!((last["a"].id, last["b"].id), (5, 2));
        let of = store
            .last_runs_of(&["b", "a", "none"])
            .await
            .expect("last of");
        assert_eq!((of.len(), of["a"].id, of["b"].id), (2, 5, 2));
        let last = store.last_runs_of(&["a", "none"]).await.expect("last");
        assert_eq!((last.len(), last["a"].id), (1, 5));
        assert_eq!(store.waiting_runs(t).await.expect("waiting"), 4);
        store.check_writable().await.expect("writable");
    }

    #[tokio::test]
    async fn probes_that_give_up_while_a_writer_holds_the_lock_leave_one_check_behind() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let store = Store::open(&path).await.expect("open");
        // An operator's shell holding the write lock.
        let mut outside = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("connect");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut outside)
            .await
            .expect("lock");
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        // /readyz probes, each giving up after a while (as READY_WAIT does).
        for _ in 0..50 {
            let wait = std::time::Duration::from_millis(20);
            let probe = tokio::time::timeout(wait, store.check_writable());
            assert!(
                probe.await.is_err(),
                "the check passed while the lock was held"
            );
        }
        // The one check waiting on the lock; none queued behind it.
        assert_eq!(metrics.num_alive_tasks(), before + 1);
        sqlx::query("ROLLBACK")
            .execute(&mut outside)
            .await
            .expect("unlock");
        store.check_writable().await.expect("writable once let go");
    }
}
