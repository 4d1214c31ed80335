//! Job chains (table `chain_routes`, column `runs.parent_run_id`).
//!
//! A child run is written by the SQLite trigger `chain_run_ended` (see
//! `migrations/20261201010000_triggers.sql`) in the transaction that records its
//! parent's end, from the routes the daemon writes here from the schedule file.
//! It waits with no process (`pid` NULL) until a daemon claims it here.

use super::{Store, StoreError, UnfinishedRun};

/// One `after` entry of a job: `child` starts when a run of `parent` ends with a
/// status it asks for (one row of `chain_routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRoute {
    pub child: String,
    pub parent: String,
    /// A parent that succeeded starts the child.
    pub on_success: bool,
    /// A parent that failed starts the child.
    pub on_failure: bool,
}

impl Store {
    /// Replace every chain route with `routes` (the daemon's schedule file, at
    /// start and reload), in one transaction.
    pub async fn set_chain_routes(&self, routes: Vec<ChainRoute>) -> Result<(), StoreError> {
        self.in_transaction("writing the job chain routes", move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM chain_routes")
                    .execute(&mut *conn)
                    .await?;
                for route in &routes {
                    sqlx::query(
                        "INSERT INTO chain_routes (child, parent, on_success, on_failure)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .bind(&route.child)
                    .bind(&route.parent)
                    .bind(route.on_success)
                    .bind(route.on_failure)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Claim for process `pid` every child run no process has claimed yet
    /// (trigger `after`, `pid` NULL), atomically: a run is claimed once. Returns
    /// their ids, oldest first.
    pub async fn claim_child_runs(&self, pid: u32) -> Result<Vec<i64>, StoreError> {
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE runs SET pid = ?1
             WHERE status = 'running' AND pid IS NULL AND trigger = 'after'
             RETURNING id",
        )
        .bind(pid)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("claiming the runs started by a parent's end"))?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Give back the claim on child run `run_id` (made by [`Store::claim_child_runs`])
    /// when it could not be admitted, so that the chain watcher claims it again.
    pub async fn release_child_run(&self, run_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET pid = NULL
             WHERE id = ?1 AND status = 'running' AND trigger = 'after'",
        )
        .bind(run_id)
        .execute(&self.pool)
        .await
        .map_err(self.err("giving back a run started by a parent's end"))?;
        Ok(())
    }

    /// The unfinished runs of `job` (running, waiting for a slot or to retry),
    /// whichever process supervises them, that hold back its child run `child`
    /// under `concurrency = "forbid"`: all but `child` itself and the child runs
    /// recorded after it that have made no attempt yet (they come after it, as
    /// a tick after an earlier one). Oldest first.
    pub async fn runs_holding_back_child(
        &self,
        job: &str,
        child: i64,
    ) -> Result<Vec<UnfinishedRun>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT r.id, r.pid FROM runs r
             WHERE r.job = ?1 AND r.status = 'running' AND r.id <> ?2
               AND NOT (r.id > ?2 AND r.trigger = 'after'
                        AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id))
             ORDER BY r.id",
        )
        .bind(job)
        .bind(child)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("looking for unfinished runs"))?;
        Ok(rows
            .into_iter()
            .map(|(run_id, pid)| UnfinishedRun {
                run_id,
                pid: pid.and_then(|p| u32::try_from(p).ok()),
            })
            .collect())
    }

    /// The run whose end started run `run_id` (trigger `after`), if any.
    pub async fn parent_run(&self, run_id: i64) -> Result<Option<i64>, StoreError> {
        let parent: Option<Option<i64>> =
            sqlx::query_scalar("SELECT parent_run_id FROM runs WHERE id = ?1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.err("reading a run's parent"))?;
        Ok(parent.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record a run of `job` a parent's end started, not claimed (`pid` NULL).
    async fn child(store: &Store, job: &str) -> i64 {
        sqlx::query(
            "INSERT INTO runs (job, trigger, scheduled_at, status, started_at)
             VALUES (?1, 'after', '2026-01-01T00:00:00.000000Z', 'running', '2026-01-01T00:00:00.000000Z')",
        )
        .bind(job)
        .execute(&store.pool)
        .await
        .expect("insert")
        .last_insert_rowid()
    }

    #[tokio::test]
    async fn a_child_run_given_back_is_claimed_again_once_and_an_ended_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).await.expect("open");
        let (a, b) = (child(&store, "a").await, child(&store, "b").await);
        assert_eq!(store.claim_child_runs(100).await.expect("claim"), [a, b]);
        // Claimed once: another process finds none.
        assert!(store.claim_child_runs(200).await.expect("claim").is_empty());
        // Given back (its admission could not be decided): claimed again, once.
        store.release_child_run(a).await.expect("release");
        assert_eq!(store.claim_child_runs(300).await.expect("claim"), [a]);
        assert!(store.claim_child_runs(400).await.expect("claim").is_empty());
        // A run that ended is never given back to be started again.
        sqlx::query("UPDATE runs SET status = 'skipped' WHERE id = ?1")
            .bind(b)
            .execute(&store.pool)
            .await
            .expect("end");
        store.release_child_run(b).await.expect("release");
        assert!(store.claim_child_runs(500).await.expect("claim").is_empty());
    }
}
