//! The write-ahead log's checkpoints, run by the daemon between ticks.
//!
//! SQLite copies the WAL back into the database (a checkpoint, with an `fsync` of
//! the WAL and of the file) inside whichever commit takes the WAL past
//! `wal_autocheckpoint` pages. On an SD card that `fsync` takes about 100 ms, and
//! the commit that pays for it is as likely to be a tick's as any other. The
//! daemon checkpoints from a connection of its own instead (`PRAGMA
//! wal_checkpoint(PASSIVE)`, which never waits for a lock and never holds a
//! writer up), at moments when no tick is due; the automatic checkpoint stays as
//! the bound on the WAL's size for when those moments do not come.

use std::time::SystemTime;

use sqlx::Row;

use super::{Store, StoreError, wal_path};

/// What one checkpoint did, in WAL frames (one page each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The frames the WAL held.
    pub frames: i64,
    /// Of those, the frames now copied into the database. Fewer than `frames`
    /// when a reader still needs the older pages (an open `sqlite3` transaction).
    pub copied: i64,
}

/// The WAL file's size and modification time: it changes with every commit, so
/// a stamp equal to the one taken after the last checkpoint means there is
/// nothing new to copy. `None` when the file does not exist.
pub type WalStamp = Option<(u64, SystemTime)>;

impl Store {
    /// Copy what the WAL holds into the database without waiting for any lock
    /// (`PRAGMA wal_checkpoint(PASSIVE)`). Writers go on meanwhile.
    ///
    /// Errors: [`StoreError::Query`] when SQLite refuses (a full disk, an I/O error).
    pub async fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("checkpointing the write-ahead log"))?;
        Ok(Checkpoint {
            frames: row.try_get(1).unwrap_or(0),
            copied: row.try_get(2).unwrap_or(0),
        })
    }

    /// The WAL's [`WalStamp`], read from the file system (no SQL, no lock).
    pub fn wal_stamp(&self) -> WalStamp {
        let meta = std::fs::metadata(wal_path(&self.path)).ok()?;
        Some((meta.len(), meta.modified().ok()?))
    }
}
