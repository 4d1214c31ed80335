//! What a daemon that stops (SIGTERM with the default detach, or in-process
//! shutdown) leaves, and what the next start makes of it: a run waiting for a
//! `max_concurrent` slot is resumed, not interrupted, and waiting runs keep their
//! order; an adopted container that ended while the daemon was away keeps its
//! own exit, even past its timeout or its run's deadline, while one still
//! running past its timeout is stopped; a `forbid` tick is not skipped for a
//! run the start-up repair is finishing.

mod common;

use chrono::{DateTime, Utc};
use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::TestClock;
use std::sync::Arc;
use std::time::Duration;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// Start a daemon on `env` whose clock reads `start`, and let it fire the
/// ticks up to `until` (the clock moves only when told).
async fn daemon_until(env: &TestEnv, start: &str, until: &str) -> (Daemon, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(at(start)));
    let daemon = Daemon::start_with(env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    let by = (at(until) - at(start)).to_std().expect("forward");
    if !by.is_zero() {
        clock.advance_and_settle(by).await;
    }
    (daemon, clock)
}

#[tokio::test]
async fn runs_waiting_for_a_slot_are_resumed_in_their_order_after_a_restart() {
    let count = tempfile::tempdir().expect("tempdir");
    let job = |name: &str, seconds: u32| {
        format!(
            "[jobs.{name}]\nschedule = \"* * * * *\"\nimage = \"IMAGE\"\nvolumes = [\"{}:/count\"]\n\
             command = [\"sh\", \"-c\", \"echo {name} >> /count/order; sleep {seconds}\"]\n",
            count.path().display()
        )
    };
    let env = TestEnv::with_daemon(
        "max_concurrent = 1",
        &[job("a", 2), job("b", 2), job("c", 2), job("d", 2)].join("\n"),
    );
    // All four fire at 00:01:00; one gets the slot, three wait for it.
    let (daemon, _) = daemon_until(&env, "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z").await;
    wait_for_sql(
        &env,
        "SELECT (SELECT count(*) FROM runs WHERE status = 'running'), \
                (SELECT count(*) FROM attempts WHERE outcome = 'running')",
        "4|1\n",
    )
    .await;
    let waiting = env.sql(
        "SELECT job FROM runs WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = runs.id) ORDER BY id",
    );
    daemon.stop().await; // detach: the first container goes on; nothing is recorded for the others
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE status = 'running'"),
        "4\n",
        "a run waiting for a slot is not interrupted"
    );

    let (daemon, _) = daemon_until(&env, "2026-01-01T00:01:10Z", "2026-01-01T00:01:10Z").await;
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "4\n",
    )
    .await;
    daemon.stop().await;
    assert_eq!(
        env.sql("SELECT count(*), count(DISTINCT run_id) FROM attempts"),
        "4|4\n",
        "one attempt per run"
    );
    let order = std::fs::read_to_string(count.path().join("order")).expect("order");
    let first = order.lines().next().unwrap_or_default();
    let resumed: Vec<&str> = order.lines().skip(1).collect();
    assert_eq!(order.lines().count(), 4, "each job ran once: {order}");
    assert_eq!(
        resumed,
        waiting.lines().collect::<Vec<_>>(),
        "the waiting runs kept their order ({first} ran first)"
    );
    assert!(env.containers_gone().await);
}

/// A job that ends by itself after `seconds`, and a daemon that leaves it (on
/// shutdown, detach) while it runs; the next daemon starts `away` later.
async fn adopt_after(job_keys: &str, seconds: u32, away: u64) -> TestEnv {
    let env = TestEnv::new(&format!(
        "[jobs.job]\nschedule = \"* * * * *\"\nimage = \"IMAGE\"\n\
         command = [\"sh\", \"-c\", \"sleep {seconds}; echo done\"]\n{job_keys}\n"
    ));
    let (daemon, _) = daemon_until(&env, "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z").await;
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE outcome = 'running' AND container_id IS NOT NULL",
        "1\n",
    )
    .await;
    daemon.stop().await;
    tokio::time::sleep(Duration::from_secs(away)).await;
    let later = at("2026-01-01T00:01:00Z") + chrono::TimeDelta::seconds(away as i64);
    let clock = Arc::new(TestClock::new(later));
    let daemon = Daemon::start_with(&env, clock.clone(), common::engine().await).await;
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status != 'running'",
        "1\n",
    )
    .await;
    daemon.stop().await;
    env
}

#[tokio::test]
async fn a_container_that_exited_while_the_daemon_was_away_keeps_its_exit_past_its_time_limits() {
    // It exits 0 after 1 s; the next daemon comes 4 s later, past its timeout
    // (2 s) or its run's deadline (2 s): the engine's record is the outcome.
    for keys in ["timeout = \"2s\"", "deadline = \"2s\""] {
        let env = adopt_after(keys, 1, 4).await;
        assert_eq!(
            env.sql("SELECT r.status, a.outcome, a.exit_code FROM runs r JOIN attempts a ON a.run_id = r.id"),
            "succeeded|exited|0\n",
            "{keys}"
        );
        assert_eq!(
            env.sql("SELECT CAST(data AS TEXT) FROM output"),
            "done\n\n",
            "{keys}"
        );
        assert!(env.containers_gone().await, "{keys}");
    }
}

#[tokio::test]
async fn a_container_still_running_past_its_timeout_when_adopted_is_stopped() {
    let env = adopt_after("timeout = \"2s\"\nstop_grace = \"1s\"", 60, 3).await;
    assert_eq!(
        env.sql("SELECT r.status, a.outcome FROM runs r JOIN attempts a ON a.run_id = r.id"),
        "failed|timeout\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn a_forbid_tick_is_not_skipped_for_a_run_the_repair_finishes() {
    let env = TestEnv::new(
        r#"
[jobs.quick]
schedule = "* * * * *"
image = "IMAGE"
command = ["sh", "-c", "sleep 1"]
concurrency = "forbid"
"#,
    );
    let (daemon, _) = daemon_until(&env, "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z").await;
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE outcome = 'running' AND container_id IS NOT NULL",
        "1\n",
    )
    .await;
    daemon.stop().await; // detach; the container exits a second later
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Back exactly at the next tick: the run left behind is over, so it runs.
    let (daemon, _) = daemon_until(&env, "2026-01-01T00:02:00Z", "2026-01-01T00:02:00Z").await;
    wait_for_sql(
        &env,
        "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)",
        "succeeded,succeeded\n",
    )
    .await;
    daemon.stop().await;
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn a_resumed_runs_wait_counts_from_when_it_began_waiting() {
    let env = TestEnv::new(
        r#"
[jobs.queued]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]
"#,
    );
    // A run that waited 10 s for a slot when its process died.
    let now = cronbox::clock::Clock::now(&cronbox::clock::SystemClock);
    let began = now - chrono::TimeDelta::seconds(10);
    let store = env.store().await;
    store
        .insert_run(
            "queued",
            cronbox::store::Trigger::Manual,
            began,
            began,
            None,
            None,
        )
        .await
        .expect("run")
        .expect("id");
    store.close().await;
    env.sql("UPDATE runs SET pid = 2147483646"); // a process that does not exist
    let daemon = Daemon::start(&env).await;
    wait_for_sql(&env, "SELECT status FROM runs", "succeeded\n").await;
    daemon.stop().await;
    let waited: i64 = env
        .sql("SELECT waited_ms FROM attempts")
        .trim()
        .parse()
        .expect("ms");
    assert!(
        waited >= 10_000,
        "waited_ms {waited}: the wait began 10 s ago"
    );
}

#[tokio::test]
async fn an_exit_adopted_later_keeps_the_time_the_engine_recorded() {
    let env = TestEnv::new(
        r#"
[jobs.short]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "sleep 1"]
"#,
    );
    // The supervising process goes away mid-attempt (its task is dropped; the
    // container goes on and exits after a second), and a daemon comes 4 s later.
    let ctx = env.context().await;
    let config = env.config();
    let run = tokio::spawn(async move {
        let job = &config.jobs[0];
        let now = cronbox::clock::Clock::now(&cronbox::clock::SystemClock);
        cronbox::daemon::supervisor::execute(
            &ctx,
            job,
            cronbox::store::Trigger::Manual,
            now,
            &Default::default(),
        )
        .await
    });
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    run.abort();
    let _ = run.await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    env.sql("UPDATE runs SET pid = 2147483646");
    let daemon = Daemon::start(&env).await;
    wait_for_sql(&env, "SELECT status FROM runs", "succeeded\n").await;
    daemon.stop().await;
    let took: i64 = env
        .sql("SELECT duration_ms FROM history")
        .trim()
        .parse()
        .expect("ms");
    assert!(
        took < 3_000,
        "the attempt took {took} ms by its record: the engine's finish time, not the adoption's"
    );
}
