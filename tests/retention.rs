//! Bounded history on a real SQLite file: `Store::prune` by age and per-job limit,
//! never touching running runs, leaving no orphans and shrinking the file; the
//! conversion of a file made before auto-vacuum; the daemon's hourly task; and the
//! README's queries using indexes, not full scans (EXPLAIN QUERY PLAN).

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::TestEnv;
use cronbox::clock::{Clock, TestClock};
use cronbox::daemon::retention::{PRUNE_EVERY, prune_periodically};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The instant every filled database is pruned at.
const NOW: &str = "2026-06-01T00:00:00.000Z";
const NINETY_DAYS: Duration = Duration::from_secs(90 * 86_400);

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("time")
        .with_timezone(&Utc)
}

/// `now() - age` formatted as the database stores instants.
fn ago(age: Duration) -> String {
    cronbox::store::timestamp(now() - TimeDelta::from_std(age).expect("age"))
}

/// Fill the database with `per_job` runs of each of `job-0`, `job-1` and `job-2`,
/// interleaved (ids 1..), one every 30 minutes and the newest finishing at NOW.
/// Most succeed, every 10th fails (every 20th after a second attempt), some were
/// missed or skipped (no attempt). Each attempt printed 4 KiB on stdout, failed
/// ones 300 bytes on stderr too. Among them, still going and so never pruned:
/// run ids ≡ 7 (mod 500) are running, ≡ 8 wait to retry; and run 13 is marked
/// failed while its attempt is still marked running.
fn fill(env: &TestEnv, per_job: u32) {
    let total = per_job * 3;
    env.sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total}),
         s(i, status, done) AS (
           SELECT i,
                  CASE WHEN i % 500 IN (7, 8) THEN 'running'
                       WHEN i % 97 = 0 THEN 'missed'
                       WHEN i % 89 = 0 THEN 'skipped'
                       WHEN i % 10 = 0 OR i = 13 THEN 'failed'
                       ELSE 'succeeded' END,
                  julianday('{NOW}') - ({total} - i) / 48.0
           FROM n)
         INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at, reason, retry_at)
         SELECT i, 'job-' || (i % 3), 'schedule',
                strftime('%Y-%m-%dT%H:%M:%fZ', done - 1 / 1440.0),
                status,
                strftime('%Y-%m-%dT%H:%M:%fZ', done - 1 / 1440.0),
                CASE WHEN status = 'running' THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', done) END,
                CASE WHEN status = 'failed' THEN 'exit code 1' END,
                CASE WHEN i % 500 = 8 THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday('{NOW}') + 1 / 24.0) END
         FROM s;
         INSERT INTO attempts (run_id, attempt, image, started_at, finished_at, exit_code, outcome)
         SELECT id, 1, 'busybox', started_at,
                CASE WHEN (status = 'running' AND retry_at IS NULL) OR id = 13 THEN NULL
                     ELSE coalesce(finished_at, started_at) END,
                CASE WHEN status = 'succeeded' THEN 0
                     WHEN status = 'failed' OR retry_at IS NOT NULL THEN 1 END,
                CASE WHEN (status = 'running' AND retry_at IS NULL) OR id = 13 THEN 'running'
                     ELSE 'exited' END
         FROM runs WHERE status NOT IN ('missed', 'skipped');
         INSERT INTO attempts (run_id, attempt, image, started_at, finished_at, exit_code, outcome)
         SELECT id, 2, 'busybox', finished_at, finished_at, 1, 'exited'
         FROM runs WHERE status = 'failed' AND id % 20 = 0;
         INSERT INTO output (attempt_id, stream, seq, at, data)
         SELECT id, 'stdout', 0, started_at, randomblob(4096) FROM attempts;
         INSERT INTO output (attempt_id, stream, seq, at, data)
         SELECT id, 'stderr', 0, started_at, randomblob(300) FROM attempts WHERE exit_code = 1;"
    ));
}

/// A job that runs every 9 days: 30 runs, the newest an hour ago, so 10 are
/// younger than 90 days. Its run ids follow `after`.
fn fill_rare(env: &TestEnv, after: u32) {
    env.sql(&format!(
        "WITH RECURSIVE k(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM k WHERE k < 30)
         INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at)
         SELECT {after} + k, 'rare', 'schedule', t, 'succeeded', t, t
         FROM (SELECT k, strftime('%Y-%m-%dT%H:%M:%fZ',
                                  julianday('{NOW}') - (30 - k) * 9 - 1 / 24.0) AS t FROM k);
         INSERT INTO attempts (run_id, attempt, image, started_at, finished_at, exit_code, outcome)
         SELECT id, 1, 'busybox', started_at, finished_at, 0, 'exited' FROM runs WHERE job = 'rare';
         INSERT INTO output (attempt_id, stream, seq, at, data)
         SELECT a.id, 'stdout', 0, a.started_at, randomblob(4096)
         FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'rare';"
    ));
}

/// One run as the test sees it before pruning.
struct Row {
    id: i64,
    job: String,
    status: String,
    finished_at: Option<String>,
    attempt_running: bool,
}

fn runs(env: &TestEnv) -> Vec<Row> {
    env.sql(
        "SELECT r.id, r.job, r.status, r.finished_at,
                EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id AND a.outcome = 'running')
         FROM runs r ORDER BY r.id",
    )
    .lines()
    .map(|line| {
        let f: Vec<&str> = line.split('|').collect();
        Row {
            id: f[0].parse().expect("id"),
            job: f[1].to_owned(),
            status: f[2].to_owned(),
            finished_at: Some(f[3].to_owned()).filter(|s| !s.is_empty()),
            attempt_running: f[4] == "1",
        }
    })
    .collect()
}

/// The ids a prune at NOW with `max_age` and `keep` must leave, worked out
/// independently of the store: every run still going; of the finished runs, the
/// newest `keep` of each job that finished within `max_age`.
fn expected_survivors(rows: &[Row], max_age: Duration, keep: usize) -> HashSet<i64> {
    let cutoff = ago(max_age);
    let mut finished_per_job: HashMap<&str, Vec<i64>> = HashMap::new();
    for row in rows.iter().filter(|r| r.status != "running") {
        finished_per_job.entry(&row.job).or_default().push(row.id);
    }
    let newest: HashSet<i64> = finished_per_job
        .values_mut()
        .flat_map(|ids| {
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.iter().take(keep).copied().collect::<Vec<_>>()
        })
        .collect();
    rows.iter()
        .filter(|r| {
            r.status == "running"
                || r.attempt_running
                || (newest.contains(&r.id)
                    && r.finished_at
                        .as_deref()
                        .is_none_or(|f| f >= cutoff.as_str()))
        })
        .map(|r| r.id)
        .collect()
}

fn ids(env: &TestEnv) -> HashSet<i64> {
    env.sql("SELECT id FROM runs")
        .lines()
        .map(|l| l.parse().expect("id"))
        .collect()
}

fn number(env: &TestEnv, query: &str) -> i64 {
    env.sql(query)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The bytes the database takes on disk: the file and its WAL.
fn disk_bytes(env: &TestEnv) -> u64 {
    let wal = env.db_path.with_extension("db-wal");
    [&env.db_path, &wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// No attempt without its run, no output without its attempt, and SQLite agrees.
fn assert_consistent(env: &TestEnv) {
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE run_id NOT IN (SELECT id FROM runs)"),
        "0\n",
        "orphaned attempts"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM output WHERE attempt_id NOT IN (SELECT id FROM attempts)"),
        "0\n",
        "orphaned output"
    );
    assert_eq!(env.sql("PRAGMA foreign_key_check"), "");
    assert_eq!(env.sql("PRAGMA integrity_check"), "ok\n");
}

#[tokio::test]
async fn prune_keeps_the_newest_per_job_drops_old_ones_and_shrinks_the_file() {
    let env = TestEnv::new("");
    let store = env.store().await;
    store.close().await;
    fill(&env, 2000);
    fill_rare(&env, 7000);
    let before = runs(&env);
    let keep = 500;
    let expected = expected_survivors(&before, NINETY_DAYS, keep);
    let going: HashSet<i64> = before
        .iter()
        .filter(|r| r.status == "running" || r.attempt_running)
        .map(|r| r.id)
        .collect();
    assert_eq!(going.len(), 25, "12 running, 12 waiting to retry, run 13");
    let output_of_going = |env: &TestEnv| {
        env.sql(&format!(
            "SELECT count(*), sum(length(o.data)) FROM output o JOIN attempts a ON a.id = o.attempt_id
             WHERE a.run_id IN ({})",
            going.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ))
    };
    let going_output = output_of_going(&env);
    let disk_before = disk_bytes(&env);
    let pages_before = number(&env, "PRAGMA page_count");
    assert_eq!(env.sql("PRAGMA auto_vacuum"), "2\n", "incremental");

    let store = env.store().await;
    let started = std::time::Instant::now();
    let pruned = store
        .prune(now(), NINETY_DAYS, keep as u32)
        .await
        .expect("prune");
    let took = started.elapsed();
    store.close().await;

    // Exactly the expected runs are left, and the count says how many went.
    assert_eq!(ids(&env), expected);
    assert_eq!(pruned.runs, (before.len() - expected.len()) as u64);
    for job in ["job-0", "job-1", "job-2"] {
        assert_eq!(
            number(
                &env,
                &format!(
                    "SELECT count(*) FROM runs WHERE job = '{job}' AND status <> 'running' AND id <> 13"
                )
            ),
            keep as i64,
            "{job} keeps its newest {keep} finished runs (and run 13, whose attempt is running)"
        );
    }
    // The rare job is under the limit: only age counts; 10 of 30 are recent.
    assert_eq!(
        env.sql("SELECT count(*), min(finished_at) >= '2026-03-03' FROM runs WHERE job = 'rare'"),
        "10|1\n"
    );
    // Runs still going keep everything, however old.
    assert!(going.is_subset(&ids(&env)));
    assert_eq!(output_of_going(&env), going_output);
    assert_consistent(&env);

    // The space went back to the file system.
    let pages_after = number(&env, "PRAGMA page_count");
    assert_eq!(env.sql("PRAGMA freelist_count"), "0\n");
    assert_eq!(pruned.pages_freed, (pages_before - pages_after) as u64);
    let disk_after = disk_bytes(&env);
    assert!(
        disk_after * 3 < disk_before,
        "file {disk_before} -> {disk_after} bytes"
    );
    eprintln!(
        "prune: {} of {} runs deleted in {took:?}; pages {pages_before} -> {pages_after}; \
         on disk {disk_before} -> {disk_after} bytes",
        pruned.runs,
        before.len()
    );

    // Pruning again finds nothing to do.
    let store = env.store().await;
    let again = store
        .prune(now(), NINETY_DAYS, keep as u32)
        .await
        .expect("prune again");
    assert_eq!((again.runs, again.pages_freed), (0, 0));
    // cronbox history still shows the newest runs.
    let history = store.history(Some("job-1"), 3).await.expect("history");
    let newest = before
        .iter()
        .filter(|r| r.job == "job-1")
        .map(|r| r.id)
        .max()
        .expect("job-1 runs");
    assert_eq!(history[0].run_id, newest);
    store.close().await;
}

/// The per-job limit counts finished runs only, and a limit of 1 keeps just the latest.
#[tokio::test]
async fn history_limit_counts_finished_runs_only() {
    let env = TestEnv::new("");
    env.store().await.close().await;
    fill(&env, 400); // ids 1..=1200; 7, 8, 507, 508, 1007 and 1008 are going
    let store = env.store().await;
    // A max_age beyond the earliest instant saturates: nothing is too old.
    let pruned = store.prune(now(), Duration::MAX, 1).await.expect("prune");
    store.close().await;
    let left = env.sql("SELECT job, id, status FROM runs ORDER BY job, id");
    assert_eq!(
        left,
        "job-0|507|running\n\
         job-0|1008|running\n\
         job-0|1200|failed\n\
         job-1|7|running\n\
         job-1|13|failed\n\
         job-1|508|running\n\
         job-1|1198|succeeded\n\
         job-2|8|running\n\
         job-2|1007|running\n\
         job-2|1199|succeeded\n",
        "the newest finished run per job, runs still going, and run 13 whose attempt is running"
    );
    assert_eq!(pruned.runs, 1200 - 10);
    assert_consistent(&env);
}

/// A file created before cronbox turned on auto-vacuum is converted once by the
/// first prune (a VACUUM), and from then on gives space back incrementally.
#[tokio::test]
async fn a_database_without_auto_vacuum_is_converted_by_its_first_prune() {
    let env = TestEnv::new("");
    env.store().await.close().await;
    env.sql("PRAGMA auto_vacuum = NONE; VACUUM;");
    assert_eq!(env.sql("PRAGMA auto_vacuum"), "0\n");
    fill(&env, 300);
    let disk_before = disk_bytes(&env);

    let store = env.store().await;
    let pruned = store
        .prune(now(), NINETY_DAYS, 50)
        .await
        .expect("prune and convert");
    store.close().await;
    assert_eq!(env.sql("PRAGMA auto_vacuum"), "2\n", "now incremental");
    assert_eq!(env.sql("PRAGMA freelist_count"), "0\n");
    assert!(pruned.runs > 700, "{pruned:?}");
    assert!(pruned.pages_freed > 0, "{pruned:?}");
    let disk_after = disk_bytes(&env);
    assert!(
        disk_after * 3 < disk_before,
        "file {disk_before} -> {disk_after} bytes"
    );
    eprintln!("conversion: on disk {disk_before} -> {disk_after} bytes; {pruned:?}");
    assert_consistent(&env);

    // The next prune is incremental: no VACUUM, the freed pages still go back.
    env.sql("DELETE FROM output WHERE stream = 'stdout'");
    assert!(number(&env, "PRAGMA freelist_count") > 0);
    let store = env.store().await;
    let again = store.prune(now(), NINETY_DAYS, 50).await.expect("prune");
    store.close().await;
    assert!(again.pages_freed > 0, "{again:?}");
    assert_eq!(env.sql("PRAGMA freelist_count"), "0\n");
    assert_consistent(&env);
}

/// Wait (bounded) until the database has `want` runs.
async fn wait_for_runs(env: &TestEnv, want: &str) {
    for _ in 0..600 {
        if env.sql("SELECT count(*) FROM runs") == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "never {want:?} runs: {}",
        env.sql("SELECT count(*) FROM runs")
    );
}

/// The daemon's task prunes at start, then every hour (of tokio's monotonic
/// timer; ages are counted on the clock's wall time), keeps going after an error
/// and returns when shut down.
#[tokio::test]
async fn the_daemon_prunes_at_start_and_every_hour() {
    let env = TestEnv::new("");
    let store = env.store().await;
    // One run a day for 100 days; the oldest finished 99.5 days ago.
    env.sql(&format!(
        "WITH RECURSIVE d(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM d WHERE d < 99)
         INSERT INTO runs (job, trigger, scheduled_at, status, started_at, finished_at)
         SELECT 'daily', 'schedule', t, 'succeeded', t, t
         FROM (SELECT strftime('%Y-%m-%dT%H:%M:%fZ', julianday('{NOW}') - d - 0.5) AS t FROM d);"
    ));
    let clock = Arc::new(TestClock::new(now()));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(prune_periodically(
        store.clone(),
        clock.clone(),
        NINETY_DAYS,
        1000,
        shutdown.clone(),
    ));

    // At start: runs older than 90 days are gone (89.5 days old is kept).
    wait_for_runs(&env, "90\n").await;

    // 13 hours later one more has aged out, and the hourly prune takes it.
    clock.advance(Duration::from_secs(13 * 3600));
    tokio::time::pause();
    tokio::time::advance(PRUNE_EVERY).await;
    tokio::time::resume();
    wait_for_runs(&env, "89\n").await;
    assert_eq!(
        clock.now(),
        now() + TimeDelta::hours(13),
        "the clock moved only as told"
    );

    // A prune that fails is logged; the task goes on sleeping and pruning.
    store.close().await;
    tokio::time::pause();
    tokio::time::advance(PRUNE_EVERY).await;
    tokio::time::resume();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "a failed prune must not end the task");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the task returns on shutdown")
        .expect("the task never panics");
}

/// The README's queries, as operators run them with the sqlite3 shell, read
/// runs, attempts and output through indexes: no full scan of any of them, so
/// they stay fast with a million attempts. (The store's own queries, with the
/// SQLite cronbox is built with, are checked in `store::retention`'s unit tests.)
#[tokio::test]
async fn readme_queries_use_indexes_not_full_scans() {
    let env = TestEnv::new("");
    env.store().await.close().await;
    fill(&env, 200);
    let blocks = common::readme_sql_blocks();
    assert_eq!(blocks.len(), 4, "the README shows four queries");
    for block in &blocks {
        let query = block.replace("backup-db", "job-1");
        let plan = env.sql(&format!("EXPLAIN QUERY PLAN {query}"));
        let scans: Vec<&str> = plan
            .lines()
            .map(|l| l.trim_start_matches(['|', '`', '-', ' ']))
            .filter(|l| {
                l.starts_with("SCAN ")
                    && !l.starts_with("SCAN (subquery")
                    && !l.starts_with("SCAN CONSTANT ROW")
            })
            .collect();
        assert!(scans.is_empty(), "{query}\n{plan}");
        eprintln!("{query}{plan}");
    }
}

/// A million attempts: `cronbox history JOB` (Store::history) and the README's
/// queries stay fast, and a prune of 900,000 runs completes. Slow to build, so
/// not in the default run: `cargo test --test retention -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "slow: builds a database of a million attempts"]
async fn a_million_attempts() {
    let env = TestEnv::new("");
    env.store().await.close().await;
    // 'rare' ran 30 times long ago (the lowest ids); 100 jobs share a million runs since.
    env.sql(&format!(
        "WITH RECURSIVE k(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM k WHERE k < 30)
         INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at)
         SELECT k, 'rare', 'manual', t, 'succeeded', t, t
         FROM (SELECT k, strftime('%Y-%m-%dT%H:%M:%fZ', julianday('{NOW}') - 80 + k / 1440.0) AS t FROM k);
         WITH RECURSIVE n(i) AS (SELECT 31 UNION ALL SELECT i + 1 FROM n WHERE i < 1000030)
         INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at)
         SELECT i, 'job-' || (i % 100), 'schedule', t, CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END, t, t
         FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', julianday('{NOW}') - (1000030 - i) / 14400.0) AS t FROM n);
         INSERT INTO attempts (run_id, attempt, image, started_at, finished_at, exit_code, outcome)
         SELECT id, 1, 'busybox', started_at, finished_at, status = 'failed', 'exited' FROM runs;
         INSERT INTO output (attempt_id, stream, seq, at, data)
         SELECT id, 'stdout', 0, started_at, CAST(hex(randomblob(32)) AS BLOB) FROM attempts;"
    ));
    assert_eq!(env.sql("SELECT count(*) FROM attempts"), "1000030\n");
    let disk_before = disk_bytes(&env);

    let store = env.store().await;
    for job in [Some("job-7"), Some("rare"), None] {
        let started = std::time::Instant::now();
        let rows = store.history(job, 20).await.expect("history");
        let took = started.elapsed();
        assert_eq!(rows.len(), 20);
        eprintln!("Store::history({job:?}, 20): {took:?}");
        assert!(took < Duration::from_secs(5), "{job:?}: {took:?}");
    }
    for block in common::readme_sql_blocks() {
        let query = block.replace("backup-db", "job-7");
        let started = std::time::Instant::now();
        env.sql(&query);
        eprintln!("sqlite3 README query: {:?}\n{query}", started.elapsed());
    }

    let started = std::time::Instant::now();
    let pruned = store.prune(now(), NINETY_DAYS, 1000).await.expect("prune");
    let took = started.elapsed();
    store.close().await;
    assert_eq!(
        pruned.runs,
        1_000_000 - 100 * 1000,
        "the rare job is under both limits"
    );
    assert_consistent(&env);
    eprintln!(
        "prune of a million: {pruned:?} in {took:?}; on disk {disk_before} -> {} bytes",
        disk_bytes(&env)
    );
}
