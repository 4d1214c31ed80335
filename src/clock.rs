//! The one place that reads wall time. Everything else asks a [`Clock`].
//!
//! [`SystemClock`] reads the real clock; [`TestClock`] follows tokio's (pausable)
//! clock from a fixed starting instant and can be jumped, so tests drive time
//! deterministically with `#[tokio::test(start_paused = true)]`.

use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall-clock instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock for tests: starts at a given instant and advances with tokio's clock
/// (which a paused runtime advances only when every task is idle), plus any jumps.
#[derive(Debug)]
pub struct TestClock {
    start_wall: DateTime<Utc>,
    start_mono: tokio::time::Instant,
    jumped: Mutex<chrono::TimeDelta>,
}

impl TestClock {
    /// A clock reading `start` now.
    pub fn new(start: DateTime<Utc>) -> TestClock {
        TestClock {
            start_wall: start,
            start_mono: tokio::time::Instant::now(),
            jumped: Mutex::new(chrono::TimeDelta::zero()),
        }
    }

    /// Move the wall clock by `by` (negative to go back) without moving monotonic time.
    pub fn jump(&self, by: chrono::TimeDelta) {
        let mut jumped = self.jumped.lock().unwrap_or_else(|e| e.into_inner());
        *jumped += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start_mono);
        let jumped = *self.jumped.lock().unwrap_or_else(|e| e.into_inner());
        self.start_wall
            + chrono::TimeDelta::from_std(elapsed).unwrap_or(chrono::TimeDelta::MAX)
            + jumped
    }
}

/// How long from `now` until `at`, zero if `at` is not in the future.
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}
