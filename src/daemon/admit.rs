//! Whether a new run of a job may start, as its `concurrency` says. Every
//! unfinished run of the job counts (running, waiting for a slot or to retry),
//! whatever started it (a tick, a catch-up, `cronbox run`, the API, a parent's
//! end) and whichever process supervises it. A run a parent's end started (job
//! chains) is admitted as a tick is, when the daemon starts it: it is recorded
//! already, so a refusal turns its row into a `skipped` one.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::running::Running;
use super::supervisor::{self, Context, Predecessor};
use crate::config::{Concurrency, Job};
use crate::events::Event;
use crate::store::{RunStatus, Trigger};

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
    admit_run(ctx, running, job, None).await
}

/// Whether `child`, a run of `job` a parent's end recorded (trigger `after`)
/// and that has made no attempt, may start now: as [`admit`] says of a tick,
/// `child` itself and the children recorded after it not counting.
pub(super) async fn admit_child(
    ctx: &Context,
    running: &Running,
    job: &Arc<Job>,
    child: i64,
) -> Admission {
    admit_run(ctx, running, job, Some(child)).await
}

async fn admit_run(
    ctx: &Context,
    running: &Running,
    job: &Arc<Job>,
    child: Option<i64>,
) -> Admission {
    match job.concurrency {
        Concurrency::Replace => {
            let mut replaces = running.replace_all(&job.name);
            if !replaces.is_empty() {
                tracing::info!(job = %job.name, "replacing the running run (concurrency = \"replace\")");
            }
            replaces.extend(supervisor::foreign_runs(ctx, job, child).await);
            Admission::Start(replaces)
        }
        _ => elsewhere_of(ctx, job, child).await,
    }
}

/// What the database says of a new run of `job`: for `forbid`, whether any
/// unfinished run of it (in any process) refuses it; for `replace`, the runs
/// of other processes it replaces (this daemon's are the caller's, from
/// [`Running::replace_all`]).
pub(super) async fn elsewhere(ctx: &Context, job: &Arc<Job>) -> Admission {
    elsewhere_of(ctx, job, None).await
}

/// [`elsewhere`], for `child` (a run a parent's end recorded) when given.
async fn elsewhere_of(ctx: &Context, job: &Arc<Job>, child: Option<i64>) -> Admission {
    match job.concurrency {
        Concurrency::Allow => Admission::Start(Vec::new()),
        Concurrency::Forbid => match going(ctx, job, child).await {
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
        Concurrency::Replace => Admission::Start(supervisor::foreign_runs(ctx, job, child).await),
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

/// The unfinished runs of `job` that hold a new run back (for a child run,
/// see [`Store::runs_holding_back_child`](crate::store::Store::runs_holding_back_child)).
async fn going(
    ctx: &Context,
    job: &Job,
    child: Option<i64>,
) -> Result<Vec<crate::store::UnfinishedRun>, crate::store::StoreError> {
    match child {
        None => ctx.store.unfinished_runs(&job.name).await,
        Some(child) => ctx.store.runs_holding_back_child(&job.name, child).await,
    }
}

/// Record `child`, a run a parent's end recorded that the policy refuses
/// (`reason`), as `skipped`, and publish it. When that cannot be written, the
/// run is given back to the chain watcher ([`release_child`]), which claims it
/// and has it admitted again.
pub(super) async fn skip_child(ctx: &Context, job: &Job, child: i64, reason: &str) {
    tracing::warn!(job = %job.name, run = child, "run started by a parent's end skipped: {reason}");
    crate::failpoint::pause("before-skip").await;
    let recorded = ctx
        .store
        .finish_run(child, RunStatus::Skipped, ctx.clock.now(), Some(reason))
        .await;
    crate::failpoint::pause("after-skip").await;
    match recorded {
        Ok(()) => ctx.events.publish(Event::Skipped {
            run_id: child,
            job: job.name.clone(),
        }),
        Err(e) => {
            tracing::error!(job = %job.name, run = child, error = %supervisor::chain(&e), "could not record the run skipped; it will be admitted again");
            release_child(ctx, job, child).await;
        }
    }
}

/// Give `child`, a run a parent's end recorded that could not be admitted now
/// (the database did not answer), back to the chain watcher, which claims it
/// again at its next look (every `trigger::chains::POLL`, or at a run's end).
/// Should even that fail, the next start of the daemon admits it.
pub(super) async fn release_child(ctx: &Context, job: &Job, child: i64) {
    if let Err(e) = ctx.store.release_child_run(child).await {
        tracing::error!(job = %job.name, run = child, error = %supervisor::chain(&e), "could not give the run back to be admitted again; the next start of the daemon admits it");
    }
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
    crate::failpoint::pause("before-skip").await;
    let recorded = ctx
        .store
        .insert_skipped_run(&job.name, trigger, at, now, reason)
        .await;
    crate::failpoint::pause("after-skip").await;
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
