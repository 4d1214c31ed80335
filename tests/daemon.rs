//! The whole daemon run in-process against a real engine and database: an
//! `@every 1s` job fires on its ticks, and shutdown stops a running container and
//! records it as interrupted; repair of a crashed daemon's leftovers at start-up.

mod common;

use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::{Clock, SystemClock};
use cronbox::store::Trigger;

#[tokio::test]
async fn daemon_fires_an_every_second_job_and_shuts_down_cleanly() {
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.tick]
schedule = "@every 1s"
image = "IMAGE"
command = ["sh", "-c", "echo tick"]
"#,
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 3 FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    daemon.stop().await;

    // Ticks are whole seconds (anchored to the epoch), each recorded once.
    let ticks =
        env.sql("SELECT scheduled_at FROM runs WHERE trigger = 'schedule' ORDER BY scheduled_at");
    let ticks: Vec<&str> = ticks.lines().collect();
    assert!(ticks.len() >= 3);
    for tick in &ticks {
        assert!(
            tick.ends_with(".000Z"),
            "tick {tick} is not on a whole second"
        );
    }
    let mut distinct = ticks.clone();
    distinct.dedup();
    assert_eq!(distinct, ticks, "no tick twice");
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE status = 'running'"),
        "0\n"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE outcome = 'running'"),
        "0\n"
    );
    assert!(
        env.containers_gone().await,
        "no container left after shutdown"
    );
}

#[tokio::test]
async fn shutdown_with_on_shutdown_stop_stops_running_containers_and_records_them_interrupted() {
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.long]
schedule = "@every 1s"
image = "IMAGE"
command = ["sleep", "600"]
"#,
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    // The container is created; give its init a moment to start before the stop.
    wait_for_running_container(&env).await;
    daemon.stop().await;

    // The attempt was stopped and recorded; sleep under the init dies of SIGTERM,
    // so the exit code is 143 (128 + 15), not a SIGKILL's 137 after the grace.
    let rows = env.sql("SELECT status, outcome, exit_code FROM history WHERE attempt IS NOT NULL");
    assert_eq!(rows, "interrupted|interrupted|143\n");
    assert!(
        env.containers_gone().await,
        "no container left after shutdown"
    );
}

async fn wait_for_running_container(env: &TestEnv) {
    for _ in 0..600 {
        if env.containers().await.iter().any(|c| c.running) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no container of this test ever ran");
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
    // What a daemon killed mid-attempt leaves: rows marked running (owned by a
    // process that no longer exists) and its container.
    let store = env.store().await;
    let now = SystemClock.now();
    let run_id = store
        .insert_run("crashed", Trigger::Manual, (now, None), now, None, None)
        .await
        .expect("run")
        .expect("id");
    let attempt_id = store
        .start_attempt(run_id, 1, common::IMAGE, now, std::time::Duration::ZERO)
        .await
        .expect("attempt");
    let engine = common::engine().await;
    let spec = cronbox::engine::ContainerSpec {
        name: format!("cronbox-crashed-{run_id}-1-leftover"),
        image: common::IMAGE.into(),
        command: Some(vec!["sleep".into(), "600".into()]),
        labels: [
            (cronbox::engine::LABEL_DB.to_owned(), env.db_label()),
            (cronbox::engine::LABEL_RUN.to_owned(), run_id.to_string()),
        ]
        .into(),
        stop_signal: "SIGTERM".into(),
        stop_grace: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let stop = tokio_util::sync::CancellationToken::new();
    let abandon = tokio_util::sync::CancellationToken::new();
    let leftover = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let id = engine
                .create(&spec)
                .await
                .expect("create")
                .expect("the test image is present");
            let watch = cronbox::engine::Watch {
                events: &tx,
                stop: &stop,
                abandon: &abandon,
                timeout: None,
            };
            engine.run_created(&id, &spec, watch).await
        })
    };
    for _ in 0..600 {
        if !env.containers_gone().await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(env.containers().await.len(), 1);
    store
        .set_container(attempt_id, "leftover")
        .await
        .expect("container");
    drop(store);
    env.sql("UPDATE runs SET pid = 2147483646"); // a process that does not exist

    let daemon = Daemon::start(&env).await;
    daemon.stop().await;
    leftover.abort();
    // The engine no longer knows the recorded container: the attempt is an
    // engine error saying so, and the run follows its retry policy (no
    // retries: failed).
    assert_eq!(
        env.sql("SELECT status, reason LIKE '%no longer knows container leftover%' FROM runs"),
        "failed|1\n"
    );
    assert_eq!(
        env.sql(
            "SELECT outcome, error LIKE '%no longer knows%', finished_at IS NOT NULL FROM attempts"
        ),
        "engine-error|1|1\n"
    );
    assert!(
        env.containers_gone().await,
        "the leftover container was removed"
    );
}

#[tokio::test]
async fn a_detached_container_goes_on_and_the_next_daemon_adopts_it_without_duplicating_output() {
    let env = TestEnv::new(
        r#"
[jobs.backup]
schedule = "* * * * *"
image = "IMAGE"
command = ["sh", "-c", "echo before; sleep 4; echo after; exit 7"]
"#,
    );
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:30Z")
        .expect("time")
        .to_utc();
    let clock = std::sync::Arc::new(cronbox::clock::TestClock::new(start));
    let daemon = Daemon::start_with(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    clock
        .advance_and_settle(std::time::Duration::from_secs(30))
        .await; // 00:01 fires
    wait_for_sql(&env, "SELECT CAST(data AS TEXT) FROM output", "before\n\n").await;
    daemon.stop().await; // on_shutdown = "detach" (the default)
    let containers = env.containers().await;
    assert_eq!(containers.len(), 1, "the container outlives the daemon");
    assert!(containers[0].running);
    assert_eq!(
        env.sql("SELECT r.status, a.outcome FROM runs r JOIN attempts a ON a.run_id = r.id"),
        "running|running\n"
    );

    // The next daemon adopts it: the real exit code, the whole output once.
    let clock = std::sync::Arc::new(cronbox::clock::TestClock::new(
        start + chrono::TimeDelta::seconds(40),
    ));
    let daemon = Daemon::start_with(&env, clock, common::engine().await).await;
    wait_for_sql(&env, "SELECT status FROM runs", "failed\n").await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT attempt, outcome, exit_code FROM attempts"),
        "1|exited|7\n"
    );
    assert_eq!(
        env.sql("SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT data FROM output WHERE stream = 'stdout' ORDER BY seq)"),
        "before\nafter\n\n"
    );
    assert!(
        env.containers_gone().await,
        "the adopted container was removed"
    );
}

/// The daemon copies its write-ahead log into the database file between ticks
/// (src/daemon/checkpoint.rs), so no tick's commit pays for a checkpoint: a run
/// reaches the file itself while the daemon runs, before the WAL comes near
/// the 256 pages at which SQLite would checkpoint inside a commit. The file is
/// read with `immutable=1`, which sees the file alone and not the WAL.
#[tokio::test]
async fn a_run_reaches_the_database_file_between_ticks_before_sqlite_would_checkpoint() {
    let env = TestEnv::new(
        r#"
[jobs.tick]
schedule = "@every 2s"
image = "IMAGE"
command = ["true"]
"#,
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 1 FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    let wal_path = env.db_path.with_extension("db-wal");
    let file = format!("file:{}?immutable=1", env.db_path.display());
    let mut largest_wal = 0;
    let mut in_file = false;
    for _ in 0..300 {
        // The WAL's size is its high-water mark: SQLite's own checkpoint would
        // have let it reach 256 pages (of 4 KiB, plus a header each) first.
        let wal = std::fs::metadata(&wal_path).map_or(0, |m| m.len());
        largest_wal = largest_wal.max(wal);
        if largest_wal >= 256 * 4096 {
            break;
        }
        in_file = succeeded_in_file_alone(&file) == "1\n";
        if in_file {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    daemon.stop().await;
    assert!(
        in_file && largest_wal < 256 * 4096,
        "a succeeded run must reach the database file before the WAL reaches 256 pages (the WAL grew to {largest_wal} bytes; the run is in the file: {in_file})"
    );
}

/// Whether the database file alone (not its WAL) holds a succeeded run: `1\n`.
fn succeeded_in_file_alone(file: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(file)
        .arg("SELECT count(*) >= 1 FROM runs WHERE status = 'succeeded'")
        .output()
        .expect("run sqlite3");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
