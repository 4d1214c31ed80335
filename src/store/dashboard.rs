//! Reads for the web dashboard: each job's recent statuses (the strip of the
//! overview), success rates over a window, recent failures, the runs that are
//! unfinished now (running an attempt, waiting for a slot or for a retry), a
//! job's last run durations with their longest attempt (its chart), and its
//! durations and failures over months in buckets (its long-range view). Every
//! value is bound; each query uses an index (`runs_job_status`,
//! `runs_finished`, `runs_status_started`, `runs_pending`, `runs_job_started`).

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;
use std::collections::HashMap;

use super::{Store, StoreError, timestamp};

/// A run, in the few columns a strip or a chart needs. Timestamps as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunBrief {
    pub id: i64,
    pub job: String,
    pub trigger: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub reason: Option<String>,
}

/// A job's runs that ran to an end (`succeeded`, `failed`, `interrupted`,
/// `stopped`) in a window, and how many of them succeeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SuccessRate {
    pub succeeded: i64,
    pub ended: i64,
}

/// A run that ran to an end, for the duration chart.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedRun {
    pub run: RunBrief,
    /// The longest of its attempts, in seconds (`None`: no attempt ended,
    /// as for a run interrupted before its container started).
    pub longest_attempt: Option<f64>,
}

/// One bucket of a job's long-range view: its runs that started in the
/// bucket and ran to an end.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationBucket {
    /// Which bucket: 0 is the one that starts the window.
    pub index: u32,
    pub runs: i64,
    /// Of them, how many ended `failed` or `interrupted`.
    pub failures: i64,
    /// Their median and longest durations (start to end), in seconds.
    pub median: f64,
    pub max: f64,
}

/// What an unfinished run is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    /// Attempt `attempt` runs in a container.
    Running { attempt: i64 },
    /// Its next attempt waits for its backoff, until `retry_at` (as stored).
    Retry { attempt: i64, retry_at: String },
    /// Its next attempt waits for a `max_concurrent` slot (or for the run it
    /// replaces to end).
    Waiting,
}

/// An unfinished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRun {
    pub run: RunBrief,
    pub state: Unfinished,
}

/// The statuses of runs that ran to an end, which a success rate counts.
const ENDED: &str = "('succeeded', 'failed', 'interrupted', 'stopped')";

fn brief(row: &sqlx::sqlite::SqliteRow) -> RunBrief {
    RunBrief {
        id: row.get(0),
        job: row.get(1),
        trigger: row.get(2),
        status: row.get(3),
        started_at: row.get(4),
        finished_at: row.get(5),
        reason: row.get(6),
    }
}

impl Store {
    /// The ids and statuses of the last `count` runs of each of `jobs`, newest
    /// first, by job name (a job without runs is absent). One query, one row
    /// per job; each job's runs come from the `runs_job` index, however long
    /// the history.
    pub async fn recent_statuses(
        &self,
        jobs: &[String],
        count: u32,
    ) -> Result<HashMap<String, Vec<(i64, String)>>, StoreError> {
        let names = serde_json::to_string(jobs).unwrap_or_else(|_| "[]".to_owned());
        let rows = sqlx::query(
            "SELECT j.value,
                    (SELECT group_concat(id || ':' || status, ',')
                     FROM (SELECT id, status FROM runs WHERE job = j.value ORDER BY id DESC LIMIT ?2))
             FROM json_each(?1) AS j",
        )
        .bind(names)
        .bind(count)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading the recent runs of the jobs"))?;
        let mut recent = HashMap::new();
        for row in &rows {
            let Some(list) = row.get::<Option<String>, _>(1) else {
                continue;
            };
            let mut runs: Vec<(i64, String)> = list
                .split(',')
                .filter_map(|pair| {
                    let (id, status) = pair.split_once(':')?;
                    Some((id.parse().ok()?, status.to_owned()))
                })
                .collect();
            // group_concat's order is not promised: newest first, by id.
            runs.sort_by_key(|r| std::cmp::Reverse(r.0));
            recent.insert(row.get(0), runs);
        }
        Ok(recent)
    }

    /// Per job, its runs started since `since` that ran to an end and how many
    /// of them succeeded.
    pub async fn success_rates(
        &self,
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, SuccessRate>, StoreError> {
        let sql = format!(
            "SELECT job, sum(status = 'succeeded'), count(*) FROM runs
             WHERE status IN {ENDED} AND julianday(started_at) >= julianday(?1)
             GROUP BY job"
        );
        // Audited: a constant list of statuses; the instant is bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(timestamp(since))
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading the success rates"))?;
        Ok(rows
            .iter()
            .map(|row| {
                let rate = SuccessRate {
                    succeeded: row.get(1),
                    ended: row.get(2),
                };
                (row.get(0), rate)
            })
            .collect())
    }

    /// The runs that finished `failed` or `interrupted` since `since`, newest
    /// first, at most `limit` (by the `runs_finished` index: `+status` keeps
    /// SQLite from walking every failure of the history by status instead).
    pub async fn failures_since(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RunBrief>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, job, trigger, status, started_at, finished_at, reason FROM runs
             WHERE finished_at >= ?1 AND +status IN ('failed', 'interrupted')
             ORDER BY finished_at DESC LIMIT ?2",
        )
        .bind(timestamp(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading the recent failures"))?;
        Ok(rows.iter().map(brief).collect())
    }

    /// The unfinished runs, oldest first, with what each is doing at `now`.
    pub async fn open_runs(&self, now: DateTime<Utc>) -> Result<Vec<OpenRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.job, r.trigger, r.status, r.started_at, r.finished_at, r.reason,
                    r.retry_at,
                    (SELECT max(attempt) FROM attempts WHERE run_id = r.id),
                    EXISTS (SELECT 1 FROM attempts WHERE run_id = r.id AND outcome = 'running')
             FROM runs AS r WHERE r.status = 'running' ORDER BY r.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading the unfinished runs"))?;
        let now = timestamp(now);
        Ok(rows
            .iter()
            .map(|row| {
                let retry_at: Option<String> = row.get(7);
                let attempt: Option<i64> = row.get(8);
                let running: bool = row.get(9);
                let state = match (running, retry_at) {
                    (true, _) => Unfinished::Running {
                        attempt: attempt.unwrap_or(1),
                    },
                    (false, Some(retry_at)) if retry_at > now => Unfinished::Retry {
                        attempt: attempt.unwrap_or(0) + 1,
                        retry_at,
                    },
                    _ => Unfinished::Waiting,
                };
                OpenRun {
                    run: brief(row),
                    state,
                }
            })
            .collect())
    }

    /// The last `count` runs of `job` that ran to an end, newest first, each
    /// with its longest attempt (the duration chart: a timeout limits one
    /// attempt, not the whole run).
    pub async fn ended_runs(&self, job: &str, count: u32) -> Result<Vec<EndedRun>, StoreError> {
        let sql = format!(
            "SELECT id, job, trigger, status, started_at, finished_at, reason,
                    (SELECT max(round((julianday(a.finished_at) - julianday(a.started_at)) * 86400000))
                     FROM attempts AS a WHERE a.run_id = runs.id AND a.finished_at IS NOT NULL)
             FROM runs
             WHERE job = ?1 AND status IN {ENDED} AND finished_at IS NOT NULL
             ORDER BY id DESC LIMIT ?2"
        );
        // Audited: a constant list of statuses; the job and the count are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(count)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading a job's durations"))?;
        Ok(rows
            .iter()
            .map(|row| EndedRun {
                run: brief(row),
                longest_attempt: row.get::<Option<f64>, _>(7).map(|ms| ms.max(0.0) / 1000.0),
            })
            .collect())
    }

    /// The runs of `job` that started in `count` buckets of `width` from
    /// `since` and ran to an end, per bucket that has any (oldest first): how
    /// many, how many failed, their median and longest durations. One query,
    /// a range of the `runs_job_started` index; the median is worked out by
    /// SQLite (a window function), so a frequent job's year is not read out.
    pub async fn duration_buckets(
        &self,
        job: &str,
        since: DateTime<Utc>,
        width: TimeDelta,
        count: u32,
    ) -> Result<Vec<DurationBucket>, StoreError> {
        let sql = format!(
            "WITH ended AS (
               SELECT CAST((julianday(started_at) - julianday(?2)) / ?3 AS INTEGER) AS bucket,
                      round((julianday(finished_at) - julianday(started_at)) * 86400000) / 1000.0 AS seconds,
                      status IN ('failed', 'interrupted') AS failed
               FROM runs
               WHERE job = ?1 AND julianday(started_at) >= julianday(?2)
                 AND status IN {ENDED} AND finished_at IS NOT NULL
             ), ranked AS (
               SELECT bucket, seconds, failed,
                      row_number() OVER (PARTITION BY bucket ORDER BY seconds) AS k,
                      count(*) OVER (PARTITION BY bucket) AS n
               FROM ended WHERE bucket < ?4
             )
             SELECT bucket, count(*), sum(failed), max(seconds),
                    avg(CASE WHEN k IN ((n + 1) / 2, (n + 2) / 2) THEN seconds END)
             FROM ranked GROUP BY bucket ORDER BY bucket"
        );
        let days = width.num_milliseconds() as f64 / 86_400_000.0;
        // Audited: a constant list of statuses; everything else is bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(timestamp(since))
            .bind(days)
            .bind(count)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading a job's durations over months"))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(DurationBucket {
                    index: u32::try_from(row.get::<i64, _>(0)).ok()?,
                    runs: row.get(1),
                    failures: row.get(2),
                    max: row.get::<f64, _>(3).max(0.0),
                    median: row.get::<f64, _>(4).max(0.0),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RunStatus, Trigger, parse_timestamp};

    fn at(text: &str) -> DateTime<Utc> {
        parse_timestamp(text).expect("time")
    }

    #[tokio::test]
    async fn recent_runs_rates_failures_and_open_runs_come_from_the_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).await.expect("open");
        let t = at("2026-01-01T00:00:00Z");
        let mut ids = Vec::new();
        for (i, (job, status)) in [
            ("a", Some(RunStatus::Succeeded)),
            ("a", Some(RunStatus::Failed)),
            ("b", Some(RunStatus::Succeeded)),
            ("a", Some(RunStatus::Succeeded)),
            ("a", None),
        ]
        .into_iter()
        .enumerate()
        {
            let when = t + chrono::TimeDelta::minutes(i as i64);
            let id = store
                .insert_run(job, Trigger::Schedule, (when, None), when, None, None)
                .await
                .expect("insert")
                .expect("recorded");
            if let Some(status) = status {
                let end = when + chrono::TimeDelta::seconds(30);
                let reason = (status == RunStatus::Failed).then_some("exit 1");
                store
                    .finish_run(id, status, end, reason)
                    .await
                    .expect("finish");
            }
            ids.push(id);
        }
        let names = ["a".to_owned(), "b".to_owned(), "none".to_owned()];
        let recent = store.recent_statuses(&names, 3).await.expect("recent");
        let of = |job: &str| recent[job].iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(recent["a"][0].1, "running");
        assert_eq!(of("a"), [ids[4], ids[3], ids[1]]);
        assert_eq!(of("b"), [ids[2]]);
        assert!(!recent.contains_key("none"));

        let rates = store.success_rates(t).await.expect("rates");
        assert_eq!(
            rates["a"],
            SuccessRate {
                succeeded: 2,
                ended: 3
            }
        );
        let later = store
            .success_rates(t + chrono::TimeDelta::minutes(2))
            .await
            .expect("rates");
        assert_eq!(later["a"].ended, 1, "only runs started in the window");

        let failures = store.failures_since(t, 10).await.expect("failures");
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].reason.as_deref(), Some("exit 1"));

        let open = store.open_runs(t).await.expect("open");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].run.id, ids[4]);
        assert_eq!(open[0].state, Unfinished::Waiting, "no attempt yet");

        let ended = store.ended_runs("a", 100).await.expect("ended");
        assert_eq!(ended.len(), 3);
        assert_eq!(ended[0].longest_attempt, None, "no attempt recorded");
    }

    #[tokio::test]
    async fn durations_over_months_come_in_buckets_with_their_median_max_and_failures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).await.expect("open");
        let since = at("2026-01-05T00:00:00Z");
        // (job, days after `since`, seconds it took, status)
        let runs = [
            ("a", -1, 99, Some(RunStatus::Succeeded)), // before the window
            ("a", 0, 10, Some(RunStatus::Succeeded)),
            ("a", 1, 30, Some(RunStatus::Failed)),
            ("a", 2, 20, Some(RunStatus::Succeeded)),
            ("a", 6, 40, Some(RunStatus::Interrupted)),
            ("a", 15, 5, Some(RunStatus::Succeeded)),
            ("a", 16, 7, Some(RunStatus::Stopped)),
            ("a", 17, 9, Some(RunStatus::Succeeded)),
            ("a", 18, 0, None),                       // still running
            ("a", 21, 1, Some(RunStatus::Succeeded)), // after the 3 buckets
            ("b", 0, 1000, Some(RunStatus::Failed)),  // another job
        ];
        for (job, day, took, status) in runs {
            let when = since + TimeDelta::days(day) + TimeDelta::hours(1);
            let id = store
                .insert_run(job, Trigger::Schedule, (when, None), when, None, None)
                .await
                .expect("insert")
                .expect("recorded");
            if let Some(status) = status {
                let end = when + TimeDelta::seconds(took);
                store
                    .finish_run(id, status, end, None)
                    .await
                    .expect("finish");
            }
        }
        let buckets = store
            .duration_buckets("a", since, TimeDelta::days(7), 3)
            .await
            .expect("buckets");
        let want = [
            DurationBucket {
                index: 0,
                runs: 4,
                failures: 2,
                median: 25.0,
                max: 40.0,
            },
            DurationBucket {
                index: 2,
                runs: 3,
                failures: 0,
                median: 7.0,
                max: 9.0,
            },
        ];
        assert_eq!(buckets, want);
    }
}
