//! Paused jobs (Kubernetes' `suspend`): which jobs are paused, and the one run
//! with status `paused` that stands for every tick of a pause.

use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashSet;

use super::{Store, StoreError, timestamp};

impl Store {
    /// Pause (`true`) or resume `job` at `now`. Returns whether that changed
    /// anything (pausing a paused job keeps its pause and its run).
    pub async fn set_paused(
        &self,
        job: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = if paused {
            sqlx::query(
                "INSERT INTO paused_jobs (job, since) VALUES (?1, ?2) ON CONFLICT (job) DO NOTHING",
            )
            .bind(job)
            .bind(timestamp(now))
            .execute(&self.pool)
            .await
        } else {
            sqlx::query("DELETE FROM paused_jobs WHERE job = ?1")
                .bind(job)
                .execute(&self.pool)
                .await
        }
        .map_err(self.err("recording a pause"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The jobs paused now.
    pub async fn paused_jobs(&self) -> Result<HashSet<String>, StoreError> {
        let rows = sqlx::query("SELECT job FROM paused_jobs")
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading the paused jobs"))?;
        Ok(rows.into_iter().map(|row| row.get(0)).collect())
    }

    /// Account for `count` ticks of paused `job`, from `first` to `last`, found
    /// at `now`: the pause's run (status `paused`) is made, or grows to cover
    /// them; the job's horizon moves to `now`, in the same transaction. `None`
    /// (and nothing written) when the job is not paused in the database (it was
    /// resumed by another process): its ticks are the caller's to run.
    pub async fn record_paused(
        &self,
        job: &str,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        count: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let job = job.to_owned();
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.in_transaction("recording ticks of a paused job", move |conn| {
            Box::pin(async move {
                let row = sqlx::query("SELECT since, run_id FROM paused_jobs WHERE job = ?1")
                    .bind(&job)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let since: String = row.get(0);
                let run_id = match row.get::<Option<i64>, _>(1) {
                    Some(run_id) => {
                        sqlx::query(
                            "UPDATE runs SET scheduled_at = ?2, finished_at = ?3,
                                    missed_count = missed_count + ?4
                             WHERE id = ?1",
                        )
                        .bind(run_id)
                        .bind(timestamp(last))
                        .bind(timestamp(now))
                        .bind(count)
                        .execute(&mut *conn)
                        .await?;
                        run_id
                    }
                    None => {
                        let done = sqlx::query(
                            "INSERT INTO runs (job, trigger, scheduled_at, status, started_at, finished_at, reason, missed_count, missed_first)
                             VALUES (?1, 'schedule', ?2, 'paused', ?3, ?3, ?4, ?5, ?6)",
                        )
                        .bind(&job)
                        .bind(timestamp(last))
                        .bind(timestamp(now))
                        .bind(format!("the job is paused (since {since}); resume it with cronbox resume"))
                        .bind(count)
                        .bind(timestamp(first))
                        .execute(&mut *conn)
                        .await?;
                        let run_id = done.last_insert_rowid();
                        sqlx::query("UPDATE paused_jobs SET run_id = ?2 WHERE job = ?1")
                            .bind(&job)
                            .bind(run_id)
                            .execute(&mut *conn)
                            .await?;
                        run_id
                    }
                };
                super::lifecycle::advance_horizon(conn, &job, now).await?;
                Ok(Some(run_id))
            })
        })
        .await
    }
}
