//! `[daemon] log_format` with the real binary, engine and database: "json"
//! writes one JSON object per line with the run's and job's fields at the top
//! level; "text" has its timestamp, but not when stderr is systemd's journal
//! stream (`JOURNAL_STREAM` naming stderr's file), whose journal stamps lines.

mod common;

use common::TestEnv;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The daemon on `env`, its stderr written to `log`, with `JOURNAL_STREAM`
/// set to `journal` (or removed).
fn daemon(env: &TestEnv, log: &Path, journal: Option<String>) -> Child {
    let stderr = std::fs::File::create(log).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_cronbox"));
    command
        .args(["daemon", "--config"])
        .arg(&env.config_path)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(stream) = journal {
        command.env("JOURNAL_STREAM", stream);
    }
    command.spawn().expect("start the daemon")
}

/// Wait (bounded: a minute) for a finished run in the log, then stop the
/// daemon with SIGTERM and return its whole log.
async fn until_a_run_finished(mut child: Child, log: &Path) -> String {
    for _ in 0..600 {
        if std::fs::read_to_string(log).is_ok_and(|text| text.contains("run finished")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "the daemon exits 0 on SIGTERM: {status}");
    std::fs::read_to_string(log).expect("log")
}

fn every_second(daemon: &str) -> TestEnv {
    TestEnv::with_daemon(
        &format!("{daemon}\n[daemon.http]\nlisten = \"\"\n"),
        "[jobs.tick]\nschedule = \"@every 1s\"\nimage = \"IMAGE\"\ncommand = [\"true\"]\n",
    )
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_run_fields_at_the_top() {
    common::engine().await; // the image must exist
    let env = every_second("log_format = \"json\"");
    let log = env.dir.path().join("stderr");
    let text = until_a_run_finished(daemon(&env, &log, None), &log).await;
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string()),
        "{text}"
    );
    let finished = lines
        .iter()
        .find(|l| l["message"] == "run finished")
        .expect("a run finished");
    assert_eq!(finished["job"], "tick", "{finished}");
    assert_eq!(finished["run"], 1, "{finished}");
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["level"], "INFO");
    let attempt = lines
        .iter()
        .find(|l| l["message"] == "attempt finished" && l["run"] == 1)
        .expect("an attempt finished");
    assert_eq!(attempt["exit_code"], 0, "a number: {attempt}");
    assert_eq!(attempt["outcome"], "exited", "{attempt}");
    assert!(env.containers_gone().await);
}

/// Whether a text log line starts with an RFC 3339 timestamp.
fn stamped(line: &str) -> bool {
    line.len() > 20 && line.as_bytes()[4] == b'-' && line.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn text_logs_leave_the_time_to_the_journal_only_when_stderr_is_its_stream() {
    common::engine().await;
    let env = every_second("");
    let log = env.dir.path().join("stderr");

    // stderr is the journal's stream: no timestamps.
    std::fs::File::create(&log).expect("create");
    let meta = std::fs::metadata(&log).expect("stat");
    let journal = format!("{}:{}", meta.dev(), meta.ino());
    let child = daemon(&env, &log, Some(journal));
    let text = until_a_run_finished(child, &log).await;
    assert!(text.contains("run finished job=tick run="), "{text}");
    assert!(text.lines().all(|l| !stamped(l)), "{text}");
    let finished = text.lines().find(|l| l.contains("run finished"));
    assert!(
        finished.is_some_and(|l| l.trim_start().starts_with("INFO cronbox::")),
        "{text}"
    );

    // JOURNAL_STREAM inherited but naming another file (a shell started from a
    // unit): timestamps, as without it.
    let other = env.dir.path().join("elsewhere");
    std::fs::write(&other, "").expect("write");
    let meta = std::fs::metadata(&other).expect("stat");
    let child = daemon(&env, &log, Some(format!("{}:{}", meta.dev(), meta.ino())));
    let text = until_a_run_finished(child, &log).await;
    assert!(text.lines().all(stamped), "{text}");
    assert!(env.containers_gone().await);
}

/// A daemon at `CRONBOX_LOG=trace` whose log file is in its schedule's
/// directory (which it watches for reloads) stays quiet when idle: the
/// inotify library's own trace of each event would otherwise make every log
/// line an event and every event a line, growing the file without end.
#[tokio::test]
async fn a_trace_log_kept_in_the_watched_directory_does_not_feed_itself() {
    let env = TestEnv::new(
        r#"
[jobs.yearly]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]
"#,
    );
    let log = env.dir.path().join("daemon.log");
    let mut daemon = common::subprocess::daemon(&env, &log);
    common::subprocess::wait_for_log(&log, "scheduler started").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = std::fs::metadata(&log).expect("log").len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = std::fs::metadata(&log).expect("log").len();
    let _ = daemon.kill();
    let _ = daemon.wait();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        !text.contains("inotify event"),
        "the watcher's events are logged:\n{}",
        &text[text.floor_char_boundary(text.len().saturating_sub(2000))..]
    );
    assert!(
        after - before < 4096,
        "an idle daemon's log grew by {} bytes in 3 s",
        after - before
    );
}
