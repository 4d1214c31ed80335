//! The real binary as a subprocess, for the tests that kill it or read its log:
//! the daemon at `CRONBOX_LOG=trace` with its stderr appended to a file, a
//! SIGKILL, a one-off command, and a bounded wait for a line of the log.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::TestEnv;

/// `cronbox daemon` on `env`'s schedule, its log (at trace) appended to `log`.
pub fn daemon(env: &TestEnv, log: &Path) -> Child {
    daemon_with(env, log, &[])
}

/// [`daemon`] with more environment variables (`CRONBOX_TEST_PAUSE_AT`, ...).
pub fn daemon_with(env: &TestEnv, log: &Path, vars: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "daemon",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("CRONBOX_LOG", "trace")
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("log file"),
        )
        .spawn()
        .expect("cronbox daemon")
}

/// SIGKILL `child` and reap it.
pub fn kill(mut child: Child) {
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let _ = child.wait();
}

/// `cronbox ARGS --config CONFIG` at trace, to its end.
pub fn cronbox(env: &TestEnv, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .args(["--config", env.config_path.to_str().expect("utf-8")])
        .env("CRONBOX_LOG", "trace")
        .output()
        .expect("cronbox")
}

/// Wait (bounded: 2 minutes) until `log` holds `needle`.
pub async fn wait_for_log(log: &Path, needle: &str) {
    for _ in 0..1200 {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the daemon never logged {needle:?}");
}

/// Let a daemon write the notification routes of `env` (started, then killed),
/// then end a run of `job` failed with `cronbox run` while no daemon runs: one
/// `failure` notification is then pending. The run's output.
pub async fn one_pending_failure(env: &TestEnv, log: &Path, job: &str) -> std::process::Output {
    let first = daemon(env, log);
    wait_for_log(log, "scheduler started").await;
    kill(first);
    let run = cronbox(env, &["run", job]);
    assert!(!run.status.success());
    assert_eq!(
        env.sql("SELECT event, state, attempts FROM notifications"),
        "failure|pending|0\n"
    );
    run
}
