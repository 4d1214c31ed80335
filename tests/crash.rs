//! The daemon as a subprocess, killed with SIGKILL at each point of an attempt
//! (before create, after create, after start, after exit), then restarted: the
//! tick's single run completes with its real exit code and its whole output,
//! no attempt is left running, and no container is left behind.

mod common;

use common::{TestEnv, wait_for_sql};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const JOBS: &str = r#"
[jobs.backup]
schedule = "@every 5s"
image = "IMAGE"
command = ["sh", "-c", "echo start; sleep 2; echo end >&2; exit 3"]
retries = 1
backoff = "1s"
catch_up = "none"
"#;

fn daemon(env: &TestEnv, pause_at: Option<&str>, log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cronbox"));
    command
        .args([
            "daemon",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("CRONBOX_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    if let Some(point) = pause_at {
        command.env("CRONBOX_TEST_PAUSE_AT", point);
    }
    command.spawn().expect("cronbox daemon")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

async fn wait_for_log(log: &Path, needle: &str) {
    for _ in 0..600 {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the daemon never logged {needle:?}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

async fn kill_and_recover(point: &str) {
    common::engine().await;
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, JOBS);
    let first_log = env.dir.path().join("first.log");
    let mut first = daemon(&env, Some(point), &first_log);
    wait_for_log(&first_log, &format!("test pause at {point}")).await;
    signal(&first, "-KILL");
    first.wait().expect("wait");

    let second_log = env.dir.path().join("second.log");
    let mut second = daemon(&env, None, &second_log);
    // The first run (the tick the killed daemon took) ends: attempt 1 exits 3,
    // its retry too (or, killed before its container existed, attempt 1 is
    // interrupted and the retry runs it).
    wait_for_sql(&env, "SELECT status FROM runs WHERE id = 1", "failed\n").await;
    signal(&second, "-TERM");
    let status = second.wait().expect("wait");
    let log = std::fs::read_to_string(&second_log).unwrap_or_default();
    assert!(
        status.success(),
        "{point}: the second daemon failed:\n{log}"
    );

    let tick = env.sql("SELECT scheduled_at FROM runs WHERE id = 1");
    assert_eq!(
        env.sql(&format!(
            "SELECT count(*) FROM runs WHERE scheduled_at = '{}'",
            tick.trim()
        )),
        "1\n",
        "{point}: one run for the tick"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE outcome = 'running'"),
        "0\n",
        "{point}"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE status = 'running'"),
        "0\n",
        "{point}"
    );
    let attempts = env
        .sql("SELECT attempt, outcome, exit_code FROM attempts WHERE run_id = 1 ORDER BY attempt");
    let want = if point == "before-create" {
        "1|interrupted|\n2|exited|3\n"
    } else {
        "1|exited|3\n2|exited|3\n"
    };
    assert_eq!(attempts, want, "{point}");
    // Each attempt that ran kept its whole output, once.
    for attempt in if point == "before-create" {
        vec![2]
    } else {
        vec![1, 2]
    } {
        let output = env.sql(&format!(
            "SELECT o.stream, CAST(group_concat(o.data, '') AS TEXT) FROM \
             (SELECT o.stream, o.data FROM output o JOIN attempts a ON a.id = o.attempt_id \
              WHERE a.run_id = 1 AND a.attempt = {attempt} ORDER BY o.stream, o.seq) o GROUP BY o.stream"
        ));
        assert_eq!(
            output, "stderr|end\n\nstdout|start\n\n",
            "{point}: attempt {attempt}"
        );
    }
    assert!(
        log.contains("repair:"),
        "{point}: the repair is logged:\n{log}"
    );
    assert!(
        env.containers().await.is_empty(),
        "{point}: no container left"
    );
}

#[tokio::test]
async fn killed_before_create() {
    kill_and_recover("before-create").await;
}

#[tokio::test]
async fn killed_after_create() {
    kill_and_recover("after-create").await;
}

#[tokio::test]
async fn killed_after_start() {
    kill_and_recover("after-start").await;
}

#[tokio::test]
async fn killed_after_exit() {
    kill_and_recover("after-exit").await;
}
