//! One concurrency rule for every run of a job, whatever started it: with
//! `replace`, a tick's container starts only once the replaced container has
//! exited (stopped, or killed after its grace), the wait counting against its
//! `starting_deadline`, and a running `cronbox run` is replaced like a tick's
//! run; with `forbid`, no container is made ready ahead while a `cronbox run` of
//! the job goes.

mod common;

use common::{Daemon, TestEnv, wait_for_sql};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const STOP_ON_SHUTDOWN: &str = r#"on_shutdown = "stop""#;

/// A job that takes a second to exit on SIGTERM.
const SLOW_TO_STOP: &str =
    r#"["sh", "-c", "trap 'sleep 1; exit 0' TERM; while true; do sleep 0.2; done"]"#;
/// A job that ignores SIGTERM and is killed after its stop_grace.
const DEAF_TO_STOP: &str = r#"["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]"#;

/// Each replaced attempt with the attempt of the run that replaced it, when that
/// run made one (a run replaced in turn while it waited for its slot made none).
const REPLACED_PAIRS: &str = "FROM attempts prev JOIN attempts next \
     ON next.run_id = (SELECT min(id) FROM runs WHERE id > prev.run_id AND status != 'missed') \
     WHERE prev.outcome = 'replaced'";

/// For each run that replaced another, whether its attempt started (was
/// recorded, before its container was even made) after the replaced attempt's
/// end was recorded (after its container had exited): `(pairs, overlapping)`.
fn overlaps(env: &TestEnv) -> (usize, Vec<String>) {
    let rows = env.sql(&format!(
        "SELECT prev.run_id, prev.finished_at, next.run_id, next.started_at {REPLACED_PAIRS} ORDER BY prev.run_id"
    ));
    let pairs = rows.lines().count();
    let overlapping = rows
        .lines()
        .filter(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            cells.len() == 4 && cells[3] < cells[1]
        })
        .map(str::to_owned)
        .collect();
    (pairs, overlapping)
}

async fn replace_with(command: &str, extra: &str) {
    let env = TestEnv::with_daemon(
        STOP_ON_SHUTDOWN,
        &format!(
            "[jobs.latest]\nschedule = \"@every 3s\"\nimage = \"IMAGE\"\nconcurrency = \"replace\"\n\
             command = {command}\n{extra}\n"
        ),
    );
    let daemon = Daemon::start(&env).await;
    // Two runs replaced by runs that started. Under load a tick can come while
    // the run it made still waits for the replaced one to exit (a grace of 2 s,
    // ticks 3 s apart): that waiting run is replaced in turn and starts nothing.
    wait_for_sql(
        &env,
        &format!("SELECT count(*) >= 2 {REPLACED_PAIRS}"),
        "1\n",
    )
    .await;
    daemon.stop().await;
    let (pairs, overlapping) = overlaps(&env);
    assert!(
        pairs >= 2,
        "{command}: {pairs} replacements; runs:\n{}attempts:\n{}",
        env.sql("SELECT id, trigger, status, reason FROM runs"),
        env.sql("SELECT run_id, attempt, outcome, started_at, finished_at FROM attempts")
    );
    assert!(
        overlapping.is_empty(),
        "{command}: a new run started before the one it replaced had exited: {overlapping:?}"
    );
    let reasons = env.sql("SELECT DISTINCT reason FROM runs WHERE status = 'failed'");
    assert_eq!(
        reasons,
        "replaced by a newer run (concurrency = \"replace\")\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn replace_starts_the_new_container_only_once_the_replaced_one_has_exited() {
    tokio::join!(
        replace_with(SLOW_TO_STOP, ""),
        replace_with(DEAF_TO_STOP, "stop_grace = \"2s\""),
    );
}

#[tokio::test]
async fn waiting_for_the_replaced_run_counts_against_starting_deadline() {
    let env = TestEnv::with_daemon(
        STOP_ON_SHUTDOWN,
        &format!(
            "[jobs.latest]\nschedule = \"@every 4s\"\nimage = \"IMAGE\"\nconcurrency = \"replace\"\n\
             command = {DEAF_TO_STOP}\nstop_grace = \"3s\"\nstarting_deadline = \"1s\"\n"
        ),
    );
    let daemon = Daemon::start(&env).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 1 FROM runs WHERE status = 'missed'",
        "1\n",
    )
    .await;
    daemon.stop().await;
    let missed = env.sql("SELECT reason, (SELECT count(*) FROM attempts a WHERE a.run_id = runs.id) FROM runs WHERE status = 'missed' LIMIT 1");
    assert_eq!(
        missed,
        "waited for the run it replaces to stop past its starting_deadline; not started late|0\n"
    );
    let (_, overlapping) = overlaps(&env);
    assert!(overlapping.is_empty(), "{overlapping:?}");
    assert!(env.containers_gone().await);
}

fn cronbox_run(env: &TestEnv, job: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "run",
            job,
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cronbox run")
}

#[tokio::test]
async fn a_tick_replaces_a_running_cronbox_run_once_it_has_stopped() {
    common::engine().await;
    let env = TestEnv::with_daemon(
        STOP_ON_SHUTDOWN,
        &format!(
            "[jobs.latest]\nschedule = \"@every 3s\"\nimage = \"IMAGE\"\nconcurrency = \"replace\"\n\
             command = {SLOW_TO_STOP}\n"
        ),
    );
    let manual = cronbox_run(&env, "latest");
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    let daemon = Daemon::start(&env).await;
    let status = tokio::task::spawn_blocking(move || {
        let mut manual = manual;
        manual.wait()
    })
    .await
    .expect("join")
    .expect("wait");
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE run_id = 2 AND container_id IS NOT NULL",
        "1\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(status.code(), Some(1), "cronbox run of a replaced run");
    assert_eq!(
        env.sql("SELECT r.trigger, r.status, r.reason, a.outcome FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.id = 1"),
        "manual|failed|replaced by a newer run (concurrency = \"replace\")|replaced\n"
    );
    let (pairs, overlapping) = overlaps(&env);
    assert!(pairs >= 1);
    assert!(overlapping.is_empty(), "{overlapping:?}");
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn forbid_makes_no_container_ready_while_a_cronbox_run_goes() {
    common::engine().await;
    let env = TestEnv::new(
        r#"
[jobs.once-at-a-time]
schedule = "@every 2s"
image = "IMAGE"
command = ["sleep", "8"]
concurrency = "forbid"
"#,
    );
    let mut manual = cronbox_run(&env, "once-at-a-time");
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    let daemon = Daemon::start(&env).await;
    let mut made_ready = Vec::new();
    for _ in 0..25 {
        made_ready.extend(
            env.containers()
                .await
                .into_iter()
                .filter(|c| c.labels.contains_key(cronbox::engine::LABEL_TICK))
                .map(|c| c.name),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let skipped = env.sql("SELECT count(*) >= 2 FROM runs WHERE status = 'skipped'");
    daemon.stop().await;
    let _ = manual.wait();
    assert!(
        made_ready.is_empty(),
        "containers made ready for ticks that forbid skips: {made_ready:?}"
    );
    assert_eq!(skipped, "1\n", "the ticks found the manual run going");
}
