//! The one place that reads wall time, and the daemon's way to wait.
//!
//! [`SystemClock`] reads the real clock and sleeps on tokio's monotonic timer.
//! [`TestClock`] is driven by the test: it stands still until the test advances
//! it (wall and monotonic time together) or jumps it (wall time only, as when an
//! operator or NTP sets the clock), so scheduling tests are deterministic.

use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// A future returned by [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time and of monotonic waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall-clock instant.
    fn now(&self) -> DateTime<Utc>;
    /// Wait for `duration` of monotonic time (unaffected by wall-clock changes).
    fn sleep(&self, duration: Duration) -> Sleep;
    /// Monotonic time since a fixed origin (the first reading in the process,
    /// for [`SystemClock`]; the clock's creation, for [`TestClock`]): how long
    /// ago something happened, as [`Clock::sleep`] counts time.
    fn monotonic(&self) -> Duration;
}

/// The real wall clock and tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }

    fn monotonic(&self) -> Duration {
        static ORIGIN: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
        ORIGIN.get_or_init(tokio::time::Instant::now).elapsed()
    }
}

#[derive(Debug, Clone, Copy)]
struct TestState {
    wall: DateTime<Utc>,
    monotonic: Duration,
    /// How many times [`Clock::sleep`] was called.
    sleeps: u64,
}

/// A clock for tests that moves only when told to.
#[derive(Debug)]
pub struct TestClock {
    state: Mutex<TestState>,
    changed: watch::Sender<TestState>,
}

impl TestClock {
    /// A clock reading `start`, standing still.
    pub fn new(start: DateTime<Utc>) -> TestClock {
        let state = TestState {
            wall: start,
            monotonic: Duration::ZERO,
            sleeps: 0,
        };
        TestClock {
            state: Mutex::new(state),
            changed: watch::channel(state).0,
        }
    }

    fn update(&self, change: impl FnOnce(&mut TestState)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut state);
        self.changed.send_replace(*state);
    }

    fn snapshot(&self) -> TestState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Let `by` pass: wall and monotonic time move together.
    pub fn advance(&self, by: Duration) {
        let delta = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        self.update(|s| {
            s.wall += delta;
            s.monotonic += by;
        });
    }

    /// Set the wall clock by `by` (negative: backwards) without time passing.
    pub fn jump(&self, by: TimeDelta) {
        self.update(|s| s.wall += by);
    }

    /// How many sleeps have been started so far.
    pub fn sleeps(&self) -> u64 {
        self.snapshot().sleeps
    }

    /// Wait until more than `count` sleeps have been started: a loop that sleeps
    /// after each round of work has finished that round.
    pub async fn wait_for_sleeps(&self, count: u64) {
        let mut rx = self.changed.subscribe();
        while rx.borrow_and_update().sleeps <= count {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Advance by `by`, then wait until the daemon's loop has handled it and gone
    /// back to sleep.
    pub async fn advance_and_settle(&self, by: Duration) {
        let before = self.sleeps();
        self.advance(by);
        self.wait_for_sleeps(before).await;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        self.snapshot().wall
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let mut target = Duration::ZERO;
        self.update(|s| {
            s.sleeps += 1;
            target = s.monotonic.saturating_add(duration);
        });
        let mut rx = self.changed.subscribe();
        Box::pin(async move {
            while rx.borrow_and_update().monotonic < target {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
    }

    fn monotonic(&self) -> Duration {
        self.snapshot().monotonic
    }
}

/// The system's wall clock as Unix milliseconds, for questions to other systems
/// that keep that clock (the Docker engine's event log), never for scheduling:
/// the daemon's own time goes through a [`Clock`].
pub fn unix_now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// How long from `now` until `at`, zero if `at` is not in the future.
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_clock_sleeps_on_monotonic_time_only() {
        let start = DateTime::parse_from_rfc3339("2025-03-30T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let clock = std::sync::Arc::new(TestClock::new(start));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(60)).await })
        };
        clock.wait_for_sleeps(0).await;
        clock.jump(TimeDelta::hours(5)); // the wall clock jumps: no time passed
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        assert_eq!(clock.now(), start + TimeDelta::hours(5));
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        sleeper.await.expect("the sleep ends once 60 s have passed");
        assert_eq!(
            clock.now(),
            start + TimeDelta::hours(5) + TimeDelta::seconds(60)
        );
    }

    #[test]
    fn until_is_zero_for_the_past() {
        let t = Utc::now();
        assert_eq!(until(t, t - TimeDelta::seconds(1)), Duration::ZERO);
        assert_eq!(until(t, t + TimeDelta::seconds(2)), Duration::from_secs(2));
    }
}
