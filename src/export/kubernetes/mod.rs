//! Kubernetes CronJobs (`batch/v1`, valid for Kubernetes 1.30 and later) from
//! cronbox jobs, key by key, with a [`Warning`] for each setting Kubernetes
//! cannot express the same way. The mapping of each key is in `job.rs` (the
//! CronJob and Job), `pod.rs` (the pod and its container) and `differences.rs`
//! (the settings that have no field, or not the same meaning).
//!
//! Secrets never appear: `env_file` becomes an `envFrom` of the Secret
//! `NAME-env`, `secrets` a volume of the Secret `NAME-files` mounted file by
//! file at `/run/secrets/NAME`; a comment above the CronJob gives the `kubectl
//! create secret` commands that make them from the same files. (Two Secrets,
//! not one: `kubectl` cannot fill one Secret from an env file and files at
//! once, and `envFrom` would turn every secret file into a variable.) When
//! the file sets `[daemon] registry_auth`, every pod pulls with the Secret
//! [`REGISTRY_SECRET`], and the comment gives the `kubectl create secret
//! docker-registry` command that makes it from that file. A job paused in
//! the database ([`Options::paused`]) gets `suspend: true`.

mod differences;
mod job;
mod names;
mod pod;

#[cfg(test)]
mod fire_tests;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use super::Warning;
use super::yaml::{self, Node};
use crate::config::{Config, Job};
use crate::schedule::robfig::{self, ForRobfig};

pub use job::REGISTRY_SECRET;
pub use names::{MAX_NAME_LEN, cronjob_name};

/// Most Jobs a CronJob keeps of each kind (`successfulJobsHistoryLimit`,
/// `failedJobsHistoryLimit`): cronbox's `history_limit` (default 10,000) is
/// cut to this, since every kept Job keeps its Pod in the cluster.
pub const HISTORY_LIMIT_CAP: u32 = 10;

/// What the export needs besides the configuration.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// `metadata.namespace` of every CronJob, and `-n` of the `kubectl`
    /// commands; `None`: neither (kubectl's current namespace).
    pub namespace: Option<&'a str>,
    /// The instant the daylight-saving check counts from (the year after it).
    pub now: DateTime<Utc>,
    /// The keys written in the file's `[daemon]` table: a `[daemon]` setting
    /// left at its default is not reported.
    pub daemon_keys: &'a [String],
    /// The jobs paused in the database (`cronbox pause`): their CronJobs get
    /// `suspend: true`, the others `suspend: false`.
    pub paused: &'a [String],
}

/// The multi-document YAML stream and what did not carry over.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// One `---` document per job, in the order given.
    pub yaml: String,
    /// In job order, `[daemon]` settings last.
    pub warnings: Vec<Warning>,
}

/// Why nothing was exported: every problem, one line each (`job "x":
/// schedule: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot export to Kubernetes: {}", .problems.join("; "))]
pub struct ExportError {
    /// One line each, naming the job (or the namespace) and the reason.
    pub problems: Vec<String>,
}

/// The CronJobs of `jobs` (from `config`), or every reason some cannot be
/// written: an invalid namespace, a schedule with no Kubernetes equivalent,
/// two jobs whose CronJob names would be the same.
pub fn export(
    config: &Config,
    jobs: &[&Job],
    options: &Options<'_>,
) -> Result<Manifest, ExportError> {
    let mut problems = Vec::new();
    if let Some(namespace) = options.namespace
        && !names::is_dns_label(namespace, 63)
    {
        problems.push(format!(
            "namespace {namespace:?} is not a valid Kubernetes namespace (lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
        ));
    }
    // A job chain or a file trigger has no CronJob equivalent: such jobs are left
    // out, said once each.
    let (chained, jobs): (Vec<&Job>, Vec<&Job>) = jobs
        .iter()
        .partition(|job| !job.after.is_empty() || job.on_file.is_some());
    let jobs = jobs.as_slice();
    problems.extend(names::collisions(jobs));
    let mut schedules = Vec::new();
    for job in jobs {
        match robfig::to_robfig(&job.schedule) {
            Ok(schedule) => schedules.push(schedule),
            Err(why) => problems.push(format!("job {:?}: schedule: {why}", job.name)),
        }
    }
    if !problems.is_empty() {
        return Err(ExportError { problems });
    }
    let mut out = String::new();
    let mut warnings: Vec<Warning> = chained
        .iter()
        .map(|job| match job.on_file {
            Some(_) => Warning {
                job: Some(job.name.clone()),
                key: "on_file",
                message: "a CronJob cannot start when a file arrives: this job is not exported".to_owned(),
            },
            None => Warning {
                job: Some(job.name.clone()),
                key: "after",
                message: "a CronJob cannot start after another job's run: this job is not exported; run it from the parent's command or a workflow engine".to_owned(),
            },
        })
        .collect();
    for (job, schedule) in jobs.iter().zip(&schedules) {
        let mut notes = Notes::new(&job.name);
        let (comments, node) = cronjob(config, job, schedule, options, &mut notes);
        out.push_str(&yaml::document(&comments, &node));
        warnings.append(&mut notes.warnings);
    }
    warnings.extend(differences::daemon(config, options));
    Ok(Manifest {
        yaml: out,
        warnings,
    })
}

/// One job's comments and CronJob.
fn cronjob(
    config: &Config,
    job: &Job,
    schedule: &ForRobfig,
    options: &Options<'_>,
    notes: &mut Notes,
) -> (Vec<String>, Node) {
    let name = cronjob_name(&job.name);
    let comments = job::comments(config, job, &name, options);
    differences::job(job, options, notes);
    let node = job::cronjob(config, job, &name, schedule, options, notes);
    (comments, node)
}

/// The warnings about one job, gathered while it is translated.
pub(crate) struct Notes {
    job: String,
    warnings: Vec<Warning>,
}

impl Notes {
    fn new(job: &str) -> Notes {
        Notes {
            job: job.to_owned(),
            warnings: Vec::new(),
        }
    }

    /// Report that `key` does not carry over as it is: `message` says what
    /// the output does instead.
    fn warn(&mut self, key: &'static str, message: impl Into<String>) {
        self.warnings.push(Warning {
            job: Some(self.job.clone()),
            key,
            message: message.into(),
        });
    }
}
