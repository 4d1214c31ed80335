//! A job's configuration as validated, one row per key a `[jobs.NAME]` table
//! accepts, in the order `config/reference.toml` documents them. The keys come
//! from the config schema ([`crate::config::job_keys`]), so a key added there
//! shows on the job's page without an edit here; until [`value`] knows how to
//! show it, its row says so (and a test fails). Keys whose values may be
//! secrets (`env`, `env_file`, `secrets`) show names only, never a value.

use std::time::Duration;

use crate::config::{FileAction, Job, job_keys};

/// What a row shows for a key [`value`] does not know yet.
pub const UNKNOWN: &str = "(not shown on this page)";

/// Every key of the job with the value shown for it: `(key, label, value)`;
/// the label of a key whose values may be secrets says what is shown instead
/// ("env (names)", "env_file (path)").
pub fn rows(job: &Job) -> Vec<(&'static str, String, String)> {
    job_keys()
        .into_iter()
        .map(|(key, secret)| {
            let label = match (secret, key) {
                (false, _) => key.to_owned(),
                (true, "env_file") => format!("{key} (path)"),
                (true, _) => format!("{key} (names)"),
            };
            let shown = value(job, key).unwrap_or_else(|| UNKNOWN.to_owned());
            (key, label, shown)
        })
        .collect()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

fn opt<T: std::fmt::Display>(value: &Option<T>) -> String {
    value.as_ref().map_or("none".to_owned(), T::to_string)
}

fn time(value: Option<Duration>) -> String {
    value.map_or("none".to_owned(), |d| {
        humantime::format_duration(d).to_string()
    })
}

fn codes(codes: &[i64]) -> String {
    list(&codes.iter().map(i64::to_string).collect::<Vec<_>>())
}

fn file_action(action: &FileAction) -> String {
    match action {
        FileAction::Keep => "keep".to_owned(),
        FileAction::Delete => "delete".to_owned(),
        FileAction::MoveTo(dir) => format!("move to {}", dir.display()),
    }
}

/// `random_delay` with the offset this job fires at after each tick.
fn random_delay(job: &Job) -> String {
    match job.random_delay {
        None => "none".to_owned(),
        Some(window) => format!(
            "{} (this job fires {} after each tick)",
            time(Some(window)),
            time(Some(job.fire_offset))
        ),
    }
}

/// How the page shows `key` of `job`; `None` for a key it does not know.
fn value(job: &Job, key: &str) -> Option<String> {
    Some(match key {
        "schedule" => match job.schedule.expression() {
            "" => "none".to_owned(),
            expression => expression.to_owned(),
        },
        "after" => list(
            &job.after
                .iter()
                .map(|a| format!("{} (on {})", a.job, a.on.as_str()))
                .collect::<Vec<_>>(),
        ),
        "on_file" => job.on_file.as_ref().map_or("none".to_owned(), |f| {
            format!(
                "{} in {}{}, settle {}, rescan {}",
                f.pattern,
                f.dir.display(),
                if f.recursive { " and below" } else { "" },
                time(Some(f.settle)),
                time(Some(f.rescan)),
            )
        }),
        "after_success" => file_action(&job.after_success),
        "after_failure" => file_action(&job.after_failure),
        "timezone" => job.timezone.name().to_owned(),
        "image" => job.image.clone(),
        "command" => opt(&job.command.as_ref().map(|c| c.join(" "))),
        "env" => list(&job.env.keys().cloned().collect::<Vec<_>>()),
        "volumes" => list(
            &job.volumes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ),
        "pull" => job.pull.as_str().to_owned(),
        "retries" => job.retries.to_string(),
        "backoff" => time(Some(job.backoff)),
        "backoff_max" => time(Some(job.backoff_max)),
        "timeout" => time(job.timeout),
        "deadline" => time(job.deadline),
        "completions" => job.completions.to_string(),
        "parallelism" => job.parallelism.to_string(),
        "max_failed_indexes" => opt(&job.max_failed_indexes),
        "stop_signal" => job.stop_signal.clone(),
        "stop_grace" => time(Some(job.stop_grace)),
        "concurrency" => job.concurrency.to_string(),
        "catch_up" => job.catch_up.to_string(),
        "starting_deadline" => time(job.starting_deadline),
        "random_delay" => random_delay(job),
        "success_exit_codes" => codes(&job.success_exit_codes),
        "fatal_exit_codes" => codes(&job.fatal_exit_codes),
        "memory" => opt(&job.memory.map(|m| format!("{m} bytes"))),
        "cpus" => opt(&job.cpus),
        "pids_limit" => opt(&job.pids_limit),
        "read_only" => job.read_only.to_string(),
        "tmpfs" => list(&job.tmpfs),
        "network" => opt(&job.network),
        "user" => opt(&job.user),
        "workdir" => opt(&job.workdir),
        "entrypoint" => opt(&job.entrypoint.as_ref().map(|c| c.join(" "))),
        "hostname" => opt(&job.hostname),
        "cap_add" => list(&job.cap_add),
        "cap_drop" => list(&job.cap_drop),
        "labels" => list(
            &job.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        ),
        "privileged" => job.privileged.to_string(),
        // The file's path only: its variables are read at each run, never here.
        "env_file" => opt(&job.env_file.as_ref().map(|p| p.display().to_string())),
        "secrets" => list(&job.secrets.keys().cloned().collect::<Vec<_>>()),
        "max_output" => format!("{} bytes", job.max_output),
        "params" => list(&job.params),
        "notify" => list(&job.notify),
        "notify_on" => list(&job.notify_on),
        "notify_cooldown" => time(Some(job.notify_cooldown)),
        "expect_success_within" => time(job.expect_success_within),
        "healthchecks" => job.healthchecks.as_ref().map_or("none".to_owned(), |p| {
            format!("check {} on channel {}", p.check, p.channel)
        }),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
