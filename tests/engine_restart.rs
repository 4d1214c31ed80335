//! The Docker engine restarting under an attempt (issue 8, item 4), on a private
//! dockerd the tests stop, kill and start (tests/support/dockerd.rs; the
//! machine's shared engine is never touched): a graceful stop records the exit
//! the engine recorded and the container is removed once the engine is back; an
//! engine back without the container ends the attempt `engine-error` and the run
//! retries; and a daemon shut down while the engine is away neither hangs nor
//! makes an end up, leaving the attempt for the next start, which records it.

mod common;
#[path = "support/dockerd.rs"]
mod dockerd;

use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::SystemClock;
use cronbox::daemon::RunReport;
use cronbox::engine::{self, Engine};
use cronbox::store::RunStatus;
use dockerd::PrivateDockerd;
use std::sync::Arc;
use std::time::Duration;

/// How long a run may take to end once the engine is back, or a daemon to stop.
const BOUND: Duration = Duration::from_secs(60);

/// A job that prints, then runs long enough for the engine to go and come back.
const LONG: &str = r#"
[jobs.long]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo start; sleep 30"]
network = "none"
"#;

/// Run the first job of `env` once on `engine`, in the background.
async fn run_in_background(env: &TestEnv, engine: Engine) -> tokio::task::JoinHandle<RunReport> {
    let mut ctx = env.context().await;
    ctx.engine = engine;
    let job = env.config().jobs[0].clone();
    tokio::spawn(async move {
        let now = cronbox::clock::Clock::now(&SystemClock);
        cronbox::daemon::supervisor::execute(
            &ctx,
            &job,
            cronbox::store::Trigger::Manual,
            now,
            &Default::default(),
        )
        .await
        .expect("store")
        .expect("a new run")
    })
}

/// The containers of `env`'s database on the private engine.
async fn left_on(dockerd: &PrivateDockerd, env: &TestEnv) -> Vec<engine::Found> {
    dockerd
        .engine()
        .containers_labelled(engine::LABEL_DB, &env.db_label())
        .await
        .expect("list the private engine's containers")
}

/// The whole stdout of attempt `id`, as stored.
fn stdout_of(env: &TestEnv, id: i64) -> String {
    env.sql(&format!(
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT data FROM output \
         WHERE attempt_id = {id} AND stream = 'stdout' ORDER BY seq)"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_engine_stop_records_the_exit_the_engine_recorded_and_removes_the_container() {
    let Some(mut dockerd) = PrivateDockerd::start().await else {
        return;
    };
    let env = TestEnv::new(LONG);
    let run = run_in_background(&env, dockerd.engine()).await;
    wait_for_sql(
        &env,
        "SELECT CAST(data AS TEXT) FROM output WHERE attempt_id = 1",
        "start\n\n",
    )
    .await;

    // dockerd stops the container itself (SIGTERM: exit 143) before going away.
    dockerd.stop_gracefully().await;
    dockerd.start_again().await;

    let report = tokio::time::timeout(BOUND, run)
        .await
        .expect("the run ends once the engine is back")
        .expect("join");
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(
        env.sql("SELECT outcome, exit_code, error IS NULL FROM attempts"),
        "exited|143|1\n",
        "the exit the engine recorded, not an engine error"
    );
    let reason = env.sql("SELECT reason FROM runs");
    assert!(reason.contains("exit code 143"), "{reason}");
    assert_eq!(stdout_of(&env, 1), "start\n\n", "the whole output, once");
    assert!(
        left_on(&dockerd, &env).await.is_empty(),
        "cronbox removed its container once the engine was back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_back_without_the_container_ends_the_attempt_engine_error_and_the_run_retries() {
    let Some(mut dockerd) = PrivateDockerd::start().await else {
        return;
    };
    // The first attempt leaves a mark and runs long; the second sees it and succeeds.
    let mark = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::new(&format!(
        r#"
[jobs.marked]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "if [ -e /mark/first ]; then echo again; exit 0; fi; touch /mark/first; echo start; sleep 30"]
volumes = ["{}:/mark"]
network = "none"
retries = 1
backoff = "1s"
"#,
        mark.path().display()
    ));
    let run = run_in_background(&env, dockerd.engine()).await;
    wait_for_sql(
        &env,
        "SELECT CAST(data AS TEXT) FROM output WHERE attempt_id = 1",
        "start\n\n",
    )
    .await;

    // dockerd killed, and back on the same socket with its state lost.
    dockerd.kill_and_replace().await;

    let report = tokio::time::timeout(BOUND, run)
        .await
        .expect("the run ends once the engine is back")
        .expect("join");
    let attempts =
        env.sql("SELECT attempt, outcome, exit_code, error FROM attempts ORDER BY attempt");
    assert_eq!(report.status, Some(RunStatus::Succeeded), "{attempts}");
    let lines: Vec<&str> = attempts.lines().collect();
    assert_eq!(lines.len(), 2, "{attempts}");
    assert!(
        lines[0].starts_with("1|engine-error||") && lines[0].contains("no longer knows container"),
        "{attempts}"
    );
    assert_eq!(lines[1], "2|exited|0|", "{attempts}");
    let second = env.sql("SELECT id FROM attempts WHERE attempt = 2");
    let second: i64 = second.trim().parse().expect("an attempt id");
    assert_eq!(stdout_of(&env, second), "again\n\n");
    assert!(
        left_on(&dockerd, &env).await.is_empty(),
        "nothing left on the engine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_while_the_engine_is_away_leaves_the_attempt_running_for_the_next_start() {
    let Some(mut dockerd) = PrivateDockerd::start().await else {
        return;
    };
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        &LONG.replace("@daily", "@every 1s"),
    );
    let daemon = Daemon::start_with(&env, Arc::new(SystemClock), dockerd.engine()).await;
    wait_for_sql(
        &env,
        "SELECT CAST(data AS TEXT) FROM output WHERE attempt_id = 1",
        "start\n\n",
    )
    .await;

    dockerd.stop_gracefully().await;
    tokio::time::timeout(BOUND, daemon.stop())
        .await
        .expect("the daemon's shutdown does not wait for an engine that is away");
    assert_eq!(
        env.sql(
            "SELECT a.outcome, a.finished_at IS NULL, r.status FROM attempts a \
             JOIN runs r ON r.id = a.run_id WHERE a.id = 1"
        ),
        "running|1|running\n",
        "no end made up: the attempt is left for the next start"
    );

    // The next start asks the engine again, records what it knows and removes the container.
    let config = std::fs::read_to_string(&env.config_path).expect("read config");
    std::fs::write(&env.config_path, config.replace("@every 1s", "@daily")).expect("config");
    dockerd.start_again().await;
    let daemon = Daemon::start_with(&env, Arc::new(SystemClock), dockerd.engine()).await;
    wait_for_sql(
        &env,
        "SELECT a.outcome, a.exit_code, r.status FROM attempts a \
         JOIN runs r ON r.id = a.run_id WHERE a.id = 1",
        "exited|143|failed\n",
    )
    .await;
    tokio::time::timeout(BOUND, daemon.stop())
        .await
        .expect("the daemon stops");
    assert_eq!(stdout_of(&env, 1), "start\n\n", "the whole output, once");
    assert!(
        left_on(&dockerd, &env).await.is_empty(),
        "nothing left on the engine"
    );
}
