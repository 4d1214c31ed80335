//! Indexed runs (issue 17) against a real Docker engine and a real SQLite file:
//! every index once, at most `parallelism` (and `max_concurrent`) containers at
//! once, each seeing its own index; an index retried alone; `max_failed_indexes`
//! stopping the rest; the deadline bounding the whole run. The containers report
//! what they see in a mounted directory, so it is observed from outside.

mod common;

use common::TestEnv;
use cronbox::store::RunStatus;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A directory the containers write to (mounted at /s), kept outside the
/// test's own temp dir so its files, written by root in the container, can be
/// read here.
fn shared_dir(env: &TestEnv) -> PathBuf {
    let dir = env.dir.path().join("shared");
    std::fs::create_dir_all(&dir).expect("shared dir");
    dir
}

/// The lines of `dir/name` (none if it is missing).
fn lines(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Records how many containers of the run are live as it starts and as it
/// ends (in /s/seen), and `INDEX/COMPLETIONS` (in /s/ran); prints its index.
const COUNTING: &str = "touch /s/live.$CRONBOX_INDEX; ls /s | grep -c '^live' >> /s/seen; sleep 1; \
     ls /s | grep -c '^live' >> /s/seen; echo $CRONBOX_INDEX/$CRONBOX_COMPLETIONS >> /s/ran; \
     echo index $CRONBOX_INDEX; rm /s/live.$CRONBOX_INDEX";

fn counting_job(shared: &Path, completions: u32, parallelism: u32) -> String {
    shards(
        shared,
        COUNTING,
        &format!("completions = {completions}\nparallelism = {parallelism}"),
    )
}

/// The job `shards` running `sh -c SCRIPT` with `shared` mounted at /s, and
/// `keys` (TOML lines) added to it.
fn shards(shared: &Path, script: &str, keys: &str) -> String {
    format!(
        r#"
[jobs.shards]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "{script}"]
volumes = ["{}:/s"]
{keys}
"#,
        shared.display()
    )
}

/// The most containers seen live at once.
fn most_live(shared: &Path) -> usize {
    lines(shared, "seen")
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn six_completions_three_at_a_time_run_every_index_once_each_seeing_its_own() {
    let env = TestEnv::new("");
    let shared = shared_dir(&env);
    let env = rewrite(env, &counting_job(&shared, 6, 3));
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded), "{report:?}");
    assert_eq!(report.attempts, 6);
    let mut ran = lines(&shared, "ran");
    ran.sort();
    assert_eq!(
        ran,
        ["0/6", "1/6", "2/6", "3/6", "4/6", "5/6"],
        "every index once"
    );
    let most = most_live(&shared);
    assert!((1..=3).contains(&most), "at most 3 at once, saw {most}");
    // Each attempt is recorded with its index, and printed that index.
    assert_eq!(
        env.sql(
            "SELECT a.completion_index, a.outcome, a.exit_code, CAST(o.data AS TEXT) FROM attempts a \
             JOIN output o ON o.attempt_id = a.id AND o.stream = 'stdout' ORDER BY a.completion_index"
        ),
        "0|exited|0|index 0\n\n1|exited|0|index 1\n\n2|exited|0|index 2\n\n\
         3|exited|0|index 3\n\n4|exited|0|index 4\n\n5|exited|0|index 5\n\n"
    );
    assert_eq!(
        env.sql("SELECT count(DISTINCT attempt), count(DISTINCT completion_index) FROM history"),
        "6|6\n"
    );
    assert_eq!(
        env.sql("SELECT status, reason IS NULL FROM runs"),
        "succeeded|1\n"
    );
    assert!(env.containers_gone().await, "every container is removed");
}

#[tokio::test]
async fn max_concurrent_caps_an_indexed_run_below_its_parallelism() {
    let env = TestEnv::new("");
    let shared = shared_dir(&env);
    let env = rewrite(env, &counting_job(&shared, 4, 4));
    let mut ctx = env.context().await;
    ctx.slots = Some(Arc::new(tokio::sync::Semaphore::new(2)));
    let report = common::run_once_in(&env, &ctx).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded), "{report:?}");
    assert_eq!(lines(&shared, "ran").len(), 4);
    let most = most_live(&shared);
    assert!(
        (1..=2).contains(&most),
        "max_concurrent = 2 caps it, saw {most}"
    );
}

#[tokio::test]
async fn an_index_that_fails_its_first_attempt_is_retried_alone() {
    let env = TestEnv::new("");
    let shared = shared_dir(&env);
    let job = shards(
        &shared,
        "echo $CRONBOX_INDEX >> /s/ran; echo index $CRONBOX_INDEX; if [ $CRONBOX_INDEX = 2 ] && [ ! -e /s/failed ]; then touch /s/failed; exit 3; fi",
        r#"completions = 4
parallelism = 2
retries = 2
backoff = "1s""#,
    );
    let env = rewrite(env, &job);
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded), "{report:?}");
    assert_eq!(report.attempts, 5);
    let mut ran = lines(&shared, "ran");
    ran.sort();
    assert_eq!(ran, ["0", "1", "2", "2", "3"], "only index 2 ran twice");
    assert_eq!(
        env.sql(
            "SELECT completion_index, group_concat(exit_code, ',') FROM \
             (SELECT completion_index, exit_code FROM attempts ORDER BY attempt) GROUP BY completion_index"
        ),
        "0|0\n1|0\n2|3,0\n3|0\n"
    );
    assert_eq!(
        env.sql("SELECT completion_index, status FROM run_indexes ORDER BY completion_index"),
        "0|succeeded\n1|succeeded\n2|succeeded\n3|succeeded\n"
    );
    cli_shows_each_attempts_index(&env, report.run_id);
    readme_query_works_verbatim(&env);
}

/// The README's query of each index's attempts of a job's latest run.
fn readme_query_works_verbatim(env: &TestEnv) {
    let readme = include_str!("../README.md");
    let prefix = "sqlite3 /var/lib/cronbox/cronbox.db \"SELECT completion_index";
    let line = readme
        .lines()
        .find(|l| l.starts_with(prefix))
        .expect("the README's query of an indexed run");
    let query = line
        .trim_start_matches("sqlite3 /var/lib/cronbox/cronbox.db \"")
        .trim_end_matches('"');
    // Attempt numbers follow the order the indexes ran in: left out here.
    let rows: Vec<String> = env
        .sql(&query.replace("backup-shards", "shards"))
        .lines()
        .map(|row| {
            let fields: Vec<&str> = row.split('|').collect();
            format!("{}|{}|{}", fields[0], fields[2], fields[3])
        })
        .collect();
    assert_eq!(
        rows,
        [
            "0|exited|0",
            "1|exited|0",
            "2|exited|3",
            "2|exited|0",
            "3|exited|0"
        ]
    );
}

/// `cronbox history` (and `--json`) show each attempt's index; `cronbox logs
/// RUN --index I` prints only that index's attempts, and refuses an index the
/// run does not have. (The run of the test above: index 2 made two attempts.)
fn cli_shows_each_attempts_index(env: &TestEnv, run_id: i64) {
    let config = env.config_path.to_str().expect("utf-8");
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
            .args(args)
            .output()
            .expect("cronbox")
    };
    let table = cli(&["history", "--config", config]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.lines().next().is_some_and(|h| h.contains("INDEX")),
        "{table}"
    );
    let json = cli(&["history", "--json", "--config", config]);
    let indexes: Vec<(i64, i64)> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("json");
            (
                row["completion_index"].as_i64().expect("an index"),
                row["exit_code"].as_i64().expect("an exit code"),
            )
        })
        .collect();
    let mut sorted = indexes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [(0, 0), (1, 0), (2, 0), (2, 3), (3, 0)],
        "{indexes:?}"
    );
    let run = run_id.to_string();
    let logs = cli(&["logs", &run, "--index", "2", "--config", config]);
    assert!(logs.status.success());
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "index 2\nindex 2\n");
    let headers = String::from_utf8_lossy(&logs.stderr).into_owned();
    assert_eq!(
        headers.matches(" (index 2) ---").count(),
        2,
        "a header per attempt, naming its index: {headers}"
    );
    let missing = cli(&["logs", &run, "--index", "7", "--config", config]);
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert!(message.contains("has no attempt of index 7"), "{message}");
}

#[tokio::test]
async fn more_failed_indexes_than_max_failed_indexes_stop_the_rest() {
    let env = TestEnv::new("");
    let shared = shared_dir(&env);
    let job = shards(
        &shared,
        "echo $CRONBOX_INDEX >> /s/ran; [ $CRONBOX_INDEX -ge 2 ] || exit 3; sleep 300",
        r#"completions = 6
parallelism = 3
max_failed_indexes = 1
stop_grace = "1s""#,
    );
    let env = rewrite(env, &job);
    // Bounded: were the rest not stopped, their sleep would outlast this.
    let report = tokio::time::timeout(Duration::from_secs(150), common::run_once(&env))
        .await
        .expect("the failed indexes stop the run long before the sleeping ones end");
    assert_eq!(report.status, Some(RunStatus::Failed), "{report:?}");
    let reason = env.sql("SELECT reason FROM runs");
    assert!(
        reason.starts_with("2 indexes failed, more than max_failed_indexes = 1 allows: index(es) 0, 1; the others were stopped"),
        "{reason}"
    );
    assert_eq!(
        env.sql(
            "SELECT completion_index, outcome FROM attempts WHERE completion_index < 2 ORDER BY 1"
        ),
        "0|exited\n1|exited\n"
    );
    assert_eq!(
        env.sql("SELECT DISTINCT outcome FROM attempts WHERE completion_index >= 2"),
        "stopped\n",
        "every other index that started was stopped"
    );
    // Index 0's end may let one more start before index 1's: never all six.
    let started: usize = env
        .sql("SELECT count(*) FROM attempts")
        .trim()
        .parse()
        .expect("count");
    assert!((3..=4).contains(&started), "{started} indexes started");
    assert!(
        env.containers_gone().await,
        "the stopped containers are removed"
    );
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_run_across_its_indexes() {
    let env = TestEnv::new("");
    let shared = shared_dir(&env);
    // Each index alone is well within the deadline; the three in a row are not.
    let job = shards(
        &shared,
        "echo $CRONBOX_INDEX >> /s/ran; sleep 2",
        r#"completions = 3
parallelism = 1
deadline = "5s"
stop_grace = "1s"
retries = 3"#,
    );
    let env = rewrite(env, &job);
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed), "{report:?}");
    let reason = env.sql("SELECT reason FROM runs");
    assert!(reason.starts_with("deadline passed"), "{reason}");
    // The index running when it passed was stopped, and not retried; none started after.
    let outcomes = env.sql("SELECT outcome FROM attempts ORDER BY attempt");
    assert!(outcomes.ends_with("deadline\n"), "{outcomes}");
    assert_eq!(
        outcomes.matches("deadline").count(),
        1,
        "one index was running: {outcomes}"
    );
    assert!(
        !outcomes
            .trim_end()
            .rsplit_once('\n')
            .is_some_and(|(before, _)| before.contains("deadline")),
        "{outcomes}"
    );
    assert!(lines(&shared, "ran").len() <= 3, "no index ran twice");
    assert!(env.containers_gone().await);
}

/// `env` with its jobs replaced by `jobs` (same directory and database).
fn rewrite(env: TestEnv, jobs: &str) -> TestEnv {
    let text = format!(
        "[daemon]\ndatabase = \"{}\"\ntimezone = \"UTC\"\n{}",
        env.db_path.display(),
        jobs.replace("IMAGE", common::IMAGE)
    );
    std::fs::write(&env.config_path, text).expect("write config");
    env
}
