//! Whether a new run of a job may start, as its `concurrency` says. Every
//! unfinished run of the job counts (running, waiting for a slot or to retry),
//! whatever started it (a tick, a catch-up, `cronbox run`, the API) and
//! whichever process supervises it.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::running::Running;
use super::supervisor::{self, Context, Predecessor};
use crate::config::{Concurrency, Job};
use crate::events::Event;
use crate::store::Trigger;

/// What the policy says of a new run.
pub(super) enum Admission {
    /// It starts, once the runs it replaces have ended.
    Start(Vec<Predecessor>),
    /// `concurrency = "forbid"` and these runs still go.
    Busy { reason: String, running: Vec<i64> },
    /// The database cannot say whether a run goes: nothing starts that could
    /// not be recorded anyway (logged).
    Unknown,
}

/// Whether a new run of `job` may start now.
pub(super) async fn admit(ctx: &Context, running: &Running, job: &Arc<Job>) -> Admission {
    match job.concurrency {
        Concurrency::Replace => {
            let mut replaces = running.replace_all(&job.name);
            if !replaces.is_empty() {
                tracing::info!(job = %job.name, "replacing the running run (concurrency = \"replace\")");
            }
            replaces.extend(supervisor::foreign_runs(ctx, job, None).await);
            Admission::Start(replaces)
        }
        _ => elsewhere(ctx, job).await,
    }
}

/// What the database says of a new run of `job`: for `forbid`, whether any
/// unfinished run of it (in any process) refuses it; for `replace`, the runs
/// of other processes it replaces (this daemon's are the caller's, from
/// [`Running::replace_all`]).
pub(super) async fn elsewhere(ctx: &Context, job: &Arc<Job>) -> Admission {
    match job.concurrency {
        Concurrency::Allow => Admission::Start(Vec::new()),
        Concurrency::Forbid => match ctx.store.unfinished_runs(&job.name).await {
            Ok(unfinished) if !unfinished.is_empty() => {
                let running: Vec<i64> = unfinished.iter().map(|r| r.run_id).collect();
                let reason = busy_reason(&running);
                Admission::Busy { reason, running }
            }
            Ok(_) => Admission::Start(Vec::new()),
            Err(e) => {
                tracing::error!(job = %job.name, error = %supervisor::chain(&e), "cannot tell whether the previous run still goes; not starting a run that cannot be recorded");
                Admission::Unknown
            }
        },
        Concurrency::Replace => Admission::Start(supervisor::foreign_runs(ctx, job, None).await),
    }
}

/// Why a new run of a `forbid` job is refused while `running` go (the ids of
/// those known; none when the one going is not recorded yet).
pub(super) fn busy_reason(running: &[i64]) -> String {
    if running.is_empty() {
        return "a run of this job was starting (concurrency = \"forbid\")".to_owned();
    }
    let ids: Vec<String> = running.iter().map(i64::to_string).collect();
    format!(
        "run {} of this job was still going (concurrency = \"forbid\")",
        ids.join(", ")
    )
}

/// Record a run the policy refused (`skipped`, with the reason) and publish
/// it; for a tick, the job's horizon moves with it. Returns its id.
pub(super) async fn record_skipped(
    ctx: &Context,
    job: &Job,
    trigger: Trigger,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    reason: &str,
) -> Option<i64> {
    let recorded = ctx
        .store
        .insert_skipped_run(&job.name, trigger, at, now, reason)
        .await;
    match recorded {
        Ok(Some(run_id)) => {
            ctx.events.publish(Event::Skipped {
                run_id,
                job: job.name.clone(),
            });
            Some(run_id)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(job = %job.name, error = %supervisor::chain(&e), "could not record a skipped run");
            None
        }
    }
}
