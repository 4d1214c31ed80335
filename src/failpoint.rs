//! Crash points for tests. With `CRONBOX_TEST_PAUSE_AT=POINT` in its environment
//! the process stops dead when it reaches POINT (it says so on stderr, then waits
//! forever), so a test can SIGKILL it exactly there and check what a restart
//! repairs. Points, in the order a run meets them: `before-run` (a tick's run is
//! about to be recorded), `after-run` (recorded; no attempt yet),
//! `before-create` (the attempt is recorded; no container of its own yet),
//! `after-create` (created, not started), `after-start`, `after-exit` (the
//! container ended; nothing recorded or removed yet), `after-record` (the
//! attempt's end and its run's next state are recorded; the container is still
//! there), `after-remove` (the container is removed); for job chains,
//! `before-chained-start` (a child run a parent's end recorded is claimed by
//! the daemon, not started yet); for file arrival, `after-file-taken` (a file
//! and its run are recorded, the run not handed to the scheduler yet). Only
//! the pausing task
//! stops; the rest of the process goes on. Unset, this costs one cached
//! environment read.

use std::sync::OnceLock;

/// Stop here for good if the environment asks for `point`.
pub async fn pause(point: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    if AT
        .get_or_init(|| std::env::var("CRONBOX_TEST_PAUSE_AT").ok())
        .as_deref()
        == Some(point)
    {
        crate::cli::note(&format!("cronbox: test pause at {point}"));
        std::future::pending::<()>().await;
    }
}
