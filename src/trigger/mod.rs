//! What starts runs besides the clock: the end of a parent run (job chains,
//! [`chains`]) and the arrival of a file ([`files`]).
//!
//! Every run a trigger starts is first a row written in the same transaction as
//! the fact that caused it (the outbox pattern of `DESIGN.md`); the watchers
//! here only find such rows and hand them to the daemon, so a crash loses
//! nothing: at start-up the daemon resumes every row not yet started. This room
//! speaks to SQLite through `crate::store` only and starts no container itself.

pub mod chains;
pub mod files;
