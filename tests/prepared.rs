//! Containers made ready ahead of their tick (created and attached a few seconds
//! early, so that at the tick only the start is left), against a real engine:
//! the tick's attempt starts exactly that container; one that is not used (the
//! daemon stops, the schedule is reloaded, the environment changed) is removed;
//! after a SIGKILL the start-up repair removes it and the tick still runs once.

mod common;

use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::engine::{Found, LABEL_TICK};
use cronbox::store::timestamp;
use std::time::Duration;

/// A job that fires every 10 s: its next tick is always within reach of a test.
fn job(name: &str, command: &str, extra: &str) -> String {
    format!(
        r#"
[jobs.{name}]
schedule = "@every 10s"
image = "IMAGE"
command = ["sh", "-c", "{command}"]
{extra}
"#
    )
}

/// The container made ready for a tick, once there is one (bounded: 30 s), seen
/// at least half a second before its tick: what the tests then look at (not
/// started, no run yet) is the state before the tick even when this poll is slow
/// on a busy box; a later sighting waits for the next tick's container.
async fn made_ready(env: &TestEnv) -> Found {
    for _ in 0..300 {
        let margin = chrono::Utc::now() + chrono::TimeDelta::milliseconds(500);
        if let Some(found) = env
            .containers()
            .await
            .into_iter()
            .find(|c| c.labels.contains_key(LABEL_TICK) && tick_of(c) > margin)
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no container was made ready ahead of a tick within 30 s; containers: {:?}; runs:\n{}",
        env.containers().await,
        env.sql("SELECT id, job, status, scheduled_at, reason FROM runs")
    );
}

/// The tick a made-ready container is for, as its label says.
fn tick_of(found: &Found) -> chrono::DateTime<chrono::Utc> {
    let label = &found.labels[LABEL_TICK];
    chrono::DateTime::parse_from_rfc3339(label)
        .unwrap_or_else(|e| panic!("label {LABEL_TICK}={label:?}: {e}"))
        .to_utc()
}

#[tokio::test]
async fn the_ticks_attempt_starts_the_container_made_ready_for_it() {
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &job("ready", "echo ready", ""));
    let daemon = Daemon::start(&env).await;
    let found = made_ready(&env).await;
    assert!(!found.running, "made ready, not started: {found:?}");
    let tick = tick_of(&found);
    assert!(
        found
            .name
            .starts_with(&format!("cronbox-ready-t{}-", tick.timestamp())),
        "{}",
        found.name
    );
    assert!(
        tick > chrono::Utc::now(),
        "made ready before its tick ({tick})"
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT count(*) FROM runs WHERE scheduled_at = '{}'",
            timestamp(tick)
        )),
        "0\n",
        "no run exists before its tick"
    );

    wait_for_sql(
        &env,
        &format!(
            "SELECT r.status, a.attempt, a.container_id FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.scheduled_at = '{}'",
            timestamp(tick)
        ),
        &format!("succeeded|1|{}\n", found.id),
    )
    .await;
    let run = env.sql(&format!(
        "SELECT id FROM runs WHERE scheduled_at = '{}'",
        timestamp(tick)
    ));
    assert_eq!(
        env.sql(&format!(
            "SELECT CAST(data AS TEXT) FROM output o JOIN attempts a ON a.id = o.attempt_id WHERE a.run_id = {}",
            run.trim()
        )),
        "ready\n\n",
        "its output, once"
    );
    daemon.stop().await;
    assert!(env.containers_gone().await, "no container left");
}

#[tokio::test]
async fn a_container_made_ready_is_removed_when_the_daemon_stops() {
    for on_shutdown in ["stop", "detach"] {
        let env = TestEnv::with_daemon(
            &format!("on_shutdown = \"{on_shutdown}\""),
            &job("later", "echo later", ""),
        );
        let daemon = Daemon::start(&env).await;
        let found = made_ready(&env).await;
        daemon.stop().await;
        assert!(
            env.containers_gone().await,
            "on_shutdown = {on_shutdown}: {} was left",
            found.name
        );
    }
}

#[tokio::test]
async fn a_reload_replaces_the_container_made_ready_with_the_new_configuration() {
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &job("changing", "echo old", ""));
    let daemon = Daemon::start(&env).await;
    let old = made_ready(&env).await;
    let tick = tick_of(&old);
    let text = std::fs::read_to_string(&env.config_path)
        .expect("read the schedule")
        .replace("echo old", "echo new");
    std::fs::write(&env.config_path, text).expect("write the schedule");
    daemon
        .updates
        .send_replace(std::sync::Arc::new(env.config()));

    wait_for_sql(
        &env,
        &format!(
            "SELECT r.status FROM runs r WHERE r.scheduled_at = '{}'",
            timestamp(tick)
        ),
        "succeeded\n",
    )
    .await;
    let used = env.sql(&format!(
        "SELECT a.container_id, CAST(o.data AS TEXT) FROM runs r JOIN attempts a ON a.run_id = r.id JOIN output o ON o.attempt_id = a.id WHERE r.scheduled_at = '{}'",
        timestamp(tick)
    ));
    assert!(
        !used.starts_with(&old.id),
        "the container made before the reload was not used: {used}"
    );
    assert!(used.ends_with("|new\n\n"), "{used}");
    daemon.stop().await;
    assert!(env.containers_gone().await, "no container left");
}

#[tokio::test]
async fn an_env_file_changed_after_the_container_was_made_ready_is_read_at_the_tick() {
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, "");
    let env_file = env.dir.path().join("job.env");
    std::fs::write(&env_file, "WORD=before\n").expect("write the env file");
    let jobs = job(
        "fresh",
        "echo $WORD",
        &format!("env_file = \"{}\"", env_file.display()),
    );
    let text = std::fs::read_to_string(&env.config_path).expect("read the schedule")
        + &jobs.replace("IMAGE", common::IMAGE);
    std::fs::write(&env.config_path, text).expect("write the schedule");
    let daemon = Daemon::start(&env).await;
    let found = made_ready(&env).await;
    let tick = tick_of(&found);
    std::fs::write(&env_file, "WORD=after\n").expect("change the env file");

    wait_for_sql(
        &env,
        &format!(
            "SELECT r.status, CAST(o.data AS TEXT) FROM runs r JOIN attempts a ON a.run_id = r.id JOIN output o ON o.attempt_id = a.id WHERE r.scheduled_at = '{}'",
            timestamp(tick)
        ),
        "succeeded|after\n\n",
    )
    .await;
    assert_ne!(
        env.sql(&format!(
            "SELECT a.container_id FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.scheduled_at = '{}'",
            timestamp(tick)
        ))
        .trim(),
        found.id,
        "the container made with the old environment was not used"
    );
    daemon.stop().await;
    assert!(env.containers_gone().await, "no container left");
}

#[tokio::test]
async fn after_a_sigkill_the_repair_removes_a_container_made_ready_and_the_tick_runs_once() {
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &job("kept", "echo kept", ""));
    common::engine().await;
    let log = env.dir.path().join("first.log");
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "daemon",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("CRONBOX_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("cronbox daemon");
    let found = made_ready(&env).await;
    let tick = tick_of(&found);
    first.kill().expect("SIGKILL");
    first.wait().expect("wait");
    assert!(
        env.containers().await.iter().any(|c| c.id == found.id),
        "the killed daemon left the container it made ready"
    );

    let daemon = Daemon::start(&env).await;
    // The start-up repair removes that container, and the tick (on time, or
    // caught up) runs once, in a container of its own.
    let mut left = true;
    for _ in 0..300 {
        left = env.containers().await.iter().any(|c| c.id == found.id);
        if !left {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!left, "the repair did not remove {}", found.name);
    wait_for_sql(
        &env,
        &format!(
            "SELECT count(*), min(status) FROM runs WHERE scheduled_at = '{}'",
            timestamp(tick)
        ),
        "1|succeeded\n",
    )
    .await;
    daemon.stop().await;
    assert!(env.containers_gone().await, "no container left");
}

/// A container made ready is started only if it is the one the run's job would
/// create now: a job changed in between (a reload that changed the command, not
/// the environment) gets a container of its own, and the stale one is removed.
/// (A file's run can meet this: its container is made while the file settles,
/// and a reload may come between the take and the start.)
#[tokio::test]
async fn a_container_made_ready_for_a_job_changed_since_is_not_started_and_is_removed() {
    let env = TestEnv::new(&job("changed", "echo old", ""));
    let ctx = env.context().await;
    let before = env.config().jobs[0].clone();
    let mut after = (*before).clone();
    after.command = Some(vec!["sh".into(), "-c".into(), "echo new".into()]);
    let tick = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 5, 0)
        .expect("a tick 5 s away");
    let prepared = cronbox::daemon::supervisor::prepare_ahead(&ctx, &before, tick)
        .await
        .expect("a container made ready");
    let stale = prepared.id().to_owned();
    let start = cronbox::daemon::Start {
        trigger: cronbox::store::Trigger::Schedule,
        scheduled_at: tick,
        horizon: None,
        replaces: Vec::new(),
        params: Vec::new(),
        recorded: None,
    };
    let report = cronbox::daemon::supervisor::execute_prepared(
        &ctx,
        &after,
        start,
        &cronbox::daemon::Stops::default(),
        Some(Box::pin(async move { Some(prepared) })),
    )
    .await
    .expect("store")
    .expect("a run");
    let used = env.sql(&format!(
        "SELECT a.container_id, CAST(o.data AS TEXT) FROM attempts a JOIN output o ON o.attempt_id = a.id WHERE a.run_id = {}",
        report.run_id
    ));
    assert_eq!(used.split('|').nth(1), Some("new\n\n"), "{used}");
    assert!(!used.starts_with(&stale), "the stale container ran: {used}");
    assert!(env.containers_gone().await, "the stale container was left");
}
