//! Runs and attempts against a real Docker engine and a real SQLite file: success,
//! failure with retries and growing delays, stdout/stderr apart and streamed live,
//! labels and removal, pull policies and an unreachable engine.

mod common;

use chrono::{DateTime, Utc};
use common::{IMAGE, TestEnv};
use cronbox::clock::{Clock, SystemClock};
use cronbox::daemon::Stops;
use cronbox::daemon::supervisor;
use cronbox::engine::{self, Engine};
use cronbox::store::{RunStatus, Trigger};
use std::time::Duration;

fn parse_ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text.trim())
        .expect("timestamp")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn succeeding_job_is_recorded_and_its_container_removed() {
    let env = TestEnv::new(
        r#"
[jobs.hello]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo hello from $GREETING"]
env = { GREETING = "cronbox" }
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded));
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(report.attempts, 1);

    let rows = env.sql("SELECT job, trigger, status, attempt, exit_code, outcome FROM history");
    assert_eq!(rows, "hello|manual|succeeded|1|0|exited\n");
    let stdout = env.sql(
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT data FROM output WHERE stream = 'stdout' ORDER BY seq)",
    );
    // sqlite3 ends each row with a newline, after the value's own.
    assert_eq!(stdout, "hello from cronbox\n\n");
    let attempt = env.sql("SELECT image, oom_killed, container_id IS NOT NULL, finished_at >= started_at FROM attempts");
    assert_eq!(attempt, format!("{IMAGE}|0|1|1\n"));
    assert!(
        env.containers_gone().await,
        "the container must be removed after the run"
    );
}

#[tokio::test]
async fn failing_job_retries_with_growing_delays_then_fails() {
    let env = TestEnv::new(
        r#"
[jobs.flaky]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo trying; exit 3"]
retries = 2
backoff = "1s"
backoff_max = "10s"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(report.attempts, 3);
    assert_eq!(report.exit_code, Some(3));

    let rows = env.sql("SELECT attempt, exit_code, outcome FROM history ORDER BY attempt");
    assert_eq!(rows, "1|3|exited\n2|3|exited\n3|3|exited\n");
    assert_eq!(env.sql("SELECT status FROM runs"), "failed\n");
    assert!(env.sql("SELECT reason FROM runs").contains("exit code 3"));
    // Every attempt kept its own output.
    assert_eq!(
        env.sql("SELECT a.attempt, CAST(o.data AS TEXT) FROM output o JOIN attempts a ON a.id = o.attempt_id ORDER BY a.attempt"),
        "1|trying\n\n2|trying\n\n3|trying\n\n"
    );
    // The delay before retry n is backoff * 2^(n-1): at least 1 s, then at least 2 s.
    let times = env.sql("SELECT started_at, finished_at FROM attempts ORDER BY attempt");
    let times: Vec<(DateTime<Utc>, DateTime<Utc>)> = times
        .lines()
        .map(|line| {
            let (start, end) = line.split_once('|').expect("two columns");
            (parse_ts(start), parse_ts(end))
        })
        .collect();
    let gap1 = times[1].0 - times[0].1;
    let gap2 = times[2].0 - times[1].1;
    assert!(
        gap1 >= chrono::TimeDelta::seconds(1),
        "first retry came after {gap1}"
    );
    assert!(
        gap2 >= chrono::TimeDelta::seconds(2),
        "second retry came after {gap2}"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn stdout_and_stderr_are_kept_apart() {
    let env = TestEnv::new(
        r#"
[jobs.streams]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2"]
"#,
    );
    let report = common::run_once(&env).await;
    let stream = |name: &str| {
        env.sql(&format!(
            "SELECT CAST(group_concat(data, '') AS TEXT) FROM \
             (SELECT data FROM output WHERE stream = '{name}' ORDER BY seq)"
        ))
    };
    assert_eq!(stream("stdout"), "out1\nout2\n\n");
    assert_eq!(stream("stderr"), "err1\nerr2\n\n");
    let stored = env
        .store()
        .await
        .output(report.run_id, None)
        .await
        .expect("output");
    let stdout: Vec<u8> = stored
        .iter()
        .filter(|c| c.stream == cronbox::store::Stream::Stdout)
        .flat_map(|c| c.data.clone())
        .collect();
    assert_eq!(stdout, b"out1\nout2\n");
}

#[tokio::test]
async fn output_is_stored_while_the_container_runs_and_labels_are_set() {
    let env = TestEnv::new(
        r#"
[jobs.slow]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo first; sleep 30; echo second"]
"#,
    );
    let config = env.config();
    let ctx = env.context().await;
    let stops = Stops::default();
    let job = config.jobs[0].clone();
    let run = {
        let (ctx, stops) = (ctx.clone(), stops.clone());
        tokio::spawn(async move {
            supervisor::execute(&ctx, &job, Trigger::Manual, SystemClock.now(), &stops).await
        })
    };
    // "first" reaches the database while the attempt is still running.
    let mut seen = false;
    for _ in 0..300 {
        let rows = env.sql(
            "SELECT a.outcome, CAST(o.data AS TEXT) FROM output o JOIN attempts a ON a.id = o.attempt_id",
        );
        if rows == "running|first\n\n" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "the first line never reached the database while the container ran"
    );

    let containers = env.containers().await;
    assert_eq!(containers.len(), 1, "one container for the running attempt");
    let labels = &containers[0].labels;
    assert_eq!(
        labels.get(engine::LABEL_JOB).map(String::as_str),
        Some("slow")
    );
    assert_eq!(
        labels.get(engine::LABEL_ATTEMPT).map(String::as_str),
        Some("1")
    );
    let run_id = env.sql("SELECT id FROM runs");
    assert_eq!(
        labels.get(engine::LABEL_RUN).map(String::as_str),
        Some(run_id.trim())
    );
    assert_eq!(labels.get(engine::LABEL_DB), Some(&env.db_label()));
    assert!(
        containers[0]
            .name
            .starts_with(&format!("cronbox-slow-{}-1-", run_id.trim()))
    );

    // Cancelling (what shutdown does) stops the container and records the attempt as interrupted.
    stops.shutdown.cancel();
    let report = run.await.expect("join").expect("store").expect("run");
    assert_eq!(report.status, Some(RunStatus::Interrupted));
    assert_eq!(env.sql("SELECT outcome FROM attempts"), "interrupted\n");
    assert_eq!(env.sql("SELECT status FROM runs"), "interrupted\n");
    assert!(env.containers_gone().await, "stopped container removed");
}

#[tokio::test]
async fn missing_image_with_pull_never_fails_without_retries() {
    let env = TestEnv::new(
        r#"
[jobs.absent]
schedule = "@daily"
image = "cronbox-test/not-here:never"
pull = "never"
retries = 3
backoff = "1s"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(report.attempts, 1, "retrying cannot make the image appear");
    let row = env.sql("SELECT outcome, error FROM attempts");
    assert!(row.starts_with("image-missing|"), "{row}");
    assert!(
        row.contains("cronbox-test/not-here:never"),
        "the error names the image: {row}"
    );
}

#[tokio::test]
async fn failed_pull_is_recorded_with_the_engines_message() {
    // No registry is reachable here, and this repository does not exist anywhere:
    // the pull fails either way, and the engine's message is what gets recorded.
    let env = TestEnv::new(
        r#"
[jobs.unpullable]
schedule = "@daily"
image = "127.0.0.1:9/cronbox-test/nowhere:1"
pull = "missing"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    let row = env.sql("SELECT outcome, error FROM attempts");
    assert!(
        row.starts_with("engine-error|pulling image 127.0.0.1:9/cronbox-test/nowhere:1 failed: "),
        "{row}"
    );
    assert!(
        row.len()
            > "engine-error|pulling image 127.0.0.1:9/cronbox-test/nowhere:1 failed: ".len() + 10,
        "{row}"
    );
}

#[tokio::test]
async fn unreachable_engine_gives_engine_error_attempts_that_retry() {
    let env = TestEnv::new(
        r#"
[jobs.offline]
schedule = "@daily"
image = "IMAGE"
retries = 1
backoff = "1s"
"#,
    );
    let config = env.config();
    let mut ctx = env.context().await;
    ctx.engine = Engine::connect_to(&format!(
        "unix://{}/no-docker.sock",
        env.dir.path().display()
    ));
    let report = supervisor::execute(
        &ctx,
        &config.jobs[0],
        Trigger::Manual,
        SystemClock.now(),
        &Stops::default(),
    )
    .await
    .expect("store")
    .expect("run");
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(
        report.attempts, 2,
        "an unreachable engine follows the retry policy"
    );
    let rows = env.sql(
        "SELECT attempt, outcome, error LIKE '%cannot reach the Docker engine%' FROM attempts",
    );
    assert_eq!(rows, "1|engine-error|1\n2|engine-error|1\n");
}

#[tokio::test]
async fn a_scheduled_tick_is_recorded_once() {
    let env = TestEnv::new(
        r#"
[jobs.once]
schedule = "@daily"
image = "IMAGE"
command = ["true"]
"#,
    );
    let config = env.config();
    let ctx = env.context().await;
    let tick = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let first = supervisor::execute(
        &ctx,
        &config.jobs[0],
        Trigger::Schedule,
        tick,
        &Stops::default(),
    )
    .await
    .expect("store");
    assert!(first.is_some());
    let second = supervisor::execute(
        &ctx,
        &config.jobs[0],
        Trigger::Schedule,
        tick,
        &Stops::default(),
    )
    .await
    .expect("store");
    assert!(second.is_none(), "the same tick must not run twice");
    assert_eq!(
        env.sql("SELECT count(*), scheduled_at FROM runs"),
        "1|2026-01-01T00:00:00.000Z\n"
    );
}
