//! The `cronbox` binary as an operator uses it: `run` exit codes and live output,
//! `check` and `next` on good and bad files, `history` and `logs` reading the database,
//! and every command on hostile files (a FIFO, /dev/zero, too large, a megabyte of
//! syntax errors, keys nested 200 deep, names holding newlines), never hanging.

mod common;

use common::TestEnv;
use std::process::{Command, Output};

fn cronbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_DATABASE")
        .output()
        .expect("run cronbox")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const JOBS: &str = r#"
[jobs.ok]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo all good; echo a warning >&2"]

[jobs.three]
schedule = "0 3 * * *"
image = "IMAGE"
command = ["sh", "-c", "echo failing; exit 3"]
"#;

#[tokio::test]
async fn run_exits_with_the_jobs_code_and_shows_output_live() {
    common::engine().await; // the image must exist
    let env = TestEnv::new(JOBS);
    let config = env.config_path.to_str().expect("utf-8 path");

    let ok = cronbox(&["run", "ok", "--config", config]);
    assert_eq!(ok.status.code(), Some(0), "stderr: {}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "all good\n");
    assert!(text(&ok.stderr).contains("a warning\n"));

    let three = cronbox(&["run", "three", "--config", config]);
    assert_eq!(
        three.status.code(),
        Some(3),
        "stderr: {}",
        text(&three.stderr)
    );
    assert_eq!(text(&three.stdout), "failing\n");

    let unknown = cronbox(&["run", "nope", "--config", config]);
    assert_eq!(unknown.status.code(), Some(2));
    let message = text(&unknown.stderr);
    assert!(
        message.contains("no job \"nope\"") && message.contains("ok, three"),
        "{message}"
    );

    // Both runs are in the history with trigger manual.
    assert_eq!(
        env.sql("SELECT job, trigger, status, exit_code FROM history ORDER BY run_id"),
        "ok|manual|succeeded|0\nthree|manual|failed|3\n"
    );
    assert!(env.containers().await.is_empty());

    // history reads them back, as a table and as JSON lines.
    let history = cronbox(&["history", "--config", config]);
    assert_eq!(history.status.code(), Some(0), "{}", text(&history.stderr));
    let table = text(&history.stdout);
    assert!(table.starts_with("RUN"), "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("three") && l.contains("failed")),
        "{table}"
    );
    let json = cronbox(&[
        "history",
        "three",
        "--json",
        "--database",
        env.db_path.to_str().expect("utf-8"),
    ]);
    let lines: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["job"], "three");
    assert_eq!(lines[0]["exit_code"], 3);
    assert_eq!(lines[0]["outcome"], "exited");

    // logs prints stdout and stderr of a run to the matching streams.
    let run_id = env.sql("SELECT id FROM runs WHERE job = 'ok'");
    let logs = cronbox(&["logs", run_id.trim(), "--config", config]);
    assert_eq!(logs.status.code(), Some(0));
    assert_eq!(text(&logs.stdout), "all good\n");
    assert_eq!(text(&logs.stderr), "a warning\n");
    let missing = cronbox(&["logs", "9999", "--config", config]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no run 9999"));
}

#[test]
fn check_lists_jobs_and_next_prints_fire_times() {
    let env = TestEnv::new(JOBS);
    let config = env.config_path.to_str().expect("utf-8 path");
    let check = cronbox(&["check", "--config", config]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let out = text(&check.stdout);
    assert!(out.contains("OK, 2 job(s)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("three") && l.contains("0 3 * * *")),
        "{out}"
    );

    let next = cronbox(&[
        "next",
        "--config",
        config,
        "--job",
        "three",
        "--count",
        "2",
        "--from",
        "2026-01-01T03:00:00Z",
        "--json",
    ]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    assert_eq!(
        text(&next.stdout),
        "{\"job\":\"three\",\"time\":\"2026-01-02T03:00:00+00:00\"}\n{\"job\":\"three\",\"time\":\"2026-01-03T03:00:00+00:00\"}\n"
    );
    let bad_from = cronbox(&["next", "--config", config, "--from", "yesterday"]);
    assert_eq!(bad_from.status.code(), Some(2));
}

#[test]
fn next_shows_each_jobs_zone_with_its_offset() {
    let env = TestEnv::new(
        r#"
[jobs.paris]
schedule = "30 2 * * *"
timezone = "Europe/Paris"
image = "IMAGE"
"#,
    );
    let next = cronbox(&[
        "next",
        "--config",
        env.config_path.to_str().expect("utf-8"),
        "--count",
        "2",
        "--from",
        "2025-03-29T12:00:00+01:00",
    ]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    // 02:30 does not exist on 2025-03-30 in Paris: the fixed-time job runs at 03:00.
    assert_eq!(
        text(&next.stdout),
        "2025-03-30T03:00:00+02:00  paris\n2025-03-31T02:30:00+02:00  paris\n"
    );
}

#[test]
fn bad_files_exit_2_and_name_every_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"[daemon]
timezone = "Mars/Olympus"

[jobs.Backup]
schedule = "* * * * * *"
image = "x"

[jobs.ok]
schedule = "@daily"
image = "x"
retires = 3
"#,
    )
    .expect("write");
    let config = path.to_str().expect("utf-8");
    for command in ["check", "daemon"] {
        let out = cronbox(&[command, "--config", config]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{command}: {}",
            text(&out.stderr)
        );
        let message = text(&out.stderr);
        for needle in [
            ":2:",
            "Mars/Olympus",
            ":4:",
            "Backup",
            ":5:",
            "@every",
            ":11:",
            "retires",
        ] {
            assert!(
                message.contains(needle),
                "{command}: {needle:?} missing from:\n{message}"
            );
        }
        assert!(!message.contains("panicked"), "{message}");
    }
    let missing = cronbox(&["check", "--config", "/nonexistent/cronbox.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("/nonexistent/cronbox.toml"));
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    // The unit names /usr/local/bin/cronbox; verify it against the binary just built.
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/cronbox.service"
    ))
    .expect("unit");
    assert!(
        unit.contains("Type=notify")
            && unit.contains("WatchdogSec=")
            && unit.contains("ExecReload=")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cronbox.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/cronbox", env!("CARGO_BIN_EXE_cronbox")),
    )
    .expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze (Debian's systemd package; scripts/dev.sh installs it)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        text(&out.stderr)
    );
}

#[test]
fn check_reports_bad_limits_signals_and_output_caps_with_line_and_job() {
    let env = TestEnv::new(
        r#"
[jobs.bad-limits]
schedule = "@daily"
image = "IMAGE"
stop_signal = "SIGFOO"
memory = "0MiB"
cpus = -1
pids_limit = 0
max_output = "10B"
timeout = "0s"
"#,
    );
    let out = cronbox(&[
        "check",
        "--config",
        env.config_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    for (line, needle) in [
        (9, "SIGFOO"),
        (10, "memory"),
        (11, "cpus"),
        (12, "pids_limit"),
        (13, "max_output"),
        (14, "timeout"),
    ] {
        let at = format!("cronbox.toml:{line}:");
        let found = message
            .lines()
            .any(|l| l.contains(&at) && l.contains("job \"bad-limits\"") && l.contains(needle));
        assert!(
            found,
            "no line {line} problem about {needle} in:\n{message}"
        );
    }
}

#[test]
fn check_reports_missing_host_paths_and_a_malformed_env_file_by_line() {
    let env = TestEnv::new("");
    let dir = env.dir.path();
    std::fs::write(
        dir.join("bad.env"),
        "GOOD=1\nthis line has no equals sign secret-value\n",
    )
    .expect("env file");
    let jobs = format!(
        r#"
[jobs.paths]
schedule = "@daily"
image = "{image}"
volumes = ["{dir}/missing-dir:/data"]
env_file = "bad.env"
secrets = {{ token = "{dir}/missing-secret" }}
privileged = true
"#,
        image = common::IMAGE,
        dir = dir.display()
    );
    let text_before = std::fs::read_to_string(&env.config_path).expect("config");
    std::fs::write(&env.config_path, text_before + &jobs).expect("config");
    let out = cronbox(&[
        "check",
        "--config",
        env.config_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let message = text(&out.stderr);
    assert!(
        message.contains("cronbox.toml:9:") && message.contains("missing-dir does not exist"),
        "{message}"
    );
    assert!(
        message.contains("cronbox.toml:10:") && message.contains("bad.env line 2"),
        "{message}"
    );
    assert!(
        message.contains("cronbox.toml:11:") && message.contains("missing-secret does not exist"),
        "{message}"
    );
    assert!(
        message.contains("runs privileged"),
        "a warning for privileged: {message}"
    );
    assert!(
        !message.contains("secret-value"),
        "an env_file line is never echoed: {message}"
    );
}

#[tokio::test]
async fn logs_follow_prints_output_as_it_arrives_until_the_run_ends() {
    let env = TestEnv::new(
        r#"
[jobs.slow-talker]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo one; sleep 3; echo two"]
"#,
    );
    let run = {
        let config = env.config();
        let ctx = env.context().await;
        tokio::spawn(async move {
            let now = cronbox::clock::Clock::now(&cronbox::clock::SystemClock);
            let stops = cronbox::daemon::Stops::default();
            cronbox::daemon::supervisor::execute(
                &ctx,
                &config.jobs[0],
                cronbox::store::Trigger::Manual,
                now,
                &stops,
            )
            .await
        })
    };
    common::wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "logs",
            "1",
            "--follow",
            "--database",
            env.db_path.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cronbox logs --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = lines_tx.send(line.expect("line"));
        }
    });
    assert_eq!(lines.recv().await.as_deref(), Some("one"));
    assert_eq!(
        env.sql("SELECT status FROM runs"),
        "running\n",
        "'one' came while the run was still going"
    );
    assert_eq!(lines.recv().await.as_deref(), Some("two"));
    assert_eq!(lines.recv().await, None, "logs --follow ends with the run");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success());
    run.await.expect("join").expect("store").expect("run");
}

/// `cronbox ARGS`, killed if it has not ended within a minute (a generous bound on a
/// shared machine: these commands take well under a second): a hang is a failure,
/// never a stuck test run.
fn cronbox_bounded(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_DATABASE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cronbox");
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("cronbox {args:?} did not end within a minute");
}

/// `cronbox check` on a schedule file holding `contents`: the file's path, the exit
/// code and stderr.
fn check_text(contents: &str) -> (String, Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cronbox.toml");
    std::fs::write(&path, contents).expect("write");
    let config = path.to_str().expect("utf-8").to_owned();
    let out = cronbox_bounded(&["check", "--config", &config]);
    (config, out.status.code(), text(&out.stderr))
}

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn every_command_refuses_a_schedule_that_is_not_a_regular_file_or_too_large() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo.toml");
    mkfifo(&fifo);
    let big = dir.path().join("big.toml");
    // A valid job, then comments up to 5 MiB: too large whatever it holds.
    let job = "[jobs.a]\nschedule = \"@daily\"\nimage = \"x\"\n";
    let comment = format!("# {}\n", "x".repeat(1000));
    std::fs::write(&big, format!("{job}{}", comment.repeat(5 * 1024))).expect("write");
    let cases = [
        (
            fifo.to_str().expect("utf-8"),
            "it is a named pipe (FIFO), not a regular file",
        ),
        ("/dev/zero", "it is a character device, not a regular file"),
        (
            big.to_str().expect("utf-8"),
            "it is larger than 4MiB, the most cronbox reads",
        ),
    ];
    for (config, why) in cases {
        for command in [
            &["check"][..],
            &["next"],
            &["run", "a"],
            &["daemon"],
            &["history"],
            &["logs", "1"],
        ] {
            let mut args = command.to_vec();
            args.extend(["--config", config]);
            let out = cronbox_bounded(&args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{config}: cannot read the config file: {why}")),
                "{args:?}: {stderr}"
            );
        }
    }
}

#[test]
fn a_megabyte_of_syntax_errors_shows_the_first_ten_and_counts_the_rest() {
    let line = "x = = 1\n";
    let (config, code, stderr) = check_text(&line.repeat(1_000_000 / line.len()));
    assert_eq!(code, Some(2));
    let placed = stderr
        .lines()
        .filter(|l| l.contains(&format!("{config}:")) && l.contains(": TOML syntax error:"))
        .count();
    assert_eq!(placed, 10, "{stderr}");
    assert!(
        stderr.contains("more TOML syntax error(s) not shown; fix the ones above first"),
        "{stderr}"
    );
}

#[test]
fn a_table_nested_200_deep_is_placed_at_its_line() {
    let deep = vec!["a"; 200].join(".");
    let (config, code, stderr) = check_text(&format!(
        "[jobs.ok]\nschedule = \"@daily\"\nimage = \"x\"\n\n[{deep}]\nx = 1\n"
    ));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(&format!(
            "{config}:5:2: TOML syntax error: a table header or dotted key nested 200 levels deep"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("\n5 | [a.a.a."), "{stderr}");
}

#[test]
fn a_job_name_or_key_with_a_newline_is_quoted_and_prints_no_line_of_its_own() {
    let (config, code, stderr) = check_text(
        "[jobs.\"ok\\n/etc/cronbox/other.toml:1:1: fake problem\"]\nschedule = \"@daily\"\nimage = \"x\"\nenv = { \"X\\n/etc/cronbox/other.toml:2:1: fake\" = 1 }\n",
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("job \"ok\\n/etc/cronbox/other.toml:1:1: fake problem\": invalid job name"),
        "{stderr}"
    );
    assert!(
        stderr.contains("env.\"X\\n/etc/cronbox/other.toml:2:1: fake\" must be a string"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(
        stderr.lines().all(|l| l.contains(&format!("{config}:"))),
        "every line is a problem of this file:\n{stderr}"
    );
}

#[tokio::test]
async fn an_env_file_that_is_a_fifo_fails_check_and_the_run_without_hanging() {
    common::engine().await; // the image must exist
    let env = TestEnv::new("");
    let fifo = env.dir.path().join("fifo.env");
    mkfifo(&fifo);
    let jobs = format!(
        "\n[jobs.piped]\nschedule = \"@daily\"\nimage = \"{}\"\ncommand = [\"true\"]\nenv_file = \"fifo.env\"\n",
        common::IMAGE
    );
    let whole = std::fs::read_to_string(&env.config_path).expect("config") + &jobs;
    std::fs::write(&env.config_path, &whole).expect("config");
    let config = env.config_path.to_str().expect("utf-8");
    let env_file_line = whole
        .lines()
        .position(|l| l.starts_with("env_file"))
        .expect("the line")
        + 1;

    let check = tokio::task::spawn_blocking({
        let config = config.to_owned();
        move || cronbox_bounded(&["check", "--config", &config])
    })
    .await
    .expect("join");
    let stderr = text(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cronbox.toml:{env_file_line}:12: job \"piped\": cannot read env_file"
        )) && stderr.contains("it is a named pipe (FIFO), not a regular file"),
        "{stderr}"
    );

    let run = tokio::task::spawn_blocking({
        let config = config.to_owned();
        move || cronbox_bounded(&["run", "piped", "--config", &config])
    })
    .await
    .expect("join");
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let row = env.sql("SELECT status, reason FROM runs");
    assert!(
        row.starts_with("failed|cannot read env_file")
            && row.contains("it is a named pipe (FIFO), not a regular file"),
        "{row}"
    );
    assert!(env.containers().await.is_empty());
}
