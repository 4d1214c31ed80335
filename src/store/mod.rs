//! The history database: the only module that speaks SQL (sqlx + SQLite).
//!
//! It owns the connection pool and its pragmas (WAL, `synchronous=NORMAL`, a busy
//! timeout so the CLI and the daemon share the file), the migrations in
//! `migrations/` applied at open, and one small named function per query. Callers
//! never see SQL. Timestamps go in as ISO-8601 UTC text with milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A failure of the history database, with the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error(
        "cannot open the history database {path}: {source}; check that the directory exists and is writable, or set [daemon] database"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations failed.
    #[error(
        "cannot bring the history database {path} up to date: {source}; was it written by a newer cronbox?"
    )]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("history database {path}: {what}: {source}")]
    Query {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// What fired a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A tick of the job's schedule.
    Schedule,
    /// `cronbox run JOB`.
    Manual,
}

impl Trigger {
    /// The value stored in `runs.trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

/// The final status of a run (`runs.status`); `running` while it goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    /// The value stored in `runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// `exited`, `engine-error`, `image-missing` or `interrupted`.
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
    pub job: String,
    pub attempt: i64,
    pub container_id: Option<String>,
}

/// Format an instant the way the database stores it: `2026-03-29T01:00:00.000Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The history database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) the database at `path`, set its pragmas and apply
    /// the migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.to_owned(),
                source,
            })?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Ok(Store { pool, path })
    }

    /// The database file (absolute when it could be made so).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Query {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// Record a new run as `running`. Returns `None` when this scheduled tick is
    /// already recorded (a tick's identity is its job and instant).
    pub async fn insert_run(
        &self,
        job: &str,
        trigger: Trigger,
        scheduled_at: DateTime<Utc>,
        started_at: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO runs (job, trigger, scheduled_at, status, started_at)
             VALUES (?1, ?2, ?3, 'running', ?4)
             ON CONFLICT (job, scheduled_at) WHERE trigger = 'schedule' DO NOTHING
             RETURNING id",
        )
        .bind(job)
        .bind(trigger.as_str())
        .bind(timestamp(scheduled_at))
        .bind(timestamp(started_at))
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("recording a new run"))?;
        Ok(row.map(|row| row.get::<i64, _>(0)))
    }

    /// Record the end of a run.
    pub async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        finished_at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = ?2, finished_at = ?3, reason = ?4 WHERE id = ?1")
            .bind(run_id)
            .bind(status.as_str())
            .bind(timestamp(finished_at))
            .bind(reason)
            .execute(&self.pool)
            .await
            .map_err(self.err("recording the end of a run"))?;
        Ok(())
    }

    /// Record the start of attempt number `attempt` of a run; returns its id.
    pub async fn start_attempt(
        &self,
        run_id: i64,
        attempt: u32,
        image: &str,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO attempts (run_id, attempt, image, started_at, outcome)
             VALUES (?1, ?2, ?3, ?4, 'running') RETURNING id",
        )
        .bind(run_id)
        .bind(attempt)
        .bind(image)
        .bind(timestamp(started_at))
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("recording a new attempt"))?;
        Ok(row.get::<i64, _>(0))
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

    /// Record how an attempt ended.
    pub async fn finish_attempt(
        &self,
        attempt_id: i64,
        end: &AttemptEnd,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE attempts SET finished_at = ?2, exit_code = ?3, oom_killed = ?4, outcome = ?5, error = ?6
             WHERE id = ?1",
        )
        .bind(attempt_id)
        .bind(timestamp(end.finished_at))
        .bind(end.exit_code)
        .bind(end.oom_killed)
        .bind(end.outcome)
        .bind(end.error.as_deref())
        .execute(&self.pool)
        .await
        .map_err(self.err("recording the end of an attempt"))?;
        Ok(())
    }

    /// Attempts still marked running, oldest first.
    pub async fn running_attempts(&self) -> Result<Vec<StaleAttempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.run_id, r.job, a.attempt, a.container_id
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
            })
            .collect())
    }

    /// Runs still marked running: `(run_id, job)`, oldest first.
    pub async fn running_runs(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, job FROM runs WHERE status = 'running' ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("listing running runs"))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }

    /// The last `limit` runs (of `job`, or of every job), newest first, one row per attempt.
    pub async fn history(
        &self,
        job: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, job, trigger, scheduled_at, status, attempt, exit_code, outcome,
                    started_at, finished_at, duration_ms
             FROM history
             WHERE run_id IN (SELECT id FROM runs WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC LIMIT ?2)
             ORDER BY run_id DESC, attempt",
        )
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
            })
            .collect())
    }

    /// Whether a run with this id exists.
    pub async fn run_exists(&self, run_id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM runs WHERE id = ?1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("looking up a run"))?;
        Ok(row.is_some())
    }

    /// The output of a run (of one attempt when given), in arrival order.
    pub async fn output(
        &self,
        run_id: i64,
        attempt: Option<u32>,
    ) -> Result<Vec<OutputChunk>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.attempt, o.stream, o.data
             FROM output o JOIN attempts a ON a.id = o.attempt_id
             WHERE a.run_id = ?1 AND (?2 IS NULL OR a.attempt = ?2)
             ORDER BY a.attempt, o.at, o.stream DESC, o.seq",
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

    /// Close the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
