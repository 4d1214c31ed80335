//! The daemon's retention task: prune the history at start and then every hour.
//!
//! It owns only the timing and the logging; what is deleted, and how the space is
//! given back, is [`Store::prune`]'s business. It never panics and never stops
//! the daemon: a failed prune is logged and tried again an hour later.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::supervisor::chain;
use crate::clock::Clock;
use crate::store::Store;

/// How long the task waits between two prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prune the history now and then every [`PRUNE_EVERY`] (of monotonic time,
/// through `clock`) until `shutdown` is cancelled: finished runs that finished
/// longer ago than `max_age`, and per job those beyond the newest `keep_per_job`.
/// Returns promptly on shutdown, even in the middle of a prune (what was
/// committed stays deleted; the next start carries on).
pub async fn prune_periodically(
    store: Store,
    clock: Arc<dyn Clock>,
    max_age: Duration,
    keep_per_job: u32,
    shutdown: CancellationToken,
) {
    loop {
        let now = clock.now();
        let started = Instant::now();
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            result = store.prune(now, max_age, keep_per_job) => match result {
                Ok(pruned) if pruned.runs > 0 || pruned.pages_freed > 0 => tracing::info!(
                    runs = pruned.runs,
                    pages_freed = pruned.pages_freed,
                    took_ms = started.elapsed().as_millis(),
                    max_age = %humantime::format_duration(max_age),
                    keep_per_job,
                    "pruned the history: deleted old runs with their attempts and output"
                ),
                Ok(_) => tracing::debug!("history pruned: nothing to delete"),
                Err(e) => tracing::error!(
                    error = %chain(&e),
                    "could not prune the history; trying again in an hour"
                ),
            },
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            // tokio's timer, not the clock's: pruning is housekeeping, and a test clock
            // drives only the schedule.
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
