//! cronbox against Podman (issue 14): the real binary, its `[daemon] engine`
//! set to the socket of a `podman system service` the test owns (see
//! `tests/support/podman.rs`), never the shared Docker engine. `check` reading
//! the host's limits from Podman, a succeeding (resource-limited) and a failing
//! job with retries, output kept apart by stream, a timeout, and a container
//! adopted after a SIGKILL of the daemon. Where Podman cannot run
//! (no podman, not root, a service that does not answer) each test says why on
//! stderr ("SKIPPED: ...") and checks nothing.

mod common;

#[path = "support/podman.rs"]
mod podman;

use common::{TestEnv, wait_for_sql};
use podman::Podman;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Where Podman looks for the init it runs for `Init=true`.
const CATATONIT: &str = "/usr/libexec/podman/catatonit";

/// The test image inside Podman (its own storage: no clash with Docker's).
const IMAGE: &str = "cronbox-podman/busybox:1";

/// Podman with the test image, or `None` (the reason said) where it cannot run.
async fn podman() -> Option<Podman> {
    let rootfs = common::fixtures::busybox_rootfs(Path::new("/bin/busybox"))
        .expect("read /bin/busybox (install Debian's busybox-static; scripts/dev.sh does)");
    Podman::start(IMAGE, rootfs).await
}

/// A schedule whose `[daemon] engine` is `podman`'s socket, with `jobs`
/// (the word IMAGE stands for the Podman test image).
fn env(podman: &Podman, jobs: &str) -> TestEnv {
    TestEnv::with_daemon(
        &format!("engine = \"{}\"", podman.host()),
        &jobs.replace("IMAGE", IMAGE),
    )
}

/// `cronbox ARGS --config FILE`, run to its end.
fn cronbox(env: &TestEnv, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .arg("--config")
        .arg(&env.config_path)
        .env_remove("DOCKER_HOST")
        .env("CRONBOX_LOG", "info")
        .output()
        .expect("run cronbox")
}

/// The containers of `env`'s database still on `podman`.
async fn leftovers(podman: &Podman, env: &TestEnv) -> Vec<cronbox::engine::Found> {
    podman
        .engine()
        .containers_labelled(cronbox::engine::LABEL_DB, &env.db_label())
        .await
        .expect("list Podman's containers")
}

/// The stdout and stderr of attempt `attempt` of run `run`, as stored.
fn output(env: &TestEnv, run: u32, attempt: u32, stream: &str) -> String {
    env.sql(&format!(
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT o.data FROM output o \
         JOIN attempts a ON a.id = o.attempt_id \
         WHERE a.run_id = {run} AND a.attempt = {attempt} AND o.stream = '{stream}' ORDER BY o.seq)"
    ))
}

#[tokio::test]
async fn a_succeeding_and_a_failing_job_run_on_podman_with_retries_and_output_apart() {
    let Some(podman) = podman().await else { return };
    let env = env(
        &podman,
        r#"
[jobs.ok]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo to stdout; echo to stderr >&2"]
network = "none"
memory = "64MiB"
cpus = 0.5
pids_limit = 64

[jobs.flaky]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo trying; echo broken >&2; exit 3"]
network = "none"
retries = 2
backoff = "1s"
"#,
    );
    // `check` reads the limits the host enforces from Podman's /info: no
    // warning that it cannot reach the engine or enforce the job's limits.
    let check = cronbox(&env, &["check"]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "cronbox check: {said}");
    assert!(!said.contains("warning"), "cronbox check warns: {said}");

    let ok = cronbox(&env, &["run", "ok"]);
    assert!(
        ok.status.success(),
        "cronbox run ok: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let flaky = cronbox(&env, &["run", "flaky"]);
    assert!(!flaky.status.success(), "a failed run fails `cronbox run`");

    assert_eq!(
        env.sql("SELECT id, job, status FROM runs ORDER BY id"),
        "1|ok|succeeded\n2|flaky|failed\n"
    );
    assert_eq!(
        env.sql(
            "SELECT run_id, attempt, outcome, exit_code FROM attempts ORDER BY run_id, attempt"
        ),
        "1|1|exited|0\n2|1|exited|3\n2|2|exited|3\n2|3|exited|3\n",
        "the failure is retried twice, each attempt with Podman's exit code"
    );
    assert_eq!(output(&env, 1, 1, "stdout"), "to stdout\n\n");
    assert_eq!(output(&env, 1, 1, "stderr"), "to stderr\n\n");
    for attempt in 1..=3 {
        assert_eq!(output(&env, 2, attempt, "stdout"), "trying\n\n");
        assert_eq!(output(&env, 2, attempt, "stderr"), "broken\n\n");
    }
    assert!(
        leftovers(&podman, &env).await.is_empty(),
        "every attempt's container is removed from Podman"
    );
}

#[tokio::test]
async fn a_job_past_its_timeout_on_podman_is_stopped_by_its_stop_signal() {
    let Some(podman) = podman().await else { return };
    let env = env(
        &podman,
        r#"
[jobs.sleepy]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo started; sleep 600"]
network = "none"
timeout = "2s"
stop_grace = "5s"
"#,
    );
    let run = cronbox(&env, &["run", "sleepy"]);
    assert!(!run.status.success(), "a timed-out run fails");
    // 143 = 128 + SIGTERM: Podman's init (catatonit) passed the stop signal on
    // and the shell died of it. Without catatonit cronbox creates the container
    // without an init (see the README), the shell is PID 1, which ignores
    // SIGTERM, and the grace ends in SIGKILL (137).
    let (want, stderr) = if Path::new(CATATONIT).exists() {
        (143, "")
    } else {
        (137, "no init binary")
    };
    assert_eq!(
        env.sql("SELECT outcome, exit_code FROM attempts"),
        format!("timeout|{want}\n")
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains(stderr));
    assert_eq!(output(&env, 1, 1, "stdout"), "started\n\n");
    assert!(leftovers(&podman, &env).await.is_empty());
}

/// `cronbox daemon` on `env`, its log in `log`.
fn daemon(env: &TestEnv, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .arg("daemon")
        .arg("--config")
        .arg(&env.config_path)
        .env_remove("DOCKER_HOST")
        .env("CRONBOX_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("cronbox daemon")
}

fn kill(child: &mut Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal}");
}

#[tokio::test]
async fn a_podman_container_outlives_a_sigkilled_daemon_and_the_next_one_adopts_it() {
    let Some(podman) = podman().await else { return };
    // The first tick comes within 20 s of the start; only its run is looked at
    // (later ticks' containers go with the Podman service).
    let env = env(
        &podman,
        r#"
[jobs.backup]
schedule = "@every 20s"
image = "IMAGE"
command = ["sh", "-c", "echo before; sleep 6; echo after >&2; exit 7"]
network = "none"
"#,
    );
    let log = env.dir.path().join("daemon.log");
    let mut first = daemon(&env, &log);
    wait_for_sql(
        &env,
        "SELECT CAST(data AS TEXT) FROM output WHERE attempt_id = 1 AND stream = 'stdout'",
        "before\n\n",
    )
    .await;
    kill(&mut first, "-KILL");
    let _ = first.wait();
    let running = leftovers(&podman, &env).await;
    assert!(
        running.iter().any(|c| c.running),
        "the container runs on without the daemon: {running:?}"
    );

    let log = env.dir.path().join("daemon-2.log");
    let mut second = daemon(&env, &log);
    wait_for_sql(&env, "SELECT status FROM runs WHERE id = 1", "failed\n").await;
    kill(&mut second, "-TERM");
    let _ = second.wait();
    assert_eq!(
        env.sql("SELECT attempt, outcome, exit_code FROM attempts WHERE run_id = 1"),
        "1|exited|7\n",
        "the adopted attempt keeps the exit code Podman recorded; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(
        output(&env, 1, 1, "stdout"),
        "before\n\n",
        "once, not twice"
    );
    assert_eq!(output(&env, 1, 1, "stderr"), "after\n\n");
}

/// `cronbox engine-ping --config FILE` (what the Debian package's postinst
/// runs) with `DOCKER_HOST` set to `docker_host`.
fn engine_ping(env: &TestEnv, docker_host: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(["engine-ping", "--wait", "30", "--config"])
        .arg(&env.config_path)
        .env("DOCKER_HOST", docker_host)
        .output()
        .expect("run cronbox engine-ping")
}

/// Regression: the package's postinst asked `$DOCKER_HOST` or Docker's socket
/// whether an engine answers, so on a Podman-only box (`[daemon] engine` set
/// to Podman's socket) it never started the service, and on a box with both it
/// asked the wrong one.
#[tokio::test]
async fn engine_ping_asks_the_engine_the_schedule_file_names() {
    let Some(podman) = podman().await else { return };
    let no_docker = "unix:///nonexistent/docker.sock";
    let on_podman = env(&podman, "");
    let ping = engine_ping(&on_podman, no_docker);
    assert!(
        ping.status.success(),
        "[daemon] engine names Podman's socket, which answers; $DOCKER_HOST is not asked: {}",
        String::from_utf8_lossy(&ping.stderr)
    );

    let missing = on_podman.dir.path().join("gone/podman.sock");
    let elsewhere = TestEnv::with_daemon(&format!("engine = \"unix://{}\"", missing.display()), "");
    let ping = engine_ping(&elsewhere, &podman.host());
    let said = String::from_utf8_lossy(&ping.stderr);
    assert_eq!(
        ping.status.code(),
        Some(1),
        "[daemon] engine names a missing socket; $DOCKER_HOST (Podman, answering) is not asked: {said}"
    );
    assert!(
        said.contains(&format!("the engine at unix://{}", missing.display())),
        "the message names the engine asked: {said}"
    );

    // Without `[daemon] engine`, $DOCKER_HOST, as the daemon.
    let default = TestEnv::new("");
    let ping = engine_ping(&default, &podman.host());
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stderr)
    );
}
