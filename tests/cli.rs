//! The `cronbox` binary as an operator uses it: `run` exit codes and live output,
//! `check` and `next` on good and bad files, `history` and `logs` reading the
//! database (also as a user who cannot write it, and while it is locked), output
//! that cannot be written (`/dev/full`, a closed pipe), log filters that must
//! never show a job's environment, and every command on hostile files (a FIFO,
//! /dev/zero, too large, a megabyte of syntax errors, keys nested 200 deep, names
//! holding newlines), never hanging.

mod common;

use common::TestEnv;
use std::process::{Command, Output, Stdio};

fn cronbox(args: &[&str]) -> Output {
    command(args).output().expect("run cronbox")
}

/// The binary with `args`, without the variables that would pick another file.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cronbox"));
    command
        .args(args)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_DATABASE");
    command
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
    assert!(env.containers_gone().await);

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

/// A schedule file whose job `noon` names no zone, nor does `[daemon]`: it
/// runs in the default zone, which comes from the environment.
fn file_without_zones(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("cronbox.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\ndatabase = \"{}\"\n\n[jobs.noon]\nschedule = \"0 12 * * *\"\nimage = \"x\"\n",
            dir.path().join("cronbox.db").display()
        ),
    )
    .expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn the_default_zone_follows_tz_as_the_c_library_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = file_without_zones(&dir);
    let next = |tz: &str| {
        command(&[
            "next",
            "--config",
            &config,
            "--count",
            "1",
            "--from",
            "2025-06-01T00:00:00Z",
        ])
        .env("TZ", tz)
        .output()
        .expect("run cronbox")
    };
    // (TZ, the line printed)
    let cases = [
        ("Europe/Stockholm", "2025-06-01T12:00:00+02:00  noon\n"),
        (":Europe/Stockholm", "2025-06-01T12:00:00+02:00  noon\n"),
        (
            ":/usr/share/zoneinfo/America/New_York",
            "2025-06-01T12:00:00-04:00  noon\n",
        ),
        ("", "2025-06-01T12:00:00+00:00  noon\n"),
        ("UTC0", "2025-06-01T12:00:00+00:00  noon\n"),
    ];
    for (tz, line) in cases {
        let out = next(tz);
        assert_eq!(
            out.status.code(),
            Some(0),
            "TZ={tz:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), line, "TZ={tz:?}");
    }

    // A POSIX rule names no zone cronbox reads: the job needing it is refused.
    let rule = next("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_eq!(rule.status.code(), Some(2));
    let message = text(&rule.stderr);
    assert!(
        message.contains("job \"noon\"")
            && message.contains("POSIX TZ rule")
            && message.contains("set timezone in [daemon]"),
        "{message}"
    );

    // check says where the default zone came from.
    let check = |tz: Option<&str>| {
        let mut check = command(&["check", "--config", &config]);
        match tz {
            Some(tz) => check.env("TZ", tz),
            None => check.env_remove("TZ"),
        };
        let out = check.output().expect("run cronbox");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let out = check(Some("Europe/Stockholm"));
    assert!(
        out.lines()
            .any(|l| l == "default zone Europe/Stockholm (from TZ=\"Europe/Stockholm\")"),
        "{out}"
    );
    // Without TZ, the system's zone (or UTC when it cannot be read).
    let out = check(None);
    assert!(
        out.lines()
            .any(|l| l.starts_with("default zone ") && l.contains("/etc/localtime")),
        "{out}"
    );
}

#[test]
fn next_past_2099_keeps_the_zones_dst_rule_and_never_falls_silent() {
    let env = TestEnv::new(
        r#"
[jobs.la]
schedule = "30 2 * * *"
timezone = "America/Los_Angeles"
image = "IMAGE"
"#,
    );
    let config = env.config_path.to_str().expect("utf-8");
    let next = |from: &str, count: &str| {
        cronbox(&["next", "--config", config, "--count", count, "--from", from])
    };
    // Summer time in 2100, where chrono-tz's table has already ended.
    let summer = next("2100-06-30T12:00:00-07:00", "1");
    assert_eq!(summer.status.code(), Some(0), "{}", text(&summer.stderr));
    assert_eq!(text(&summer.stdout), "2100-07-01T02:30:00-07:00  la\n");

    // Cron fire times end at the year 5000: what there is, then why not more.
    let end = next("4999-12-30T12:00:00Z", "3");
    assert_eq!(end.status.code(), Some(1));
    assert_eq!(text(&end.stdout), "4999-12-31T02:30:00-08:00  la\n");
    let message = text(&end.stderr);
    assert!(
        message.contains("job \"la\" has no fire time after 4999-12-31T02:30:00-08:00")
            && message.contains("1 of 3 printed")
            && message.contains("year 5000"),
        "{message}"
    );
    let none = next("5000-01-01T00:00:00Z", "1");
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(text(&none.stdout), "");
    assert!(text(&none.stderr).contains("job \"la\" has no fire time"));
    assert!(!text(&none.stderr).contains("panicked"));
}

#[test]
fn next_bounds_count_and_reports_write_errors() {
    let env = TestEnv::new(JOBS);
    let config = env.config_path.to_str().expect("utf-8");
    let huge = cronbox(&["next", "--config", config, "--count", "100000000"]);
    assert_eq!(huge.status.code(), Some(2));
    let message = text(&huge.stderr);
    assert!(message.contains("from 1 to 1000000"), "{message}");
    assert_eq!(text(&huge.stdout), "");

    // Streamed: with the largest count, the first line comes while memory is
    // still small (holding two million fire times and their lines before
    // printing the first took well over 100 MB), and a reader that stops
    // early (`| head`) ends it without an error.
    let mut child = command(&["next", "--config", config, "--count", "1000000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn cronbox");
    let mut first = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("a line");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .expect("the child's /proc status");
        let peak_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        assert!(
            peak_kib < 40 * 1024,
            "peak memory {peak_kib} KiB at the first line"
        );
    } // stdout closed here: the reader went away
    let status = child.wait().expect("wait");
    assert!(
        first.ends_with("  ok\n") || first.ends_with("  three\n"),
        "{first}"
    );
    assert_eq!(status.code(), Some(0));

    // A full disk (or any write error) is an error with a message, not a panic.
    for json in [false, true] {
        let mut args = vec!["next", "--config", config, "--count", "1000"];
        if json {
            args.push("--json");
        }
        let full = command(&args)
            .stdout(std::fs::File::create("/dev/full").expect("/dev/full"))
            .output()
            .expect("run cronbox");
        assert_eq!(full.status.code(), Some(1));
        let message = text(&full.stderr);
        assert!(
            message.contains("cannot write the fire times to stdout")
                && message.contains("No space left on device"),
            "{message}"
        );
        assert!(!message.contains("panicked"), "{message}");
    }
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
    // The unit names /usr/bin/cronbox; verify it against the binary just built.
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
        unit.replace("/usr/bin/cronbox", env!("CARGO_BIN_EXE_cronbox")),
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

/// Where a child's stdout or stderr goes in [`cronbox_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Read by the test.
    Captured,
    /// `/dev/full`: every write fails with ENOSPC.
    Full,
    /// A pipe whose reader is already gone: every write fails with EPIPE.
    Closed,
}

impl Sink {
    fn stdio(self) -> Stdio {
        match self {
            Sink::Captured => Stdio::piped(),
            Sink::Full => std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("open /dev/full")
                .into(),
            Sink::Closed => {
                let (reader, writer) = std::io::pipe().expect("pipe");
                drop(reader);
                writer.into()
            }
        }
    }
}

/// Run cronbox with its stdout and stderr sent to `stdout` and `stderr`, and
/// `envs` added to its environment.
fn cronbox_to(args: &[&str], stdout: Sink, stderr: Sink, envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_DATABASE")
        .env_remove("CRONBOX_LOG")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout.stdio())
        .stderr(stderr.stdio())
        .output()
        .expect("run cronbox")
}

/// Regression (issue 8, item 11): a 65,536-character image or schedule panicked
/// the table printer (`{:<width$}` takes at most 65,535); cells of several bytes
/// per character must print whole too.
#[test]
fn check_prints_huge_and_multi_byte_cells_whole() {
    let image = format!("registry.example/{}:1", "a".repeat(65_536 - 19));
    assert_eq!(image.chars().count(), 65_536);
    // A valid minute list of 65,529 characters, then the 4 other fields.
    let schedule = format!("{}0 3 * * *", "0,".repeat(32_764));
    let env = TestEnv::new(&format!(
        r#"
[jobs.huge-image]
schedule = "@daily"
image = "{image}"

[jobs.huge-schedule]
schedule = "{schedule}"
image = "IMAGE"

[jobs.multi-byte]
schedule = "@daily"
image = "café.example/🐳/été:ünï"
"#
    ));
    let out = cronbox(&[
        "check",
        "--config",
        env.config_path.to_str().expect("utf-8"),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Piped: every column whole.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("huge-image") && l.contains(&image)),
        "{}",
        &stdout[..stdout.len().min(300)]
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("huge-schedule") && l.contains(&schedule))
    );
    let multi = stdout
        .lines()
        .find(|l| l.starts_with("multi-byte"))
        .expect("the multi-byte job's row");
    assert!(multi.contains("café.example/🐳/été:ünï"), "{multi}");
}

/// Issue 8, item 11: `println!` and `eprintln!` panic when the stream cannot be
/// written. Every command exits with its code instead: a closed stdout is a
/// reader that stopped early (exit 0, nothing said), any other stdout failure is
/// exit 1 said on stderr, and a stderr that fails changes nothing but what is said.
#[tokio::test]
async fn no_command_panics_when_stdout_or_stderr_cannot_be_written() {
    common::engine().await;
    // Much more than a pipe's buffer, and more than max_output (kept in part).
    let env = TestEnv::new(
        r#"
[jobs.talker]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "seq 1 200000; echo done >&2"]
"#,
    );
    let config = env.config_path.to_str().expect("utf-8");
    let db = env.db_path.to_str().expect("utf-8");
    use Sink::{Captured, Closed, Full};

    // `run`: the output it cannot show is still recorded; the code is the job's.
    for (stdout, stderr) in [
        (Closed, Captured),
        (Full, Captured),
        (Captured, Full),
        (Full, Full),
        (Closed, Closed),
    ] {
        let out = cronbox_to(&["run", "talker", "--config", config], stdout, stderr, &[]);
        let said = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "run, stdout {stdout:?}, stderr {stderr:?}: {said}"
        );
        assert!(!said.contains("panicked"), "{said}");
    }
    let runs = env.sql("SELECT count(*) FROM runs WHERE status = 'succeeded'");
    assert_eq!(runs, "5\n");
    let logs = cronbox(&["logs", "1", "--database", db]);
    assert!(
        text(&logs.stdout).ends_with("200000\n"),
        "the end of the output is stored"
    );

    let commands: [&[&str]; 5] = [
        &["check", "--config", config],
        &["history", "--database", db],
        &["history", "--json", "--database", db],
        &["logs", "1", "--database", db],
        &["--help"],
    ];
    for args in commands {
        let what = args.join(" ");
        // A reader that went away: stop quietly, exit 0.
        let closed = cronbox_to(args, Closed, Captured, &[]);
        let said = text(&closed.stderr);
        assert_eq!(closed.status.code(), Some(0), "{what} | (closed): {said}");
        assert!(
            !said.contains("panicked") && !said.contains("cannot write"),
            "{what}: {said}"
        );
        // A full disk: exit 1, and say so.
        let full = cronbox_to(args, Full, Captured, &[]);
        let said = text(&full.stderr);
        assert_eq!(full.status.code(), Some(1), "{what} > /dev/full: {said}");
        assert!(
            said.contains("cannot write to standard output"),
            "{what}: {said}"
        );
        assert!(!said.contains("panicked"), "{what}: {said}");
        // Nowhere to say it: the exit code still tells.
        for stderr in [Full, Closed] {
            let both = cronbox_to(args, Full, stderr, &[]);
            assert_eq!(
                both.status.code(),
                Some(1),
                "{what} > /dev/full, stderr {stderr:?}"
            );
        }
        // stderr failing alone changes nothing for the output (logs writes the
        // job's stderr there: that is output it could not write, exit 1).
        for stderr in [Full, Closed] {
            let out = cronbox_to(args, Captured, stderr, &[]);
            let want = if args[0] == "logs" { 1 } else { 0 };
            assert_eq!(out.status.code(), Some(want), "{what} 2> {stderr:?}");
            assert!(
                !out.stdout.is_empty(),
                "{what} 2> {stderr:?}: stdout still written"
            );
        }
    }
    // An error that cannot be said still exits with its code.
    for stderr in [Full, Closed] {
        let missing = cronbox_to(
            &["check", "--config", "/nonexistent/cronbox.toml"],
            Captured,
            stderr,
            &[],
        );
        assert_eq!(missing.status.code(), Some(2), "stderr {stderr:?}");
        let usage = cronbox_to(&["history", "--limit", "many"], Captured, stderr, &[]);
        assert_eq!(usage.status.code(), Some(2), "stderr {stderr:?}");
    }
    assert!(env.containers_gone().await);
}

/// Issue 8, item 17: `CRONBOX_LOG=bollard::docker=debug` is more specific than a
/// built-in `bollard=info` and used to log container bodies with the job's
/// environment. No filter may let bollard log below info.
#[tokio::test]
async fn no_log_filter_shows_a_jobs_environment() {
    common::engine().await;
    let secret = "s3cr3t-value-8e1f";
    let env = TestEnv::new(&format!(
        r#"
[jobs.quiet]
schedule = "@daily"
image = "IMAGE"
command = ["true"]
env = {{ API_TOKEN = "{secret}" }}
"#
    ));
    let config = env.config_path.to_str().expect("utf-8");
    for filter in [
        "bollard::docker=debug,trace",
        "bollard=trace,bollard::docker=trace,bollard::read=trace,trace",
        "trace",
    ] {
        let out = cronbox_to(
            &["run", "quiet", "--config", config],
            Sink::Captured,
            Sink::Captured,
            &[("CRONBOX_LOG", filter)],
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "CRONBOX_LOG={filter}: {stderr}");
        // The filter was in force: trace events of other crates were written.
        assert!(stderr.contains("TRACE"), "CRONBOX_LOG={filter}: {stderr}");
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "CRONBOX_LOG={filter} logged the job's environment"
        );
    }
    assert!(env.containers_gone().await);
}

/// `cronbox ARGS` as the unprivileged user nobody (uid and gid 65534, no groups).
fn cronbox_as_nobody(args: &[&str]) -> Output {
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n"),
        "this test switches to an unprivileged user: run it as root"
    );
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_DATABASE")
        .env_remove("CRONBOX_LOG")
        .output()
        .expect("run setpriv (util-linux)")
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Issue 8, item 19: a user who may read the database but not write it or its
/// directory reads `history` and `logs`, whether the daemon has the file open
/// (its -wal and -shm exist) or not (they do not, and cannot be created).
#[tokio::test]
async fn history_and_logs_work_for_a_user_who_cannot_write_the_database() {
    let env = TestEnv::new(
        r#"
[jobs.hello]
schedule = "@daily"
image = "IMAGE"
command = ["echo", "hello from the job"]
"#,
    );
    let ctx = env.context().await;
    common::run_once_in(&env, &ctx).await;
    ctx.store.close().await;
    let db = env.db_path.to_str().expect("utf-8");
    let side = |suffix: &str| std::path::PathBuf::from(format!("{db}{suffix}"));
    assert!(
        !side("-wal").exists() && !side("-shm").exists(),
        "closed: no -wal, no -shm"
    );
    // Readable by all, writable by root only: the file and its directory.
    chmod(env.dir.path(), 0o755);
    chmod(&env.db_path, 0o644);
    let before = std::fs::read(&env.db_path).expect("db");

    let read_all = |when: &str| {
        let history = cronbox_as_nobody(&["history", "--database", db]);
        let said = text(&history.stderr);
        assert_eq!(history.status.code(), Some(0), "{when}: {said}");
        assert!(
            text(&history.stdout)
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains("hello") && l.contains("succeeded")),
            "{when}: {}",
            text(&history.stdout)
        );
        let logs = cronbox_as_nobody(&["logs", "1", "--database", db]);
        assert_eq!(
            logs.status.code(),
            Some(0),
            "{when}: {}",
            text(&logs.stderr)
        );
        assert_eq!(text(&logs.stdout), "hello from the job\n", "{when}");
    };
    read_all("no writer");
    assert!(!side("-wal").exists(), "the reader created nothing");
    assert!(
        std::fs::read(&env.db_path).expect("db") == before,
        "the reader changed nothing"
    );

    // A writer has the file open, as the daemon does: -wal and -shm exist (root's, 0644).
    let writer = env.store().await;
    assert!(writer.history(None, 1).await.expect("read").len() == 1);
    assert!(side("-shm").exists(), "a writer's -shm");
    read_all("while a writer has it open");
    writer.close().await;
}

/// Issue 8, item 19: a locked database says SQLite's message once, and advice
/// about the lock rather than about the directory.
#[tokio::test]
async fn a_locked_database_is_said_once_with_advice_about_the_lock() {
    let env = TestEnv::new("");
    env.store().await.close().await;
    let db = env.db_path.to_str().expect("utf-8");
    // A sqlite3 shell holding an exclusive lock (exclusive locking mode: in WAL
    // mode only that keeps readers out), until its stdin closes. It waits for
    // the probes below to let go rather than fail to take the lock.
    let mut holder = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sqlite3");
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().expect("stdin");
        stdin
            .write_all(
                b".timeout 60000\nPRAGMA locking_mode=EXCLUSIVE;\nBEGIN EXCLUSIVE;\nSELECT count(*) FROM runs;\n",
            )
            .expect("write to sqlite3");
        stdin.flush().expect("flush");
    }
    // Wait (bounded) until another reader finds the lock.
    let locked = (0..600).any(|_| {
        let probe = Command::new("sqlite3")
            .args(["-cmd", ".timeout 0", db, "SELECT count(*) FROM runs"])
            .output()
            .expect("sqlite3");
        let busy = text(&probe.stderr).contains("locked");
        if !busy {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        busy
    });
    assert!(locked, "sqlite3 never took the lock");

    let history = cronbox(&["history", "--database", db]);
    drop(holder.stdin.take());
    let status = holder.wait().expect("sqlite3 ends");
    assert!(status.success());
    let said = text(&history.stderr);
    assert_eq!(history.status.code(), Some(1), "{said}");
    assert_eq!(said.matches("database is locked").count(), 1, "{said}");
    assert!(said.contains("another process holds a lock"), "{said}");
    assert!(!said.contains("directory"), "{said}");
}

/// Issue 8, item 20: `run` exits 0 when the run succeeded, a code listed in
/// success_exit_codes included; else with the last attempt's own exit code; and
/// 1 when the last attempt has none of its own (a timeout).
#[tokio::test]
async fn run_exits_0_for_a_success_code_the_jobs_code_on_failure_and_1_on_timeout() {
    common::engine().await;
    let env = TestEnv::new(
        r#"
[jobs.listed]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "exit 3"]
success_exit_codes = [3]

[jobs.five]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "exit 5"]
success_exit_codes = [3]

[jobs.slow]
schedule = "@daily"
image = "IMAGE"
command = ["sleep", "600"]
timeout = "1s"
stop_grace = "1s"
"#,
    );
    let config = env.config_path.to_str().expect("utf-8");
    for (job, want) in [("listed", 0), ("five", 5), ("slow", 1)] {
        let out = cronbox(&["run", job, "--config", config]);
        assert_eq!(
            out.status.code(),
            Some(want),
            "{job}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        env.sql("SELECT job, status, outcome, exit_code IS NOT NULL FROM history ORDER BY run_id"),
        "listed|succeeded|exited|1\nfive|failed|exited|1\nslow|failed|timeout|1\n"
    );
    assert!(env.containers_gone().await);
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
    assert!(env.containers_gone().await);
}
