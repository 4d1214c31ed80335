//! An indexed run (issue 17) whose daemon is killed with SIGKILL while some of
//! its indexes have succeeded, some run and some have not started, then
//! restarted: the succeeded indexes never run again, the running ones are
//! adopted (not started again), the pending ones start, and the run succeeds
//! with every index executed exactly once (counted from outside, in a mounted
//! file), nothing left running and no container left behind.

mod common;

use common::{TestEnv, wait_for_sql};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn daemon(env: &TestEnv, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "daemon",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("CRONBOX_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("cronbox daemon")
}

fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn ran(dir: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(dir.join("ran"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn a_sigkill_mid_run_never_reruns_a_succeeded_index_adopts_running_ones_and_starts_the_rest()
{
    common::engine().await;
    let shared = tempfile::tempdir().expect("tempdir");
    // Indexes 0 and 1 end at once; 2 and 3 run long enough to be running at
    // the kill; 4 waits for a place (parallelism 2).
    let jobs = format!(
        r#"
[jobs.shards]
schedule = "@every 30s"
image = "IMAGE"
command = ["sh", "-c", "echo $CRONBOX_INDEX >> /s/ran; [ $CRONBOX_INDEX -lt 2 ] || [ $CRONBOX_INDEX -gt 3 ] || sleep 8"]
volumes = ["{}:/s"]
completions = 5
parallelism = 2
"#,
        shared.path().display()
    );
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &jobs);
    let first_log = env.dir.path().join("first.log");
    let mut first = daemon(&env, &first_log);
    wait_for_sql(
        &env,
        "SELECT count(*) FROM sqlite_master WHERE name = 'run_indexes'",
        "1\n",
    )
    .await;
    // Wait (bounded) until indexes 0 and 1 are recorded succeeded and 2 and 3 run.
    wait_for_sql(
        &env,
        "SELECT (SELECT count(*) FROM run_indexes WHERE status = 'succeeded') || '/' || \
                (SELECT count(*) FROM attempts WHERE outcome = 'running' AND container_id IS NOT NULL)",
        "2/2\n",
    )
    .await;
    kill(&first, "-KILL");
    first.wait().expect("wait");
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE completion_index = 4"),
        "0\n",
        "index 4 had not started at the kill"
    );

    let second_log = env.dir.path().join("second.log");
    let mut second = daemon(&env, &second_log);
    wait_for_sql(
        &env,
        "SELECT status FROM runs ORDER BY id LIMIT 1",
        "succeeded\n",
    )
    .await;
    kill(&second, "-TERM");
    let status = second.wait().expect("wait");
    let log = std::fs::read_to_string(&second_log).unwrap_or_default();
    assert!(status.success(), "second daemon failed:\n{log}");
    assert!(
        log.contains("adopting"),
        "the running indexes were adopted:\n{log}"
    );
    assert_eq!(
        ran(shared.path()),
        ["0", "1", "2", "3", "4"],
        "every index executed exactly once:\n{log}"
    );
    assert_eq!(
        env.sql(
            "SELECT completion_index, count(*), group_concat(outcome), group_concat(exit_code) \
             FROM attempts WHERE run_id = (SELECT min(id) FROM runs) GROUP BY completion_index"
        ),
        "0|1|exited|0\n1|1|exited|0\n2|1|exited|0\n3|1|exited|0\n4|1|exited|0\n"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE outcome = 'running'"),
        "0\n"
    );
    assert!(env.containers_gone().await, "a container was left behind");
}
