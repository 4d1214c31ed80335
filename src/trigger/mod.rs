//! What starts runs besides the clock: the end of a parent run (job chains,
//! [`chains`]) and the arrival of a file ([`files`]).
//!
//! Every run a trigger starts is first a row written in the same transaction as
//! the fact that caused it (the outbox pattern of `DESIGN.md`); the watchers
//! here only find such rows and hand them to the daemon, so a crash loses
//! nothing: at start-up the daemon resumes every row not yet started. This room
//! speaks to SQLite through `crate::store` only and starts no container itself
//! (the file watcher asks the daemon to make a file's container ready,
//! [`files::PrepareFile`]).

pub mod chains;
pub mod files;

/// A run a trigger recorded, handed to the scheduler loop to start.
pub struct Triggered {
    /// The run, as recorded.
    pub pending: crate::store::PendingRun,
    /// Its first attempt's container, made ready while its file settled (a
    /// file's run, [`files::PrepareFile`]); the run uses it if its environment
    /// is still the one it was made with, and removes it if not.
    pub ready: Option<crate::daemon::supervisor::Preparation>,
}
