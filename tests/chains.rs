//! Job chains (`after`) on a real engine and a real database: a parent's end
//! starts its children as `on` says, once, after the parent's last attempt, with
//! the parent in their environment and their record; a child recorded while no
//! daemon ran, or by a daemon killed before it started it, runs once at the next
//! start.

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

/// A parent run by `cronbox run`, and a child that counts its executions in
/// `count`/runs.
fn counted_jobs(count: &Path) -> String {
    format!(
        r#"
[jobs.parent]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]

[jobs.child]
after = {{ job = "parent" }}
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /count/runs"]
volumes = ["{}:/count"]
"#,
        count.display()
    )
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
    assert_eq!(executions, "ran\n", "the child executed once");
    assert!(env.containers_gone().await, "a container was left behind");
}

#[tokio::test]
async fn a_kill_between_the_parents_end_and_the_childs_start_still_runs_the_child_once() {
    common::engine().await;
    let probe = TestEnv::new("");
    let env = TestEnv::new(&counted_jobs(&count_dir(&probe)));
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
    let env = TestEnv::new(&counted_jobs(&count_dir(&probe)));
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
