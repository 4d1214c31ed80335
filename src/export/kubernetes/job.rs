//! The CronJob and its Job template: schedule, zone, concurrency, deadlines,
//! history limits, retries and the exit codes that fail a run at once; and
//! the comment above each CronJob (origin, Secrets to create).

use std::path::Path;
use std::time::Duration;

use super::{HISTORY_LIMIT_CAP, Notes, Options, pod};
use crate::config::{Concurrency, Config, Job};
use crate::export::shell;
use crate::export::yaml::Node;
use crate::schedule::robfig::ForRobfig;

/// The Secret of type `kubernetes.io/dockerconfigjson` every pod pulls its
/// image with when the file sets `[daemon] registry_auth`.
pub const REGISTRY_SECRET: &str = "cronbox-registry";

/// The Docker config.json to make [`REGISTRY_SECRET`] from: `[daemon]
/// registry_auth` when the file sets it (the default file is not assumed).
pub(super) fn registry_auth<'a>(config: &'a Config, options: &Options<'_>) -> Option<&'a Path> {
    if !options.daemon_keys.iter().any(|k| k == "registry_auth") {
        return None;
    }
    config.daemon.registry_auth.as_deref()
}

/// The Secret holding the variables of the job's `env_file`.
pub(super) fn env_secret(name: &str) -> String {
    format!("{name}-env")
}

/// The Secret holding the job's `secrets` files, one key per secret.
pub(super) fn files_secret(name: &str) -> String {
    format!("{name}-files")
}

/// The labels on the CronJob, its Jobs and their Pods: the job's name as
/// Kubernetes writes it, and cronbox's job name where a label value can hold it.
pub(super) fn labels(job: &Job, name: &str) -> Vec<(String, Node)> {
    let job_label = if super::names::is_label_value(&job.name) {
        job.name.clone()
    } else {
        name.to_owned()
    };
    vec![
        ("app.kubernetes.io/name".to_owned(), Node::str(name)),
        (
            "app.kubernetes.io/created-by".to_owned(),
            Node::str("cronbox"),
        ),
        ("cronbox/job".to_owned(), Node::str(job_label)),
    ]
}

/// The lines above the CronJob: where it comes from, and how to create its
/// Secrets from the same files (paths only: nothing is read).
pub(super) fn comments(
    config: &Config,
    job: &Job,
    name: &str,
    options: &Options<'_>,
) -> Vec<String> {
    let mut lines = vec![format!(
        "cronbox job {:?} from {}",
        job.name,
        config.path.display()
    )];
    let in_namespace = options
        .namespace
        .map(|ns| format!(" -n {}", shell::quote(ns)))
        .unwrap_or_default();
    let registry = registry_auth(config, options);
    if job.env_file.is_some() || !job.secrets.is_empty() || registry.is_some() {
        lines.push("Create its Secrets first (cronbox never prints what they hold):".to_owned());
    }
    if let Some(file) = registry {
        lines.push(format!(
            "  kubectl create secret docker-registry {REGISTRY_SECRET}{in_namespace} --from-file=.dockerconfigjson={}",
            shell::quote(&file.display().to_string())
        ));
    }
    if let Some(env_file) = &job.env_file {
        lines.push(format!(
            "  kubectl create secret generic {}{in_namespace} --from-env-file={}",
            env_secret(name),
            shell::quote(&env_file.display().to_string())
        ));
        lines.push(
            "  (kubectl takes each KEY=value line literally: remove \"export \" and quotes around values first)"
                .to_owned(),
        );
    }
    if !job.secrets.is_empty() {
        let files: Vec<String> = job
            .secrets
            .iter()
            .map(|(secret, path)| {
                let source = format!("{secret}={}", path.display());
                format!("--from-file={}", shell::quote(&source))
            })
            .collect();
        lines.push(format!(
            "  kubectl create secret generic {}{in_namespace} {}",
            files_secret(name),
            files.join(" ")
        ));
    }
    lines
}

/// The CronJob.
pub(super) fn cronjob(
    config: &Config,
    job: &Job,
    name: &str,
    schedule: &ForRobfig,
    options: &Options<'_>,
    notes: &mut Notes,
) -> Node {
    let mut metadata = vec![("name", Node::str(name))];
    if let Some(namespace) = options.namespace {
        metadata.push(("namespace", Node::str(namespace)));
    }
    metadata.push(("labels", Node::Map(labels(job, name))));
    metadata.push((
        "annotations",
        Node::map([(
            "cronbox/source",
            Node::str(format!("{} [jobs.{}]", config.path.display(), job.name)),
        )]),
    ));
    Node::map([
        ("apiVersion", Node::str("batch/v1")),
        ("kind", Node::str("CronJob")),
        ("metadata", Node::map(metadata)),
        (
            "spec",
            cronjob_spec(config, job, name, schedule, options, notes),
        ),
    ])
}

fn cronjob_spec(
    config: &Config,
    job: &Job,
    name: &str,
    schedule: &ForRobfig,
    options: &Options<'_>,
    notes: &mut Notes,
) -> Node {
    let zone = if schedule.utc {
        "Etc/UTC"
    } else {
        job.timezone.name()
    };
    let history = i64::from(config.daemon.history_limit.min(HISTORY_LIMIT_CAP));
    let mut spec = vec![
        ("schedule", Node::str(&schedule.expression)),
        ("timeZone", Node::str(zone)),
        (
            "concurrencyPolicy",
            Node::str(concurrency_policy(job.concurrency)),
        ),
    ];
    if let Some(deadline) = job.starting_deadline {
        spec.push((
            "startingDeadlineSeconds",
            Node::Int(seconds(deadline, "starting_deadline", notes)),
        ));
    }
    spec.extend([
        // A job paused in the database (cronbox pause) stays paused there.
        ("suspend", Node::Bool(options.paused.contains(&job.name))),
        ("successfulJobsHistoryLimit", Node::Int(history)),
        ("failedJobsHistoryLimit", Node::Int(history)),
        (
            "jobTemplate",
            Node::map([
                (
                    "metadata",
                    Node::map([("labels", Node::Map(labels(job, name)))]),
                ),
                ("spec", job_spec(config, job, name, options, notes)),
            ]),
        ),
    ]);
    Node::map(spec)
}

/// `concurrency` as `concurrencyPolicy`.
pub(super) fn concurrency_policy(concurrency: Concurrency) -> &'static str {
    match concurrency {
        Concurrency::Forbid => "Forbid",
        Concurrency::Allow => "Allow",
        Concurrency::Replace => "Replace",
    }
}

/// The Job: retries, the run's deadline, how long a finished run is kept,
/// the exit codes that fail it at once, and the pod.
fn job_spec(
    config: &Config,
    job: &Job,
    name: &str,
    options: &Options<'_>,
    notes: &mut Notes,
) -> Node {
    let retries = Node::Int(i64::from(job.retries.min(i32::MAX as u32)));
    let mut spec = if job.completions > 1 {
        indexed(job, retries)
    } else {
        vec![("backoffLimit", retries)]
    };
    if let Some(deadline) = job.deadline {
        spec.push((
            "activeDeadlineSeconds",
            Node::Int(seconds(deadline, "deadline", notes)),
        ));
    }
    let max_age = config.daemon.history_max_age.as_secs();
    spec.push((
        "ttlSecondsAfterFinished",
        Node::Int(
            i64::try_from(max_age)
                .unwrap_or(i64::MAX)
                .min(i64::from(i32::MAX)),
        ),
    ));
    if let Some(policy) = pod_failure_policy(job, name, notes) {
        spec.push(("podFailurePolicy", policy));
    }
    let pull_secret = registry_auth(config, options).map(|_| REGISTRY_SECRET);
    spec.push(("template", pod::template(job, name, pull_secret, notes)));
    Node::map(spec)
}

/// An indexed job's keys (`completions` above 1): `completionMode: Indexed`,
/// `completions`, `parallelism`, its retries per index (`backoffLimitPerIndex`,
/// with which Kubernetes wants no `backoffLimit`) and `maxFailedIndexes`.
fn indexed(job: &Job, retries: Node) -> Vec<(&'static str, Node)> {
    let mut spec = vec![
        ("completionMode", Node::str("Indexed")),
        ("completions", Node::Int(i64::from(job.completions))),
        ("parallelism", Node::Int(i64::from(job.parallelism))),
        ("backoffLimitPerIndex", retries),
    ];
    if let Some(max) = job.max_failed_indexes {
        spec.push(("maxFailedIndexes", Node::Int(i64::from(max))));
    }
    spec
}

/// `fatal_exit_codes` as a `podFailurePolicy` rule failing the Job at once
/// (an indexed job's index: `FailIndex`, as cronbox fails the index);
/// `None` when there are none. Kubernetes refuses 0 in such a rule.
pub(super) fn pod_failure_policy(job: &Job, name: &str, notes: &mut Notes) -> Option<Node> {
    let codes: Vec<Node> = job
        .fatal_exit_codes
        .iter()
        .filter(|&&code| code != 0)
        .map(|&code| Node::Int(code))
        .collect();
    if job.fatal_exit_codes.contains(&0) {
        notes.warn(
            "fatal_exit_codes",
            "Kubernetes cannot treat exit code 0 as a failure; it is left out of podFailurePolicy",
        );
    }
    if codes.is_empty() {
        return None;
    }
    Some(Node::map([(
        "rules",
        Node::List(vec![Node::map([
            (
                "action",
                Node::str(if job.completions > 1 {
                    "FailIndex"
                } else {
                    "FailJob"
                }),
            ),
            (
                "onExitCodes",
                Node::map([
                    ("containerName", Node::str(name)),
                    ("operator", Node::str("In")),
                    ("values", Node::List(codes)),
                ]),
            ),
        ])]),
    )]))
}

/// `duration` in whole seconds (Kubernetes' unit), rounded up, at least 1;
/// a warning names `key` when that changed it.
pub(super) fn seconds(duration: Duration, key: &'static str, notes: &mut Notes) -> i64 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    if duration.subsec_nanos() > 0 {
        notes.warn(
            key,
            format!(
                "Kubernetes counts it in whole seconds: {} is written as {whole}s",
                humantime::format_duration(duration)
            ),
        );
    }
    i64::try_from(whole.max(1)).unwrap_or(i64::MAX)
}
