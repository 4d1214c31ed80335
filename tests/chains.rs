//! Job chains (`after`) on a real engine and a real database: a parent's end
//! starts its children as `on` says, once, after the parent's last attempt, with
//! the parent in their environment and their record; a child recorded while no
//! daemon ran, or by a daemon killed before it started it, runs once at the next
//! start; a child obeys its job's `concurrency` as a tick does (`forbid`:
//! skipped while a run of the job goes, here or in a `cronbox run`; `replace`:
//! started once the run it replaces has exited).

mod common;

use common::subprocess::{cronbox, daemon, daemon_with, kill, wait_for_log};
use common::{Daemon, TestEnv, wait_for_sql};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

/// Prints the parent it was started by.
const SAY_PARENT: &str = r#"command = ["sh", "-c", "echo $CRONBOX_PARENT_JOB $CRONBOX_PARENT_RUN_ID $CRONBOX_PARENT_STATUS"]"#;

fn chain_jobs() -> String {
    format!(
        r#"
[jobs.good]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]

[jobs.bad]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "exit 3"]
retries = 1
backoff = "1s"

[jobs.after-good]
after = {{ job = "good" }}
image = "IMAGE"
{SAY_PARENT}

[jobs.after-bad-success]
after = {{ job = "bad", on = "success" }}
image = "IMAGE"
{SAY_PARENT}

[jobs.after-bad-failure]
after = {{ job = "bad", on = "failure" }}
image = "IMAGE"
{SAY_PARENT}

[jobs.after-both]
after = [{{ job = "good", on = "always" }}, {{ job = "bad", on = "always" }}]
image = "IMAGE"
{SAY_PARENT}
"#
    )
}

/// What run `id` printed on stdout.
fn stdout_of(env: &TestEnv, id: &str) -> String {
    env.sql(&format!(
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT o.data FROM output o \
         JOIN attempts a ON a.id = o.attempt_id WHERE a.run_id = {id} AND o.stream = 'stdout' \
         ORDER BY a.attempt, o.seq)"
    ))
}

#[tokio::test]
async fn a_parents_end_starts_each_matching_child_once_with_the_parent_in_its_env() {
    let env = TestEnv::new(&chain_jobs());
    let (daemon, handle) = Daemon::start_controlled(
        &env,
        Arc::new(cronbox::clock::SystemClock),
        common::engine().await,
    )
    .await;
    let good = handle.run_now("good", Vec::new()).await.expect("good runs");
    let bad = handle.run_now("bad", Vec::new()).await.expect("bad runs");
    // good: after-good and after-both; bad (after its retry): after-bad-failure, after-both.
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE trigger = 'after' AND status = 'succeeded'",
        "4\n",
    )
    .await;
    // Nothing else comes: the success child of bad, or a second start.
    tokio::time::sleep(Duration::from_secs(6)).await;
    daemon.stop().await;

    let children = env.sql(
        "SELECT job, parent_run_id, status FROM runs WHERE trigger = 'after' ORDER BY job, parent_run_id",
    );
    assert_eq!(
        children,
        format!(
            "after-bad-failure|{bad}|succeeded\nafter-both|{good}|succeeded\nafter-both|{bad}|succeeded\nafter-good|{good}|succeeded\n"
        )
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT count(*), max(a.attempt) FROM attempts a WHERE a.run_id = {bad}"
        )),
        "2|2\n",
        "the parent retried once before its children started"
    );
    let started_after_last_attempt = env.sql(&format!(
        "SELECT count(*) FROM runs c, attempts a WHERE c.parent_run_id = {bad} \
         AND a.run_id = {bad} AND a.attempt = 2 AND c.started_at < a.finished_at"
    ));
    assert_eq!(started_after_last_attempt, "0\n");
    for (job, parent, says) in [
        ("after-good", good, format!("good {good} succeeded\n\n")),
        ("after-bad-failure", bad, format!("bad {bad} failed\n\n")),
        ("after-both", bad, format!("bad {bad} failed\n\n")),
    ] {
        let id = env.sql(&format!(
            "SELECT id FROM runs WHERE job = '{job}' AND parent_run_id = {parent}"
        ));
        assert_eq!(stdout_of(&env, id.trim()), says, "{job}");
    }
    // The history says what started each child.
    let history = cronbox(&env, &["history", "after-good"]);
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(history.contains(&format!("after #{good}")), "{history}");
    assert!(env.containers_gone().await, "a container was left behind");
}

fn count_dir(env: &TestEnv) -> PathBuf {
    let count = env.dir.path().join("count");
    std::fs::create_dir_all(&count).expect("count dir");
    count
}

/// Run the parent once with `cronbox run` (its own process, trigger manual).
fn run_parent(env: &TestEnv) {
    let run = cronbox(env, &["run", "parent"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The child ran exactly once, to success, after the one parent run, and the
/// daemon shuts down cleanly leaving nothing behind.
async fn child_ran_once(env: &TestEnv, count: &Path, mut daemon: Child) {
    wait_for_sql(
        env,
        "SELECT count(*) FROM runs WHERE job = 'child' AND status = 'succeeded'",
        "1\n",
    )
    .await;
    let kill = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    assert!(daemon.wait().expect("wait").success());
    assert_eq!(
        env.sql("SELECT r.job, r.status, coalesce(r.parent_run_id = p.id, 0) FROM runs r, runs p WHERE p.job = 'parent' ORDER BY r.id"),
        "parent|succeeded|0\nchild|succeeded|1\n"
    );
    let executions = std::fs::read_to_string(count.join("runs")).unwrap_or_default();
    assert_eq!(
        executions.lines().count(),
        1,
        "the child executed once: {executions}"
    );
    assert!(env.containers_gone().await, "a container was left behind");
}

#[tokio::test]
async fn a_kill_between_the_parents_end_and_the_childs_start_still_runs_the_child_once() {
    common::engine().await;
    let probe = TestEnv::new("");
    let env = TestEnv::new(&policy_jobs(&count_dir(&probe), "forbid", "true"));
    let count = count_dir(&probe);
    let first_log = env.dir.path().join("first.log");
    let first = daemon_with(
        &env,
        &first_log,
        &[("CRONBOX_TEST_PAUSE_AT", "before-chained-start")],
    );
    wait_for_log(&first_log, "scheduler started").await;
    run_parent(&env);
    // The daemon finds the child the parent's end recorded, claims it, and dies.
    wait_for_log(&first_log, "test pause at before-chained-start").await;
    kill(first);
    assert_eq!(
        env.sql(
            "SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'child'"
        ),
        "0\n",
        "killed before the child's first attempt"
    );
    let second = daemon(&env, &env.dir.path().join("second.log"));
    child_ran_once(&env, &count, second).await;
}

#[tokio::test]
async fn a_child_recorded_while_no_daemon_ran_starts_at_the_next_start() {
    common::engine().await;
    let probe = TestEnv::new("");
    let env = TestEnv::new(&policy_jobs(&count_dir(&probe), "forbid", "true"));
    let count = count_dir(&probe);
    run_parent(&env);
    assert_eq!(
        env.sql("SELECT job, trigger, status, pid IS NULL FROM runs WHERE job = 'child'"),
        "child|after|running|1\n",
        "the parent's end recorded its child, for a daemon to start"
    );
    let log = env.dir.path().join("daemon.log");
    let started = daemon(&env, &log);
    child_ran_once(&env, &count, started).await;
    // Logged as what it is, with its parent, not as a repair.
    let parent = env.sql("SELECT id FROM runs WHERE job = 'parent'");
    let log = std::fs::read_to_string(&log).expect("log");
    let line = log
        .lines()
        .find(|line| line.contains("starting a chained run"))
        .unwrap_or_else(|| panic!("no chained run logged:\n{log}"));
    assert!(
        line.contains("job=child") && line.contains(&format!("parent_run={}", parent.trim())),
        "{line}"
    );
    assert!(!log.contains("repair: resuming"), "{log}");
}

#[test]
fn check_and_next_say_what_starts_a_chained_job_instead_of_a_time() {
    let env = TestEnv::new(&chain_jobs());
    let check = cronbox(&env, &["check"]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}");
    let row = out
        .lines()
        .find(|line| line.starts_with("after-both "))
        .unwrap_or_else(|| panic!("no row for after-both:\n{out}"));
    assert!(row.ends_with("after good ends, after bad ends"), "{row:?}");
    let next = cronbox(&env, &["next", "--job", "after-bad-failure"]);
    assert!(
        next.status.success(),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&next.stdout),
        "after bad fails  after-bad-failure\n"
    );
    let json = cronbox(&env, &["next", "--json", "--count", "1"]);
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(
        json.contains(r#"{"job":"after-good","started_by":"after good succeeds"}"#),
        "{json}"
    );
    assert!(json.contains(r#""job":"good","time""#), "{json}");
}

#[test]
fn a_cycle_or_an_unknown_parent_is_refused_with_the_jobs_line_and_column() {
    let env = TestEnv::new(
        "[jobs.a]\nafter = { job = \"b\" }\nimage = \"IMAGE\"\n\n[jobs.b]\nafter = { job = \"a\" }\nimage = \"IMAGE\"\n\n\
         [jobs.c]\nafter = { job = \"nope\" }\nimage = \"IMAGE\"\n",
    );
    let check = cronbox(&env, &["check"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{err}");
    let path = env.config_path.display().to_string();
    // The [daemon] header TestEnv writes takes 3 lines plus one blank.
    for expected in [
        format!("{path}:6:9: job \"a\": the jobs \"a\" after \"b\" after \"a\" form a cycle"),
        format!("{path}:10:9: job \"b\": the jobs \"a\" after \"b\" after \"a\" form a cycle"),
        format!(
            "{path}:14:17: job \"c\": after.job names \"nope\", which is not a job of this file"
        ),
    ] {
        assert!(err.contains(&expected), "{expected}\nnot in:\n{err}");
    }
}

/// A parent run by hand, and a child of concurrency `policy` that adds its
/// container's hostname to `count`/runs, then runs `child_command` (shell).
fn policy_jobs(count: &Path, policy: &str, child_command: &str) -> String {
    format!(
        r#"
[jobs.parent]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]

[jobs.child]
after = {{ job = "parent" }}
image = "IMAGE"
concurrency = "{policy}"
command = ["sh", "-c", "echo $HOSTNAME >> /count/runs; {child_command}"]
volumes = ["{}:/count"]
"#,
        count.display()
    )
}

/// `cronbox run child` in the background (its own process, trigger manual).
fn run_child_by_hand(env: &TestEnv) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(["run", "child", "--config"])
        .arg(&env.config_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cronbox run child")
}

/// Wait until run `run` of the child has a container of its own.
async fn has_container(env: &TestEnv, run: &str) {
    wait_for_sql(
        env,
        &format!("SELECT count(*) FROM attempts WHERE run_id = {run} AND container_id IS NOT NULL"),
        "1\n",
    )
    .await;
}

/// The id of the child's run by `cronbox run`, once it has a container.
async fn manual_child(env: &TestEnv) -> String {
    // The database exists once `cronbox run` has made its tables.
    wait_for_sql(
        env,
        "SELECT count(*) FROM sqlite_master WHERE name = 'runs'",
        "1\n",
    )
    .await;
    let query = "SELECT id FROM runs WHERE job = 'child' AND trigger = 'manual'";
    wait_for_sql(env, &format!("SELECT count(*) FROM ({query})"), "1\n").await;
    let manual = env.sql(query).trim().to_owned();
    has_container(env, &manual).await;
    manual
}

/// The exit of a `cronbox run` that must end by itself (bounded: 2 minutes).
async fn ended(process: &mut Child) -> std::process::ExitStatus {
    for _ in 0..1200 {
        if let Some(status) = process.try_wait().expect("cronbox run") {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = process.kill();
    panic!("the cronbox run never ended");
}

/// The id of the child's latest run.
fn latest_child(env: &TestEnv) -> String {
    env.sql("SELECT max(id) FROM runs WHERE job = 'child'")
        .trim()
        .to_owned()
}

/// SIGTERM the daemon and wait for its clean end.
fn stop(mut daemon: Child) {
    let kill = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    assert!(daemon.wait().expect("wait").success());
}

#[tokio::test]
async fn a_forbid_child_is_skipped_while_a_run_of_its_job_goes_here_or_in_a_cronbox_run() {
    common::engine().await;
    let probe = TestEnv::new("");
    let count = count_dir(&probe);
    let env = TestEnv::new(&policy_jobs(&count, "forbid", "sleep 5"));
    let daemon = daemon(&env, &env.dir.path().join("daemon.log"));
    wait_for_log(&env.dir.path().join("daemon.log"), "scheduler started").await;
    // A child the daemon runs, then a second parent end while it goes.
    run_parent(&env);
    let first = latest_child(&env);
    has_container(&env, &first).await;
    run_parent(&env);
    let skipped = latest_child(&env);
    wait_for_sql(
        &env,
        &format!("SELECT status, reason FROM runs WHERE id = {skipped}"),
        &format!("skipped|run {first} of this job was still going (concurrency = \"forbid\")\n"),
    )
    .await;
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {first}"),
        "succeeded\n",
    )
    .await;
    // A `cronbox run` of the child goes in its own process: a parent's end skips too.
    let mut by_hand = run_child_by_hand(&env);
    let manual = manual_child(&env).await;
    run_parent(&env);
    let skipped_too = latest_child(&env);
    wait_for_sql(
        &env,
        &format!("SELECT status, reason FROM runs WHERE id = {skipped_too}"),
        &format!("skipped|run {manual} of this job was still going (concurrency = \"forbid\")\n"),
    )
    .await;
    assert!(ended(&mut by_hand).await.success());
    stop(daemon);
    assert_eq!(
        env.sql("SELECT trigger, status, (SELECT count(*) FROM attempts a WHERE a.run_id = r.id) FROM runs r WHERE job = 'child' ORDER BY id"),
        "after|succeeded|1\nafter|skipped|0\nmanual|succeeded|1\nafter|skipped|0\n",
        "a skipped child makes no attempt"
    );
    let executed = std::fs::read_to_string(count.join("runs")).unwrap_or_default();
    assert_eq!(
        executed.lines().count(),
        2,
        "the child executed twice: {executed}"
    );
    assert!(env.containers_gone().await, "a container was left behind");
}

#[tokio::test]
async fn a_replace_child_starts_only_once_the_run_it_replaces_here_or_in_a_cronbox_run_has_exited()
{
    common::engine().await;
    let probe = TestEnv::new("");
    let count = count_dir(&probe);
    // It takes a second to stop on SIGTERM, and otherwise runs until stopped.
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        &policy_jobs(
            &count,
            "replace",
            "trap 'sleep 1; exit 0' TERM; while true; do sleep 0.2; done",
        ),
    );
    let mut by_hand = run_child_by_hand(&env);
    let manual = manual_child(&env).await;
    let log = env.dir.path().join("daemon.log");
    let daemon = daemon(&env, &log);
    wait_for_log(&log, "scheduler started").await;
    // The parent's end replaces the `cronbox run` of another process...
    run_parent(&env);
    let first = latest_child(&env);
    has_container(&env, &first).await;
    let status = ended(&mut by_hand).await;
    assert_eq!(status.code(), Some(1), "cronbox run of a replaced run");
    // ... and the next one the child the daemon runs.
    run_parent(&env);
    let second = latest_child(&env);
    has_container(&env, &second).await;
    stop(daemon);
    assert_eq!(
        env.sql(&format!("SELECT r.trigger, r.status, r.reason, a.outcome FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.id IN ({manual}, {first}) ORDER BY r.id")),
        "manual|failed|replaced by a newer run (concurrency = \"replace\")|replaced\n\
         after|failed|replaced by a newer run (concurrency = \"replace\")|replaced\n"
    );
    let overlapping = env.sql(&format!(
        "SELECT prev.run_id, next.run_id FROM attempts prev, attempts next \
         WHERE (prev.run_id, next.run_id) IN (VALUES ({manual}, {first}), ({first}, {second})) \
         AND next.started_at < prev.finished_at"
    ));
    assert_eq!(
        overlapping, "",
        "a child started before the run it replaces had exited"
    );
    let executed = std::fs::read_to_string(count.join("runs")).unwrap_or_default();
    assert_eq!(
        executed.lines().count(),
        3,
        "one execution per run: {executed}"
    );
    assert!(env.containers_gone().await, "a container was left behind");
}
