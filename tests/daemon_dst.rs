//! The daemon in-process, driven by the test clock minute by minute through both
//! daylight-saving transitions of Europe/Berlin, running real containers: which
//! ticks fire, once each, for a fixed-time job and an hourly job.

mod common;

use chrono::{DateTime, Utc};
use common::TestEnv;
use cronbox::clock::TestClock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const JOBS: &str = r#"
[jobs.nightly]
schedule = "30 2 * * *"
timezone = "Europe/Berlin"
image = "IMAGE"
command = ["true"]
concurrency = "allow"

[jobs.hourly]
schedule = "0 * * * *"
timezone = "Europe/Berlin"
image = "IMAGE"
command = ["true"]
concurrency = "allow"   # test hours pass in milliseconds: let the short runs overlap
"#;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// Run the daemon on the test clock from `start` for `minutes`, one minute at a
/// time, and return the recorded `job|scheduled_at|status` rows.
async fn drive(env: &TestEnv, start: &str, minutes: u32) -> String {
    let engine = common::engine().await;
    let clock = Arc::new(TestClock::new(at(start)));
    let (_updates, config) = watch::channel(Arc::new(env.config()));
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(cronbox::daemon::run(
        config,
        env.store().await,
        engine,
        clock.clone(),
        shutdown.clone(),
    ));
    let limit = Duration::from_secs(60);
    let asleep = "the daemon went back to sleep";
    // Planned from `start`, now asleep.
    tokio::time::timeout(limit, clock.wait_for_sleeps(0))
        .await
        .expect(asleep);
    for _ in 0..minutes {
        tokio::time::timeout(limit, clock.advance_and_settle(Duration::from_secs(60)))
            .await
            .expect(asleep);
    }
    // Let the runs finish (real containers), then stop.
    for _ in 0..600 {
        if env.sql("SELECT count(*) FROM runs WHERE status = 'running'") == "0\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    daemon.await.expect("join").expect("daemon");
    assert!(env.containers().await.is_empty());
    env.sql("SELECT job, scheduled_at, status FROM runs ORDER BY job, scheduled_at")
}

#[tokio::test]
async fn spring_forward_in_berlin() {
    let env = TestEnv::new(JOBS);
    // 2025-03-30: 02:00 CET becomes 03:00 CEST (01:00 UTC). From 23:30 CET to 05:00 CEST.
    let rows = drive(&env, "2025-03-29T22:30:00Z", 270).await;
    assert_eq!(
        rows,
        "hourly|2025-03-29T23:00:00.000Z|succeeded\n\
         hourly|2025-03-30T00:00:00.000Z|succeeded\n\
         hourly|2025-03-30T01:00:00.000Z|succeeded\n\
         hourly|2025-03-30T02:00:00.000Z|succeeded\n\
         hourly|2025-03-30T03:00:00.000Z|succeeded\n\
         nightly|2025-03-30T01:00:00.000Z|succeeded\n",
        "hourly: 00:00 and 01:00 CET, then 03:00, 04:00, 05:00 CEST (02:00 does not exist); \
         nightly 02:30 falls in the gap and runs once at 03:00 CEST"
    );
}

#[tokio::test]
async fn fall_back_in_berlin() {
    let env = TestEnv::new(JOBS);
    // 2025-10-26: 03:00 CEST becomes 02:00 CET (01:00 UTC). From 00:30 CEST to 04:00 CET.
    let rows = drive(&env, "2025-10-25T22:30:00Z", 270).await;
    assert_eq!(
        rows,
        "hourly|2025-10-25T23:00:00.000Z|succeeded\n\
         hourly|2025-10-26T00:00:00.000Z|succeeded\n\
         hourly|2025-10-26T01:00:00.000Z|succeeded\n\
         hourly|2025-10-26T02:00:00.000Z|succeeded\n\
         hourly|2025-10-26T03:00:00.000Z|succeeded\n\
         nightly|2025-10-26T00:30:00.000Z|succeeded\n",
        "hourly fires every real hour, 02:00 twice (CEST then CET); nightly runs once, at 02:30 CEST"
    );
}
