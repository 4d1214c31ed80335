//! `random_delay` with the real daemon, engine and database on the test clock: a
//! tick fires at its shifted instant and the run records both instants; a daemon
//! started between a tick and its shifted instant runs the tick on time; after
//! downtime, catch-up and starting_deadline count from the shifted instant; the
//! API shows the shifted instants and a run's fire_at. And the binary: `next` and
//! `check` show the shifted instants (the seed read from the database), or say
//! why not; a delay longer than the gap is refused at its line.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::test_clock::{LIMIT, at, settle, start};
use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::TestClock;
use cronbox::store::timestamp;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

fn ten_minutes(extra: &str) -> TestEnv {
    TestEnv::new(&format!(
        r#"
[jobs.ten]
schedule = "*/10 * * * *"
image = "IMAGE"
command = ["true"]
random_delay = "10m"
{extra}"#
    ))
}

/// Give the database of `env` a seed whose offset for its first job lies in
/// `range` (found by trying seeds: the offset is a hash), and return the offset.
async fn seed_with_offset(env: &TestEnv, range: std::ops::Range<Duration>) -> TimeDelta {
    env.store().await.close().await; // create the database and its seed
    let config = env.config();
    let (seed, offset) = (0..10_000)
        .map(|i| format!("test-seed-{i}"))
        .map(|seed| {
            let offset = config.with_spread_ticks(&seed).jobs[0].fire_offset;
            (seed, offset)
        })
        .find(|(_, offset)| range.contains(offset))
        .expect("a seed with an offset in range");
    env.sql(&format!("UPDATE database_seed SET seed = '{seed}'"));
    TimeDelta::from_std(offset).expect("offset")
}

/// A daemon's life from `from`, the clock moved on a minute `minutes` times,
/// until `succeeded` runs have succeeded.
async fn live(env: &TestEnv, from: DateTime<Utc>, minutes: usize, succeeded: usize) {
    let (daemon, clock) = start(env, from).await;
    for _ in 0..minutes {
        settle(&clock, MINUTE).await;
    }
    let query = "SELECT count(*) FROM runs WHERE status = 'succeeded'";
    wait_for_sql(env, query, &format!("{succeeded}\n")).await;
    daemon.stop().await;
}

fn rows(env: &TestEnv) -> String {
    env.sql("SELECT trigger, status, scheduled_at, fire_at, missed_count FROM runs ORDER BY id")
}

#[tokio::test]
async fn ticks_fire_at_their_shifted_instant_and_lateness_counts_from_it() {
    let env = ten_minutes("");
    let offset = seed_with_offset(&env, Duration::from_secs(180)..Duration::from_secs(480)).await;
    let fire = |tick: &str| timestamp(at(tick) + offset);

    // First life, from 00:00:30: the 00:00 tick's shifted instant (00:03 to
    // 00:08) is still to come, and the tick runs then.
    live(&env, at("2026-01-01T00:00:30Z"), 9, 1).await;
    let t00 = fire("2026-01-01T00:00:00Z");
    assert_eq!(
        rows(&env),
        format!("schedule|succeeded|2026-01-01T00:00:00.000Z|{t00}|\n")
    );
    // The README's query of fire_at, verbatim.
    let query = common::readme_sql_blocks()
        .into_iter()
        .find(|q| q.contains("fire_at"));
    let query = query.expect("the README's fire_at query");
    assert_eq!(
        env.sql(&query.replace("backup-db", "ten")),
        format!("2026-01-01T00:00:00.000Z|{t00}\n")
    );
    let started = env.sql("SELECT started_at FROM runs");
    assert!(
        started.trim() >= t00.as_str(),
        "started {started} before {t00}"
    );

    // Second life from a minute before the 00:10 tick's shifted instant (minutes
    // after the tick itself): the tick is not missed, it runs on time.
    let from = at("2026-01-01T00:10:00Z") + offset - TimeDelta::minutes(1);
    live(&env, from, 2, 2).await;
    let t10 = fire("2026-01-01T00:10:00Z");
    assert_eq!(
        rows(&env),
        format!(
            "schedule|succeeded|2026-01-01T00:00:00.000Z|{t00}|\n\
             schedule|succeeded|2026-01-01T00:10:00.000Z|{t10}|\n"
        )
    );

    // Third life, with starting_deadline = "5m", 3 minutes after the 00:30
    // tick's shifted instant: 00:20 is missed, 00:30 is caught up, as the
    // deadline counts from the shifted instant (from the tick itself it would be
    // 6 minutes or more late).
    let text = std::fs::read_to_string(&env.config_path).expect("read");
    std::fs::write(
        &env.config_path,
        format!("{text}starting_deadline = \"5m\"\n"),
    )
    .expect("write");
    let (daemon, _clock) = start(
        &env,
        at("2026-01-01T00:30:00Z") + offset + TimeDelta::minutes(3),
    )
    .await;
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE trigger = 'catch-up'",
        "succeeded\n",
    )
    .await;
    daemon.stop().await;
    let t30 = fire("2026-01-01T00:30:00Z");
    assert_eq!(
        rows(&env),
        format!(
            "schedule|succeeded|2026-01-01T00:00:00.000Z|{t00}|\n\
             schedule|succeeded|2026-01-01T00:10:00.000Z|{t10}|\n\
             schedule|missed|2026-01-01T00:20:00.000Z||1\n\
             catch-up|succeeded|2026-01-01T00:30:00.000Z|{t30}|\n"
        )
    );
    assert!(env.containers_gone().await);
}

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

#[tokio::test]
async fn next_and_check_show_the_shifted_instants_from_the_databases_seed() {
    let env = ten_minutes("");
    let config = env.config_path.to_str().expect("utf-8 path");
    let next_args = |count: &'static str, json: bool| {
        let mut args = vec!["next", "--config", config, "--from", "2026-01-01T00:00:00Z"];
        args.extend(["--count", count]);
        args.extend(json.then_some("--json"));
        args
    };
    let next = next_args("2", true);

    // No database yet: the ticks themselves, and a note saying why.
    let out = cronbox(&next);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"job\":\"ten\",\"tick\":\"2026-01-01T00:10:00+00:00\",\"time\":\"2026-01-01T00:10:00+00:00\"}\n\
         {\"job\":\"ten\",\"tick\":\"2026-01-01T00:20:00+00:00\",\"time\":\"2026-01-01T00:20:00+00:00\"}\n"
    );
    let note = text(&out.stderr);
    assert!(
        note.contains("random_delay offsets of ten") && note.contains("does not exist yet"),
        "{note}"
    );

    // With the database: each tick and the instant it fires.
    let offset = seed_with_offset(&env, Duration::from_secs(60)..Duration::from_secs(540)).await;
    let out = cronbox(&next);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let line = |tick: &str| {
        let fire = (at(tick) + offset).to_rfc3339();
        format!(
            "{{\"job\":\"ten\",\"tick\":\"{}\",\"time\":\"{fire}\"}}\n",
            at(tick).to_rfc3339()
        )
    };
    // From 00:00:00 the first fire instant is the 00:00 tick's, 00:00 + offset.
    assert_eq!(
        text(&out.stdout),
        line("2026-01-01T00:00:00Z") + &line("2026-01-01T00:10:00Z")
    );
    let plain = cronbox(&next_args("1", false));
    let fire = (at("2026-01-01T00:00:00Z") + offset).to_rfc3339();
    assert_eq!(
        text(&plain.stdout),
        format!("{fire}  ten  (tick 2026-01-01T00:00:00+00:00)\n")
    );

    let check = cronbox(&["check", "--config", config]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(
        !text(&check.stderr).contains("random_delay"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn check_refuses_a_random_delay_longer_than_the_gap_at_its_line() {
    let env = TestEnv::new(
        "[jobs.five]\nschedule = \"*/5 * * * *\"\nimage = \"IMAGE\"\nrandom_delay = \"10m\"\n",
    );
    let config = env.config_path.to_str().expect("utf-8 path");
    let out = cronbox(&["check", "--config", config]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // The file is [daemon] (3 lines), a blank line, then the job.
    let want = format!(
        "{config}:8:16: job \"five\": random_delay (10m) is longer than the shortest gap between two ticks of the schedule (5m); make it at most 5m"
    );
    assert!(text(&out.stderr).contains(&want), "{}", text(&out.stderr));
}

#[tokio::test]
async fn the_api_shows_the_shifted_instants_and_when_a_tick_fired() {
    let env = ten_minutes("");
    let offset = seed_with_offset(&env, Duration::from_secs(60)..Duration::from_secs(480)).await;
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let engine = common::engine().await;
    let (daemon, handle) = Daemon::start_controlled(&env, clock.clone(), engine.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let services = cronbox::http::Services {
        handle,
        store: env.store().await,
        engine,
        clock: clock.clone(),
    };
    let server = cronbox::http::serve(listener, services, None, daemon.shutdown.clone())
        .await
        .expect("serve");
    let base = format!("http://{}/api/v1", server.address);
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let response = reqwest::get(&url).await.expect("get");
            assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
            response.json::<serde_json::Value>().await.expect("json")
        }
    };
    tokio::time::timeout(LIMIT, clock.wait_for_sleeps(0))
        .await
        .expect("asleep");
    // Before any tick: the 00:00 tick fires at 00:00 + offset.
    let jobs = get("/jobs").await;
    let fire = |tick: &str| timestamp(at(tick) + offset);
    assert_eq!(jobs[0]["next"][0], fire("2026-01-01T00:00:00Z"));
    assert_eq!(jobs[0]["next"][1], fire("2026-01-01T00:10:00Z"));
    assert_eq!(jobs[0]["next_ticks"][0], "2026-01-01T00:00:00.000Z");
    assert_eq!(jobs[0]["next_ticks"][1], "2026-01-01T00:10:00.000Z");
    assert_eq!(jobs[0]["random_delay_seconds"], 600);
    assert_eq!(jobs[0]["fire_offset_seconds"], offset.num_seconds());
    for _ in 0..9 {
        settle(&clock, MINUTE).await;
    }
    let query = "SELECT count(*) FROM runs WHERE status = 'succeeded'";
    wait_for_sql(&env, query, "1\n").await;
    let run = get("/runs/1").await;
    assert_eq!(
        run["run"]["scheduled_at"], "2026-01-01T00:00:00.000Z",
        "{run}"
    );
    assert_eq!(run["run"]["fire_at"], fire("2026-01-01T00:00:00Z"), "{run}");
    assert_eq!(
        get("/jobs/ten").await["next"][0],
        fire("2026-01-01T00:10:00Z")
    );
    daemon.stop().await;
    server.stopped(Duration::from_secs(30)).await;
    assert!(env.containers_gone().await);
}
