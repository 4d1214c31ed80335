//! The whole daemon run in-process against a real engine and database: an
//! `@every 1s` job fires on its ticks, and shutdown stops a running container and
//! records it as interrupted; repair of a crashed daemon's leftovers at start-up.

mod common;

use common::TestEnv;
use cronbox::clock::SystemClock;
use cronbox::store::Trigger;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn daemon_fires_an_every_second_job_and_shuts_down_cleanly() {
    let env = TestEnv::new(
        r#"
[jobs.tick]
schedule = "@every 1s"
image = "IMAGE"
command = ["sh", "-c", "echo tick"]
"#,
    );
    let engine = common::engine().await;
    let store = env.store().await;
    let (_updates, config) = watch::channel(Arc::new(env.config()));
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(cronbox::daemon::run(
        config,
        store,
        engine,
        Arc::new(SystemClock),
        shutdown.clone(),
    ));

    // Wait (bounded) until three runs have succeeded.
    let mut done = 0;
    for _ in 0..600 {
        done = env
            .sql("SELECT count(*) FROM runs WHERE status = 'succeeded'")
            .trim()
            .parse()
            .expect("count");
        if done >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done >= 3, "only {done} runs succeeded");
    shutdown.cancel();
    daemon
        .await
        .expect("join")
        .expect("daemon returns Ok on shutdown");

    // Ticks are whole seconds (anchored to the epoch), each recorded once, in order.
    let ticks = env.sql("SELECT scheduled_at FROM runs WHERE trigger = 'schedule' ORDER BY id");
    let ticks: Vec<&str> = ticks.lines().collect();
    assert!(ticks.len() >= 3);
    for tick in &ticks {
        assert!(
            tick.ends_with(".000Z"),
            "tick {tick} is not on a whole second"
        );
    }
    let mut sorted = ticks.clone();
    sorted.dedup();
    assert_eq!(sorted, ticks, "no tick twice");
    assert!(ticks.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE status = 'running'"),
        "0\n"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE outcome = 'running'"),
        "0\n"
    );
    assert!(
        env.containers().await.is_empty(),
        "no container left after shutdown"
    );
}

#[tokio::test]
async fn shutdown_stops_running_containers_and_records_them_interrupted() {
    let env = TestEnv::new(
        r#"
[jobs.long]
schedule = "@every 1s"
image = "IMAGE"
command = ["sleep", "600"]
"#,
    );
    let engine = common::engine().await;
    let store = env.store().await;
    let (_updates, config) = watch::channel(Arc::new(env.config()));
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(cronbox::daemon::run(
        config,
        store,
        engine,
        Arc::new(SystemClock),
        shutdown.clone(),
    ));

    let mut running = false;
    for _ in 0..600 {
        if !env.containers().await.is_empty()
            && env.sql("SELECT count(*) FROM attempts WHERE container_id IS NOT NULL") != "0\n"
        {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(running, "the job never started a container");
    shutdown.cancel();
    daemon
        .await
        .expect("join")
        .expect("daemon returns Ok on shutdown");

    // Every attempt that ran was stopped and recorded; sleep as PID 2 under the init
    // dies of SIGTERM, so the exit code is 143 (128 + 15), not a SIGKILL's 137.
    let rows = env
        .sql("SELECT DISTINCT status, outcome, exit_code FROM history WHERE attempt IS NOT NULL");
    assert_eq!(rows, "interrupted|interrupted|143\n");
    assert!(
        env.containers().await.is_empty(),
        "no container left after shutdown"
    );
}

#[tokio::test]
async fn start_up_repairs_what_a_crashed_daemon_left() {
    let env = TestEnv::new(
        r#"
[jobs.crashed]
schedule = "@daily"
image = "IMAGE"
"#,
    );
    let store = env.store().await;
    let now = chrono::Utc::now();
    let run_id = store
        .insert_run("crashed", Trigger::Manual, now, now)
        .await
        .expect("run")
        .expect("id");
    store
        .start_attempt(run_id, 1, common::IMAGE, now)
        .await
        .expect("attempt");
    drop(store);

    let engine = common::engine().await;
    let (_updates, config) = watch::channel(Arc::new(env.config()));
    let shutdown = CancellationToken::new();
    shutdown.cancel(); // start, repair, and stop at once
    cronbox::daemon::run(
        config,
        env.store().await,
        engine,
        Arc::new(SystemClock),
        shutdown,
    )
    .await
    .expect("daemon");
    assert_eq!(env.sql("SELECT status FROM runs"), "interrupted\n");
    assert_eq!(
        env.sql("SELECT outcome, error IS NOT NULL, finished_at IS NOT NULL FROM attempts"),
        "interrupted|1|1\n"
    );
}
