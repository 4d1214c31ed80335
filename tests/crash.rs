//! The daemon as a subprocess, killed with SIGKILL at every point where it
//! writes to the database or changes a container (before and after the run's
//! row, the attempt's row, the create, the start, the exit, the record of the
//! end, the removal), then restarted: the tick has exactly one run, the job
//! executed exactly as often as its attempts say (it counts its executions in a
//! mounted file, so "ran twice" is seen from outside), each attempt keeps its
//! real exit code and its whole output once, nothing is left running, and no
//! container is left behind.

mod common;

use common::{TestEnv, wait_for_sql};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Every point of a run where the process may die; each is a failpoint.
const POINTS: [&str; 8] = [
    "before-run",
    "after-run",
    "before-create",
    "after-create",
    "after-start",
    "after-exit",
    "after-record",
    "after-remove",
];

/// Fails its first execution (exit 3) and succeeds the next (exit 0); each
/// execution adds a line to /count/runs.
fn jobs(count: &Path) -> String {
    format!(
        r#"
[jobs.backup]
schedule = "@every 30s"
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /count/runs; echo start; sleep 2; echo end >&2; [ $(wc -l < /count/runs) -gt 1 ] || exit 3"]
volumes = ["{}:/count"]
retries = 2
backoff = "1s"
success_exit_codes = [0]
"#,
        count.display()
    )
}

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

/// Wait (bounded: 90 s, a tick of `@every 30s` comes within 30) for `needle` in `log`.
async fn wait_for_log(log: &Path, needle: &str) {
    for _ in 0..900 {
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

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// Kill the daemon at `point` during its first tick, restart it, and check what
/// the restart made of it. Returns the point's findings, or a description of
/// what went wrong.
async fn kill_and_recover(point: &'static str) -> Result<(), String> {
    let count: PathBuf = tempfile::tempdir()
        .map_err(|e| e.to_string())?
        .keep()
        .join("count");
    std::fs::create_dir_all(&count).map_err(|e| e.to_string())?;
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &jobs(&count));
    let first_log = env.dir.path().join("first.log");
    let mut first = daemon(&env, Some(point), &first_log);
    wait_for_log(&first_log, &format!("test pause at {point}")).await;
    signal(&first, "-KILL");
    first.wait().map_err(|e| e.to_string())?;
    let tick_before = env.sql("SELECT horizon FROM schedule_state");

    let second_log = env.dir.path().join("second.log");
    let mut second = daemon(&env, None, &second_log);
    // The tick the killed daemon took ends: attempt 1 exits 3, attempt 2 exits 0.
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    signal(&second, "-TERM");
    let status = second.wait().map_err(|e| e.to_string())?;
    let log = std::fs::read_to_string(&second_log).unwrap_or_default();
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{point}: {what}\nsecond daemon's log:\n{log}"))
        }
    };
    check(status.success(), "the second daemon failed".into())?;
    let runs = env.sql("SELECT id, status, trigger FROM runs ORDER BY id");
    check(
        runs.lines().count() == 1,
        format!("one run for the tick, not {runs:?} (horizon after the kill: {tick_before:?})"),
    )?;
    let attempts = env.sql("SELECT attempt, outcome, exit_code FROM attempts ORDER BY attempt");
    check(
        attempts == "1|exited|3\n2|exited|0\n",
        format!("attempts {attempts:?}"),
    )?;
    let executions = lines(&count.join("runs"));
    check(
        executions == 2,
        format!("the job executed {executions} times for two attempts"),
    )?;
    for attempt in [1, 2] {
        let output = env.sql(&format!(
            "SELECT o.stream, CAST(group_concat(o.data, '') AS TEXT) FROM \
             (SELECT o.stream, o.data FROM output o JOIN attempts a ON a.id = o.attempt_id \
              WHERE a.attempt = {attempt} ORDER BY o.stream, o.seq) o GROUP BY o.stream"
        ));
        check(
            output == "stderr|end\n\nstdout|start\n\n",
            format!("attempt {attempt}'s output {output:?}"),
        )?;
    }
    let left = env.sql(
        "SELECT (SELECT count(*) FROM attempts WHERE outcome = 'running') + \
                (SELECT count(*) FROM runs WHERE status = 'running')",
    );
    check(left == "0\n", "something is left running".into())?;
    check(
        env.containers_gone().await,
        "a container was left behind".into(),
    )?;
    let _ = std::fs::remove_dir_all(count.parent().unwrap_or(&count));
    Ok(())
}

#[tokio::test]
async fn a_kill_at_any_point_of_a_run_leaves_one_run_executed_once_per_attempt() {
    common::engine().await;
    // All points at once: they share the wait for the first tick.
    let results = futures_util::future::join_all(POINTS.map(kill_and_recover)).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
