//! The daemon's control handle (what the HTTP API drives), against the
//! in-process daemon and a real engine: a run started now with parameters, a
//! forbid refusal recorded like a tick's, an operator's stop (no retry), a
//! pause that survives a restart and accounts its ticks as one `paused` run,
//! the job listing, and the lifecycle events.

mod common;

use chrono::{DateTime, Utc};
use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::{Clock, TestClock};
use cronbox::daemon::control::Refusal;
use cronbox::events::Event;
use std::sync::Arc;
use std::time::Duration;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

async fn start(env: &TestEnv) -> (Daemon, cronbox::daemon::Handle) {
    let clock = Arc::new(cronbox::clock::SystemClock);
    Daemon::start_controlled(env, clock, common::engine().await).await
}

#[tokio::test]
async fn a_run_started_now_gets_its_parameters_and_is_published() {
    let env = TestEnv::new(
        r#"
[jobs.greet]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo \"hello $WHO from $PLACE\""]
env = { WHO = "nobody", PLACE = "the box" }
"#,
    );
    let (daemon, handle) = start(&env).await;
    let mut events = handle.events.subscribe();
    let params = vec![("WHO".to_owned(), "operator".to_owned())];
    let run_id = handle.run_now("greet", params).await.expect("a run");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {run_id}"),
        "succeeded\n",
    )
    .await;
    assert_eq!(
        env.sql("SELECT CAST(data AS TEXT) FROM output"),
        "hello operator from the box\n\n",
        "a parameter replaces the job's own value; the others stay"
    );
    assert_eq!(
        env.sql("SELECT trigger, params FROM runs"),
        "api|{\"WHO\":\"operator\"}\n"
    );
    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        seen.push(event);
    }
    daemon.stop().await;
    let kinds: Vec<String> = seen
        .iter()
        .map(|e| serde_json::to_value(e).expect("json")["type"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "\"run_started\"",
            "\"attempt_started\"",
            "\"attempt_finished\"",
            "\"run_finished\""
        ],
        "{seen:?}"
    );
    assert!(matches!(
        handle.run_now("nope", Vec::new()).await,
        Err(Refusal::ShuttingDown)
    ));
}

#[tokio::test]
async fn a_forbid_job_refuses_a_second_run_and_records_the_refusal() {
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.once]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sleep", "30"]
"#,
    );
    let (daemon, handle) = start(&env).await;
    let first = handle.run_now("once", Vec::new()).await.expect("a run");
    let refused = handle.run_now("once", Vec::new()).await;
    assert!(
        matches!(&refused, Err(Refusal::Busy { running, .. }) if running == &[first]),
        "{refused:?}"
    );
    assert!(matches!(
        handle.run_now("missing", Vec::new()).await,
        Err(Refusal::NoSuchJob(_))
    ));
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT trigger, status FROM runs ORDER BY id"),
        "api|interrupted\napi|skipped\n"
    );
    assert!(env.containers().await.is_empty());
}

#[tokio::test]
async fn an_operator_stops_a_run_and_it_is_not_retried() {
    let env = TestEnv::new(
        r#"
[jobs.long]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sleep", "600"]
retries = 3
backoff = "1s"
stop_grace = "1s"
"#,
    );
    let (daemon, handle) = start(&env).await;
    let run_id = handle.run_now("long", Vec::new()).await.expect("a run");
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    let jobs = handle.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].running, [run_id], "listed as running");
    assert!(handle.stop(run_id).await, "this daemon supervises it");
    assert!(!handle.stop(run_id + 100).await, "no such run here");
    wait_for_sql(
        &env,
        &format!("SELECT status, reason FROM runs WHERE id = {run_id}"),
        "stopped|stopped by an operator (cronbox stop, or the API)\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT attempt, outcome FROM attempts"),
        "1|stopped\n",
        "no further attempt"
    );
    assert!(env.containers().await.is_empty());
}

#[tokio::test]
async fn a_pause_survives_a_restart_and_counts_its_ticks_as_one_paused_run() {
    let marks = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::new(&format!(
        r#"
[jobs.tick]
schedule = "* * * * *"
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /marks/runs"]
volumes = ["{}:/marks"]
"#,
        marks.path().display()
    ));
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let (daemon, handle) =
        Daemon::start_controlled(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    let store = env.store().await;
    assert!(
        store
            .set_paused("tick", true, clock.now())
            .await
            .expect("pause")
    );
    handle.paused("tick", true).await.expect("applied");
    assert!(handle.jobs().await[0].paused);
    for _ in 0..3 {
        clock.advance_and_settle(Duration::from_secs(60)).await; // 00:01, 00:02, 00:03
    }
    daemon.stop().await;

    // A new daemon still knows the pause; two more ticks join the same run.
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:03:30Z")));
    let (daemon, handle) =
        Daemon::start_controlled(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    assert!(handle.jobs().await[0].paused);
    for _ in 0..2 {
        clock.advance_and_settle(Duration::from_secs(60)).await; // 00:04, 00:05
    }
    assert_eq!(
        env.sql("SELECT status, missed_count, missed_first, scheduled_at FROM runs"),
        "paused|5|2026-01-01T00:01:00.000Z|2026-01-01T00:05:00.000Z\n",
        "one run stands for every tick of the pause"
    );
    // Resumed: nothing runs retroactively; the next tick runs.
    assert!(
        store
            .set_paused("tick", false, clock.now())
            .await
            .expect("resume")
    );
    handle.paused("tick", false).await.expect("applied");
    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:06
    wait_for_sql(
        &env,
        "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)",
        "paused,succeeded\n",
    )
    .await;
    daemon.stop().await;
    let ran = std::fs::read_to_string(marks.path().join("runs")).unwrap_or_default();
    assert_eq!(ran.lines().count(), 1, "no tick of the pause ran");
    assert!(env.containers().await.is_empty());
}

#[tokio::test]
async fn events_of_skipped_ticks_are_published() {
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.slow]
schedule = "@every 1s"
image = "IMAGE"
command = ["sleep", "30"]
"#,
    );
    let (daemon, handle) = start(&env).await;
    let mut events = handle.events.subscribe();
    let skipped = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(Event::Skipped { run_id, job }) = events.recv().await {
                return (run_id, job);
            }
        }
    })
    .await
    .expect("a skipped tick within 30 s");
    daemon.stop().await;
    assert_eq!(skipped.1, "slow");
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {}", skipped.0)),
        "skipped\n"
    );
}
