//! The daemon's checkpoints of the write-ahead log, kept out of the ticks' way.
//!
//! Every [`CHECKPOINT_EVERY`], if the WAL changed since the last checkpoint and
//! no tick is due within [`TICK_CLEARANCE`], the task copies the WAL into the
//! database ([`Store::checkpoint`]). So the `fsync`s of a checkpoint (about
//! 100 ms each on an SD card, measured in BENCHMARKS.md, "Pi budget") happen
//! between ticks, on a connection of their own, and not inside the commit of a
//! tick's run that happened to take the WAL past `wal_autocheckpoint` pages.
//! It never stops the daemon: a failed checkpoint is logged once and tried again.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use super::supervisor::chain;
use crate::clock::Clock;
use crate::store::{Store, WalStamp};

/// How often the task looks at the WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How far away the next tick must be for a checkpoint to start now.
pub const TICK_CLEARANCE: TimeDelta = TimeDelta::milliseconds(500);

/// The next tick the scheduler loop will fire, published by the loop for the
/// housekeeping that must keep out of its way. Milliseconds since the epoch;
/// `i64::MAX` when no tick is planned.
#[derive(Debug, Clone)]
pub struct NextTick(Arc<AtomicI64>);

impl Default for NextTick {
    fn default() -> Self {
        NextTick(Arc::new(AtomicI64::new(i64::MAX)))
    }
}

impl NextTick {
    /// Publish the earliest planned tick (`None`: nothing planned).
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        let millis = at.map_or(i64::MAX, |t| t.timestamp_millis());
        self.0.store(millis, Ordering::Relaxed);
    }

    /// Whether a tick is due before `now + clearance` (or already due).
    pub fn near(&self, now: DateTime<Utc>, clearance: TimeDelta) -> bool {
        let at = self.0.load(Ordering::Relaxed);
        at != i64::MAX && at < (now + clearance).timestamp_millis()
    }
}

/// Checkpoint the WAL between ticks until `shutdown` is cancelled (see the
/// module's comment). Ticks are read on `clock`; the task's own period is
/// tokio's timer (housekeeping, as the retention task).
pub async fn between_ticks(
    store: Store,
    clock: Arc<dyn Clock>,
    next_tick: NextTick,
    shutdown: CancellationToken,
) {
    let mut copied: WalStamp = None;
    let mut failing = false;
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let stamp = store.wal_stamp();
        if stamp.is_none() || stamp == copied || next_tick.near(clock.now(), TICK_CLEARANCE) {
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
                // A reader still holding older pages leaves some behind: try again
                // at the next look, even with no new write.
                copied = if done.copied >= done.frames {
                    stamp
                } else {
                    None
                };
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(
                    error = %chain(&e),
                    "could not checkpoint the write-ahead log; trying again each second (SQLite also checkpoints by itself every 256 pages)"
                );
            }
            Err(_) => {}
        }
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
        let next = NextTick::default();
        assert!(!next.near(now, TICK_CLEARANCE), "nothing planned");
        let cases = [
            (-1_000, true), // due and not yet fired
            (0, true),
            (499, true),
            (500, false),
            (60_000, false),
        ];
        for (offset_ms, near) in cases {
            next.set(Some(now + TimeDelta::milliseconds(offset_ms)));
            assert_eq!(
                next.near(now, TICK_CLEARANCE),
                near,
                "tick at {offset_ms} ms"
            );
        }
        next.set(None);
        assert!(!next.near(now, TICK_CLEARANCE), "nothing planned again");
    }
}
