//! The daemon on the test clock: instants written as RFC 3339, a daemon started
//! at one and asleep, the clock moved on until the daemon sleeps again.

use chrono::{DateTime, Utc};
use cronbox::clock::TestClock;
use std::sync::Arc;
use std::time::Duration;

use super::{Daemon, TestEnv};

/// How long the daemon may take to go (back) to sleep.
pub const LIMIT: Duration = Duration::from_secs(60);

/// An RFC 3339 instant.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// Move `clock` on by `by` and wait until the daemon sleeps again.
pub async fn settle(clock: &TestClock, by: Duration) {
    tokio::time::timeout(LIMIT, clock.advance_and_settle(by))
        .await
        .expect("the daemon went back to sleep");
}

/// A daemon on the test clock from `start`; returns once it has planned and gone to sleep.
pub async fn start(env: &TestEnv, start: DateTime<Utc>) -> (Daemon, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(start));
    let daemon = Daemon::start_with(env, clock.clone(), super::engine().await).await;
    tokio::time::timeout(LIMIT, clock.wait_for_sleeps(0))
        .await
        .expect("the daemon went to sleep");
    (daemon, clock)
}
