//! The job page's configuration rows against the schema: every key a job may
//! set is shown (none falls to "not shown"), from `config/reference.toml`,
//! which sets each of them in some job; secret values never appear.

use std::path::Path;

use chrono_tz::Tz;

use super::{UNKNOWN, rows};
use crate::config::{Config, Environment, ZoneSource, job_keys};

fn reference() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/reference.toml");
    let text = std::fs::read_to_string(&path).expect("reference.toml");
    let env = Environment {
        state_directory: None,
        local_timezone: Tz::UTC,
        local_timezone_source: ZoneSource::Tz(String::new()),
        cpus: 2,
    };
    crate::config::parse(&path, &text, &env).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_key_a_job_may_set_is_shown_in_the_schemas_order() {
    let config = reference();
    let keys: Vec<&str> = job_keys().into_iter().map(|(key, _)| key).collect();
    for job in &config.jobs {
        let shown = rows(job);
        let names: Vec<&str> = shown.iter().map(|(key, _, _)| *key).collect();
        assert_eq!(names, keys, "{}: every key, in order", job.name);
        for (key, _, value) in &shown {
            assert_ne!(value, UNKNOWN, "{}: {key} has no way to be shown", job.name);
        }
    }
}

#[test]
fn the_keys_added_later_show_their_values() {
    let config = reference();
    let shown = |job: &str, key: &str| {
        let job = config.job(job).unwrap_or_else(|| panic!("no job {job}"));
        rows(job)
            .into_iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| v)
            .unwrap_or_else(|| panic!("no row {key}"))
    };
    let cases = [
        ("backup-db", "notify", "ops"),
        ("backup-db", "notify_on", "failure, recovery, overdue"),
        ("backup-db", "notify_cooldown", "1h"),
        ("backup-db", "expect_success_within", "1day 2h"),
        (
            "backup-db",
            "random_delay",
            "10m (this job fires 0s after each tick)",
        ),
        (
            "backup-db",
            "healthchecks",
            "check 5f1c9a3e-7d2b-4c6e-9f0a-1b2c3d4e5f60 on channel hc",
        ),
        ("verify-backup", "after", "backup-db (on success)"),
        ("verify-backup", "schedule", "none"),
        (
            "import-orders",
            "after_success",
            "move to /srv/inbox/orders/done",
        ),
        (
            "import-orders",
            "after_failure",
            "move to /srv/inbox/orders/failed",
        ),
    ];
    for (job, key, want) in cases {
        assert_eq!(shown(job, key), want, "{job}: {key}");
    }
    let on_file = shown("import-orders", "on_file");
    assert!(
        on_file.starts_with("*.csv in /srv/inbox/orders") && on_file.contains("settle 10s"),
        "{on_file}"
    );
    let indexed = config
        .jobs
        .iter()
        .find(|job| job.completions > 1)
        .expect("an indexed job");
    assert_eq!(
        shown(&indexed.name, "completions"),
        indexed.completions.to_string()
    );
    for key in ["parallelism", "max_failed_indexes"] {
        assert_ne!(shown(&indexed.name, key), "none", "{key}");
    }
}

#[test]
fn keys_whose_values_may_be_secret_show_names_only() {
    let config = reference();
    let secret: Vec<&str> = job_keys()
        .into_iter()
        .filter_map(|(key, secret)| secret.then_some(key))
        .collect();
    assert_eq!(secret, ["env", "env_file", "secrets"]);
    for job in &config.jobs {
        let shown = rows(job);
        for (key, label, value) in &shown {
            if secret.contains(key) {
                let what = if *key == "env_file" { "path" } else { "names" };
                assert_eq!(label, &format!("{key} ({what})"));
            }
            // The reference's password, the one value no row may show.
            assert!(!value.contains("illustration-only"), "{key}: {value}");
        }
        let env = shown.iter().find(|(key, _, _)| *key == "env").expect("env");
        let names: Vec<&str> = job.env.keys().map(String::as_str).collect();
        let want = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        };
        assert_eq!(env.2, want, "{}: env by name", job.name);
    }
    let backup = config.job("backup-db").expect("backup-db");
    assert_eq!(
        backup.env.get("PGPASSWORD").map(String::as_str),
        Some("illustration-only"),
        "the reference still sets the value this test looks for"
    );
}
