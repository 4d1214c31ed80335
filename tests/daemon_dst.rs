//! The daemon in-process, driven by the test clock minute by minute through both
//! daylight-saving transitions of Europe/Berlin, running real containers: which
//! ticks fire, once each, for a fixed-time job and an hourly job; the same past
//! 2099, where the zone data's table ends; and a job with no fire time left
//! (the year 5000), which stays idle without the loop spinning.

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
/// time, wait until `runs` runs are recorded and none goes on, and return the
/// recorded `job|scheduled_at|status` rows. (A tick's run is recorded by its
/// own task, which may lag behind the clock on a busy machine: waiting only
/// for "none running" could stop the daemon before the runs were recorded.)
async fn drive(env: &TestEnv, start: &str, minutes: u32, runs: usize) -> String {
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
    // A few sleeps a minute (a tick, a container made ready ahead of it), not a spin.
    let sleeps = clock.sleeps();
    assert!(
        sleeps <= 1 + 4 * u64::from(minutes),
        "{sleeps} sleeps in {minutes} minutes"
    );
    // Let the runs be recorded and finish (real containers), then stop.
    let done = format!(
        "SELECT (SELECT count(*) FROM runs) >= {runs} \
                AND NOT EXISTS (SELECT 1 FROM runs WHERE status = 'running')"
    );
    for _ in 0..600 {
        if env.sql(&done) == "1\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    daemon.await.expect("join").expect("daemon");
    assert!(env.containers_gone().await);
    env.sql("SELECT job, scheduled_at, status FROM runs ORDER BY job, scheduled_at")
}

#[tokio::test]
async fn spring_forward_in_berlin() {
    let env = TestEnv::new(JOBS);
    // 2025-03-30: 02:00 CET becomes 03:00 CEST (01:00 UTC). From 23:30 CET to 05:00 CEST.
    let rows = drive(&env, "2025-03-29T22:30:00Z", 270, 6).await;
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
    let rows = drive(&env, "2025-10-25T22:30:00Z", 270, 6).await;
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

#[tokio::test]
async fn spring_forward_in_berlin_in_2100() {
    let env = TestEnv::new(JOBS);
    // Past chrono-tz's table, the EU rule goes on: on 2100-03-28 (the last
    // Sunday of March) 02:00 CET becomes 03:00 CEST (01:00 UTC).
    let rows = drive(&env, "2100-03-27T22:30:00Z", 270, 6).await;
    assert_eq!(
        rows,
        "hourly|2100-03-27T23:00:00.000Z|succeeded\n\
         hourly|2100-03-28T00:00:00.000Z|succeeded\n\
         hourly|2100-03-28T01:00:00.000Z|succeeded\n\
         hourly|2100-03-28T02:00:00.000Z|succeeded\n\
         hourly|2100-03-28T03:00:00.000Z|succeeded\n\
         nightly|2100-03-28T01:00:00.000Z|succeeded\n",
        "as in 2025: nightly's 02:30 falls in the gap and runs once at 03:00 CEST"
    );
}

#[tokio::test]
async fn a_job_with_no_fire_time_left_stays_idle() {
    // Cron fire times are computed up to the end of 4999, and in Berlin the
    // year 5000 has begun: neither job has a fire time left. The daemon logs
    // it, runs nothing, and sleeps a minute at a time (drive checks it does
    // not spin).
    let env = TestEnv::new(JOBS);
    let rows = drive(&env, "4999-12-31T23:55:00Z", 10, 0).await;
    assert_eq!(rows, "");
}
