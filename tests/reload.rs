//! Live reload of the real `cronbox daemon` binary, run as a subprocess on a real
//! engine and database: SIGHUP applies a valid change, a file saved on disk is
//! reloaded without a signal (debounced), an invalid file is refused with every
//! problem at file:line:col (and no value of env, env_file or secrets), and running
//! attempts keep the configuration they started with, also when their job is removed;
//! a reload keeps each job's `random_delay` offset (the fire instants the API shows).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use common::{TestEnv, wait_for_sql};

/// The `[daemon]` settings of every test: stop (not detach) on SIGTERM, so that
/// no container outlives the test.
const DAEMON: &str = r#"on_shutdown = "stop""#;

/// The daemon binary running on a test's schedule, its stderr in `daemon.log` in
/// the test's temp dir. Dropping it (a failed test) sends SIGTERM and waits, so
/// its containers are stopped; the `TestEnv` then removes any left.
struct Cronbox {
    child: Option<Child>,
    log: PathBuf,
}

impl Cronbox {
    /// Start `cronbox daemon --config FILE` and wait until its scheduler runs.
    async fn start(env: &TestEnv) -> Cronbox {
        Cronbox::start_logging(env, "info").await
    }

    async fn start_logging(env: &TestEnv, filter: &str) -> Cronbox {
        common::engine().await; // the test image is there
        let log = env.dir.path().join("daemon.log");
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_cronbox"))
            .arg("daemon")
            .arg("--config")
            .arg(&env.config_path)
            .env("CRONBOX_LOG", filter)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start cronbox daemon");
        let daemon = Cronbox {
            child: Some(child),
            log,
        };
        // Signal handlers and the file watch are in place before this line.
        daemon.wait_for_log("scheduler started", 1).await;
        daemon
    }

    fn pid(&self) -> String {
        self.child.as_ref().expect("running").id().to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Wait (bounded: about a minute) until the log holds `needle` at least `times` times.
    async fn wait_for_log(&self, needle: &str, times: usize) {
        for _ in 0..600 {
            if self.count(needle) >= times {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "waited for {needle:?} {times} time(s) in the daemon's log; it says:\n{}",
            self.log()
        );
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// SIGTERM, then wait (bounded) for the process to exit; it must exit 0.
    async fn stop(mut self) {
        let status = self.terminate().await;
        assert!(
            status.is_some_and(|s| s.success()),
            "the daemon exits 0 on SIGTERM; it ended with {status:?}; log:\n{}",
            self.log()
        );
    }

    /// SIGTERM and wait up to a minute; SIGKILL after that.
    async fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..600 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Cronbox {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            for _ in 0..300 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The schedule file of `env` with these jobs, as `TestEnv::with_daemon` writes it.
fn config_text(env: &TestEnv, jobs: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"{}\"\ntimezone = \"UTC\"\n{DAEMON}\n{}",
        env.db_path.display(),
        jobs.replace("IMAGE", common::IMAGE)
    )
}

/// Save the schedule as an editor that writes a new file and renames it over the old one.
fn replace_config(env: &TestEnv, jobs: &str) {
    let tmp = env.dir.path().join("cronbox.toml.tmp");
    std::fs::write(&tmp, config_text(env, jobs)).expect("write the new schedule");
    std::fs::rename(&tmp, &env.config_path).expect("rename it over the old one");
}

/// A job gated on a file: it waits until the test creates `GATE/open`, then prints `word`.
fn gated_job(name: &str, gate: &Path, word: &str) -> String {
    format!(
        r#"
[jobs.{name}]
schedule = "@every 1s"
image = "IMAGE"
volumes = ["{}:/gate:ro"]
command = ["sh", "-c", "while [ ! -e /gate/open ]; do sleep 0.1; done; echo {word}"]
"#,
        gate.display()
    )
}

fn every_second(name: &str, word: &str) -> String {
    format!(
        r#"
[jobs.{name}]
schedule = "@every 1s"
image = "IMAGE"
command = ["echo", "{word}"]
"#
    )
}

/// Runs of `job` with `status`.
fn runs(env: &TestEnv, job: &str, status: &str) -> u64 {
    env.sql(&format!(
        "SELECT count(*) FROM runs WHERE job = '{job}' AND status = '{status}'"
    ))
    .trim()
    .parse()
    .expect("a count")
}

/// Every run of `job`, whatever its status (skipped ticks included).
fn all_runs(env: &TestEnv, job: &str) -> u64 {
    env.sql(&format!("SELECT count(*) FROM runs WHERE job = '{job}'"))
        .trim()
        .parse()
        .expect("a count")
}

/// Wait until `job` has at least `n` succeeded runs.
async fn wait_succeeded(env: &TestEnv, job: &str, n: u64) {
    wait_for_sql(
        env,
        &format!("SELECT count(*) >= {n} FROM runs WHERE job = '{job}' AND status = 'succeeded'"),
        "1\n",
    )
    .await;
}

/// What the (only) attempt of run `run_id` wrote to stdout.
fn stdout_of(env: &TestEnv, run_id: &str) -> String {
    let mut printed = env.sql(&format!(
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM (
           SELECT o.data FROM output o JOIN attempts a ON a.id = o.attempt_id
           WHERE a.run_id = {run_id} AND o.stream = 'stdout' ORDER BY o.seq)"
    ));
    // sqlite3 ends each row with a newline of its own.
    printed.pop();
    printed
}

/// The run of `job` whose attempt is under way, once there is one.
async fn running_run(env: &TestEnv, job: &str) -> String {
    let query = format!(
        "SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id
         WHERE r.job = '{job}' AND a.outcome = 'running'"
    );
    wait_for_sql(env, &query, "1\n").await;
    env.sql(&format!(
        "SELECT r.id FROM attempts a JOIN runs r ON r.id = a.run_id
         WHERE r.job = '{job}' AND a.outcome = 'running'"
    ))
    .trim()
    .to_owned()
}

/// Show that `removed` no longer fires: once the reload has surely been planned
/// (`beat` ran twice more), `removed` gets no new row, not even a skipped tick,
/// while `beat` runs three times more.
async fn assert_stopped_firing(env: &TestEnv, removed: &str, beat: &str) {
    let before = runs(env, beat, "succeeded");
    wait_succeeded(env, beat, before + 2).await;
    let rows = all_runs(env, removed);
    let before = runs(env, beat, "succeeded");
    wait_succeeded(env, beat, before + 3).await;
    assert_eq!(
        all_runs(env, removed),
        rows,
        "the removed job {removed} fired after the reload:\n{}",
        env.sql(&format!(
            "SELECT id, status, scheduled_at FROM runs WHERE job = '{removed}'"
        ))
    );
}

async fn assert_no_container_left(env: &TestEnv) {
    assert!(
        env.containers_gone().await,
        "no container is left after the daemon stops"
    );
}

#[tokio::test]
async fn sighup_applies_a_valid_change_adds_removes_and_replans_jobs() {
    let env = TestEnv::with_daemon(
        DAEMON,
        &format!(
            "{}{}{}",
            every_second("keep", "keep"),
            every_second("gone", "gone"),
            r#"
[jobs.later]
schedule = "@every 1h"
image = "IMAGE"
command = ["echo", "later"]
"#
        ),
    );
    let daemon = Cronbox::start(&env).await;
    wait_succeeded(&env, "keep", 1).await;
    wait_succeeded(&env, "gone", 1).await;

    // `gone` removed, `added` added, `later` rescheduled from hourly to every second.
    replace_config(
        &env,
        &format!(
            "{}{}{}",
            every_second("keep", "keep"),
            every_second("later", "later"),
            every_second("added", "added"),
        ),
    );
    daemon.signal("HUP");
    daemon
        .wait_for_log("reload (SIGHUP): schedule file valid", 1)
        .await;
    let log = daemon.log();
    assert!(
        log.contains("added=added removed=gone rescheduled=later changed=-"),
        "the reload names what it changes:\n{log}"
    );

    wait_succeeded(&env, "added", 2).await;
    wait_succeeded(&env, "later", 2).await;
    // The last run of `gone` (fired before the reload) finishes and is recorded.
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE job = 'gone' AND status = 'running'",
        "0\n",
    )
    .await;
    assert_stopped_firing(&env, "gone", "keep").await;
    assert_eq!(daemon.count("refused"), 0, "{}", daemon.log());

    daemon.stop().await;
    assert_no_container_left(&env).await;
}

#[tokio::test]
async fn a_file_saved_on_disk_is_reloaded_without_a_signal_once_per_save() {
    let env = TestEnv::with_daemon(DAEMON, &every_second("first", "first"));
    let daemon = Cronbox::start_logging(&env, "info,cronbox::cli::daemon=debug").await;
    assert!(
        daemon.log().contains("watching the schedule file"),
        "{}",
        daemon.log()
    );
    wait_succeeded(&env, "first", 1).await;

    // Saved in place, in two writes: the half-written file (invalid TOML) is
    // never read, as the reload waits for the file to be quiet.
    let text = config_text(
        &env,
        &format!(
            "{}{}",
            every_second("first", "first"),
            every_second("second", "second")
        ),
    );
    let (head, tail) = text.split_at(text.len() - 20);
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&env.config_path).expect("open the schedule");
        file.write_all(head.as_bytes()).expect("write");
        file.flush().expect("flush");
        file.write_all(tail.as_bytes()).expect("write");
    }
    wait_succeeded(&env, "second", 1).await;
    assert_eq!(
        daemon.count("reload (file changed): schedule file valid"),
        1,
        "one save, one reload:\n{}",
        daemon.log()
    );

    // Saved by writing a new file and renaming it over the old one (vim, sed -i, ...).
    replace_config(
        &env,
        &format!(
            "{}{}",
            every_second("first", "first"),
            every_second("third", "third")
        ),
    );
    wait_succeeded(&env, "third", 1).await;
    daemon
        .wait_for_log("reload (file changed): schedule file valid", 2)
        .await;

    // Saved again without a change: looked at, not reloaded.
    let unchanged = "its content is unchanged; nothing to reload";
    let looked = daemon.count(unchanged);
    let same = std::fs::read(&env.config_path).expect("read the schedule");
    std::fs::write(&env.config_path, same).expect("write it back");
    daemon.wait_for_log(unchanged, looked + 1).await;

    let log = daemon.log();
    assert_eq!(
        log.matches("reload (file changed): schedule file valid")
            .count(),
        2,
        "{log}"
    );
    assert_eq!(log.matches("refused").count(), 0, "{log}");
    assert_eq!(log.matches("reload (SIGHUP)").count(), 0, "{log}");

    daemon.stop().await;
    assert_no_container_left(&env).await;
}

#[tokio::test]
async fn an_invalid_file_is_refused_with_every_problem_and_the_old_schedule_keeps_running() {
    let env = TestEnv::with_daemon(DAEMON, &every_second("steady", "steady"));
    let daemon = Cronbox::start(&env).await;
    wait_succeeded(&env, "steady", 1).await;

    // `steady` changed and `extra` added, but with an unknown key and a bad cron.
    let broken = config_text(
        &env,
        &format!(
            "{}{}{}",
            every_second("steady", "changed"),
            r#"
[jobs.extra]
schedule = "@every 1s"
image = "IMAGE"
colour = "red"
"#,
            r#"
[jobs.cronbad]
schedule = "61 * * * *"
image = "IMAGE"
"#
        ),
    );
    std::fs::write(&env.config_path, &broken).expect("write the broken schedule");
    daemon.signal("HUP");
    daemon
        .wait_for_log("reload (SIGHUP): schedule file refused", 1)
        .await;

    // Each problem is logged on its own line with file:line:column.
    let position = |needle: &str, column_of: &str| {
        let (index, line) = broken
            .lines()
            .enumerate()
            .find(|(_, line)| line.starts_with(needle))
            .expect("the line is in the file");
        let column = line.find(column_of).expect("the column") + 1;
        format!("{}:{}:{column}:", env.config_path.display(), index + 1)
    };
    let unknown_key = position("colour", "colour");
    let bad_cron = position("schedule = \"61", "\"61");
    daemon.wait_for_log(&bad_cron, 1).await;
    let log = daemon.log();
    let line_of = |needle: &str| {
        log.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no log line with {needle:?}:\n{log}"))
            .to_owned()
    };
    let line = line_of(&unknown_key);
    assert!(
        line.contains(r#"job "extra": unknown key "colour""#),
        "{line}"
    );
    let line = line_of(&bad_cron);
    assert!(
        line.contains(r#"job "cronbad": bad schedule "61 * * * *""#),
        "{line}"
    );
    assert!(
        line_of("schedule file refused").contains("problems=2"),
        "{log}"
    );

    // The old schedule keeps running: `steady` with its old command, no `extra`.
    let before = runs(&env, "steady", "succeeded");
    wait_succeeded(&env, "steady", before + 2).await;
    let latest = env.sql("SELECT max(id) FROM runs WHERE job = 'steady' AND status = 'succeeded'");
    assert_eq!(stdout_of(&env, latest.trim()), "steady\n");
    assert_eq!(all_runs(&env, "extra"), 0);
    assert_eq!(daemon.count("schedule file valid"), 0, "{log}");

    // Once fixed, the file applies.
    replace_config(
        &env,
        &format!(
            "{}{}",
            every_second("steady", "changed"),
            every_second("extra", "extra")
        ),
    );
    daemon.signal("HUP");
    wait_succeeded(&env, "extra", 1).await;
    wait_for_sql(
        &env,
        "SELECT count(*) >= 1 FROM output o JOIN attempts a ON a.id = o.attempt_id
         JOIN runs r ON r.id = a.run_id
         WHERE r.job = 'steady' AND CAST(o.data AS TEXT) = 'changed\n'",
        "1\n",
    )
    .await;

    daemon.stop().await;
    assert_no_container_left(&env).await;
}

#[tokio::test]
async fn a_refused_reload_logs_no_value_of_env_env_file_or_secrets() {
    let quiet = "\n[jobs.quiet]\nschedule = \"@yearly\"\nimage = \"IMAGE\"\n";
    let env = TestEnv::with_daemon(DAEMON, quiet);
    let daemon = Cronbox::start(&env).await;
    // (what is wrong, the lines of the broken schedule, a needle its problem logs).
    let broken = [
        (
            "TOML syntax errors on env lines",
            r#"
[jobs.dup]
schedule = "@yearly"
image = "IMAGE"
env = { API_KEY = "s3cr3t-one", API_KEY = "s3cr3t-two" }

[jobs.stray]
schedule = "@yearly"
image = "IMAGE"
env = { API_KEY = "s3cr3t-three" }}
"#,
            "TOML syntax error: duplicate key",
        ),
        (
            "values of the wrong type",
            r#"
[jobs.typed]
schedule = "@yearly"
image = "IMAGE"
env = { PIN = 48151623 }
env_file = 48151624
secrets = { db = 48151625 }
"#,
            "env.PIN must be a string, found an integer",
        ),
    ];
    for (times, (what, jobs, needle)) in broken.into_iter().enumerate() {
        std::fs::write(
            &env.config_path,
            config_text(&env, &format!("{quiet}{jobs}")),
        )
        .expect("write the broken schedule");
        daemon.signal("HUP");
        daemon
            .wait_for_log("reload (SIGHUP): schedule file refused", times + 1)
            .await;
        daemon.wait_for_log(needle, 1).await;
        let log = daemon.log();
        for secret in ["s3cr3t", "4815162"] {
            assert!(!log.contains(secret), "{what}: {secret} logged:\n{log}");
        }
    }
    let log = daemon.log();
    assert!(
        log.contains("env = { API_KEY = ***, API_KEY = *** }"),
        "the line is shown masked:\n{log}"
    );
    assert!(log.contains("problems=3"), "{log}");
    daemon.stop().await;
}

#[tokio::test]
async fn a_running_attempt_keeps_its_command_when_a_reload_changes_the_job() {
    let env = TestEnv::with_daemon(DAEMON, "");
    let gate = env.dir.path().join("gate");
    std::fs::create_dir(&gate).expect("gate dir");
    let old = gated_job("slow", &gate, "old");
    std::fs::write(&env.config_path, config_text(&env, &old)).expect("write the schedule");
    let daemon = Cronbox::start(&env).await;
    let run = running_run(&env, "slow").await;

    // Same job, new command, while the attempt waits at its gate.
    replace_config(
        &env,
        r#"
[jobs.slow]
schedule = "@every 1s"
image = "IMAGE"
command = ["echo", "new"]
"#,
    );
    daemon.signal("HUP");
    daemon
        .wait_for_log("reload (SIGHUP): schedule file valid", 1)
        .await;
    assert!(
        daemon.log().contains("changed=slow"),
        "the reload names the changed job:\n{}",
        daemon.log()
    );
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {run}")),
        "running\n"
    );

    std::fs::write(gate.join("open"), "").expect("open the gate");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {run}"),
        "succeeded\n",
    )
    .await;
    assert_eq!(
        stdout_of(&env, &run),
        "old\n",
        "the running attempt kept its command"
    );

    // The runs after it use the new command.
    wait_for_sql(
        &env,
        &format!(
            "SELECT count(*) >= 2 FROM runs WHERE job = 'slow' AND id > {run} AND status = 'succeeded'"
        ),
        "1\n",
    )
    .await;
    let later = env.sql(&format!(
        "SELECT id FROM runs WHERE job = 'slow' AND id > {run} AND status = 'succeeded'"
    ));
    for id in later.lines() {
        assert_eq!(stdout_of(&env, id), "new\n", "run {id}");
    }

    daemon.stop().await;
    assert_no_container_left(&env).await;
}

#[tokio::test]
async fn a_running_attempt_of_a_removed_job_finishes_and_is_recorded() {
    let env = TestEnv::with_daemon(DAEMON, "");
    let gate = env.dir.path().join("gate");
    std::fs::create_dir(&gate).expect("gate dir");
    let jobs = format!(
        "{}{}",
        every_second("beat", "beat"),
        gated_job("doomed", &gate, "doomed")
    );
    std::fs::write(&env.config_path, config_text(&env, &jobs)).expect("write the schedule");
    let daemon = Cronbox::start(&env).await;
    let run = running_run(&env, "doomed").await;

    replace_config(&env, &every_second("beat", "beat"));
    daemon.signal("HUP");
    daemon
        .wait_for_log("reload (SIGHUP): schedule file valid", 1)
        .await;
    assert!(
        daemon.log().contains("removed=doomed"),
        "the reload names the removed job:\n{}",
        daemon.log()
    );
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {run}")),
        "running\n"
    );

    std::fs::write(gate.join("open"), "").expect("open the gate");
    wait_for_sql(
        &env,
        &format!("SELECT status, attempt, outcome, exit_code FROM history WHERE run_id = {run}"),
        "succeeded|1|exited|0\n",
    )
    .await;
    assert_eq!(
        stdout_of(&env, &run),
        "doomed\n",
        "output rows: {}\ndaemon log:\n{}",
        env.sql(&format!(
            "SELECT o.stream, o.seq, o.at, quote(o.data) FROM output o JOIN attempts a ON a.id = o.attempt_id WHERE a.run_id = {run}"
        )),
        daemon.log()
    );

    // And the removed job fires no more: its only run that ran is that one.
    assert_stopped_firing(&env, "doomed", "beat").await;
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE job = 'doomed' AND status <> 'skipped'"),
        "1\n"
    );

    daemon.stop().await;
    assert_no_container_left(&env).await;
}

/// A `[daemon.http]` table on a free loopback port, and the API's base URL.
fn http_table() -> (String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    (
        format!("\n[daemon.http]\nlisten = \"127.0.0.1:{port}\"\n"),
        format!("http://127.0.0.1:{port}/api/v1"),
    )
}

/// A daily job at 03:00 shifted by up to 12 hours, running `command`.
fn spread_job(name: &str, command: &str) -> String {
    format!(
        r#"
[jobs.{name}]
schedule = "0 3 * * *"
image = "IMAGE"
command = ["{command}"]
random_delay = "12h"
"#
    )
}

/// The daemon's `/jobs`, as (name, next fire instants, next ticks, offset) per
/// job, polled (bounded: about a minute) until it lists `want` jobs.
async fn planned_jobs(base: &str, want: usize) -> Vec<(String, String, String, String)> {
    // reqwest's rustls needs its provider before any client is built.
    cronbox::notify::http::install_tls_provider();
    let mut last = String::new();
    for _ in 0..600 {
        if let Ok(response) = reqwest::get(format!("{base}/jobs")).await
            && let Ok(jobs) = response.json::<serde_json::Value>().await
        {
            last = jobs.to_string();
            let jobs = jobs.as_array().cloned().unwrap_or_default();
            if jobs.len() == want {
                let mut rows: Vec<_> = jobs
                    .iter()
                    .map(|job| {
                        (
                            job["name"].to_string(),
                            job["next"].to_string(),
                            job["next_ticks"].to_string(),
                            job["fire_offset_seconds"].to_string(),
                        )
                    })
                    .collect();
                rows.sort();
                return rows;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the API did not list {want} jobs within a minute; last answer: {last}");
}

/// Regression guard for issue 14: each job's `random_delay` offset comes from
/// its name and the database's seed, so a reload (SIGHUP) that changes the
/// schedule file keeps every kept job's fire instants.
#[tokio::test]
async fn sighup_keeps_each_jobs_random_delay_offset_and_fire_instants() {
    let (http, base) = http_table();
    let jobs = format!(
        "{http}{}{}",
        spread_job("alpha", "true"),
        spread_job("beta", "true")
    );
    let env = TestEnv::with_daemon(DAEMON, &jobs);
    let daemon = Cronbox::start(&env).await;
    let before = planned_jobs(&base, 2).await;
    assert!(
        before.iter().any(|(_, next, ticks, _)| next != ticks),
        "random_delay shifts the fire instants from the ticks: {before:?}"
    );

    // alpha's command changes; gamma is added.
    replace_config(
        &env,
        &format!(
            "{http}{}{}{}",
            spread_job("alpha", "date"),
            spread_job("beta", "true"),
            spread_job("gamma", "true")
        ),
    );
    daemon.signal("HUP");
    daemon
        .wait_for_log("reload (SIGHUP): schedule file valid", 1)
        .await;
    let after = planned_jobs(&base, 3).await;
    assert_eq!(
        after[..2],
        before[..],
        "alpha and beta keep their offsets and fire instants across the reload"
    );
    assert_eq!(after[2].0, "\"gamma\"", "the reload was applied: {after:?}");
    assert_eq!(daemon.count("refused"), 0, "{}", daemon.log());

    daemon.stop().await;
    assert_no_container_left(&env).await;
}
