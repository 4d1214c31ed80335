//! The indexes of an indexed run (`completions` above 1) in the database: each
//! attempt's index (`attempts.completion_index`) and where each index stands
//! (`run_indexes`), written with the attempt end that decides it, so that a
//! process killed at any point never runs a succeeded index again.
//!
//! An index's attempts are numbered with the run's (1, 2, 3, ... across all its
//! indexes, so that `(run_id, attempt)` still names one attempt and one
//! container); the index's own attempt count is its number of rows.

use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::BTreeMap;

use super::lifecycle::end_running_attempt;
use super::{AttemptEnd, Store, StoreError, parse_timestamp, timestamp};

/// Where an index stands after one of its attempts ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexNext {
    Succeeded,
    /// Its retries are spent, or its exit code is fatal.
    Failed,
    /// Its next attempt is due at this instant.
    RetryAt(DateTime<Utc>),
    /// Nothing decided (the attempt was interrupted or stopped from outside):
    /// the index stays as it was.
    Unchanged,
}

/// What the database says of one index of a run, for resuming it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexProgress {
    /// `succeeded`, `failed` or `retrying`; `None`: no attempt of it decided anything.
    pub status: Option<String>,
    /// For `retrying`: when its next attempt is due.
    pub retry_at: Option<DateTime<Utc>>,
    /// How many attempts it has recorded (running ones included).
    pub attempts: u32,
}

impl Store {
    /// Record the start of a new attempt of index `index` of run `run_id`,
    /// numbered after the run's last attempt, after waiting `waited` for a
    /// slot; returns its id and number. Idempotent: an attempt of the index
    /// still recorded running with no container (a write whose success was not
    /// reported) is the one returned.
    pub async fn start_index_attempt(
        &self,
        run_id: i64,
        index: u32,
        image: &str,
        started_at: DateTime<Utc>,
        waited: std::time::Duration,
    ) -> Result<(i64, u32), StoreError> {
        let image = image.to_owned();
        let waited = i64::try_from(waited.as_millis()).unwrap_or(i64::MAX);
        self.in_transaction("recording a new attempt of an index", move |conn| {
            Box::pin(async move {
                let unstarted = sqlx::query(
                    "SELECT id, attempt FROM attempts
                     WHERE run_id = ?1 AND completion_index = ?2 AND outcome = 'running' AND container_id IS NULL",
                )
                .bind(run_id)
                .bind(index)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(row) = unstarted {
                    let attempt = u32::try_from(row.get::<i64, _>(1)).unwrap_or(u32::MAX);
                    return Ok((row.get::<i64, _>(0), attempt));
                }
                let row = sqlx::query(
                    "INSERT INTO attempts (run_id, attempt, image, started_at, outcome, waited_ms, completion_index)
                     VALUES (?1, (SELECT coalesce(max(attempt), 0) + 1 FROM attempts WHERE run_id = ?1),
                             ?2, ?3, 'running', ?4, ?5)
                     RETURNING id, attempt",
                )
                .bind(run_id)
                .bind(&image)
                .bind(timestamp(started_at))
                .bind(waited)
                .bind(index)
                .fetch_one(&mut *conn)
                .await?;
                let attempt = u32::try_from(row.get::<i64, _>(1)).unwrap_or(u32::MAX);
                Ok((row.get::<i64, _>(0), attempt))
            })
        })
        .await
    }

    /// Record how an attempt of index `index` ended and, in the same
    /// transaction, where the index stands (`next`). `false` (nothing written)
    /// when its end was recorded already. The run's own end is written apart,
    /// once every index has ended: a process killed in between leaves a run
    /// whose indexes all ended, which the start-up repair resumes and ends.
    pub async fn end_index_attempt(
        &self,
        run_id: i64,
        attempt_id: i64,
        index: u32,
        end: &AttemptEnd,
        next: IndexNext,
    ) -> Result<bool, StoreError> {
        let end = end.clone();
        self.in_transaction("recording the end of an index's attempt", move |conn| {
            Box::pin(async move {
                if !end_running_attempt(conn, attempt_id, &end).await? {
                    return Ok(false);
                }
                let (status, retry_at) = match next {
                    IndexNext::Succeeded => ("succeeded", None),
                    IndexNext::Failed => ("failed", None),
                    IndexNext::RetryAt(at) => ("retrying", Some(timestamp(at))),
                    IndexNext::Unchanged => return Ok(true),
                };
                sqlx::query(
                    "INSERT INTO run_indexes (run_id, completion_index, status, retry_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (run_id, completion_index) DO UPDATE SET status = excluded.status, retry_at = excluded.retry_at",
                )
                .bind(run_id)
                .bind(index)
                .bind(status)
                .bind(retry_at)
                .execute(&mut *conn)
                .await?;
                Ok(true)
            })
        })
        .await
    }

    /// Every index of run `run_id` that has recorded an attempt or a status,
    /// by index.
    pub async fn index_progress(
        &self,
        run_id: i64,
    ) -> Result<BTreeMap<u32, IndexProgress>, StoreError> {
        let counts = sqlx::query(
            "SELECT completion_index, count(*) FROM attempts
             WHERE run_id = ?1 AND completion_index IS NOT NULL GROUP BY completion_index",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading where a run's indexes stand"))?;
        let statuses = sqlx::query(
            "SELECT completion_index, status, retry_at FROM run_indexes WHERE run_id = ?1",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading where a run's indexes stand"))?;
        let mut progress: BTreeMap<u32, IndexProgress> = BTreeMap::new();
        for row in counts {
            let Ok(index) = u32::try_from(row.get::<i64, _>(0)) else {
                continue;
            };
            progress.entry(index).or_default().attempts =
                u32::try_from(row.get::<i64, _>(1)).unwrap_or(u32::MAX);
        }
        for row in statuses {
            let Ok(index) = u32::try_from(row.get::<i64, _>(0)) else {
                continue;
            };
            let entry = progress.entry(index).or_default();
            entry.status = Some(row.get(1));
            entry.retry_at = row.get::<Option<&str>, _>(2).and_then(parse_timestamp);
        }
        Ok(progress)
    }

    /// The index attempt `attempt_id` ran; `None` for a plain run's attempt.
    pub async fn attempt_index(&self, attempt_id: i64) -> Result<Option<u32>, StoreError> {
        let row = sqlx::query("SELECT completion_index FROM attempts WHERE id = ?1")
            .bind(attempt_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading an attempt's index"))?;
        Ok(row
            .and_then(|row| row.get::<Option<i64>, _>(0))
            .and_then(|index| u32::try_from(index).ok()))
    }
}
