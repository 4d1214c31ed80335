//! The daemon as a subprocess, killed with SIGKILL at every point where it
//! writes to the database or changes a container (before and after the run's
//! row, the attempt's row, the create, the start, the exit, the record of the
//! end, the removal), of the first attempt and of the retry after it, during the
//! start-up repair that takes over what a killed daemon left, at the hand-over
//! of `concurrency = "replace"`, and around a `skipped` or `missed` row, then
//! restarted: each tick is accounted for once, the job executed exactly as often
//! as its attempts say (it counts its executions in a mounted file, so "ran
//! twice" is seen from outside), each attempt keeps its real exit code and its
//! whole output once, nothing is left running, and no container is left behind.

mod common;

use common::{TestEnv, wait_for_sql};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The same points of the run's second attempt (its retry): `#2`, the second
/// time the process gets there.
const RETRY_POINTS: [&str; 6] = [
    "before-create#2",
    "after-create#2",
    "after-start#2",
    "after-exit#2",
    "after-record#2",
    "after-remove#2",
];

/// A daemon killed while its attempt runs (`after-start`), or once it ended
/// (`after-exit`), then a second one killed while it takes that attempt over:
/// once the start-up repair has chosen what to adopt (`after-adopt`), or once
/// the adopted attempt's end is recorded (`after-record`, its container not
/// removed yet).
const REPAIR_POINTS: [[&str; 2]; 4] = [
    ["after-start", "after-adopt"],
    ["after-exit", "after-adopt"],
    ["after-start", "after-record"],
    ["after-start", "after-remove"],
];

/// Every point of a run where the process may die; each is a failpoint.
const POINTS: [&str; 8] = [
    "before-run",
    "after-run",
    "before-create",
    "after-create",
    "after-start",
    "after-exit",
    "after-record",
    "after-remove",
];

/// Fails its first execution (exit 3) and succeeds the next (exit 0); each
/// execution adds a line to /count/runs.
fn jobs(count: &Path) -> String {
    format!(
        r#"
[jobs.backup]
schedule = "@every 30s"
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /count/runs; echo start; sleep 2; echo end >&2; [ $(wc -l < /count/runs) -gt 1 ] || exit 3"]
volumes = ["{}:/count"]
retries = 2
backoff = "1s"
success_exit_codes = [0]
"#,
        count.display()
    )
}

fn daemon(env: &TestEnv, pause_at: Option<&str>, log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cronbox"));
    command
        .args([
            "daemon",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("CRONBOX_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    if let Some(point) = pause_at {
        command.env("CRONBOX_TEST_PAUSE_AT", point);
    }
    command.spawn().expect("cronbox daemon")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Wait (bounded: 90 s, a tick of `@every 30s` comes within 30) for `needle` in `log`.
async fn wait_for_log(log: &Path, needle: &str) {
    for _ in 0..900 {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the daemon never logged {needle:?}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// The failpoint a pause spec (`POINT` or `POINT#N`) names.
fn point_of(spec: &str) -> &str {
    spec.split('#').next().unwrap_or(spec)
}

/// Start a daemon on `env` that pauses at `spec`, wait until it does, and
/// SIGKILL it there.
async fn kill_at(env: &TestEnv, spec: &str, log: &Path) -> Result<(), String> {
    let mut daemon = daemon(env, Some(spec), log);
    wait_for_log(log, &format!("test pause at {} (", point_of(spec))).await;
    signal(&daemon, "-KILL");
    daemon.wait().map_err(|e| e.to_string())?;
    Ok(())
}

/// Kill a daemon at `point` during its first tick, restart it, and check what
/// the restart made of it. Returns the point's findings, or a description of
/// what went wrong.
async fn kill_and_recover(point: &'static str) -> Result<(), String> {
    kill_each_and_recover(&[point]).await
}

/// Kill a daemon at each of `points` in turn (the first during its first tick,
/// each later one while it takes over what the one before left), then start
/// one more and check what it made of it all.
async fn kill_each_and_recover(points: &[&'static str]) -> Result<(), String> {
    let name = points.join(" then ");
    let count: PathBuf = tempfile::tempdir()
        .map_err(|e| e.to_string())?
        .keep()
        .join("count");
    std::fs::create_dir_all(&count).map_err(|e| e.to_string())?;
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &jobs(&count));
    for (i, point) in points.iter().enumerate() {
        kill_at(&env, point, &env.dir.path().join(format!("killed-{i}.log"))).await?;
    }
    let tick_before = env.sql("SELECT horizon FROM schedule_state");

    let second_log = env.dir.path().join("second.log");
    let mut second = daemon(&env, None, &second_log);
    // Its start-up repair is done (a leftover container removed) before it stops.
    wait_for_log(&second_log, "scheduler started").await;
    // The tick the killed daemon took ends: attempt 1 exits 3, attempt 2 exits 0.
    wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    signal(&second, "-TERM");
    let status = second.wait().map_err(|e| e.to_string())?;
    let log = std::fs::read_to_string(&second_log).unwrap_or_default();
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{name}: {what}\nlast daemon's log:\n{log}"))
        }
    };
    check(status.success(), "the second daemon failed".into())?;
    let runs = env.sql("SELECT id, status, trigger FROM runs ORDER BY id");
    check(
        runs.lines().count() == 1,
        format!("one run for the tick, not {runs:?} (horizon after the kills: {tick_before:?})"),
    )?;
    let attempts = env.sql("SELECT attempt, outcome, exit_code FROM attempts ORDER BY attempt");
    check(
        attempts == "1|exited|3\n2|exited|0\n",
        format!("attempts {attempts:?}"),
    )?;
    let executions = lines(&count.join("runs"));
    check(
        executions == 2,
        format!("the job executed {executions} times for two attempts"),
    )?;
    for attempt in [1, 2] {
        let output = env.sql(&format!(
            "SELECT o.stream, CAST(group_concat(o.data, '') AS TEXT) FROM \
             (SELECT o.stream, o.data FROM output o JOIN attempts a ON a.id = o.attempt_id \
              WHERE a.attempt = {attempt} ORDER BY o.stream, o.seq) o GROUP BY o.stream"
        ));
        check(
            output == "stderr|end\n\nstdout|start\n\n",
            format!("attempt {attempt}'s output {output:?}"),
        )?;
    }
    let left = env.sql(
        "SELECT (SELECT count(*) FROM attempts WHERE outcome = 'running') + \
                (SELECT count(*) FROM runs WHERE status = 'running')",
    );
    check(left == "0\n", "something is left running".into())?;
    check(
        env.containers_gone().await,
        "a container was left behind".into(),
    )?;
    let _ = std::fs::remove_dir_all(count.parent().unwrap_or(&count));
    Ok(())
}

#[tokio::test]
async fn a_kill_at_any_point_of_a_run_leaves_one_run_executed_once_per_attempt() {
    common::engine().await;
    // All points at once: they share the wait for the first tick.
    let results = futures_util::future::join_all(POINTS.map(kill_and_recover)).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn a_kill_at_any_point_of_a_retry_leaves_one_run_executed_once_per_attempt() {
    common::engine().await;
    let results = futures_util::future::join_all(RETRY_POINTS.map(kill_and_recover)).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn a_kill_during_the_start_up_repair_leaves_one_run_executed_once_per_attempt() {
    common::engine().await;
    let cases = REPAIR_POINTS
        .iter()
        .map(|points| kill_each_and_recover(points));
    let results = futures_util::future::join_all(cases).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A `replace` job whose first execution runs until it is replaced (it takes
/// a second to stop) and whose later ones end at once; each execution adds its
/// container's hostname (the container's short id) to /count/runs.
fn replace_job(count: &Path) -> String {
    format!(
        r#"
[jobs.latest]
schedule = "@every 10s"
image = "IMAGE"
concurrency = "replace"
command = ["sh", "-c", "echo $HOSTNAME >> /count/runs; [ $(wc -l < /count/runs) -gt 1 ] && exit 0; trap 'sleep 1; exit 0' TERM; while true; do sleep 0.2; done"]
volumes = ["{}:/count"]
"#,
        count.display()
    )
}

/// A `forbid` job every 5 s whose first execution takes 7 s (so the next tick
/// is skipped) and whose later ones end at once; each execution adds its
/// container's hostname to /count/runs.
fn forbid_job(count: &Path) -> String {
    format!(
        r#"
[jobs.slow]
schedule = "@every 5s"
image = "IMAGE"
concurrency = "forbid"
command = ["sh", "-c", "echo $HOSTNAME >> /count/runs; [ $(wc -l < /count/runs) -gt 1 ] || sleep 7"]
volumes = ["{}:/count"]
"#,
        count.display()
    )
}

/// One daemon of a sequence: killed where it pauses, started this long after
/// the one before was killed.
struct Step {
    pause: &'static str,
    after: Duration,
}

const AT_ONCE: Duration = Duration::ZERO;

/// Kill a daemon at each step of `steps` in turn, on a schedule of `jobs`
/// (given the count directory), then start one more and let it run until
/// `done` prints 1; then check that every execution belongs to one attempt
/// and each attempt that ran executed once, that no replacing run's container
/// started before the one it replaced had exited, that the first `ticks` ticks
/// (`period` seconds apart, from the first run's) are each accounted for once
/// (a run, a skipped row, or inside a missed span), and that nothing is left
/// running or behind.
async fn kill_each_and_account(
    jobs: fn(&Path) -> String,
    steps: &[Step],
    done: &str,
    (period, ticks): (i64, i64),
) -> Result<(), String> {
    let name = steps
        .iter()
        .map(|s| s.pause)
        .collect::<Vec<_>>()
        .join(" then ");
    let base = tempfile::tempdir().map_err(|e| e.to_string())?;
    let count = base.path().join("count");
    std::fs::create_dir_all(&count).map_err(|e| e.to_string())?;
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &jobs(&count));
    for (i, step) in steps.iter().enumerate() {
        tokio::time::sleep(step.after).await;
        let log = env.dir.path().join(format!("killed-{i}.log"));
        kill_at(&env, step.pause, &log).await?;
    }
    let last_log = env.dir.path().join("last.log");
    let mut last = daemon(&env, None, &last_log);
    wait_for_log(&last_log, "scheduler started").await;
    wait_for_sql(&env, done, "1\n").await;
    signal(&last, "-TERM");
    let status = last.wait().map_err(|e| e.to_string())?;
    let log = std::fs::read_to_string(&last_log).unwrap_or_default();
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{name}: {what}\nlast daemon's log:\n{log}"))
        }
    };
    check(status.success(), "the last daemon failed".into())?;
    let executed = std::fs::read_to_string(count.join("runs")).unwrap_or_default();
    let executed: Vec<&str> = executed.lines().collect();
    let attempts = env.sql(
        "SELECT run_id, attempt, outcome, coalesce(substr(container_id, 1, 12), '') FROM attempts ORDER BY id",
    );
    for line in &executed {
        let of_attempts = attempts
            .lines()
            .filter(|a| a.ends_with(&format!("|{line}")))
            .count();
        let twice = executed.iter().filter(|l| *l == line).count();
        check(
            of_attempts == 1 && twice == 1,
            format!(
                "container {line} executed {twice} time(s), is of {of_attempts} attempt(s): {attempts:?}"
            ),
        )?;
    }
    for attempt in attempts.lines() {
        let ran = ["|exited|", "|replaced|"]
            .iter()
            .any(|o| attempt.contains(o));
        let container = attempt.rsplit('|').next().unwrap_or_default();
        check(
            !ran || executed.contains(&container),
            format!(
                "attempt {attempt} ran, but its container never executed the job: {executed:?}"
            ),
        )?;
    }
    let overlapping = env.sql(
        "SELECT prev.run_id, next.run_id FROM attempts prev JOIN attempts next \
         ON next.run_id = (SELECT min(id) FROM runs WHERE id > prev.run_id AND status NOT IN ('missed', 'skipped')) \
         WHERE prev.outcome = 'replaced' AND next.started_at < prev.finished_at",
    );
    check(
        overlapping.is_empty(),
        format!("a run started before the one it replaced had exited: {overlapping:?}"),
    )?;
    for k in 0..ticks {
        let tick = format!(
            "julianday((SELECT scheduled_at FROM runs ORDER BY id LIMIT 1), '+{} seconds')",
            k * period
        );
        let rows = env.sql(&format!(
            "SELECT count(*) FROM runs WHERE julianday(scheduled_at) = {tick} \
             OR (status = 'missed' AND julianday(missed_first) <= {tick} AND {tick} < julianday(scheduled_at))"
        ));
        let runs =
            env.sql("SELECT id, trigger, scheduled_at, status, missed_first FROM runs ORDER BY id");
        check(
            rows == "1\n",
            format!(
                "tick {k} is accounted for by {} row(s): {runs}",
                rows.trim()
            ),
        )?;
    }
    // A run still waiting when the last daemon stopped (for the run it
    // replaces) stays pending for the next start, by design.
    let left = env.sql(
        "SELECT (SELECT count(*) FROM attempts WHERE outcome = 'running') + \
                (SELECT count(*) FROM runs r WHERE status = 'running' \
                 AND EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id))",
    );
    check(left == "0\n", "something is left running".into())?;
    check(
        env.containers_gone().await,
        "a container was left behind".into(),
    )?;
    Ok(())
}

#[tokio::test]
async fn a_kill_at_the_hand_over_of_a_replace_runs_the_new_run_once_after_the_old_one() {
    common::engine().await;
    // The replaced run's end is recorded (its container not removed yet; the
    // new run waits for it), or the new run's wait is over (its attempt not
    // recorded yet).
    let done = "SELECT count(*) >= 2 FROM attempts WHERE outcome = 'exited'";
    let cases = ["after-record", "after-replaced"].map(|pause| {
        let steps = [Step {
            pause,
            after: AT_ONCE,
        }];
        async move { kill_each_and_account(replace_job, &steps, done, (10, 2)).await }
    });
    let results = futures_util::future::join_all(cases).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn a_kill_around_a_skipped_or_missed_row_accounts_for_each_tick_once() {
    common::engine().await;
    // Every tick up to the fifth is accounted for once the last daemon stops.
    let done = "SELECT max(julianday(scheduled_at)) >= \
                julianday((SELECT scheduled_at FROM runs ORDER BY id LIMIT 1), '+20 seconds') FROM runs";
    // Skipped: the second tick finds the first run going. Missed: a daemon
    // down for 12 s (two ticks) comes back and records the first of them missed.
    let down = Duration::from_secs(12);
    let cases: [Vec<Step>; 4] = [
        vec![Step {
            pause: "before-skip",
            after: AT_ONCE,
        }],
        vec![Step {
            pause: "after-skip",
            after: AT_ONCE,
        }],
        vec![
            Step {
                pause: "after-start",
                after: AT_ONCE,
            },
            Step {
                pause: "before-missed",
                after: down,
            },
        ],
        vec![
            Step {
                pause: "after-start",
                after: AT_ONCE,
            },
            Step {
                pause: "after-missed",
                after: down,
            },
        ],
    ];
    let cases = cases
        .iter()
        .map(|steps| kill_each_and_account(forbid_job, steps, done, (5, 5)));
    let results = futures_util::future::join_all(cases).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
