//! The history database's errors: what failed, on which file, SQLite's own
//! message once, and what to do about it, chosen from SQLite's result code.
//!
//! The sqlx error is kept as a field, not as the error's `source()`: sqlx's
//! database error repeats SQLite's message in its own source, so a printed
//! chain (`cronbox: {error:#}`, the daemon's log lines) would say it two or
//! three times. Everything worth saying is in the message itself.

use std::path::PathBuf;

/// A failure of the history database, with the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error(
        "cannot open the history database {path}: {}; {}",
        describe(error),
        open_advice(error)
    )]
    Open { path: PathBuf, error: sqlx::Error },
    /// The schema migrations failed.
    #[error(
        "cannot bring the history database {path} up to date: {}",
        describe_migrate(error)
    )]
    Migrate {
        path: PathBuf,
        error: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error(
        "history database {path}: {what} failed: {}{}",
        describe(error),
        query_advice(error)
    )]
    Query {
        path: PathBuf,
        /// What was being done, as "reading history".
        what: &'static str,
        error: sqlx::Error,
    },
}

impl StoreError {
    /// Whether the database was busy: another connection held a lock longer than
    /// the busy timeout.
    pub fn is_busy(&self) -> bool {
        let error = match self {
            StoreError::Open { error, .. } | StoreError::Query { error, .. } => Some(error),
            StoreError::Migrate { error, .. } => migrate_cause(error),
        };
        error
            .and_then(primary_code)
            .is_some_and(|c| Code::of(c) == Code::Busy)
    }
}

/// SQLite's primary result codes that call for their own advice
/// (<https://www.sqlite.org/rescode.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// SQLITE_PERM (3), SQLITE_CANTOPEN (14), SQLITE_AUTH (23).
    Access,
    /// SQLITE_BUSY (5), SQLITE_LOCKED (6).
    Busy,
    /// SQLITE_READONLY (8): the file, or its directory, is not writable.
    ReadOnly,
    /// SQLITE_IOERR (10).
    Io,
    /// SQLITE_CORRUPT (11), SQLITE_NOTADB (26).
    Corrupt,
    /// SQLITE_FULL (13).
    Full,
    Other,
}

impl Code {
    fn of(primary: i64) -> Code {
        match primary {
            3 | 14 | 23 => Code::Access,
            5 | 6 => Code::Busy,
            8 => Code::ReadOnly,
            10 => Code::Io,
            11 | 26 => Code::Corrupt,
            13 => Code::Full,
            _ => Code::Other,
        }
    }
}

/// The primary result code (the low byte of the extended one) of a database error.
fn primary_code(error: &sqlx::Error) -> Option<i64> {
    let code = error.as_database_error()?.code()?;
    code.parse::<i64>().ok().map(|c| c & 0xff)
}

/// SQLite's message once, with its (extended) code; any other error as sqlx says it.
fn describe(error: &sqlx::Error) -> String {
    match error.as_database_error() {
        Some(db) => match db.code() {
            Some(code) => format!("{} (SQLite code {code})", db.message()),
            None => db.message().to_owned(),
        },
        None => error.to_string(),
    }
}

/// Whether SQLite refused a read-only connection because it could not create
/// the `-wal`/`-shm` files (SQLITE_READONLY_DIRECTORY and its kin, SQLITE_CANTOPEN).
pub(super) fn cannot_create_wal(error: &sqlx::Error) -> bool {
    matches!(code_of(error), Some(Code::ReadOnly | Code::Access))
}

/// The sqlx error inside a migration error, if there is one.
fn migrate_cause(error: &sqlx::migrate::MigrateError) -> Option<&sqlx::Error> {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => Some(e),
        _ => None,
    }
}

fn describe_migrate(error: &sqlx::migrate::MigrateError) -> String {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::Execute(e) => format!("{}{}", describe(e), query_advice(e)),
        MigrateError::ExecuteMigration(e, version) => {
            format!("migration {version}: {}{}", describe(e), query_advice(e))
        }
        other => format!("{other}; was it written by a newer cronbox?"),
    }
}

/// The advice for a database that stays locked, shared by every variant.
const BUSY: &str = "another process holds a lock on the database (the daemon in a long write, or a sqlite3 shell with an open transaction): wait and try again, or end that transaction";

/// The [`Code`] of an error that has one.
fn code_of(error: &sqlx::Error) -> Option<Code> {
    primary_code(error).map(Code::of)
}

/// What to do when the file could not be opened.
fn open_advice(error: &sqlx::Error) -> &'static str {
    let denied =
        matches!(error, sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied);
    match code_of(error) {
        Some(Code::Busy) => BUSY,
        Some(Code::Full) => "the disk is full: free some space",
        Some(Code::Corrupt) => {
            "the file is damaged or not a cronbox database: set [daemon] database to another file"
        }
        Some(Code::Access | Code::ReadOnly) => {
            "check the permissions of the file, its -wal and -shm files and its directory, or set [daemon] database"
        }
        _ if denied => {
            "check the permissions of the file and its directory, or set [daemon] database"
        }
        _ => {
            "check that the directory exists and that this user may write to it and to the file, or set [daemon] database"
        }
    }
}

/// What to do after a failed query, starting with "; " (empty when there is
/// nothing useful to add).
fn query_advice(error: &sqlx::Error) -> String {
    advice_for(code_of(error)).map_or_else(String::new, |advice| format!("; {advice}"))
}

/// The advice after a failed query with this result code, if there is any.
fn advice_for(code: Option<Code>) -> Option<&'static str> {
    Some(match code? {
        Code::Busy => BUSY,
        Code::ReadOnly => {
            "this user cannot write the file, or create its -wal and -shm files in its directory: check their permissions"
        }
        Code::Access => {
            "check the permissions of the file, its -wal and -shm files and its directory"
        }
        Code::Full => "the disk is full: free some space",
        Code::Io => "the disk or file system reported an error: check the system log",
        Code::Corrupt => {
            "the file is damaged: restore it from a backup, or set [daemon] database to a new file"
        }
        Code::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    #[test]
    fn each_result_code_gets_its_own_advice() {
        // (extended result code, a word the advice must have, a word it must not)
        let cases = [
            (5, "lock", "permission"),
            (517, "lock", "permission"), // SQLITE_BUSY_SNAPSHOT
            (6, "lock", "permission"),
            (8, "-wal", "lock"),
            (1544, "-wal", "lock"), // SQLITE_READONLY_DIRECTORY
            (14, "permissions", "lock"),
            (3, "permissions", "lock"),
            (13, "disk is full", "lock"),
            (10, "system log", "lock"),
            (11, "damaged", "lock"),
            (26, "damaged", "lock"),
        ];
        for (code, want, not) in cases {
            let advice = advice_for(Some(Code::of(code & 0xff))).unwrap_or_default();
            assert!(advice.contains(want), "code {code}: {advice}");
            assert!(!advice.contains(not), "code {code}: {advice}");
        }
        // SQLITE_ERROR (a bad statement) and no code at all: nothing to add.
        assert_eq!(advice_for(Some(Code::of(1))), None);
        assert_eq!(advice_for(None), None);
    }

    /// `error` as a failed query: whether it counts as busy, and the text `main`
    /// prints for it (the error and its causes).
    fn printed(path: &std::path::Path, error: sqlx::Error) -> (bool, String) {
        let error = StoreError::Query {
            path: path.to_owned(),
            what: "storing output",
            error,
        };
        (error.is_busy(), format!("{:#}", anyhow::Error::from(error)))
    }

    /// Real SQLite errors, printed as `main` prints them: SQLite's message once,
    /// and the advice its code calls for.
    #[tokio::test]
    async fn a_locked_or_read_only_database_is_said_once_with_its_own_advice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await
            .expect("open");
        sqlx::query("CREATE TABLE t (x)")
            .execute(&pool)
            .await
            .expect("create");
        let mut holder = pool.acquire().await.expect("a connection");
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut *holder)
            .await
            .expect("lock");
        let other = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .expect("open again");
        let busy = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&other)
            .await
            .expect_err("locked");
        let (is_busy, text) = printed(&path, busy);
        assert!(is_busy);
        assert_eq!(text.matches("database is locked").count(), 1, "{text}");
        assert!(text.contains("another process holds a lock"), "{text}");
        assert!(!text.contains("directory"), "{text}");
        sqlx::query("ROLLBACK")
            .execute(&mut *holder)
            .await
            .expect("unlock");
        drop(holder);

        let read_only = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.read_only(true))
            .await
            .expect("open read-only");
        let refused = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&read_only)
            .await
            .expect_err("read-only");
        let (is_busy, text) = printed(&path, refused);
        assert!(!is_busy);
        assert_eq!(text.matches("readonly database").count(), 1, "{text}");
        assert!(text.contains("cannot write the file"), "{text}");
    }
}
