//! Missed ticks and clock jumps, driven by the test clock with real containers:
//! downtime with and without starting_deadline, catch_up = "none", a job added
//! while the daemon was down, a jump forward of hours, a jump back over ticks
//! already run.

mod common;

use chrono::TimeDelta;
use common::test_clock::{at, settle};
use common::{Daemon, TestEnv, test_clock, wait_for_sql};
use cronbox::clock::TestClock;
use std::sync::Arc;
use std::time::Duration;

/// A daemon on the test clock from `start`; returns once it has planned and gone to sleep.
async fn start(env: &TestEnv, start: &str) -> (Daemon, Arc<TestClock>) {
    test_clock::start(env, at(start)).await
}

fn every_ten_minutes(extra: &str) -> TestEnv {
    TestEnv::new(&format!(
        r#"
[jobs.ten]
schedule = "*/10 * * * *"
image = "IMAGE"
command = ["true"]
concurrency = "allow"
{extra}
"#
    ))
}

/// Run the job's 00:10 tick on a first daemon, then stop it.
async fn first_life(env: &TestEnv) {
    let (daemon, clock) = start(env, "2026-01-01T00:00:30Z").await;
    for _ in 0..10 {
        settle(&clock, Duration::from_secs(60)).await;
    }
    wait_for_sql(
        env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    daemon.stop().await;
}

#[tokio::test]
async fn downtime_runs_the_latest_missed_tick_once_and_records_the_rest_as_one_missed_run() {
    let env = every_ten_minutes("");
    first_life(&env).await;
    // Down from 00:10:30 to 03:05: the ticks 00:20 .. 03:00 were missed.
    let (daemon, _clock) = start(&env, "2026-01-01T03:05:00Z").await;
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE trigger = 'catch-up'",
        "succeeded\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql(
            "SELECT trigger, status, scheduled_at, missed_count, missed_first FROM runs ORDER BY id"
        ),
        "schedule|succeeded|2026-01-01T00:10:00.000Z||\n\
         schedule|missed|2026-01-01T02:50:00.000Z|16|2026-01-01T00:20:00.000Z\n\
         catch-up|succeeded|2026-01-01T03:00:00.000Z||\n"
    );
    assert!(
        env.sql("SELECT reason FROM runs WHERE status = 'missed'")
            .contains("the daemon was not running")
    );
}

#[tokio::test]
async fn a_latest_tick_older_than_starting_deadline_is_not_run() {
    let env = every_ten_minutes(r#"starting_deadline = "2m""#);
    first_life(&env).await;
    let (daemon, _clock) = start(&env, "2026-01-01T03:05:00Z").await;
    daemon.stop().await;
    assert_eq!(
        env.sql(
            "SELECT trigger, status, scheduled_at, missed_count, missed_first FROM runs ORDER BY id"
        ),
        "schedule|succeeded|2026-01-01T00:10:00.000Z||\n\
         schedule|missed|2026-01-01T03:00:00.000Z|17|2026-01-01T00:20:00.000Z\n"
    );
    assert!(
        env.sql("SELECT reason FROM runs WHERE status = 'missed'")
            .contains("starting_deadline")
    );
}

#[tokio::test]
async fn catch_up_none_runs_nothing_but_records_the_missed_ticks() {
    let env = every_ten_minutes(r#"catch_up = "none""#);
    first_life(&env).await;
    let (daemon, _clock) = start(&env, "2026-01-01T03:05:00Z").await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT status, missed_count FROM runs ORDER BY id"),
        "succeeded|\nmissed|17\n"
    );
}

#[tokio::test]
async fn a_job_added_while_the_daemon_was_down_has_no_missed_ticks() {
    let env = every_ten_minutes("");
    first_life(&env).await;
    // The operator adds a job while the daemon is down.
    let config = std::fs::read_to_string(&env.config_path).expect("config");
    let added = config.clone()
        + "\n[jobs.added]\nschedule = \"*/10 * * * *\"\nimage = \""
        + common::IMAGE
        + "\"\ncommand = [\"true\"]\n";
    std::fs::write(&env.config_path, added).expect("config");
    let (daemon, _clock) = start(&env, "2026-01-01T03:05:00Z").await;
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE trigger = 'catch-up'",
        "succeeded\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE job = 'added'"),
        "0\n",
        "the daemon was down, but the job was just added"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE job = 'ten' AND status = 'missed'"),
        "1\n"
    );
}

#[tokio::test]
async fn a_jump_forward_of_hours_is_caught_up_once_and_the_rest_recorded_missed() {
    let env = every_ten_minutes("");
    let (daemon, clock) = start(&env, "2026-01-01T00:00:30Z").await;
    for _ in 0..10 {
        settle(&clock, Duration::from_secs(60)).await; // 00:10 runs on time
    }
    clock.jump(TimeDelta::minutes(185)); // NTP sets the clock: 03:15:30
    settle(&clock, Duration::from_secs(60)).await; // the next wake notices it
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "2\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql(
            "SELECT trigger, status, scheduled_at, missed_count FROM runs ORDER BY scheduled_at"
        ),
        "schedule|succeeded|2026-01-01T00:10:00.000Z|\n\
         schedule|missed|2026-01-01T03:00:00.000Z|17\n\
         catch-up|succeeded|2026-01-01T03:10:00.000Z|\n"
    );
    assert!(
        env.sql("SELECT reason FROM runs WHERE status = 'missed'")
            .contains("woke")
    );
}

#[tokio::test]
async fn a_jump_back_over_ticks_already_run_does_not_run_them_again() {
    let env = every_ten_minutes("");
    let (daemon, clock) = start(&env, "2026-01-01T00:00:30Z").await;
    for _ in 0..20 {
        settle(&clock, Duration::from_secs(60)).await; // 00:10 and 00:20 run
    }
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "2\n",
    )
    .await;
    clock.jump(-TimeDelta::minutes(15)); // back to 00:05:30
    for _ in 0..25 {
        settle(&clock, Duration::from_secs(60)).await; // the wall clock passes 00:10, 00:20 again, then 00:30
    }
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "3\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT scheduled_at, trigger FROM runs ORDER BY scheduled_at"),
        "2026-01-01T00:10:00.000Z|schedule\n2026-01-01T00:20:00.000Z|schedule\n2026-01-01T00:30:00.000Z|schedule\n"
    );
}
