//! What the real daemon process leaves when it is stopped with a real SIGTERM
//! (the default `on_shutdown = "detach"`) or killed with a real SIGKILL, and
//! what the next start makes of it: a retry whose backoff ended while it
//! waited for a `max_concurrent` slot runs once after the restart; a run left
//! waiting for a slot whose `starting_deadline` passed while no daemon ran is
//! recorded `missed`, as the README promises, and never starts late.

mod common;

use common::subprocess::{daemon, kill, wait_for_log};
use common::{TestEnv, wait_for_sql, wait_for_sql_within};
use std::process::{Child, Command};
use std::time::Duration;

/// How long to wait for a state that follows the next tick of `@every 60s`:
/// that tick is at the next whole minute, up to 60 s after the daemon starts,
/// and the containers after it are slow on a loaded engine.
const TICK_AND_MORE: Duration = Duration::from_secs(180);

/// SIGTERM the daemon and wait for its clean end.
fn terminate(mut daemon: Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    assert!(
        daemon.wait().expect("wait").success(),
        "the daemon failed on SIGTERM"
    );
}

/// The lines of `dir`/`file` (each execution adds its container's hostname).
fn executions(dir: &std::path::Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_retry_queued_for_a_slot_at_a_sigterm_runs_once_after_the_restart() {
    common::engine().await;
    let probe = TestEnv::new("");
    let count = probe.dir.path().join("count");
    std::fs::create_dir_all(&count).expect("count dir");
    // `flaky` fails its first execution and retries 6 s later. `hog` runs every
    // 2 s at once, except once after flaky's failure: then it holds the only
    // slot for 15 s, so that flaky's retry is due while it waits for the slot.
    let env = TestEnv::with_daemon(
        "max_concurrent = 1",
        &format!(
            r#"
[jobs.flaky]
schedule = "@every 60s"
image = "IMAGE"
command = ["sh", "-c", "echo $HOSTNAME >> /count/flaky; [ $(wc -l < /count/flaky) -gt 1 ] || exit 3"]
volumes = ["{dir}:/count"]
retries = 1
backoff = "6s"

[jobs.hog]
schedule = "@every 2s"
image = "IMAGE"
command = ["sh", "-c", "if [ -e /count/flaky ] && [ ! -e /count/slept ]; then touch /count/slept; sleep 15; fi"]
volumes = ["{dir}:/count"]
"#,
            dir = count.display()
        ),
    );
    let log = env.dir.path().join("daemon.log");
    let first = daemon(&env, &log);
    wait_for_log(&log, "scheduler started").await;
    // flaky's retry is due, and waits: hog's long run holds the slot. That is
    // flaky's tick (the next whole minute, up to 60 s away), its failure, and
    // 6 s of backoff from now.
    wait_for_sql_within(
        &env,
        "SELECT (SELECT count(*) FROM runs r WHERE r.job = 'flaky' AND r.status = 'running' \
                 AND julianday(r.retry_at) < julianday('now') \
                 AND (SELECT count(*) FROM attempts a WHERE a.run_id = r.id) = 1) \
            AND (SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id \
                 WHERE r.job = 'hog' AND a.outcome = 'running')",
        "1\n",
        TICK_AND_MORE,
    )
    .await;
    assert!(
        count.join("slept").exists(),
        "the running hog is its long run"
    );
    terminate(first);
    assert_eq!(
        env.sql("SELECT status, (SELECT count(*) FROM attempts a WHERE a.run_id = r.id) FROM runs r WHERE job = 'flaky'"),
        "running|1\n",
        "a retry waiting for a slot is not interrupted by a SIGTERM"
    );

    let second = daemon(&env, &log);
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE job = 'flaky'",
        "succeeded\n",
    )
    .await;
    terminate(second);
    assert_eq!(
        env.sql("SELECT a.attempt, a.outcome, a.exit_code, substr(a.container_id, 1, 12) \
                 FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'flaky' ORDER BY a.attempt")
            .lines()
            .map(|row| row.rsplit_once('|').map_or(row, |(head, _)| head).to_owned())
            .collect::<Vec<_>>(),
        ["1|exited|3", "2|exited|0"]
    );
    let containers = env.sql(
        "SELECT substr(a.container_id, 1, 12) FROM attempts a JOIN runs r ON r.id = a.run_id \
         WHERE r.job = 'flaky' ORDER BY a.attempt",
    );
    assert_eq!(
        executions(&count, "flaky"),
        containers.lines().collect::<Vec<_>>(),
        "each attempt of flaky executed once, the retry after the restart"
    );
    let flaky_left = env
        .containers()
        .await
        .into_iter()
        .filter(|c| c.labels.get(cronbox::engine::LABEL_JOB).map(String::as_str) == Some("flaky"))
        .count();
    assert_eq!(flaky_left, 0, "flaky's containers are removed");
}

#[tokio::test]
async fn a_run_waiting_for_a_slot_whose_starting_deadline_passes_during_a_sigkill_is_missed() {
    common::engine().await;
    let probe = TestEnv::new("");
    let count = probe.dir.path().join("count");
    std::fs::create_dir_all(&count).expect("count dir");
    // Both tick together; one gets the only slot for 12 s, the other waits.
    let job = |name: &str| {
        format!(
            "[jobs.{name}]\nschedule = \"@every 60s\"\nimage = \"IMAGE\"\nstarting_deadline = \"6s\"\n\
             volumes = [\"{}:/count\"]\n\
             command = [\"sh\", \"-c\", \"echo $HOSTNAME >> /count/{name}; sleep 12\"]\n",
            count.display()
        )
    };
    let env = TestEnv::with_daemon(
        r#"max_concurrent = 1
on_shutdown = "stop""#,
        &[job("one"), job("two")].join("\n"),
    );
    let log = env.dir.path().join("daemon.log");
    let first = daemon(&env, &log);
    wait_for_log(&log, "scheduler started").await;
    // Their tick is the next whole minute, up to 60 s away.
    wait_for_sql_within(
        &env,
        "SELECT (SELECT count(*) FROM runs WHERE status = 'running'), \
                (SELECT count(*) FROM attempts WHERE outcome = 'running' AND container_id IS NOT NULL)",
        "2|1\n",
        TICK_AND_MORE,
    )
    .await;
    kill(first);
    let waiting = env
        .sql("SELECT job FROM runs r WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id)")
        .trim()
        .to_owned();
    assert!(
        ["one", "two"].contains(&waiting.as_str()),
        "one run waited for the slot at the kill: {waiting:?}"
    );
    // Away past the waiting run's starting_deadline (6 s from its tick).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let second = daemon(&env, &log);
    wait_for_log(&log, "scheduler started").await;
    wait_for_sql(
        &env,
        "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY job)",
        &if waiting == "one" {
            "missed,succeeded\n".to_owned()
        } else {
            "succeeded,missed\n".to_owned()
        },
    )
    .await;
    terminate(second);
    assert_eq!(
        env.sql(&format!(
            "SELECT reason, (SELECT count(*) FROM attempts a WHERE a.run_id = r.id) FROM runs r WHERE job = '{waiting}'"
        )),
        "waited for a max_concurrent slot past its starting_deadline; not started late|0\n"
    );
    assert!(
        executions(&count, &waiting).is_empty(),
        "the missed run never executed"
    );
    let ran = if waiting == "one" { "two" } else { "one" };
    assert_eq!(
        executions(&count, ran).len(),
        1,
        "the adopted run executed once"
    );
    assert!(env.containers_gone().await, "a container was left behind");
}
