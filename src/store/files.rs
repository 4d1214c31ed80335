//! File arrival (table `input_files`): a file is taken, with its run, in one
//! transaction; what became of it after the run is recorded on the same row.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, timestamp};

/// What identifies a file: taken once per job unless one of these changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub path: PathBuf,
    pub dev: u64,
    pub inode: u64,
    /// Bytes.
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

/// A file taken whose after-run action is not recorded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenFile {
    pub id: i64,
    pub path: PathBuf,
    pub run_id: Option<i64>,
}

/// What became of a file after its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Kept,
    Deleted,
    Moved(PathBuf),
    /// The move or delete failed: why.
    Failed(String),
}

/// Where the file of a run is mounted in its container (read-only).
pub const INPUT: &str = "/cronbox/input/file";

/// The environment a file's run gets, as its run's parameters (`runs.params`):
/// `CRONBOX_FILE` (where the file is mounted, [`INPUT`]) and `CRONBOX_FILE_NAME`
/// (its name on the host), in the order the parameters read back.
pub fn file_params(path: &Path) -> Vec<(String, String)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    vec![
        ("CRONBOX_FILE".to_owned(), INPUT.to_owned()),
        ("CRONBOX_FILE_NAME".to_owned(), name),
    ]
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Take `file` for `job` and record its run (trigger `file`, supervised by
    /// process `pid`, the file's name in `CRONBOX_FILE_NAME`), in one
    /// transaction. `None` when this identity was taken before.
    pub async fn take_file(
        &self,
        job: &str,
        file: &FileIdentity,
        now: DateTime<Utc>,
        pid: u32,
    ) -> Result<Option<i64>, StoreError> {
        let (job, file) = (job.to_owned(), file.clone());
        let params = super::params_to_json(&file_params(&file.path), |_| false);
        self.in_transaction("taking a file and recording its run", move |conn| {
            Box::pin(async move {
                let at = timestamp(now);
                let taken = sqlx::query(
                    "INSERT INTO input_files (job, path, dev, inode, size, mtime_ns, taken_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                )
                .bind(&job)
                .bind(file.path.to_string_lossy().as_ref())
                .bind(to_i64(file.dev))
                .bind(to_i64(file.inode))
                .bind(to_i64(file.size))
                .bind(file.mtime_ns)
                .bind(&at)
                .execute(&mut *conn)
                .await?;
                let Some(file_id) = super::inserted_id(&taken) else {
                    return Ok(None);
                };
                let run = sqlx::query(
                    "INSERT INTO runs (job, trigger, scheduled_at, status, started_at, pid, params)
                     VALUES (?1, 'file', ?2, 'running', ?2, ?3, ?4)",
                )
                .bind(&job)
                .bind(&at)
                .bind(pid)
                .bind(&params)
                .execute(&mut *conn)
                .await?;
                let run_id = run.last_insert_rowid();
                sqlx::query("UPDATE input_files SET run_id = ?2 WHERE id = ?1")
                    .bind(file_id)
                    .bind(run_id)
                    .execute(&mut *conn)
                    .await?;
                Ok(Some(run_id))
            })
        })
        .await
    }

    /// Whether `file` (this identity) was taken for `job`.
    pub async fn file_taken(&self, job: &str, file: &FileIdentity) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM input_files WHERE job = ?1 AND dev = ?2 AND inode = ?3 AND size = ?4
               AND mtime_ns = ?5 AND path = ?6",
        )
        .bind(job)
        .bind(to_i64(file.dev))
        .bind(to_i64(file.inode))
        .bind(to_i64(file.size))
        .bind(file.mtime_ns)
        .bind(file.path.to_string_lossy().as_ref())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("looking up a file"))?;
        Ok(found.is_some())
    }

    /// The files of `job` taken whose after-run action is not recorded, oldest first.
    pub async fn open_files(&self, job: &str) -> Result<Vec<TakenFile>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, path, run_id FROM input_files WHERE job = ?1 AND state = 'taken' ORDER BY id",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing the files taken"))?;
        Ok(rows
            .iter()
            .map(|row| TakenFile {
                id: row.get(0),
                path: PathBuf::from(row.get::<String, _>(1)),
                run_id: row.get(2),
            })
            .collect())
    }

    /// The host path of the file run `run_id` was started for, if any.
    pub async fn input_file_of_run(&self, run_id: i64) -> Result<Option<PathBuf>, StoreError> {
        let path: Option<String> =
            sqlx::query_scalar("SELECT path FROM input_files WHERE run_id = ?1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.err("reading a run's input file"))?;
        Ok(path.map(PathBuf::from))
    }

    /// Forget that file `id` was taken (its run was interrupted): the file is
    /// taken again, with a new run.
    pub async fn forget_file(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM input_files WHERE id = ?1 AND state = 'taken'")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(self.err("forgetting a file whose run was interrupted"))?;
        Ok(())
    }

    /// Record what became of taken file `id` after its run.
    pub async fn file_done(&self, id: i64, outcome: &FileOutcome) -> Result<(), StoreError> {
        let (action, moved_to, error) = match outcome {
            FileOutcome::Kept => ("kept", None, None),
            FileOutcome::Deleted => ("deleted", None, None),
            FileOutcome::Moved(to) => ("moved", Some(to.to_string_lossy().into_owned()), None),
            FileOutcome::Failed(why) => ("failed", None, Some(why.clone())),
        };
        sqlx::query(
            "UPDATE input_files SET state = 'done', action = ?2, moved_to = ?3, action_error = ?4
             WHERE id = ?1",
        )
        .bind(id)
        .bind(action)
        .bind(moved_to)
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(self.err("recording what became of a file"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_runs_parameters_read_back_as_they_were_given() {
        // The container made ready while the file settles is used only if the
        // environment the run reads back from `runs.params` is the same.
        for path in ["/in/a.csv", "/in/b c.csv", "/in/ünï.csv", "/"] {
            let params = file_params(Path::new(path));
            let stored = super::super::params_to_json(&params, |_| false);
            assert_eq!(super::super::params_from_json(&stored), params, "{path}");
        }
    }
}
