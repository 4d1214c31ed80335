//! A run started on request (the API's `POST /jobs/{job}/runs`), without
//! holding up the scheduler loop: the loop decides what it can from memory
//! (is a run of a `forbid` job going here?) and hands every database read and
//! write to a task on the daemon's tracker, so a client that floods the API
//! never delays a tick.
//!
//! - A `forbid` job with a run going in this daemon: refused at once; a task
//!   waits for the running runs' ids, records the refusal as a skipped run
//!   (one such write at a time, so refusals never take the pool from the
//!   ticks) and answers `Busy` with the ids.
//! - Otherwise the run is registered (so the next request, or tick, sees it)
//!   and its task first looks in the database for runs of the job in other
//!   processes (`cronbox run`): a `forbid` job with one is refused as above,
//!   a `replace` job waits for them to end; then it is recorded and driven.
//!   Until it is recorded, the job is marked [`Admitting`], so that a tick of
//!   a `forbid` job (whose admission reads the database) does not start a
//!   second run beside it.

use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};

use super::Scheduler;
use super::admit::{self, Admission};
use super::control::Refusal;
use super::running::Running;
use super::supervisor::{self, Context, Start};
use crate::config::{Concurrency, Job};
use crate::store::Trigger;

/// How long a refusal waits for the ids of this daemon's runs of the job that
/// are not recorded yet (a run recorded a moment later is named; one still
/// unrecorded after this is left out of the answer).
const IDS_WAIT: Duration = Duration::from_secs(5);

/// The answer to a request to run now.
pub(super) type Reply = oneshot::Sender<Result<i64, Refusal>>;

/// The `forbid` jobs with a run started on request that is not recorded yet.
/// Cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Admitting {
    jobs: Arc<Mutex<HashSet<String>>>,
}

/// A job's place in [`Admitting`]: dropping it (once the run is recorded, or
/// refused) removes it.
pub(super) struct Mark {
    admitting: Admitting,
    job: String,
}

impl Drop for Mark {
    fn drop(&mut self) {
        self.admitting.lock().remove(&self.job);
    }
}

impl Admitting {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mark(&self, job: &str) -> Mark {
        self.lock().insert(job.to_owned());
        Mark {
            admitting: self.clone(),
            job: job.to_owned(),
        }
    }

    /// Whether a run of `job` started on request is being recorded now.
    pub(super) fn contains(&self, job: &str) -> bool {
        self.lock().contains(job)
    }
}

/// What the requests to run now share: the jobs being admitted, and the one
/// permit to record a refusal.
#[derive(Clone)]
pub(super) struct Requests {
    pub admitting: Admitting,
    refusals: Arc<Semaphore>,
}

impl Default for Requests {
    fn default() -> Requests {
        Requests {
            admitting: Admitting::default(),
            refusals: Arc::new(Semaphore::new(1)),
        }
    }
}

/// Start a run of `job` now (trigger `api`) with `params`, as its concurrency
/// policy says; `reply` gets its id once recorded, or the refusal (a `forbid`
/// refusal is recorded as a skipped run, as a tick's is). Returns at once:
/// everything that waits is spawned.
pub(super) fn run_now(
    scheduler: &Scheduler,
    job: &Arc<Job>,
    params: Vec<(String, String)>,
    reply: Reply,
) {
    let now = scheduler.ctx.clock.now();
    let forbid = job.concurrency == Concurrency::Forbid;
    if forbid && scheduler.running.any(&job.name) {
        let ids = scheduler.running.clone();
        let (ctx, job, requests) = (
            scheduler.ctx.clone(),
            job.clone(),
            scheduler.requests.clone(),
        );
        scheduler.tracker.spawn(async move {
            let running = ids.ids_once_recorded(&job.name, IDS_WAIT).await;
            refuse(&ctx, &requests, &job, now, running, reply).await;
        });
        return;
    }
    let mark = forbid.then(|| scheduler.requests.admitting.mark(&job.name));
    let replaces = match job.concurrency {
        Concurrency::Replace => scheduler.running.replace_all(&job.name),
        _ => Vec::new(),
    };
    let start = Start {
        trigger: Trigger::Api,
        scheduled_at: now,
        horizon: None,
        replaces,
        params,
        recorded: None,
    };
    let requests = scheduler.requests.clone();
    scheduler.spawn_run(job, "a run", move |ctx, job, stops| async move {
        let Some(start) = admit_here(&ctx, &requests, &job, start, reply, mark).await else {
            return Ok(());
        };
        supervisor::execute_prepared(&ctx, &job, start, &stops, None)
            .await
            .map(drop)
    });
}

/// In the run's task: what the database says of runs of `job` in other
/// processes. `None` when the run does not start (refused and answered);
/// else `start`, told to answer `reply` (and drop `mark`) once recorded.
async fn admit_here(
    ctx: &Context,
    requests: &Requests,
    job: &Arc<Job>,
    mut start: Start,
    reply: Reply,
    mark: Option<Mark>,
) -> Option<Start> {
    match admit::elsewhere(ctx, job).await {
        Admission::Start(foreign) => start.replaces.extend(foreign),
        Admission::Busy { running, .. } => {
            refuse(ctx, requests, job, start.scheduled_at, running, reply).await;
            return None;
        }
        Admission::Unknown => {
            let why = "the database cannot say whether a run of the job still goes";
            let _ = reply.send(Err(Refusal::Unrecorded(why.to_owned())));
            return None;
        }
    }
    let (recorded, id) = oneshot::channel();
    start.recorded = Some(recorded);
    // Answered from outside the run, once it is recorded.
    ctx.tracker.spawn(async move {
        let answer = match id.await {
            Ok(Ok(run_id)) => Ok(run_id),
            Ok(Err(why)) => Err(Refusal::Unrecorded(why)),
            Err(_) => Err(Refusal::ShuttingDown),
        };
        drop(mark);
        let _ = reply.send(answer);
    });
    Some(start)
}

/// Refuse a run of `job` asked for at `at` because `running` still go: record
/// it skipped (one refusal written at a time), then answer `Busy`.
async fn refuse(
    ctx: &Context,
    requests: &Requests,
    job: &Job,
    at: DateTime<Utc>,
    running: Vec<i64>,
    reply: Reply,
) {
    let reason = admit::busy_reason(&running);
    tracing::warn!(job = %job.name, "run through the API refused: {reason}");
    {
        let _permit = requests.refusals.acquire().await;
        admit::record_skipped(ctx, job, Trigger::Api, at, ctx.clock.now(), &reason).await;
    }
    let _ = reply.send(Err(Refusal::Busy {
        job: job.name.clone(),
        running,
    }));
}

impl Running {
    /// The ids of this daemon's runs of `job`, waiting (at most `bound`) for
    /// those not recorded yet; a run that ends unrecorded is left out.
    pub(super) async fn ids_once_recorded(&self, job: &str, bound: Duration) -> Vec<i64> {
        let pending = self.ids_to_come(job);
        let waits = pending.into_iter().map(|(id, finished)| async move {
            tokio::select! {
                biased;
                id = id.wait() => Some(*id),
                _ = finished.cancelled() => None,
            }
        });
        let all = futures_util::future::join_all(waits);
        match tokio::time::timeout(bound, all).await {
            Ok(ids) => ids.into_iter().flatten().collect(),
            Err(_) => self.run_ids(job),
        }
    }
}
