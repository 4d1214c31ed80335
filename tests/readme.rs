//! The README's examples, run verbatim: the sqlite3 queries with the `sqlite3`
//! shell on a database the daemon's supervisor filled for a job named
//! `backup-db`; the imports and the export of "Moving in and out" with the
//! real binary, their output compared with the README's.

mod common;

use common::TestEnv;
use std::path::Path;

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
    assert_eq!(blocks.len(), 4, "the README shows four queries");

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
    // The fourth, fire_at (random_delay), is run by tests/random_delay.rs; a
    // manual run has none.
    assert_eq!(env.sql(&blocks[3]), "");
}

/// The fenced blocks of the README's section `title`: (info string, text).
fn section_blocks(title: &str) -> Vec<(String, String)> {
    let readme = include_str!("../README.md");
    let start = readme.find(&format!("\n{title}\n")).expect("section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 4);
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in section[..end].lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.to_owned(), String::new())),
            (Some(_), Some("")) => blocks.extend(current.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

fn cronbox_in(dir: &std::path::Path, command_line: &str) -> std::process::Output {
    let words: Vec<&str> = command_line.split_whitespace().collect();
    let redirect = words.iter().position(|w| *w == ">").unwrap_or(words.len());
    assert_eq!(words[0], "cronbox", "{command_line}");
    std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(&words[1..redirect])
        .current_dir(dir)
        .env_remove("CRONBOX_CONFIG")
        .output()
        .expect("run cronbox")
}

#[test]
fn readme_moving_in_and_out_examples_work_verbatim() {
    let blocks = section_blocks("## Moving in and out");
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut imports, mut exports) = (0, 0);
    let mut i = 0;
    while i < blocks.len() {
        let (info, text) = &blocks[i];
        match info.as_str() {
            // A source file, the command, its stdout and its stderr.
            "crontab" | "ini" => {
                let file = if info == "crontab" {
                    "crontab"
                } else {
                    "ofelia.ini"
                };
                std::fs::write(dir.path().join(file), text).expect("write the example");
                let command = blocks[i + 1].1.lines().next().expect("a command");
                assert!(command.contains(file), "{command}");
                let out = cronbox_in(dir.path(), command);
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    blocks[i + 2].1,
                    "{command}"
                );
                assert_eq!(
                    String::from_utf8_lossy(&out.stderr),
                    blocks[i + 3].1,
                    "{command}"
                );
                imports += 1;
                i += 4;
            }
            // The export from the repository, and an excerpt of its output.
            "sh" if text.starts_with("cronbox export") => {
                let out = cronbox_in(Path::new(env!("CARGO_MANIFEST_DIR")), text.trim());
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let yaml = String::from_utf8_lossy(&out.stdout);
                assert_eq!(blocks[i + 1].0, "yaml");
                assert!(
                    yaml.contains(&blocks[i + 1].1),
                    "{}\nnot in\n{yaml}",
                    blocks[i + 1].1
                );
                exports += 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    assert_eq!((imports, exports), (2, 1), "{blocks:?}");
}
