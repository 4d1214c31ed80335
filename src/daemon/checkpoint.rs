//! The daemon's checkpoints of the write-ahead log, kept out of the ticks' way.
//!
//! Every [`CHECKPOINT_EVERY`], if the WAL changed since the last try and no
//! tick is due within [`TICK_CLEARANCE`], the task copies the WAL into the
//! database ([`Store::checkpoint`]). So the `fsync`s of a checkpoint (about
//! 100 ms each on an SD card, measured in BENCHMARKS.md, "Pi budget") happen
//! between ticks, on a connection of their own, and not inside the commit of a
//! tick's run that happened to take the WAL past `wal_autocheckpoint` pages.
//! Once the WAL no longer changes, the task sleeps until a run starts or ends,
//! so an idle daemon is not woken each second. It never stops the daemon: a
//! failed checkpoint is logged once and tried again after the next write.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::supervisor::chain;
use crate::clock::{self, Clock};
use crate::store::{Store, WalStamp};

/// How often the task looks at the WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How far away the next tick must be for a checkpoint to start now.
pub const TICK_CLEARANCE: TimeDelta = TimeDelta::milliseconds(500);
/// When a tick is near, how long after it the task looks again: its run and
/// attempt are recorded by then.
const AFTER_TICK: TimeDelta = TimeDelta::milliseconds(250);
/// The shortest wait before looking again (a tick already due and not yet fired).
const AFTER_TICK_MIN: Duration = Duration::from_millis(50);

/// What the scheduler tells the checkpoint task: the next tick it will fire
/// (milliseconds since the epoch; `i64::MAX` when none is planned), and that a
/// run started or ended (the WAL has something new).
#[derive(Debug, Clone)]
pub struct Signals(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    next_tick: AtomicI64,
    runs: Notify,
}

impl Default for Signals {
    fn default() -> Self {
        Signals(Arc::new(Inner {
            next_tick: AtomicI64::new(i64::MAX),
            runs: Notify::new(),
        }))
    }
}

impl Signals {
    /// Publish the earliest planned tick (`None`: nothing planned).
    pub fn set_next_tick(&self, at: Option<DateTime<Utc>>) {
        let millis = at.map_or(i64::MAX, |t| t.timestamp_millis());
        self.0.next_tick.store(millis, Ordering::Relaxed);
    }

    /// The planned tick, when it is due before `now + clearance` (or already due).
    pub fn near(&self, now: DateTime<Utc>, clearance: TimeDelta) -> Option<DateTime<Utc>> {
        let at = self.0.next_tick.load(Ordering::Relaxed);
        if at == i64::MAX || at >= (now + clearance).timestamp_millis() {
            return None;
        }
        DateTime::from_timestamp_millis(at)
    }

    /// A run started or ended: wake the task if it sleeps.
    pub fn run_moved(&self) {
        self.0.runs.notify_one();
    }
}

/// Checkpoint the WAL between ticks until `shutdown` is cancelled (see the
/// module's comment). Ticks are read on `clock`; the task's own waits are
/// tokio's timer (housekeeping, as the retention task).
pub async fn between_ticks(
    store: Store,
    clock: Arc<dyn Clock>,
    signals: Signals,
    shutdown: CancellationToken,
) {
    let mut copied: WalStamp = None;
    let mut failing = false;
    let mut wait = CHECKPOINT_EVERY;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = CHECKPOINT_EVERY;
        let stamp = store.wal_stamp();
        if stamp.is_none() || stamp == copied {
            // Nothing new: sleep until a run starts or ends.
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                () = signals.0.runs.notified() => {}
            }
            continue;
        }
        if let Some(tick) = signals.near(clock.now(), TICK_CLEARANCE) {
            // Look again just after that tick, however often ticks come (a job
            // `@every 1s` would otherwise keep a one-second look always near one).
            wait = clock::until(clock.now(), tick + AFTER_TICK)
                .clamp(AFTER_TICK_MIN, CHECKPOINT_EVERY);
            continue;
        }
        match store.checkpoint().await {
            Ok(done) => {
                if failing {
                    tracing::info!("the write-ahead log is checkpointed again");
                    failing = false;
                }
                tracing::trace!(
                    frames = done.frames,
                    copied = done.copied,
                    "checkpointed the write-ahead log"
                );
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(
                    error = %chain(&e),
                    "could not checkpoint the write-ahead log; trying again when a run starts or ends (SQLite also checkpoints by itself every 256 pages)"
                );
            }
            Err(_) => {}
        }
        // Tried on this WAL: the next try waits for a new write, even when a
        // reader still held older pages (an open sqlite3 transaction) or the
        // checkpoint failed, so that neither wakes an idle daemon every second.
        copied = stamp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_is_near_when_due_within_the_clearance_or_already_due() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T02:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let next = Signals::default();
        assert_eq!(next.near(now, TICK_CLEARANCE), None, "nothing planned");
        let cases = [
            (-1_000, true), // due and not yet fired
            (0, true),
            (499, true),
            (500, false),
            (60_000, false),
        ];
        for (offset_ms, near) in cases {
            let tick = now + TimeDelta::milliseconds(offset_ms);
            next.set_next_tick(Some(tick));
            let want = near.then_some(tick);
            assert_eq!(
                next.near(now, TICK_CLEARANCE),
                want,
                "tick at {offset_ms} ms"
            );
        }
        next.set_next_tick(None);
        assert_eq!(
            next.near(now, TICK_CLEARANCE),
            None,
            "nothing planned again"
        );
    }
}
