//! The settings Kubernetes has no field for, or a field with another
//! meaning: each becomes a [`Warning`] naming the job and the key, and saying
//! what Kubernetes does instead. (Settings that map with a caveat are
//! reported where they are mapped, in `job.rs` and `pod.rs`.)

use std::time::Duration;

use chrono::TimeDelta;

use super::{HISTORY_LIMIT_CAP, Notes, Options};
use crate::config::{
    CatchUp, Config, DEFAULT_MAX_OUTPUT, DEFAULT_NOTIFY_COOLDOWN, DEFAULT_NOTIFY_ON,
    DEFAULT_STOP_SIGNAL, Job,
};
use crate::export::Warning;
use crate::schedule::DstChange;

/// Kubernetes' delay before recreating a failed pod; doubles each time.
pub const KUBERNETES_BACKOFF: Duration = Duration::from_secs(10);
/// Kubernetes' cap on that delay.
pub const KUBERNETES_BACKOFF_MAX: Duration = Duration::from_secs(6 * 60);
/// How often the CronJob controller looks at schedules, about: a shorter
/// `startingDeadlineSeconds` may make it miss every run.
const CONTROLLER_PERIOD: Duration = Duration::from_secs(10);
/// How far ahead the daylight-saving check looks.
const DST_HORIZON_DAYS: i64 = 366;

/// The job's settings that do not carry over.
pub(super) fn job(job: &Job, options: &Options<'_>, notes: &mut Notes) {
    schedule(job, options, notes);
    retries(job, notes);
    if job.catch_up == CatchUp::None {
        notes.warn(
            "catch_up",
            "Kubernetes starts a run it missed when it notices within startingDeadlineSeconds (or at all, without one); cronbox's catch_up = \"none\" never does",
        );
    }
    if let Some(delay) = job.random_delay {
        notes.warn(
            "random_delay",
            format!(
                "a CronJob has no random delay: every tick starts at its instant, not spread over {}",
                humantime::format_duration(delay)
            ),
        );
    }
    if let Some(deadline) = job.starting_deadline
        && deadline < CONTROLLER_PERIOD
    {
        notes.warn(
            "starting_deadline",
            format!(
                "the CronJob controller looks at schedules about every {}s, so a startingDeadlineSeconds under that may make it miss every run",
                CONTROLLER_PERIOD.as_secs()
            ),
        );
    }
    if job.success_exit_codes != [0] {
        notes.warn(
            "success_exit_codes",
            "Kubernetes counts only exit code 0 as success: the other codes fail the pod (and are retried)",
        );
    }
    if job.stop_signal != DEFAULT_STOP_SIGNAL {
        notes.warn(
            "stop_signal",
            format!(
                "Kubernetes stops a container with SIGTERM (the image's STOPSIGNAL, if any), not {}",
                job.stop_signal
            ),
        );
    }
    host(job, notes);
    notifications(job, notes);
    if !job.params.is_empty() {
        notes.warn(
            "params",
            "a Kubernetes CronJob has no way to start a run with parameters; a Job made from it (kubectl create job --from=cronjob/NAME) gets the CronJob's env",
        );
    }
    if job.max_output != DEFAULT_MAX_OUTPUT {
        notes.warn(
            "max_output",
            "Kubernetes keeps container logs by the kubelet's rotation settings, not per job",
        );
    }
}

/// Daylight saving: once per job whose wall times a change of its zone skips
/// or repeats in the coming year.
fn schedule(job: &Job, options: &Options<'_>, notes: &mut Notes) {
    let until = options.now + TimeDelta::days(DST_HORIZON_DAYS);
    let conflicts = job.schedule.dst_conflicts(options.now, until);
    let Some(first) = conflicts.first() else {
        return;
    };
    let mut what = Vec::new();
    if conflicts
        .iter()
        .any(|c| c.change == DstChange::SpringForward)
    {
        what.push("Kubernetes skips a run whose time the clock jumps over (cronbox runs it once, right after the jump)");
    }
    if conflicts.iter().any(|c| c.change == DstChange::FallBack) {
        what.push("Kubernetes runs twice a time the clock passes twice (cronbox once)");
    }
    notes.warn(
        "schedule",
        format!(
            "its time {} falls in a daylight-saving change of {} (first on {}): {}",
            first.wall.format("%H:%M"),
            job.timezone.name(),
            first.wall.format("%Y-%m-%d"),
            what.join("; ")
        ),
    );
}

/// The retry delays: Kubernetes uses its own.
fn retries(job: &Job, notes: &mut Notes) {
    if job.retries == 0 {
        return;
    }
    let own = |d: Duration| humantime::format_duration(d).to_string();
    if job.backoff != KUBERNETES_BACKOFF {
        notes.warn(
            "backoff",
            format!(
                "Kubernetes waits {} before the first retry, not {}",
                own(KUBERNETES_BACKOFF),
                own(job.backoff)
            ),
        );
    }
    if job.backoff_max != KUBERNETES_BACKOFF_MAX {
        notes.warn(
            "backoff_max",
            format!(
                "Kubernetes caps the delay between retries at {}, not {}",
                own(KUBERNETES_BACKOFF_MAX),
                own(job.backoff_max)
            ),
        );
    }
}

/// What the pod cannot have of the host: pids limit, network modes, host
/// paths, tmpfs mounts.
fn host(job: &Job, notes: &mut Notes) {
    if job.pids_limit.is_some() {
        notes.warn(
            "pids_limit",
            "Kubernetes sets the process limit per node (the kubelet's podPidsLimit), not per pod; it is left out",
        );
    }
    match job.network.as_deref() {
        None | Some("bridge" | "host") => {}
        Some("none") => notes.warn(
            "network",
            "a pod always has a network; \"none\" cannot be expressed (a NetworkPolicy denying all traffic comes closest)",
        ),
        Some(other) => notes.warn(
            "network",
            format!("pods share the cluster's network; the Docker network {other:?} is left out"),
        ),
    }
    if !job.volumes.is_empty() {
        notes.warn(
            "volumes",
            "each becomes a hostPath volume: a path on whichever node runs the pod, which must have it",
        );
    }
    if !job.tmpfs.is_empty() {
        notes.warn(
            "tmpfs",
            "each becomes an emptyDir with medium: Memory (its size counts against the pod's memory); options other than size= are left out",
        );
    }
}

/// Where the cluster's alerting comes closest to cronbox's notifications.
const ALERTING: &str = "alert from the cluster instead (a Prometheus rule on kube-state-metrics' kube_job_status_failed, routed by Alertmanager to the same place)";

/// The notifications, the dead-man alert and the health pings: a CronJob
/// tells no one about its runs. Each key is named where it has an effect:
/// `notify_on` and `notify_cooldown` only with channels and other than their
/// defaults. Never a check's id (a healthchecks ping URL is a credential).
fn notifications(job: &Job, notes: &mut Notes) {
    if !job.notify.is_empty() {
        notes.warn(
            "notify",
            format!(
                "a CronJob tells no one about its runs: the channels {} are not told; {ALERTING}",
                quoted(&job.notify)
            ),
        );
        if job.notify_on != DEFAULT_NOTIFY_ON {
            notes.warn(
                "notify_on",
                format!(
                    "the events {} are sent nowhere (see notify); choose the Job conditions to alert on in that rule",
                    quoted(&job.notify_on)
                ),
            );
        }
        if job.notify_cooldown != DEFAULT_NOTIFY_COOLDOWN {
            notes.warn(
                "notify_cooldown",
                "nothing is sent, so nothing is folded (see notify); Alertmanager's repeat_interval comes closest",
            );
        }
    }
    if let Some(within) = job.expect_success_within {
        notes.warn(
            "expect_success_within",
            format!(
                "Kubernetes has no dead-man alert: a Prometheus rule such as time() - kube_cronjob_status_last_successful_time{{cronjob=\"{}\"}} > {} comes closest",
                super::cronjob_name(&job.name),
                within.as_secs()
            ),
        );
    }
    if let Some(ping) = &job.healthchecks {
        notes.warn(
            "healthchecks",
            format!(
                "the check of channel {:?} is not pinged: ping it at the end of the container's command (curl its ping URL), or {ALERTING}",
                ping.channel
            ),
        );
    }
}

/// `["a", "b"]` as `"a", "b"`.
fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("{item:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `[daemon]` settings written in the file that do not carry over.
pub(super) fn daemon(config: &Config, options: &Options<'_>) -> Vec<Warning> {
    let set = |key: &str| options.daemon_keys.iter().any(|k| k == key);
    let mut warnings = Vec::new();
    if set("max_concurrent") {
        warnings.push(Warning {
            job: None,
            key: "max_concurrent",
            message: format!(
                "{} caps the containers of all jobs together; Kubernetes has no such cap across CronJobs (a ResourceQuota on the namespace comes closest)",
                config.daemon.max_concurrent
            ),
        });
    }
    if set("history_limit") && config.daemon.history_limit > HISTORY_LIMIT_CAP {
        warnings.push(Warning {
            job: None,
            key: "history_limit",
            message: format!(
                "each CronJob keeps at most {HISTORY_LIMIT_CAP} finished Jobs of each kind, not {} (every kept Job keeps its pod)",
                config.daemon.history_limit
            ),
        });
    }
    if set("registry_auth") && config.daemon.registry_auth.is_some() {
        warnings.push(Warning {
            job: None,
            key: "registry_auth",
            message: format!(
                "Kubernetes pulls from private registries with imagePullSecrets: each pod names the Secret {:?}, which the kubectl command in the comment above each CronJob makes from this file; credentials a credHelpers or credsStore helper keeps are not in the file (log in to the cluster's registries anew)",
                super::job::REGISTRY_SECRET
            ),
        });
    }
    if set("heartbeat") && config.daemon.heartbeat.is_some() {
        warnings.push(Warning {
            job: None,
            key: "heartbeat",
            message: "the daemon's own ping has no counterpart: the cluster's monitoring watches its controllers (a Prometheus rule on kube_cronjob_status_last_schedule_time comes closest)".to_owned(),
        });
    }
    if config.daemon.history_max_age.as_secs() > i32::MAX as u64 {
        warnings.push(Warning {
            job: None,
            key: "history_max_age",
            message: format!(
                "ttlSecondsAfterFinished holds at most {} seconds (about 68 years); that is written instead",
                i32::MAX
            ),
        });
    }
    warnings
}
