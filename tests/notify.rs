//! Notifications end to end with real parts: a real HTTP receiver on a loopback
//! port (a small axum server in the test), the real daemon (in-process, and as a
//! subprocess killed with SIGKILL), the real engine and SQLite. A failing job with
//! retries sends one `failure` webhook with the documented payload and its next
//! success one `recovery`; a storm is folded; a receiver that refuses, fails, then
//! hangs gets the notification once it answers, across a SIGKILL, always with the
//! same idempotency key; a URL's token never reaches the log or the database.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::subprocess::{cronbox, daemon, kill, one_pending_failure};
use common::{Daemon, TestEnv, wait_for_sql};

/// What the receiver does with the next request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Answer only after this long (longer than the channel's timeout).
    Hang(Duration),
}

/// One request the receiver got: its path, Idempotency-Key and body.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    key: String,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Answers for the next requests; 200 when empty.
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    /// Serve on `listener` until the test ends.
    fn serve(self, listener: tokio::net::TcpListener) -> Receiver {
        let app = axum::Router::new()
            .fallback(record)
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        self
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Wait (bounded: 3 minutes) until at least `count` requests were answered 2xx
    /// or otherwise seen; returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Seen> {
        for _ in 0..1800 {
            if self.seen().len() >= count {
                return self.seen();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the receiver got {:?}, waited for {count} requests",
            self.seen()
        );
    }
}

async fn record(
    State(receiver): State<Receiver>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let next = receiver.script.lock().expect("lock").pop_front();
    receiver.seen.lock().expect("lock").push(Seen {
        path: uri.to_string(),
        key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body,
    });
    match next {
        None => StatusCode::OK,
        Some(Answer::Status(code)) => StatusCode::from_u16(code).expect("status"),
        Some(Answer::Hang(how_long)) => {
            tokio::time::sleep(how_long).await;
            StatusCode::OK
        }
    }
}

async fn receiver() -> (Receiver, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    (Receiver::default().serve(listener), addr)
}

/// A job that fails (exit 3, "boom" on stderr) until it has executed `fails`
/// times, counting its executions in a mounted file; no schedule of its own.
fn flaky_job(count: &Path, fails: u32, extra: &str) -> String {
    format!(
        r#"
[jobs.flaky]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /count/runs; echo working; echo boom >&2; [ $(wc -l < /count/runs) -gt {fails} ] || exit 3"]
volumes = ["{}:/count"]
retries = 1
backoff = "1s"
notify = ["ops"]
{extra}
"#,
        count.display()
    )
}

fn json(seen: &Seen) -> serde_json::Value {
    serde_json::from_str(&seen.body).unwrap_or_else(|e| panic!("{e}: {}", seen.body))
}

#[tokio::test]
async fn a_failing_job_with_retries_sends_one_failure_then_one_recovery() {
    let (receiver, addr) = receiver().await;
    let count = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::with_daemon(
        "public_url = \"https://cronbox.example.org/\"",
        &format!(
            "[notify.ops]\nkind = \"webhook\"\nurl = \"http://{addr}/hook\"\n{}",
            flaky_job(count.path(), 2, "")
        ),
    );
    let (daemon, handle) = Daemon::start_controlled(
        &env,
        Arc::new(cronbox::clock::SystemClock),
        common::engine().await,
    )
    .await;

    let first = handle.run_now("flaky", Vec::new()).await.expect("a run");
    let seen = receiver.wait_for(1).await;
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {first}")),
        "failed\n"
    );
    let failure = json(&seen[0]);
    assert_eq!(failure["event"], "failure", "{failure}");
    assert_eq!(failure["job"], "flaky");
    assert_eq!(failure["run_id"], first);
    assert_eq!(failure["trigger"], "api");
    assert_eq!(failure["status"], "failed");
    assert_eq!(
        failure["attempts"], 2,
        "one notice per run, after its retries"
    );
    assert_eq!(failure["exit_code"], 3);
    assert_eq!(failure["outcome"], "exited");
    assert_eq!(failure["stderr_tail"], "boom");
    assert_eq!(failure["stdout_tail"], "working");
    assert_eq!(failure["folded"], 0);
    assert_eq!(
        failure["url"],
        format!("https://cronbox.example.org/runs/{first}"),
        "the link to the run's page under [daemon] public_url"
    );
    assert_eq!(failure["version"], 1);
    assert!(failure["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(failure["duration_ms"].as_i64().is_some_and(|ms| ms >= 0));
    for field in ["scheduled_at", "started_at", "finished_at", "host"] {
        assert!(failure[field].is_string(), "{field}: {failure}");
    }
    assert_eq!(
        seen[0].key,
        failure["id"].to_string(),
        "the row's id is the key"
    );
    assert_eq!(seen[0].path, "/hook");

    let second = handle.run_now("flaky", Vec::new()).await.expect("a run");
    let seen = receiver.wait_for(2).await;
    let recovery = json(&seen[1]);
    assert_eq!(recovery["event"], "recovery", "{recovery}");
    assert_eq!(recovery["run_id"], second);
    assert_eq!(recovery["status"], "succeeded");
    daemon.stop().await;
    assert_eq!(receiver.seen().len(), 2, "{:?}", receiver.seen());
    assert_eq!(
        env.sql("SELECT event, state, attempts, run_id FROM notifications ORDER BY id"),
        format!("failure|delivered|1|{first}\nrecovery|delivered|1|{second}\n")
    );
    assert!(env.containers_gone().await);
    // Retention takes a run's delivered notifications along with it.
    let store = env.store().await;
    let later =
        cronbox::clock::Clock::now(&cronbox::clock::SystemClock) + chrono::TimeDelta::days(2);
    let pruned = store
        .prune(later, Duration::from_secs(86400), 10_000)
        .await
        .expect("prune");
    store.close().await;
    assert_eq!(pruned.runs, 2);
    assert_eq!(env.sql("SELECT count(*) FROM notifications"), "0\n");
}

#[tokio::test]
async fn a_storm_of_failures_is_folded_and_the_next_message_counts_them() {
    let (receiver, addr) = receiver().await;
    let count = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::new(&format!(
        "[notify.ops]\nkind = \"webhook\"\nurl = \"http://{addr}/hook\"\nformat = \"json\"\n{}",
        flaky_job(
            count.path(),
            1000,
            "retries = 0\nnotify_cooldown = \"1h\"\nnotify_on = [\"failure\"]"
        )
        .replace("retries = 1\n", "")
    ));
    let (daemon, handle) = Daemon::start_controlled(
        &env,
        Arc::new(cronbox::clock::SystemClock),
        common::engine().await,
    )
    .await;
    for _ in 0..3 {
        let run = handle.run_now("flaky", Vec::new()).await.expect("a run");
        wait_for_sql(
            &env,
            &format!(
                "SELECT count(*) FROM notifications WHERE run_id = {run} AND state <> 'pending'"
            ),
            "1\n",
        )
        .await;
    }
    daemon.stop().await;
    assert_eq!(
        receiver.seen().len(),
        1,
        "one message for three failures within the cooldown"
    );
    assert_eq!(
        env.sql("SELECT event, state FROM notifications ORDER BY id"),
        "failure|delivered\nfailure|folded\nfailure|folded\n"
    );
    // With the cooldown past (written back an hour), the next failure counts the folded ones.
    env.sql("UPDATE notifications SET created_at = '2000-01-01T00:00:00.000Z'");
    let (daemon, handle) = Daemon::start_controlled(
        &env,
        Arc::new(cronbox::clock::SystemClock),
        common::engine().await,
    )
    .await;
    handle.run_now("flaky", Vec::new()).await.expect("a run");
    let seen = receiver.wait_for(2).await;
    daemon.stop().await;
    assert_eq!(json(&seen[1])["folded"], 2, "{}", seen[1].body);
}

/// The query of README.md's "## Notifications" `sqlite3 DB "QUERY"` example.
fn readme_pending_query() -> String {
    let readme = include_str!("../README.md");
    let start = readme.find("\n## Notifications\n").expect("the section");
    let line = readme[start..]
        .lines()
        .find(|l| l.starts_with("sqlite3 /var/lib/cronbox/cronbox.db \""))
        .expect("the sqlite3 example");
    line.split_once('"')
        .expect("a query")
        .1
        .trim_end_matches('"')
        .to_owned()
}

const TOKEN: &str = "s3cretT0ken";

#[tokio::test]
async fn a_receiver_down_then_failing_then_hanging_gets_it_once_across_a_sigkill() {
    // A port with nobody listening: connections are refused.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let count = tempfile::tempdir().expect("tempdir");
    let url_file = count.path().join("ops.url");
    std::fs::write(
        &url_file,
        format!("http://{addr}/hook/{TOKEN}?token={TOKEN}\n"),
    )
    .expect("url");
    let env = TestEnv::new(&format!(
        "[daemon.http]\nlisten = \"\"\n[notify.ops]\nkind = \"webhook\"\nurl_file = \"{}\"\ntimeout = \"2s\"\nheaders = {{ Authorization = \"Bearer {TOKEN}\" }}\n{}",
        url_file.display(),
        flaky_job(count.path(), 1000, "retries = 0").replace("retries = 1\n", "")
    ));
    let log = env.dir.path().join("daemon.log");
    // The first daemon writes the routes; `cronbox run` (another process) ends a
    // run failed, which writes the notification in the same transaction.
    one_pending_failure(&env, &log, "flaky").await;

    // Refused: tried and recorded, naming the host only; killed before the retry.
    let second = daemon(&env, &log);
    wait_for_sql(&env, "SELECT attempts FROM notifications", "1\n").await;
    kill(second);
    let error = env.sql("SELECT last_error FROM notifications");
    assert!(
        error.contains(&format!("could not connect to {addr}")),
        "{error}"
    );
    // The README's query of what is still waiting, verbatim.
    let pending = env.sql(&readme_pending_query());
    assert!(
        pending.starts_with("1|flaky|ops|failure|1|") && pending.contains("could not connect"),
        "{pending}"
    );

    // The receiver is back on the same port: it answers 500, then hangs, then 200.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind again");
    let receiver = Receiver::default().serve(listener);
    receiver
        .script
        .lock()
        .expect("lock")
        .extend([Answer::Status(500), Answer::Hang(Duration::from_secs(5))]);
    let third = daemon(&env, &log);
    receiver.wait_for(3).await;
    wait_for_sql(
        &env,
        "SELECT state, attempts FROM notifications",
        "delivered|4\n",
    )
    .await;
    kill(third);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 3, "500, the hang, then 200: {seen:?}");
    let keys: Vec<&str> = seen.iter().map(|s| s.key.as_str()).collect();
    let id = env.sql("SELECT id FROM notifications");
    assert_eq!(keys, [id.trim(); 3], "every attempt carries the row's id");
    assert!(
        seen.iter().all(|s| s.body == seen[0].body),
        "every retry sends the same payload"
    );
    assert_eq!(json(&seen[2])["event"], "failure");

    // The token is nowhere but in its file and the receiver's request (its URL
    // and its Authorization header).
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("notification delivered"), "{logged}");
    assert!(!logged.contains(TOKEN), "the URL's token was logged");
    let dump = env.sql(".dump");
    assert!(!dump.contains(TOKEN), "the URL's token is in the database");
    assert!(seen[0].path.contains(TOKEN));
    assert!(env.containers_gone().await);
}

// Multi-threaded: the receiver answers while the test waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_now_check_reads_url_files_and_notifications_lists() {
    let (receiver, addr) = receiver().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url_file = dir.path().join("ops.url");
    std::fs::write(&url_file, format!("http://{addr}/hook/{TOKEN}\n")).expect("url");
    let env = TestEnv::new(&format!(
        "[notify.ops]\nkind = \"webhook\"\nurl_file = \"{}\"\nformat = \"slack\"\n\
         [notify.gone]\nkind = \"webhook\"\nurl_file = \"{}\"\n{}",
        url_file.display(),
        dir.path().join("missing.url").display(),
        flaky_job(dir.path(), 1, "")
    ));

    let sent = cronbox(&env, &["notify", "test", "ops", "--job", "flaky"]);
    let stdout = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(
        stdout,
        format!("test message delivered to channel ops ({addr})\n")
    );
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let text = json(&seen[0])["text"]
        .as_str()
        .expect("slack text")
        .to_owned();
    assert!(
        text.starts_with("cronbox: flaky test message from cronbox"),
        "{text}"
    );

    let failed = cronbox(&env, &["notify", "test", "gone"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("channel gone: url_file"), "{stderr}");

    let checked = cronbox(&env, &["check"]);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(":9:9: channel gone: url_file") && stderr.contains("missing.url"),
        "{stderr}"
    );
    for output in [&sent, &failed, &checked] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!all.contains(TOKEN), "the URL's token is shown: {all}");
    }

    let store = env.store().await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-29T02:31:10Z")
        .expect("time")
        .to_utc();
    let id = store
        .insert_notification("flaky", "ops", "failure", "{}", at)
        .await
        .expect("a row");
    store.close().await;
    let listed = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "notifications",
            "--json",
            "--database",
            env.db_path.to_str().expect("utf-8"),
        ])
        .output()
        .expect("cronbox notifications");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    assert_eq!(rows.len(), 1, "notify test writes no row: {rows:?}");
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["state"], "pending");
    assert_eq!(rows[0]["next_attempt_at"], "2026-03-29T02:31:10.000Z");
}

#[tokio::test]
async fn healthchecks_pings_start_each_attempt_then_success_or_the_exit_code_with_the_output() {
    let (receiver, addr) = receiver().await;
    let count = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::new(&format!(
        "[notify.hc]\nkind = \"healthchecks\"\nurl = \"http://{addr}/ping/\"\n{}\
         healthchecks = {{ channel = \"hc\", check = \"flaky-uuid\" }}\n\
         [jobs.broken]\nschedule = \"0 0 1 1 *\"\nimage = \"IMAGE\"\n\
         command = [\"sh\", \"-c\", \"echo partial; echo disk full >&2; exit 7\"]\n\
         healthchecks = {{ channel = \"hc\", check = \"broken-uuid\" }}\n",
        flaky_job(count.path(), 1, "").replace("notify = [\"ops\"]\n", "")
    ));
    let (daemon, handle) = Daemon::start_controlled(
        &env,
        Arc::new(cronbox::clock::SystemClock),
        common::engine().await,
    )
    .await;
    handle.run_now("flaky", Vec::new()).await.expect("a run");
    let seen = receiver.wait_for(3).await;
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/ping/flaky-uuid/start",
            "/ping/flaky-uuid/start",
            "/ping/flaky-uuid"
        ],
        "a start per attempt, then success"
    );
    assert_eq!(seen[2].body, "working\nboom", "the output's end");
    handle.run_now("broken", Vec::new()).await.expect("a run");
    let seen = receiver.wait_for(5).await;
    daemon.stop().await;
    assert_eq!(seen[3].path, "/ping/broken-uuid/start");
    assert_eq!(seen[4].path, "/ping/broken-uuid/7", "the exit code");
    assert_eq!(seen[4].body, "partial\ndisk full");
    assert_eq!(
        env.sql("SELECT count(*) FROM notifications WHERE state = 'delivered'"),
        "5\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_a_success_for_too_long_is_overdue_once_then_resolved() {
    let (receiver, addr) = receiver().await;
    let env = TestEnv::new(&format!(
        "[notify.ops]\nkind = \"webhook\"\nurl = \"http://{addr}/hook\"\n\
         [jobs.nightly]\nschedule = \"0 0 1 1 *\"\nimage = \"IMAGE\"\ncommand = [\"true\"]\n\
         catch_up = \"none\"\nstarting_deadline = \"1m\"\n\
         notify = [\"ops\"]\nnotify_on = [\"failure\", \"overdue\"]\nexpect_success_within = \"400d\"\n"
    ));
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .expect("time")
        .to_utc();
    let clock = Arc::new(cronbox::clock::TestClock::new(start));
    let (daemon, handle) =
        Daemon::start_controlled(&env, clock.clone(), common::engine().await).await;
    // The daemon first sees the job now: the 400 days count from here. The clock
    // jumps 100 days at a time, so the yearly ticks it passes are missed, not run
    // (`check` refuses a dead-man alert shorter than the schedule's period).
    wait_for_sql(
        &env,
        "SELECT job, since, overdue_at IS NULL FROM overdue_jobs",
        "nightly|2026-03-01T00:00:00.000Z|1\n",
    )
    .await;
    for _ in 0..5 {
        clock.advance(Duration::from_secs(100 * 86400));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seen = receiver.wait_for(1).await;
    let overdue = json(&seen[0]);
    assert_eq!(overdue["event"], "overdue", "{overdue}");
    assert_eq!(overdue["job"], "nightly");
    assert_eq!(overdue["run_id"], serde_json::Value::Null);
    let run = handle.run_now("nightly", Vec::new()).await.expect("a run");
    let seen = receiver.wait_for(2).await;
    daemon.stop().await;
    assert_eq!(
        seen.len(),
        2,
        "overdue once, however long it stays so: {seen:?}"
    );
    let resolved = json(&seen[1]);
    assert_eq!(resolved["event"], "overdue_resolved", "{resolved}");
    assert_eq!(resolved["run_id"], run);
    assert_eq!(
        env.sql("SELECT overdue_at IS NULL FROM overdue_jobs"),
        "1\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn the_daemon_heartbeat_pings_its_check_when_it_starts() {
    let (receiver, addr) = receiver().await;
    let env = TestEnv::with_daemon(
        "heartbeat = { channel = \"hc\", check = \"box-1\", every = \"1h\" }",
        &format!(
            "[notify.hc]\nkind = \"healthchecks\"\nurl = \"http://{addr}/ping/\"\n\
             [jobs.idle]\nschedule = \"0 0 1 1 *\"\nimage = \"IMAGE\"\n"
        ),
    );
    let daemon = Daemon::start(&env).await;
    let seen = receiver.wait_for(1).await;
    daemon.stop().await;
    assert_eq!(seen[0].path, "/ping/box-1", "{seen:?}");
    assert_eq!(seen[0].body, "");
    assert_eq!(
        env.sql("SELECT count(*) FROM notifications"),
        "0\n",
        "a heartbeat is sent directly, never a row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_and_missed_ticks_are_told_to_the_channels_that_ask() {
    let (receiver, addr) = receiver().await;
    let env = TestEnv::with_daemon(
        "on_shutdown = \"stop\"",
        &format!(
            "[notify.ops]\nkind = \"webhook\"\nurl = \"http://{addr}/hook\"\n\
             [jobs.slow]\nschedule = \"* * * * *\"\nimage = \"IMAGE\"\n\
             command = [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n\
             concurrency = \"forbid\"\nstop_grace = \"5s\"\n\
             notify = [\"ops\"]\nnotify_on = [\"skipped\", \"missed\"]\n"
        ),
    );
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:30Z")
        .expect("time")
        .to_utc();
    let clock = Arc::new(cronbox::clock::TestClock::new(start));
    let (daemon, _handle) =
        Daemon::start_controlled(&env, clock.clone(), common::engine().await).await;
    clock.wait_for_sleeps(0).await;
    clock.advance_and_settle(Duration::from_secs(30)).await; // 00:01 runs, and goes on
    wait_for_sql(&env, "SELECT status FROM runs", "running\n").await;
    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:02: skipped (forbid)
    // 00:05 at once: 00:03 and 00:04 recorded missed (one row), 00:05 skipped.
    // Each of the three writes its notification with the run's record.
    clock.advance_and_settle(Duration::from_secs(180)).await;
    // The second skipped tick, within notify_cooldown of the first, is folded.
    wait_for_sql(
        &env,
        "SELECT group_concat(event || ':' || state, ',') FROM (SELECT * FROM notifications ORDER BY id)",
        "skipped:delivered,missed:delivered,skipped:folded\n",
    )
    .await;
    daemon.stop().await;
    let told: Vec<(String, i64)> = receiver
        .seen()
        .iter()
        .map(|s| {
            let j = json(s);
            assert_eq!(j["job"], "slow", "{j}");
            (
                j["event"].as_str().unwrap_or_default().to_owned(),
                j["run_id"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let recorded = env.sql(
        "SELECT status || '|' || id FROM runs WHERE status IN ('skipped', 'missed') ORDER BY id",
    );
    let want: Vec<(String, i64)> = recorded
        .lines()
        .map(|l| {
            let (status, id) = l.split_once('|').expect("status|id");
            (status.to_owned(), id.parse().expect("id"))
        })
        .collect();
    assert_eq!(
        want.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["skipped", "missed", "skipped"],
        "{recorded}"
    );
    assert_eq!(
        told,
        want[..2],
        "one message per skipped or missed run, the repeat within the cooldown folded"
    );
    assert!(env.containers_gone().await);
}
