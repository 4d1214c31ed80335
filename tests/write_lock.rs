//! Another process holding the database's write lock (an operator's `sqlite3`
//! shell in an open transaction): cronbox says so in its log while it waits,
//! rather than only when the busy timeout ends, and its write goes on, whole,
//! once the lock is free. Opening the database (a start) needs no write lock.

mod common;

use std::process::{Command, Stdio};

use common::subprocess::wait_for_log;
use common::{TestEnv, WriteLock};

#[tokio::test]
async fn a_write_waiting_for_a_lock_held_by_sqlite3_is_logged_then_goes_on() {
    let env = TestEnv::new(
        r#"
[jobs.hello]
schedule = "@daily"
image = "IMAGE"
command = ["echo", "hello"]
"#,
    );
    common::engine().await; // the test image is there
    drop(env.store().await); // the database exists, migrated

    // The operator's shell takes the write lock and keeps its transaction open.
    let lock = WriteLock::hold(&env.db_path);

    let log = env.dir.path().join("run.log");
    let mut run = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(["run", "hello", "--config"])
        .arg(&env.config_path)
        .env("CRONBOX_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("cronbox run");
    // Its first write (the job chain routes, then the new run) waits, and says so.
    wait_for_log(
        &log,
        "waiting for the database's write lock while writing the job chain routes: another process holds it",
    )
    .await;

    // The shell ends its transaction: the run is recorded and runs, once.
    lock.release();
    assert!(run.wait().expect("cronbox run").success());
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(
        logged.contains(
            "the database's write lock is free again; writing the job chain routes goes on"
        ),
        "{logged}"
    );
    assert_eq!(env.sql("SELECT job, status FROM runs"), "hello|succeeded\n");
    assert!(env.containers_gone().await);
}
