//! The daemon's concurrency rules against a real engine: forbid records skipped
//! ticks, allow overlaps, replace stops the running run, max_concurrent queues
//! in order; a pending retry survives a restart; start-up repair spares a live
//! `cronbox run`; an unreachable engine at start-up does not stop the daemon.

mod common;

use chrono::{DateTime, Utc};
use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::TestClock;
use cronbox::engine::Engine;
use std::sync::Arc;
use std::time::Duration;

/// These tests end with no container left: the daemon stops them on shutdown.
const STOP_ON_SHUTDOWN: &str = r#"on_shutdown = "stop""#;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn forbid_records_a_skipped_run_for_a_tick_that_finds_the_previous_run_going() {
    let env = TestEnv::with_daemon(
        STOP_ON_SHUTDOWN,
        r#"
[jobs.slow]
schedule = "@every 1s"
image = "IMAGE"
command = ["sleep", "600"]
"#,
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 2 FROM runs WHERE status = 'skipped'",
        "1\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts"),
        "1\n",
        "one run only ever ran"
    );
    let reasons = env.sql("SELECT DISTINCT reason FROM runs WHERE status = 'skipped'");
    assert!(
        reasons.contains("was still going (concurrency = \"forbid\")"),
        "{reasons}"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn allow_lets_runs_overlap() {
    let env = TestEnv::with_daemon(
        STOP_ON_SHUTDOWN,
        r#"
[jobs.overlapping]
schedule = "@every 1s"
image = "IMAGE"
command = ["sleep", "600"]
concurrency = "allow"
"#,
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 2 FROM attempts WHERE outcome = 'running' AND container_id IS NOT NULL",
        "1\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE status = 'skipped'"),
        "0\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn replace_stops_the_running_run_and_starts_the_new_one() {
    let env = TestEnv::with_daemon(
        STOP_ON_SHUTDOWN,
        r#"
[jobs.latest-only]
schedule = "@every 2s"
image = "IMAGE"
command = ["sleep", "600"]
concurrency = "replace"
"#,
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 1 FROM attempts WHERE outcome = 'replaced'",
        "1\n",
    )
    .await;
    daemon.stop().await;
    let replaced = env.sql("SELECT r.status, r.reason, a.exit_code FROM runs r JOIN attempts a ON a.run_id = r.id WHERE a.outcome = 'replaced' LIMIT 1");
    assert!(
        replaced.starts_with("failed|replaced by a newer run"),
        "{replaced}"
    );
    assert!(
        replaced.ends_with("|143\n"),
        "stopped with SIGTERM: {replaced}"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn max_concurrent_queues_runs_in_order_and_records_the_wait() {
    let env = TestEnv::with_daemon(
        "max_concurrent = 1",
        r#"
[jobs.a]
schedule = "* * * * *"
image = "IMAGE"
command = ["sleep", "1"]

[jobs.b]
schedule = "* * * * *"
image = "IMAGE"
command = ["sleep", "1"]

[jobs.c]
schedule = "* * * * *"
image = "IMAGE"
command = ["sleep", "1"]
"#,
    );
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let daemon = Daemon::start_with(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    clock.advance_and_settle(Duration::from_secs(30)).await; // all three fire at 00:01:00
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "3\n",
    )
    .await;
    daemon.stop().await;
    // One slot: each run waited for the ones before it (each sleeps 1 s).
    let waited = env.sql("SELECT waited_ms FROM attempts ORDER BY waited_ms");
    let waited: Vec<u64> = waited.lines().map(|w| w.parse().expect("ms")).collect();
    assert_eq!(waited.len(), 3);
    assert!(waited[1] >= 1000, "second run waited only {} ms", waited[1]);
    assert!(waited[2] >= 2000, "third run waited only {} ms", waited[2]);
}

#[tokio::test]
async fn a_pending_retry_survives_a_daemon_restart_and_runs_at_its_due_time() {
    let env = TestEnv::new(
        r#"
[jobs.flaky]
schedule = "* * * * *"
image = "IMAGE"
command = ["false"]
retries = 1
backoff = "1h"
backoff_max = "2h"
"#,
    );
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let daemon = Daemon::start_with(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    clock.advance_and_settle(Duration::from_secs(30)).await; // the 00:01 tick runs and fails
    wait_for_sql(
        &env,
        "SELECT retry_at FROM runs",
        "2026-01-01T01:01:00.000Z\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT status, (SELECT count(*) FROM attempts) FROM runs"),
        "running|1\n",
        "the retry stays pending"
    );

    // Restart half an hour later: the retry is neither forgotten nor run at once.
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:31:00Z")));
    let daemon = Daemon::start_with(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    for _ in 0..29 {
        clock.advance_and_settle(Duration::from_secs(60)).await;
    }
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts"),
        "1\n",
        "not retried before its due time"
    );
    clock.advance_and_settle(Duration::from_secs(60)).await; // 01:01
    wait_for_sql(&env, "SELECT status FROM runs WHERE id = 1", "failed\n").await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT attempt, outcome, exit_code FROM attempts ORDER BY attempt"),
        "1|exited|1\n2|exited|1\n"
    );
    // Ticks that found the run pending were skipped (concurrency = forbid).
    let skipped: u32 = env
        .sql("SELECT count(*) FROM runs WHERE status = 'skipped'")
        .trim()
        .parse()
        .expect("count");
    assert!(skipped >= 29, "{skipped} skipped ticks");
}

#[tokio::test]
async fn start_up_repair_leaves_a_live_manual_run_alone() {
    let env = TestEnv::new(
        r#"
[jobs.manual]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "sleep 4; echo done"]
"#,
    );
    common::engine().await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "run",
            "manual",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cronbox run");
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    let daemon = Daemon::start(&env).await;
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    daemon.stop().await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
    assert_eq!(
        env.sql("SELECT status, trigger FROM runs"),
        "succeeded|manual\n"
    );
}

#[tokio::test]
async fn the_daemon_keeps_running_while_the_engine_is_unreachable() {
    let env = TestEnv::new(
        r#"
[jobs.tick]
schedule = "@every 1s"
image = "IMAGE"
command = ["true"]
"#,
    );
    let engine = Engine::connect_to(&format!(
        "unix://{}/no-docker.sock",
        env.dir.path().display()
    ));
    let daemon = Daemon::start_with(&env, Arc::new(cronbox::clock::SystemClock), engine).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 2 FROM runs WHERE status = 'failed'",
        "1\n",
    )
    .await;
    daemon.stop().await;
    let outcomes = env.sql(
        "SELECT DISTINCT outcome, error LIKE '%cannot reach the Docker engine%' FROM attempts",
    );
    assert_eq!(outcomes, "engine-error|1\n");
}

#[tokio::test]
async fn a_tick_waiting_for_a_slot_past_its_starting_deadline_is_recorded_missed() {
    let env = TestEnv::with_daemon(
        "max_concurrent = 1",
        r#"
[jobs.hog]
schedule = "0 * * * *"
image = "IMAGE"
command = ["sh", "-c", "while [ ! -e /marks/done ]; do sleep 0.1; done"]
volumes = ["MARKS:/marks"]

[jobs.punctual]
schedule = "1 * * * *"
image = "IMAGE"
command = ["true"]
starting_deadline = "5m"
"#
        .replace(
            "MARKS",
            &std::env::temp_dir()
                .join(format!("cronbox-marks-{}", std::process::id()))
                .display()
                .to_string(),
        )
        .as_str(),
    );
    let marks = std::env::temp_dir().join(format!("cronbox-marks-{}", std::process::id()));
    std::fs::create_dir_all(&marks).expect("marks");
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:59:30Z")));
    let daemon = Daemon::start_with(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    clock.advance_and_settle(Duration::from_secs(30)).await; // hog is due at 01:00 and takes the only slot
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    assert_eq!(
        env.sql("SELECT job FROM attempts a JOIN runs r ON r.id = a.run_id"),
        "hog\n"
    );
    for _ in 0..7 {
        clock.advance_and_settle(Duration::from_secs(60)).await; // punctual is due at 01:01, then waits past 01:06
    }
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE job = 'punctual'",
        "missed\n",
    )
    .await;
    std::fs::write(marks.join("done"), "").expect("release the hog");
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE job = 'hog'",
        "succeeded\n",
    )
    .await;
    daemon.stop().await;
    let _ = std::fs::remove_dir_all(&marks);
    assert_eq!(env.sql("SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'punctual'"), "0\n", "never started late");
    assert!(
        env.sql("SELECT reason FROM runs WHERE job = 'punctual'")
            .contains("starting_deadline")
    );
}
