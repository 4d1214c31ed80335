//! The README's sqlite3 queries, run verbatim with the `sqlite3` shell on a
//! database the daemon's supervisor filled for a job named `backup-db`.

mod common;

use common::TestEnv;

#[tokio::test]
async fn readme_queries_work_verbatim() {
    let env = TestEnv::new(
        r#"
[jobs.backup-db]
schedule = "30 2 * * *"
image = "IMAGE"
command = ["sh", "-c", "echo dumped $0; echo oops >&2; exit 1"]
retries = 1
backoff = "1s"
"#,
    );
    let report = common::run_once(&env).await;

    let blocks = common::readme_sql_blocks();
    assert_eq!(blocks.len(), 3, "the README shows three queries");

    // Last runs of the job: both attempts of the failed run.
    let last_runs = env.sql(&blocks[0]);
    let lines: Vec<&str> = last_runs.lines().collect();
    assert_eq!(lines.len(), 2, "{last_runs}");
    assert!(
        lines[0].starts_with(&format!("{}|failed|1|1|exited|", report.run_id)),
        "{last_runs}"
    );
    assert!(
        lines[1].starts_with(&format!("{}|failed|2|1|exited|", report.run_id)),
        "{last_runs}"
    );

    // Failures this week: the run, with its reason.
    let failures = env.sql(&blocks[1]);
    assert!(
        failures.starts_with(&format!("{}|backup-db|", report.run_id)),
        "{failures}"
    );
    assert!(failures.contains("exit code 1"), "{failures}");

    // The stdout of the last attempt.
    assert_eq!(env.sql(&blocks[2]), "dumped sh\n\n");
}
