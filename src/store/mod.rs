//! The history database: the only module that speaks SQL (sqlx + SQLite).
//!
//! It owns the connection pool and its pragmas (WAL, `synchronous=NORMAL`, a busy
//! timeout so the CLI and the daemon share the file), the migrations in
//! `migrations/` applied at open, and one small named function per query. Callers
//! never see SQL. Timestamps go in as ISO-8601 UTC text with milliseconds.

mod chains;
mod dashboard;
mod error;
mod files;
mod indexes;
mod lifecycle;
mod outbox;
mod pause;
mod query;
mod retention;
mod seed;
mod wal;

pub use chains::ChainRoute;
pub use dashboard::{DurationBucket, EndedRun, OpenRun, RunBrief, SuccessRate, Unfinished};
pub use error::StoreError;
pub use files::{FileIdentity, FileOutcome, INPUT, TakenFile, file_params};
pub use indexes::{IndexNext, IndexProgress};
pub use lifecycle::{PendingRun, RunNext, UnfinishedRun, params_from_json, params_to_json};
pub use outbox::{DeliveryRecord, Notification, PingRoute, Route};
pub use query::{AttemptRow, RunFilter, RunRow};
pub use wal::{Checkpoint, WalStamp};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What fired a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A tick of the job's schedule.
    Schedule,
    /// `cronbox run JOB`.
    Manual,
    /// The most recent of the ticks missed while the daemon was down or asleep.
    CatchUp,
    /// Started through the daemon's HTTP API (or `cronbox run --detach`).
    Api,
    /// The end of a run of another job (`after`): a job chain.
    After,
    /// A file that arrived (`on_file`).
    File,
}

impl Trigger {
    /// The value stored in `runs.trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::CatchUp => "catch-up",
            Trigger::Api => "api",
            Trigger::After => "after",
            Trigger::File => "file",
        }
    }

    /// The trigger stored as `name` in `runs.trigger`.
    pub fn from_name(name: &str) -> Option<Trigger> {
        [
            Trigger::Schedule,
            Trigger::Manual,
            Trigger::CatchUp,
            Trigger::Api,
            Trigger::After,
            Trigger::File,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// The final status of a run (`runs.status`); `running` while it goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Interrupted,
    /// Not run: the previous run of the job was still going (`concurrency = "forbid"`).
    Skipped,
    /// Not run: ticks missed while the daemon was down, or a start too late for
    /// `starting_deadline`.
    Missed,
    /// An operator stopped it (`cronbox stop`, the API).
    Stopped,
    /// Not run: the job was paused (one run stands for every tick of a pause).
    Paused,
}

impl RunStatus {
    /// The value stored in `runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Skipped => "skipped",
            RunStatus::Missed => "missed",
            RunStatus::Stopped => "stopped",
            RunStatus::Paused => "paused",
        }
    }
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The value stored in `output.stream`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// How an attempt ended, as recorded in `attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    pub finished_at: DateTime<Utc>,
    pub exit_code: Option<i64>,
    pub oom_killed: Option<bool>,
    /// `exited`, `oom`, `timeout`, `deadline`, `replaced`, `interrupted`,
    /// `image-missing` or `engine-error`.
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// One row of the `history` view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    pub run_id: i64,
    pub job: String,
    pub trigger: String,
    pub scheduled_at: String,
    pub status: String,
    pub attempt: Option<i64>,
    pub exit_code: Option<i64>,
    pub outcome: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// The index the attempt ran, for a job with `completions` above 1
    /// (`attempts.completion_index`); absent from the JSON for a plain run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_index: Option<i64>,
    /// Trigger `after`: the parent run whose end started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<i64>,
    /// Trigger `file`: the host path of the file it was started for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_file: Option<String>,
}

/// One stored chunk of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub attempt: i64,
    pub stream: Stream,
    pub data: Vec<u8>,
}

/// An attempt found still marked running (left by a daemon that died).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleAttempt {
    pub attempt_id: i64,
    pub run_id: i64,
    pub run_started_at: DateTime<Utc>,
    pub attempt_started_at: DateTime<Utc>,
    /// The process that supervised the run.
    pub pid: Option<u32>,
    pub job: String,
    pub attempt: i64,
    pub container_id: Option<String>,
}

/// The id of the row an `INSERT ... ON CONFLICT DO NOTHING` added, or `None`.
///
/// `execute` rather than `RETURNING`: a row fetched from RETURNING is reported
/// before the statement (and its commit) completes, so a commit that fails, as
/// on a full disk, would hand out an id that does not exist.
fn inserted_id(done: &sqlx::sqlite::SqliteQueryResult) -> Option<i64> {
    (done.rows_affected() == 1).then(|| done.last_insert_rowid())
}

/// Parse a timestamp as the database stores it.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Format an instant the way the database stores it: `2026-03-29T01:00:00.000Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Pages the write-ahead log may hold before a writer checkpoints it into the
/// database itself (`PRAGMA wal_autocheckpoint`; SQLite's default is 1,000). The
/// daemon checkpoints well before, between ticks (`daemon::checkpoint`): this
/// is the bound for when it cannot.
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 256;
/// The size in bytes a write-ahead log is cut back to after a checkpoint
/// (`PRAGMA journal_size_limit`).
pub const WAL_SIZE_LIMIT_BYTES: u64 = 1 << 20;

/// The write-ahead log SQLite keeps next to `db` in WAL mode: `db` + `-wal`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The history database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
    /// One [`Store::check_writable`] at a time: each holds a connection while
    /// it waits for the write lock.
    writable_check: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Create the database file at `path` with `auto_vacuum = INCREMENTAL`, set
/// before its first page is written (the WAL mode writes it), so that pruned
/// history gives its pages back (retention); an older file is converted by its
/// first prune. Only for a new file: setting it takes the write lock even when
/// it is already set, so an operator's open `sqlite3` transaction would hold up
/// every start, and every new pooled connection.
async fn create(path: &Path) -> Result<(), sqlx::Error> {
    use sqlx::{ConnectOptions, Connection};
    let conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await?;
    conn.close().await
}

impl Store {
    /// Open (creating if needed) the database at `path`, set its pragmas and apply
    /// the migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let new = !path.exists();
        if new {
            create(path).await.map_err(|error| StoreError::Open {
                path: path.to_owned(),
                error,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A small SD card, or a disk that was full and has a little space
            // again: checkpoint every 256 pages (1 MiB with 4 KiB pages) rather
            // than SQLite's 1,000, and after a checkpoint cut the WAL back to
            // 1 MiB, so the WAL never takes much of what space there is.
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|error| StoreError::Open {
                path: path.to_owned(),
                error,
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migrate {
                path: path.to_owned(),
                error,
            })?;
        if new {
            // Pages the migrations freed (a trigger replaced) go back at once,
            // so a new file starts without free pages. Not on an existing file:
            // a start needs no write lock (the hourly prune gives pages back).
            sqlx::query("PRAGMA incremental_vacuum")
                .execute(&pool)
                .await
                .map_err(|error| StoreError::Open {
                    path: path.to_owned(),
                    error,
                })?;
        }
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Ok(Store {
            pool,
            path,
            writable_check: Default::default(),
        })
    }

    /// Open an existing database for reading only (`history`, `logs`): nothing is
    /// created or migrated, and the daemon may write meanwhile.
    ///
    /// It works for a user who may read the file but not write it or its
    /// directory. While the daemon (or any writer) has the file open, its `-wal`
    /// and `-shm` files exist and SQLite reads through them read-only. When they
    /// do not exist and this user cannot create them (SQLite then says "attempt
    /// to write a readonly database"), nobody is writing, everything is in the
    /// file itself, and it is opened `immutable` (no locks, no WAL): a writer that
    /// starts during this short read could make it fail or miss that writer's
    /// newest rows, never change the file.
    pub async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        let open_error = |error| StoreError::Open {
            path: path.to_owned(),
            error,
        };
        let pool = Self::reader_pool(options.clone())
            .await
            .map_err(open_error)?;
        let pool = match sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&pool)
            .await
        {
            Ok(_) => pool,
            Err(error) if error::cannot_create_wal(&error) && !wal_path(path).exists() => {
                pool.close().await;
                tracing::debug!(database = %path.display(), "no -wal file and no right to create one: reading the database as immutable");
                Self::reader_pool(options.immutable(true))
                    .await
                    .map_err(open_error)?
            }
            Err(error) => return Err(open_error(error)),
        };
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Ok(Store {
            pool,
            path,
            writable_check: Default::default(),
        })
    }

    async fn reader_pool(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
        SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
    }

    /// The database file (absolute when it could be made so).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |error| StoreError::Query {
            path: self.path.clone(),
            what,
            error,
        }
    }

    /// Store one chunk of an attempt's output.
    pub async fn append_output(
        &self,
        attempt_id: i64,
        stream: Stream,
        seq: i64,
        at: DateTime<Utc>,
        data: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO output (attempt_id, stream, seq, at, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(attempt_id)
        .bind(stream.as_str())
        .bind(seq)
        .bind(timestamp(at))
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(self.err("storing output"))?;
        Ok(())
    }

    /// Record how many bytes of a stream were dropped between the head and the tail kept.
    pub async fn set_dropped(
        &self,
        attempt_id: i64,
        stream: Stream,
        bytes: u64,
    ) -> Result<(), StoreError> {
        let query = match stream {
            Stream::Stdout => "UPDATE attempts SET stdout_dropped = ?2 WHERE id = ?1",
            Stream::Stderr => "UPDATE attempts SET stderr_dropped = ?2 WHERE id = ?1",
        };
        sqlx::query(query)
            .bind(attempt_id)
            .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map_err(self.err("recording dropped output"))?;
        Ok(())
    }

    /// Delete the stored output of an attempt (before storing it again whole).
    pub async fn clear_output(&self, attempt_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM output WHERE attempt_id = ?1")
            .bind(attempt_id)
            .execute(&self.pool)
            .await
            .map_err(self.err("clearing output"))?;
        Ok(())
    }

    /// The last `limit` runs (of `job`, or of every job), newest first, one row per attempt.
    pub async fn history(
        &self,
        job: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        // Two statements rather than `?1 IS NULL OR job = ?1`, which keeps SQLite
        // from using runs(job, id): a rarely-run job would read the whole table.
        let query = match job {
            Some(_) => sqlx::query(
                "SELECT run_id, job, trigger, scheduled_at, status, attempt, exit_code, outcome,
                        started_at, finished_at, duration_ms, completion_index,
                        (SELECT parent_run_id FROM runs WHERE id = run_id),
                        (SELECT path FROM input_files WHERE input_files.run_id = history.run_id)
                 FROM history
                 WHERE run_id IN (SELECT id FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT ?2)
                 ORDER BY run_id DESC, attempt",
            ),
            None => sqlx::query(
                "SELECT run_id, job, trigger, scheduled_at, status, attempt, exit_code, outcome,
                        started_at, finished_at, duration_ms, completion_index,
                        (SELECT parent_run_id FROM runs WHERE id = run_id),
                        (SELECT path FROM input_files WHERE input_files.run_id = history.run_id)
                 FROM history
                 WHERE run_id IN (SELECT id FROM runs WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2)
                 ORDER BY run_id DESC, attempt",
            ),
        };
        let rows = query
            .bind(job)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading history"))?;
        Ok(rows
            .into_iter()
            .map(|row| HistoryRow {
                run_id: row.get(0),
                job: row.get(1),
                trigger: row.get(2),
                scheduled_at: row.get(3),
                status: row.get(4),
                attempt: row.get(5),
                exit_code: row.get(6),
                outcome: row.get(7),
                started_at: row.get(8),
                finished_at: row.get(9),
                duration_ms: row.get(10),
                completion_index: row.get(11),
                parent_run_id: row.get(12),
                input_file: row.get(13),
            })
            .collect())
    }

    /// The output of a run (of one attempt when given): per attempt, stdout then stderr, each in order.
    pub async fn output(
        &self,
        run_id: i64,
        attempt: Option<u32>,
    ) -> Result<Vec<OutputChunk>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.attempt, o.stream, o.data
             FROM output o JOIN attempts a ON a.id = o.attempt_id
             WHERE a.run_id = ?1 AND (?2 IS NULL OR a.attempt = ?2)
             ORDER BY a.attempt, o.stream DESC, o.seq",
        )
        .bind(run_id)
        .bind(attempt)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading output"))?;
        Ok(rows
            .into_iter()
            .map(|row| OutputChunk {
                attempt: row.get(0),
                stream: if row.get::<&str, _>(1) == "stderr" {
                    Stream::Stderr
                } else {
                    Stream::Stdout
                },
                data: row.get(2),
            })
            .collect())
    }

    /// A run's status (`running`, `succeeded`, ...), or `None` if there is no such run.
    pub async fn run_status(&self, run_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT status FROM runs WHERE id = ?1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("looking up a run"))?;
        Ok(row.map(|row| row.get(0)))
    }

    /// The attempts of a run: `(attempt id, attempt number)`, in order.
    pub async fn attempts_of(&self, run_id: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, attempt FROM attempts WHERE run_id = ?1 ORDER BY attempt")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await
                .map_err(self.err("listing attempts"))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }

    /// The attempts of a run, in order: `(id, number, index)`, the index
    /// `None` for a plain run's attempts.
    pub async fn attempts_with_index(
        &self,
        run_id: i64,
    ) -> Result<Vec<(i64, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, attempt, completion_index FROM attempts WHERE run_id = ?1 ORDER BY attempt",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing attempts"))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect())
    }

    /// How the last attempt of a run ended: its `outcome` and `exit_code`, or
    /// `None` when the run has no attempt.
    pub async fn last_attempt(
        &self,
        run_id: i64,
    ) -> Result<Option<(String, Option<i64>)>, StoreError> {
        let row = sqlx::query(
            "SELECT outcome, exit_code FROM attempts WHERE run_id = ?1 ORDER BY attempt DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading the last attempt of a run"))?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    /// The chunks of one attempt's stream from sequence number `from_seq` on.
    pub async fn output_since(
        &self,
        attempt_id: i64,
        stream: Stream,
        from_seq: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, data FROM output WHERE attempt_id = ?1 AND stream = ?2 AND seq >= ?3 ORDER BY seq",
        )
        .bind(attempt_id)
        .bind(stream.as_str())
        .bind(from_seq)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading output"))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }

    /// Close the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
