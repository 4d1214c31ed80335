//! `completions`, `parallelism` and `max_failed_indexes` (issue 17): their
//! defaults, and what `check` refuses, each at its file, line and job.

use super::tests::{Expected, check_problems, parse_ok};

const JOB: &str = "[jobs.shards]\nschedule = '@daily'\nimage = 'x'\n";

#[test]
fn a_job_has_one_completion_by_default_and_takes_its_indexed_settings() {
    let plain = parse_ok(JOB);
    let job = &plain.jobs[0];
    assert_eq!(
        (job.completions, job.parallelism, job.max_failed_indexes),
        (1, 1, None)
    );
    let indexed = parse_ok(&format!(
        "{JOB}completions = 10\nparallelism = 3\nmax_failed_indexes = 2\n"
    ));
    let job = &indexed.jobs[0];
    assert_eq!(
        (job.completions, job.parallelism, job.max_failed_indexes),
        (10, 3, Some(2))
    );
    let inherited = parse_ok(
        "[defaults]\ncompletions = 4\nparallelism = 2\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\n",
    );
    assert_eq!(
        (inherited.jobs[0].completions, inherited.jobs[0].parallelism),
        (4, 2)
    );
}

#[test]
fn check_refuses_indexed_settings_that_cannot_work_at_their_line_and_job() {
    let cases: &[(&str, String, Expected)] = &[
        (
            "parallelism 0",
            format!("{JOB}completions = 3\nparallelism = 0\n"),
            (5, 15, Some("shards"), &["parallelism", "at least 1"]),
        ),
        (
            "parallelism above completions",
            format!("{JOB}completions = 3\nparallelism = 4\n"),
            (
                5,
                15,
                Some("shards"),
                &["parallelism (4) is above completions (3)", "at most 3"],
            ),
        ),
        (
            "parallelism above the default completions",
            format!("{JOB}parallelism = 2\n"),
            (4, 15, Some("shards"), &["above completions (by default) (1)"]),
        ),
        (
            "completions above 10,000",
            format!("{JOB}completions = 10001\n"),
            (4, 15, Some("shards"), &["completions", "10000"]),
        ),
        (
            "completions 0",
            format!("{JOB}completions = 0\n"),
            (4, 15, Some("shards"), &["completions", "at least 1"]),
        ),
        (
            "max_failed_indexes at completions",
            format!("{JOB}completions = 3\nmax_failed_indexes = 3\n"),
            (
                5,
                22,
                Some("shards"),
                &["max_failed_indexes (3) is not below completions (3)", "at most 2"],
            ),
        ),
        (
            "max_failed_indexes above completions",
            format!("{JOB}completions = 2\nmax_failed_indexes = 7\n"),
            (5, 22, Some("shards"), &["not below completions (2)"]),
        ),
        (
            "completions lowered below [defaults]' parallelism",
            "[defaults]\ncompletions = 4\nparallelism = 4\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncompletions = 2\n"
                .to_owned(),
            (
                7,
                15,
                Some("a"),
                &["parallelism (set in [defaults]) (4) is above completions (2)"],
            ),
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, std::slice::from_ref(expected));
    }
}
