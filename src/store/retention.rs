//! Retention: keeping the history database bounded on a small disk.
//!
//! [`Store::prune`] deletes the finished runs that finished longer ago than
//! `history_max_age`, and per job those beyond the newest `history_limit`, with
//! their attempts and output (the foreign keys cascade). It deletes in short
//! transactions of at most [`MAX_BATCH`] runs, oldest id first, pausing between
//! them, so the daemon's own writes wait at most one batch. Then it gives the
//! freed pages back to the file system with `PRAGMA incremental_vacuum`, and
//! converts, once, a database created before auto-vacuum was turned on.
//!
//! It never deletes a run that is still going (status `running`, which includes a
//! run waiting to retry), nor a run with an attempt still marked running.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Store, StoreError, timestamp};

/// What one [`Store::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Runs deleted, each with its attempts and output.
    pub runs: u64,
    /// Database pages given back to the file system (the file got this many
    /// pages smaller; `PRAGMA page_size` bytes each).
    pub pages_freed: u64,
}

/// The most runs deleted in one transaction.
pub const MAX_BATCH: usize = 500;
/// The fewest runs deleted in one transaction, however slow the disk.
const MIN_BATCH: usize = 10;
/// A batch slower than this halves the next one; one faster than a quarter of it
/// doubles the next one (up to [`MAX_BATCH`]). Between batches the store pauses
/// as long as the last batch took (at most this long), so other writers get the lock.
const BATCH_TIME: Duration = Duration::from_millis(200);
/// The least pause between two batches.
const MIN_PAUSE: Duration = Duration::from_millis(2);
/// How many runs one read of the per-job limit pass looks at.
const SCAN_CHUNK: i64 = 2000;
/// One transaction giving back at most 2048 free pages (8 MiB with 4 KiB pages).
const VACUUM_STEP: &str = "PRAGMA incremental_vacuum(2048)";

/// The size of the next batch, adapted to how long the last one took, and the
/// pause before it.
struct Pacer {
    batch: usize,
    last: Option<Duration>,
}

impl Pacer {
    fn new() -> Pacer {
        Pacer {
            batch: MAX_BATCH,
            last: None,
        }
    }

    /// Before a batch: pause as long as the last one took, so that other writers
    /// get the lock in between.
    async fn before(&mut self) {
        if let Some(took) = self.last {
            tokio::time::sleep(took.clamp(MIN_PAUSE, BATCH_TIME)).await;
        }
    }

    /// After a batch: adapt the next one's size to how long this one took.
    fn after(&mut self, took: Duration) {
        if took > BATCH_TIME {
            self.batch = (self.batch / 2).max(MIN_BATCH);
        } else if took < BATCH_TIME / 4 {
            self.batch = (self.batch * 2).min(MAX_BATCH);
        }
        self.last = Some(took);
    }
}

/// The instant before which finished runs are too old, or `None` when `max_age`
/// reaches back before the earliest representable instant (nothing is too old).
fn cutoff(now: DateTime<Utc>, max_age: Duration) -> Option<DateTime<Utc>> {
    now.checked_sub_signed(TimeDelta::from_std(max_age).ok()?)
}

impl Store {
    /// Delete finished runs, with their attempts and output: those that finished
    /// before `now - max_age` (saturating: a `max_age` reaching back before the
    /// earliest instant deletes nothing by age), and per job every finished run
    /// beyond the newest `keep_per_job` (by id). Runs still going, or waiting to
    /// retry, are never deleted, and do not count towards `keep_per_job`; nor is a
    /// run with an attempt still marked running.
    ///
    /// Deletes at most [`MAX_BATCH`] runs per transaction (fewer when the disk is
    /// slow), oldest first, pausing between them. Then gives the space back to the
    /// file system (`PRAGMA incremental_vacuum`, a few MiB per transaction, then a
    /// WAL checkpoint). A database created before auto-vacuum was turned on is
    /// converted once, with a `VACUUM` (logged; other writers wait for it, and it
    /// needs free space for a copy of what remains).
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        max_age: Duration,
        keep_per_job: u32,
    ) -> Result<Pruned, StoreError> {
        let started = Instant::now();
        let pages_before = self.pragma_i64("PRAGMA page_count").await?;
        let mut pacer = Pacer::new();
        let mut runs = 0;
        if let Some(cutoff) = cutoff(now, max_age) {
            runs += self
                .delete_finished_before(&timestamp(cutoff), &mut pacer)
                .await?;
        }
        runs += self
            .delete_beyond_limit(i64::from(keep_per_job), &mut pacer)
            .await?;
        self.give_space_back().await?;
        let pages_after = self.pragma_i64("PRAGMA page_count").await?;
        let pruned = Pruned {
            runs,
            pages_freed: u64::try_from(pages_before.saturating_sub(pages_after)).unwrap_or(0),
        };
        tracing::debug!(
            runs = pruned.runs,
            pages_freed = pruned.pages_freed,
            took_ms = started.elapsed().as_millis(),
            "history pruned"
        );
        Ok(pruned)
    }

    /// Delete, batch after batch, the finished runs that finished before `cutoff`.
    async fn delete_finished_before(
        &self,
        cutoff: &str,
        pacer: &mut Pacer,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            pacer.before().await;
            let started = Instant::now();
            let limit = i64::try_from(pacer.batch).unwrap_or(i64::MAX);
            let deleted = sqlx::query(
                "DELETE FROM runs WHERE id IN (
                     SELECT r.id FROM runs r
                     WHERE r.finished_at < ?1 AND r.status <> 'running'
                       AND NOT EXISTS (SELECT 1 FROM attempts a
                                       WHERE a.run_id = r.id AND a.outcome = 'running')
                     ORDER BY r.finished_at
                     LIMIT ?2)",
            )
            .bind(cutoff)
            .bind(limit)
            .execute(&self.pool)
            .await
            .map_err(self.err("deleting runs older than history_max_age"))?
            // SQLite counts the rows of `runs` only, not those the foreign keys delete.
            .rows_affected();
            pacer.after(started.elapsed());
            total += deleted;
            if deleted < u64::try_from(limit).unwrap_or(0) {
                return Ok(total);
            }
        }
    }

    /// Delete, per job, the finished runs beyond the newest `keep`. The runs of
    /// all jobs go in one pass in id order, so that each batch deletes runs that
    /// sit together in the file (jobs' runs are interleaved), not scattered ones.
    async fn delete_beyond_limit(&self, keep: i64, pacer: &mut Pacer) -> Result<u64, StoreError> {
        // Per job over its limit: the newest finished run to delete (it and every
        // older finished run of the job go), and where the job's runs start.
        let mut last_doomed: HashMap<String, i64> = HashMap::new();
        let mut cursor = i64::MAX;
        for job in self.jobs_in_history().await? {
            let row = sqlx::query("SELECT count(*), min(id) FROM runs WHERE job = ?1")
                .bind(&job)
                .fetch_one(&self.pool)
                .await
                .map_err(self.err("counting a job's runs"))?;
            let (total, first): (i64, Option<i64>) = (row.get(0), row.get(1));
            if total <= keep {
                continue;
            }
            let last: Option<i64> = sqlx::query(
                "SELECT id FROM runs WHERE job = ?1 AND status <> 'running'
                 ORDER BY id DESC LIMIT 1 OFFSET ?2",
            )
            .bind(&job)
            .bind(keep)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("finding a job's oldest runs to keep"))?
            .map(|row| row.get(0));
            if let (Some(last), Some(first)) = (last, first) {
                cursor = cursor.min(first.saturating_sub(1));
                last_doomed.insert(job, last);
            }
        }
        let Some(&end) = last_doomed.values().max() else {
            return Ok(0);
        };

        let mut total = 0;
        let mut doomed: Vec<i64> = Vec::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, job FROM runs WHERE id > ?1 AND id <= ?2 AND status <> 'running'
                 ORDER BY id LIMIT ?3",
            )
            .bind(cursor)
            .bind(end)
            .bind(SCAN_CHUNK)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("finding runs beyond history_limit"))?;
            let exhausted = rows.len() < usize::try_from(SCAN_CHUNK).unwrap_or(usize::MAX);
            for row in rows {
                let (id, job): (i64, &str) = (row.get(0), row.get(1));
                cursor = id;
                if last_doomed.get(job).is_some_and(|&last| id <= last) {
                    doomed.push(id);
                }
            }
            while doomed.len() >= pacer.batch || (exhausted && !doomed.is_empty()) {
                let batch: Vec<i64> = doomed.drain(..pacer.batch.min(doomed.len())).collect();
                total += self.delete_ids(&batch, pacer).await?;
            }
            if exhausted {
                return Ok(total);
            }
        }
    }

    /// Delete the finished runs among `ids`, in one transaction after the pacer's
    /// pause; returns how many.
    async fn delete_ids(&self, ids: &[i64], pacer: &mut Pacer) -> Result<u64, StoreError> {
        let list = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        pacer.before().await;
        let started = Instant::now();
        // Checked again here: a run cannot go back to running, but nothing is
        // deleted on the word of an earlier read alone.
        let deleted = sqlx::query(
            "DELETE FROM runs
             WHERE id IN (SELECT value FROM json_each(?1)) AND status <> 'running'
               AND NOT EXISTS (SELECT 1 FROM attempts a
                               WHERE a.run_id = runs.id AND a.outcome = 'running')",
        )
        .bind(list)
        .execute(&self.pool)
        .await
        .map_err(self.err("deleting runs beyond history_limit"))?
        .rows_affected();
        pacer.after(started.elapsed());
        Ok(deleted)
    }

    /// Every job with a run in the history, found through the `runs (job, id)`
    /// index one job at a time rather than by reading every run.
    async fn jobs_in_history(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "WITH RECURSIVE jobs (job) AS (
                 SELECT min(job) FROM runs
                 UNION ALL
                 SELECT (SELECT min(r.job) FROM runs r WHERE r.job > jobs.job)
                 FROM jobs WHERE jobs.job IS NOT NULL
             )
             SELECT job FROM jobs WHERE job IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing the jobs in the history"))?;
        Ok(rows.into_iter().map(|row| row.get(0)).collect())
    }

    /// Give the database's free pages back to the file system.
    async fn give_space_back(&self) -> Result<(), StoreError> {
        match self.pragma_i64("PRAGMA auto_vacuum").await? {
            // NONE: a database created before cronbox turned auto-vacuum on.
            0 => self.convert_to_incremental().await,
            // INCREMENTAL.
            2 => {
                let mut free = self.pragma_i64("PRAGMA freelist_count").await?;
                let mut pacer = Pacer::new();
                while free > 0 {
                    pacer.before().await;
                    let started = Instant::now();
                    self.vacuum_step().await?;
                    pacer.after(started.elapsed());
                    let left = self.pragma_i64("PRAGMA freelist_count").await?;
                    if left >= free {
                        break; // no progress: leave the rest for the next prune
                    }
                    free = left;
                }
                self.checkpoint_to_shrink().await
            }
            // FULL (set by hand): SQLite gives pages back at every commit.
            _ => self.checkpoint_to_shrink().await,
        }
    }

    /// Checkpoint, which truncates the file to its new size. When a reader holds
    /// old pages, the file shrinks at a later checkpoint.
    async fn checkpoint_to_shrink(&self) -> Result<(), StoreError> {
        let done = self.checkpoint().await?;
        if done.copied < done.frames {
            tracing::debug!("WAL checkpoint incomplete (a reader is busy); the file shrinks later");
        }
        Ok(())
    }

    /// Give back a few MiB of free pages ([`VACUUM_STEP`]), in one transaction.
    async fn vacuum_step(&self) -> Result<(), StoreError> {
        sqlx::query(VACUUM_STEP)
            .execute(&self.pool)
            .await
            .map_err(self.err("giving free space back (incremental vacuum)"))?;
        Ok(())
    }

    /// Turn on incremental auto-vacuum in a database created without it: that
    /// takes one `VACUUM`, which rewrites the file (compacting it too).
    async fn convert_to_incremental(&self) -> Result<(), StoreError> {
        let what = "converting the database to incremental auto-vacuum (VACUUM)";
        let pages = self.pragma_i64("PRAGMA page_count").await?;
        let page_size = self.pragma_i64("PRAGMA page_size").await?;
        tracing::info!(
            path = %self.path.display(),
            size_mib = pages.saturating_mul(page_size) / (1024 * 1024),
            "the history database predates auto-vacuum: converting it once (VACUUM) so that \
             pruned history gives its space back; writes wait until this is done"
        );
        let started = Instant::now();
        let mut conn = self.pool.acquire().await.map_err(self.err(what))?;
        sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
            .execute(&mut *conn)
            .await
            .map_err(self.err(what))?;
        sqlx::query("VACUUM")
            .execute(&mut *conn)
            .await
            .map_err(self.err(what))?;
        let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
            .fetch_one(&mut *conn)
            .await
            .map_err(self.err(what))?
            .get(0);
        // VACUUM went through the WAL, which is now as large as the database:
        // copy it back and truncate it, or the space would stay taken.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await
            .map_err(self.err(what))?;
        let after = self.pragma_i64("PRAGMA page_count").await?;
        if mode == 2 {
            tracing::info!(
                path = %self.path.display(),
                size_mib = after.saturating_mul(page_size) / (1024 * 1024),
                took_ms = started.elapsed().as_millis(),
                "history database converted to incremental auto-vacuum"
            );
        } else {
            tracing::warn!(
                path = %self.path.display(),
                auto_vacuum = mode,
                "VACUUM did not turn on incremental auto-vacuum; freed space stays in the file"
            );
        }
        Ok(())
    }

    /// The single integer a `PRAGMA` such as `page_count` returns.
    async fn pragma_i64(&self, pragma: &'static str) -> Result<i64, StoreError> {
        let row = sqlx::query(pragma)
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("reading the database's size and settings"))?;
        Ok(row.get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn at(text: &str) -> DateTime<Utc> {
        super::super::parse_timestamp(text).expect("timestamp")
    }

    #[test]
    fn cutoff_saturates_instead_of_overflowing() {
        let now = at("2026-03-29T01:00:00.000Z");
        assert_eq!(
            cutoff(now, Duration::from_secs(90 * 86_400)),
            Some(at("2025-12-29T01:00:00.000Z"))
        );
        assert_eq!(cutoff(now, Duration::MAX), None);
        assert_eq!(cutoff(now, Duration::from_secs(u64::MAX / 2)), None);
        assert_eq!(cutoff(now, Duration::ZERO), Some(now));
    }

    /// The SQL string literals of a source file before its tests, those that
    /// read or change rows (SELECT, UPDATE, DELETE, WITH).
    fn queries_in(source: &str) -> Vec<String> {
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        code.split('"')
            .skip(1)
            .step_by(2)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| {
                let upper = s.to_uppercase();
                ["SELECT ", "UPDATE ", "DELETE ", "WITH "]
                    .iter()
                    .any(|k| upper.starts_with(k))
            })
            .collect()
    }

    /// The names under which `query` reads `attempts` and `output`: the tables,
    /// their aliases, and `a`, the `history` view's alias for `attempts`.
    fn attempt_and_output_names(query: &str) -> Vec<String> {
        let words: Vec<String> = query
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut names = vec!["attempts".to_owned(), "output".to_owned(), "a".to_owned()];
        for (i, word) in words.iter().enumerate() {
            if word == "attempts" || word == "output" {
                let mut next = words.get(i + 1);
                if next.is_some_and(|w| w == "as") {
                    next = words.get(i + 2);
                }
                const KEYWORDS: [&str; 9] = [
                    "set", "where", "on", "join", "left", "inner", "order", "limit", "using",
                ];
                if let Some(alias) = next.filter(|w| !KEYWORDS.contains(&w.as_str())) {
                    names.push(alias.clone());
                }
            }
        }
        names
    }

    /// A full scan (of the table or a whole index) of `attempts` or `output` in
    /// `plan`, the detail lines of EXPLAIN QUERY PLAN.
    fn scans_of_attempts_or_output(query: &str, plan: &[String]) -> Vec<String> {
        let names = attempt_and_output_names(query);
        plan.iter()
            .filter(|line| {
                line.strip_prefix("SCAN ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .is_some_and(|name| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            })
            .cloned()
            .collect()
    }

    async fn plan(store: &Store, query: &str) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {query}");
        sqlx::query(sqlx::AssertSqlSafe(explain))
            .fetch_all(&store.pool)
            .await
            .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN {query}: {e}"))
            .into_iter()
            .map(|row| row.get::<String, _>(3))
            .collect()
    }

    async fn temp_store(dir: &Path) -> Store {
        Store::open(&dir.join("cronbox.db")).await.expect("open")
    }

    /// Every query of the store, `Store::history` (`cronbox history JOB`) and the
    /// output readers (`cronbox logs`) included, finds attempts and output
    /// through an index, with the SQLite cronbox is built with.
    #[tokio::test]
    async fn no_store_query_scans_attempts_or_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = temp_store(dir.path()).await;
        let mut queries = queries_in(include_str!("mod.rs"));
        let own = queries_in(include_str!("retention.rs"));
        assert!(own.len() >= 5, "retention's own queries found: {own:?}");
        queries.extend(own);
        assert!(
            queries.iter().any(|q| q.contains("FROM history")),
            "Store::history's query was not found among {queries:?}"
        );
        let mut bad = Vec::new();
        for query in &queries {
            let plan = plan(&store, query).await;
            let scans = scans_of_attempts_or_output(query, &plan);
            if !scans.is_empty() {
                bad.push(format!("{query}\n  {}", plan.join("\n  ")));
            }
        }
        assert!(bad.is_empty(), "full scans:\n{}", bad.join("\n\n"));
        store.close().await;
    }

    /// Retention's deletes find their runs through indexes, not by reading every run.
    #[tokio::test]
    async fn prune_queries_do_not_scan_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = temp_store(dir.path()).await;
        for query in queries_in(include_str!("retention.rs")) {
            let plan = plan(&store, &query).await;
            let scans: Vec<&String> = plan
                .iter()
                .filter(|l| {
                    l.starts_with("SCAN ")
                        && !l.starts_with("SCAN jobs")
                        && !l.starts_with("SCAN json_each")
                })
                .collect();
            assert!(scans.is_empty(), "{query}\n{plan:#?}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_new_database_has_incremental_auto_vacuum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = temp_store(dir.path()).await;
        assert_eq!(
            store
                .pragma_i64("PRAGMA auto_vacuum")
                .await
                .expect("pragma"),
            2
        );
        let pruned = store
            .prune(at("2026-03-29T01:00:00.000Z"), Duration::MAX, 1)
            .await
            .expect("prune an empty database");
        assert_eq!(pruned, Pruned::default());
        store.close().await;
    }
}
