//! The run supervisor: one run of one job, from its `runs` row through every
//! attempt (slot, container, output, exit) to its final status, following the
//! job's time limits and retry rules. Used by the daemon for ticks, for runs
//! resumed and containers adopted at start-up, and by `cronbox run`.
//!
//! Every step is ordered so that a process killed between any two of them
//! leaves a state the start-up repair turns into the truth: the run is recorded
//! before anything starts; an attempt is recorded before its container is made;
//! an attempt's end is recorded, with what becomes of its run, in one
//! transaction and before its container is removed. A run waiting (for a slot,
//! for a run it replaces, for a retry) writes nothing to wait: the repair finds
//! it running with no attempt going and resumes it.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

use super::attempt::{self, Ended};
use super::container::prepare;
use crate::clock::{self, Clock, Sleep};
use crate::config::Job;
use crate::events::Event;
use crate::policy::Decision;
use crate::store::{self, PendingRun, RunNext, RunStatus, Store, StoreError, Trigger};

pub use super::attempt::{Preparation, Prepared, discard, prepare_ahead};
pub use indexed::{COMPLETIONS_VAR, INDEX_VAR};

mod indexed;
pub use super::container::{container_name, prepared_container_name, unenforceable_limits};

/// What a supervisor needs from the outside world.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Store,
    pub engine: crate::engine::Engine,
    pub clock: Arc<dyn Clock>,
    /// The `[daemon] max_concurrent` slots; `None`: no limit (`cronbox run`).
    pub slots: Option<Arc<Semaphore>>,
    /// `[daemon] require_limits`: refuse to run a job whose limits the host cannot enforce.
    pub require_limits: bool,
    /// On shutdown, leave a run that waits (for a slot or a retry) as it is in
    /// the database for the next daemon to resume (the daemon), rather than
    /// recording it interrupted (`cronbox run`).
    pub resume_later: bool,
    /// Copy the output live to this process's stdout and stderr (`cronbox run`).
    pub echo: bool,
    /// Look in the database, every second, for another process asking this
    /// process's run to stop (a daemon replacing a `cronbox run`).
    pub watch_stop_requests: bool,
    /// Where the run's lifecycle is published.
    pub events: crate::events::Events,
    /// Work the process waits for before it exits, even when a run's
    /// supervision is dropped (a detach): the removal of a container whose end
    /// is recorded. The daemon's tracker; a fresh one for `cronbox run`.
    pub tracker: tokio_util::task::TaskTracker,
}

/// What may stop a run from outside.
#[derive(Debug, Clone, Default)]
pub struct Stops {
    /// The daemon is shutting down.
    pub shutdown: CancellationToken,
    /// A newer run of the job replaces this one (`concurrency = "replace"`).
    pub replace: CancellationToken,
    /// The daemon exits leaving its containers running (`on_shutdown = "detach"`).
    pub detach: CancellationToken,
    /// An operator stops the run (`cronbox stop`, the API): no further attempt.
    pub stop: CancellationToken,
    /// The run's id once it has one, for whoever would stop it by id.
    pub run_id: Arc<tokio::sync::SetOnce<i64>>,
    /// Set once the run's end is recorded (its last container may still be
    /// being removed): from then on it no longer goes, for a `forbid` job's
    /// next run and for the API, as the database says.
    pub ended: CancellationToken,
}

impl Stops {
    /// The first reason from outside to stop the run, once there is one.
    pub(super) async fn stopped(&self) -> Interruption {
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => Interruption::Shutdown,
            _ = self.stop.cancelled() => Interruption::Stopped,
            _ = self.replace.cancelled() => Interruption::Replaced,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: i64,
    /// `None`: left as it is (waiting, or its attempt running) for the next daemon.
    pub status: Option<RunStatus>,
    /// The exit code of the last attempt that ran a container to its end.
    pub exit_code: Option<i64>,
    pub attempts: u32,
}

/// The reason recorded for a run a newer run replaced.
pub const REPLACED: &str = "replaced by a newer run (concurrency = \"replace\")";
/// `runs.stop_requested` when a daemon replaces a `cronbox run`'s run.
pub const STOP_REQUEST_REPLACED: &str = "replaced";
/// `runs.stop_requested` when an operator stops a `cronbox run`'s run through the daemon.
pub const STOP_REQUEST_STOPPED: &str = "stopped";
/// The reason recorded for a run an operator stopped.
pub const STOPPED: &str = "stopped by an operator (cronbox stop, or the API)";

/// Why a run was stopped from outside or by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interruption {
    Deadline,
    Shutdown,
    Replaced,
    /// An operator stopped the run.
    Stopped,
}

/// A run that a new run of the same job replaces (`concurrency = "replace"`):
/// the new run's first attempt waits until it has ended.
#[derive(Debug, Clone)]
pub enum Predecessor {
    /// A run this process supervises: cancelled once it has ended and been recorded.
    Local(CancellationToken),
    /// A run another live process supervises (a `cronbox run`), asked through
    /// the database to stop: it has ended once its row is no longer `running`,
    /// or once that process is gone.
    Foreign { run_id: i64, pid: u32 },
}

/// What starts a new run.
#[derive(Debug)]
pub struct Start {
    pub trigger: Trigger,
    /// The tick's instant; for a manual run, when it was asked for.
    pub scheduled_at: DateTime<Utc>,
    /// For a tick: every tick of the job up to this instant is accounted for
    /// once the run is recorded (saved in the same transaction).
    pub horizon: Option<DateTime<Utc>>,
    /// The runs it replaces.
    pub replaces: Vec<Predecessor>,
    /// Environment variables added for this run only (the API's `params`,
    /// already checked against the job's), recorded with the run.
    pub params: Vec<(String, String)>,
    /// Told the run's id once it is recorded, or why it could not be.
    pub recorded: Option<tokio::sync::oneshot::Sender<Result<i64, String>>>,
}

/// Run `job` once for `trigger` at `scheduled_at`, with retries. Returns `None` when
/// this scheduled tick was already recorded (it never runs twice).
pub async fn execute(
    ctx: &Context,
    job: &Job,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
    stops: &Stops,
) -> Result<Option<RunReport>, StoreError> {
    let start = Start {
        trigger,
        scheduled_at,
        horizon: None,
        replaces: Vec::new(),
        params: Vec::new(),
        recorded: None,
    };
    execute_prepared(ctx, job, start, stops, None).await
}

/// [`execute`] for `start`, whose first attempt starts the container
/// `preparation` made ready, if it made one and the job's environment is still
/// the same. A preparation that is not used is removed.
pub async fn execute_prepared(
    ctx: &Context,
    job: &Job,
    start: Start,
    stops: &Stops,
    preparation: Option<Preparation>,
) -> Result<Option<RunReport>, StoreError> {
    let mut preparation = preparation;
    let result = record_and_drive(ctx, job, start, stops, &mut preparation).await;
    if let Some(preparation) = preparation {
        discard(ctx, preparation).await;
    }
    result
}

async fn record_and_drive(
    ctx: &Context,
    job: &Job,
    start: Start,
    stops: &Stops,
    preparation: &mut Option<Preparation>,
) -> Result<Option<RunReport>, StoreError> {
    let Start {
        trigger,
        scheduled_at,
        horizon,
        replaces,
        params,
        recorded,
    } = start;
    // A parameter named as one of the job's secrets keeps its value out of the database.
    let params_json = (!params.is_empty())
        .then(|| store::params_to_json(&params, |key| job.secrets.contains_key(key)));
    let started = ctx.clock.now();
    crate::failpoint::pause("before-run").await;
    // A run that cannot be recorded is not started. While the database refuses
    // writes (a full disk), keep trying for as long as the tick is on time.
    let fire_at = fire_instant(job, trigger, scheduled_at);
    let give_up = fire_at.unwrap_or(scheduled_at).max(started) + crate::daemon::LATE;
    let inserted = persist(ctx, stops, "recording a new run", Some(give_up), || {
        ctx.store.insert_run(
            &job.name,
            trigger,
            (scheduled_at, fire_at),
            started,
            horizon,
            params_json.clone(),
        )
    })
    .await;
    if let Some(recorded) = recorded {
        let _ = recorded.send(match &inserted {
            Ok(Some(run_id)) => Ok(*run_id),
            Ok(None) => Err("this tick is already recorded".to_owned()),
            Err(e) => Err(chain(e)),
        });
    }
    let Some(run_id) = inserted? else {
        tracing::info!(job = %job.name, tick = %scheduled_at, "tick already recorded; not running it again");
        return Ok(None);
    };
    let _ = stops.run_id.set(run_id);
    tracing::info!(job = %job.name, run = run_id, trigger = trigger.as_str(), "run started");
    ctx.events.publish(Event::RunStarted {
        run_id,
        job: job.name.clone(),
        trigger: trigger.as_str().to_owned(),
    });
    crate::failpoint::pause("after-run").await;
    let _watch = ctx
        .watch_stop_requests
        .then(|| watch_stop_requests(ctx, run_id, stops));
    let run = Run {
        id: run_id,
        next_attempt: 1,
        delay: None,
        elapsed: Duration::ZERO,
        start_by: start_by(job, trigger, scheduled_at),
        adopt: None,
        adopt_more: Vec::new(),
        prepared: preparation,
        replaces,
        queued: None,
        params,
        waiting_since: None,
    };
    detachable(drive(ctx, job, run, stops), run_id, stops)
        .await
        .map(Some)
}

/// When a run's first attempt must have started: a tick within its job's
/// `starting_deadline` of its fire instant; a manual or API run has no such limit.
fn start_by(job: &Job, trigger: Trigger, scheduled_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match (
        fire_instant(job, trigger, scheduled_at),
        job.starting_deadline,
    ) {
        (None, _) | (_, None) => None,
        (Some(fire_at), Some(limit)) => {
            Some(fire_at + chrono::TimeDelta::from_std(limit).unwrap_or(chrono::TimeDelta::MAX))
        }
    }
}

/// When a tick of the clock (`trigger` schedule or catch-up) at `scheduled_at`
/// fires: shifted by the job's `random_delay` offset ([`Job::fire_at`]). `None`
/// for a run not started by the clock.
pub fn fire_instant(
    job: &Job,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match trigger {
        Trigger::Schedule | Trigger::CatchUp => Some(job.fire_at(scheduled_at)),
        Trigger::Manual | Trigger::Api | Trigger::After | Trigger::File => None,
    }
}

/// Stop run `run_id` once another process asks for it through the database
/// (`runs.stop_requested`, checked every second while the run goes): as
/// replaced (`replaced`: a daemon's tick of a `replace` job), or as stopped by an
/// operator (`stopped`: the daemon's API).
fn watch_stop_requests(
    ctx: &Context,
    run_id: i64,
    stops: &Stops,
) -> tokio_util::task::AbortOnDropHandle<()> {
    let (store, stops) = (ctx.store.clone(), stops.clone());
    tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(reason)) = store.stop_requested(run_id).await {
                tracing::info!(
                    run = run_id,
                    reason,
                    "another process asks this run to stop"
                );
                match reason.as_str() {
                    STOP_REQUEST_REPLACED => stops.replace.cancel(),
                    _ => stops.stop.cancel(),
                }
                return;
            }
        }
    }))
}

/// Resume a run the previous daemon left running with no attempt going (it was
/// waiting for a slot, for a run it replaced, or to retry): queued again, its
/// next attempt at its recorded due time (at once if that has passed or it has
/// none), its deadline counting from when the run started and, if it never made
/// an attempt, its `starting_deadline` from its tick. `queued` is told once its
/// first slot request is in line, so that runs resumed one after the other keep
/// their order. Its first attempt starts the container `preparation` made
/// ready (a file's run), if it made one and it is still the container the job
/// and its environment make ([`Prepared::fits`]); one not used is removed.
pub async fn resume(
    ctx: &Context,
    job: &Job,
    pending: &PendingRun,
    replaces: Vec<Predecessor>,
    stops: &Stops,
    queued: Option<oneshot::Sender<()>>,
    preparation: Option<Preparation>,
) -> Result<RunReport, StoreError> {
    let mut preparation = preparation;
    let now = ctx.clock.now();
    let _ = stops.run_id.set(pending.run_id);
    let trigger = Trigger::from_name(&pending.trigger).unwrap_or(Trigger::Manual);
    let first = pending.attempts == 0;
    let _watch = ctx
        .watch_stop_requests
        .then(|| watch_stop_requests(ctx, pending.run_id, stops));
    let run = Run {
        id: pending.run_id,
        next_attempt: pending.attempts.saturating_add(1),
        delay: pending.retry_at.map(|at| clock::until(now, at)),
        elapsed: clock::until(pending.started_at, now),
        start_by: start_by(job, trigger, pending.scheduled_at).filter(|_| first),
        adopt: None,
        adopt_more: Vec::new(),
        prepared: &mut preparation,
        replaces: if first { replaces } else { Vec::new() },
        queued,
        params: pending.params.clone(),
        waiting_since: Some(pending.retry_at.unwrap_or(pending.started_at)),
    };
    let report = detachable(drive(ctx, job, run, stops), pending.run_id, stops).await;
    if let Some(preparation) = preparation {
        discard(ctx, preparation).await;
    }
    report
}

/// Take over an attempt whose container a previous daemon started: its output is
/// stored again from the start (no duplicates), its end awaited and recorded,
/// and the run then follows the job's retry policy.
///
/// `more`: the other attempts of the same indexed run left running, each with
/// its slot, taken over by the same supervision (none for a plain run).
pub async fn adopt(
    ctx: &Context,
    job: &Job,
    adoption: Adoption,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    more: Vec<(Adoption, Option<tokio::sync::OwnedSemaphorePermit>)>,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    tracing::info!(job = %job.name, run = adoption.run_id, attempt = adoption.attempt, container = %adoption.container, "adopting a container left by the previous daemon");
    let run_id = adoption.run_id;
    let _ = stops.run_id.set(run_id);
    // Its retries, if any, get the parameters it was started with.
    let params = ctx.store.run_params(run_id).await?;
    let run = Run {
        id: run_id,
        next_attempt: adoption.attempt,
        delay: None,
        elapsed: clock::until(adoption.run_started_at, ctx.clock.now()),
        start_by: None,
        adopt: Some((adoption, slot)),
        adopt_more: more,
        prepared: &mut None,
        replaces: Vec::new(),
        queued: None,
        params,
        waiting_since: None,
    };
    detachable(drive(ctx, job, run, stops), run_id, stops).await
}

/// Run `drive` unless the daemon detaches: then the run is left as it is, its
/// container running, for the next daemon to adopt. `drive` is polled first,
/// so that an end already committed goes on to the (tracked) removal of its
/// container before a detach drops the rest.
async fn detachable(
    drive: impl std::future::Future<Output = Result<RunReport, StoreError>>,
    run_id: i64,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    tokio::select! {
        biased;
        report = drive => report,
        _ = stops.detach.cancelled() => {
            tracing::info!(run = run_id, "detached: the run goes on without this daemon; the next one adopts or resumes it");
            Ok(RunReport { run_id, status: None, exit_code: None, attempts: 0 })
        }
    }
}

struct Run<'a> {
    id: i64,
    /// The number of the next attempt.
    next_attempt: u32,
    /// Wait this long before the next attempt (a resumed retry).
    delay: Option<Duration>,
    /// How much of the deadline is already used.
    elapsed: Duration,
    /// The first attempt must get its slot by then, else the run is missed.
    start_by: Option<DateTime<Utc>>,
    /// The next attempt is one a previous daemon started: take over its
    /// container, holding the `max_concurrent` slot it was given, if any (it
    /// runs already: it never waits for one).
    adopt: Option<(Adoption, Option<tokio::sync::OwnedSemaphorePermit>)>,
    /// Further attempts of an indexed run a previous daemon started, each
    /// with its slot (a plain run has none).
    adopt_more: Vec<(Adoption, Option<tokio::sync::OwnedSemaphorePermit>)>,
    /// The first attempt's container, being made ready before the run (ahead
    /// of its tick, or while its file settled). Taken when used; what is left
    /// is removed by the caller.
    prepared: &'a mut Option<Preparation>,
    /// Runs this one replaces: its first attempt waits until they have ended.
    replaces: Vec<Predecessor>,
    /// Told once the first slot request is in line.
    queued: Option<oneshot::Sender<()>>,
    /// Environment variables added for this run only (the API's `params`).
    params: Vec<(String, String)>,
    /// Since when its next attempt has waited, when that began before this
    /// process (a resumed run): `attempts.waited_ms` counts from then.
    waiting_since: Option<DateTime<Utc>>,
}

/// An attempt whose container a previous daemon left running (or exited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub run_id: i64,
    pub attempt_id: i64,
    pub attempt: u32,
    /// The container's id, or its name when its id was never recorded.
    pub container: String,
    /// Whether the attempt recorded the container's id (if not, and the engine
    /// does not know the name, the container was never created).
    pub container_recorded: bool,
    pub run_started_at: DateTime<Utc>,
    pub attempt_started_at: DateTime<Utc>,
}

/// What stops a run's waiting, and what it becomes.
enum Waited {
    /// Its first attempt could not start before its `starting_deadline`.
    Missed(&'static str),
    Stopped(Interruption),
}

async fn drive(
    ctx: &Context,
    job: &Job,
    mut run: Run<'_>,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    let run_id = run.id;
    let mut deadline: Sleep = match job.deadline {
        Some(deadline) => ctx.clock.sleep(deadline.saturating_sub(run.elapsed)),
        None => Box::pin(std::future::pending()),
    };
    let mut attempt = run.next_attempt;
    let mut exit_code = None;
    let ends = Ends {
        ctx,
        job,
        run_id,
        stops,
    };

    if let Some(delay) = run.delay.take()
        && let Err(why) = wait(ctx.clock.sleep(delay), &mut deadline, stops).await
    {
        return ends.stopped_waiting(why, None, attempt - 1).await;
    }
    let replaces = std::mem::take(&mut run.replaces);
    if !replaces.is_empty() {
        // Its place in line is behind the runs it replaces: whoever waits for it
        // to be in line need not wait for them.
        drop(run.queued.take());
        let waited = wait_replaced(
            ctx,
            job,
            run_id,
            replaces,
            run.start_by,
            &mut deadline,
            stops,
        );
        match waited.await {
            Ok(()) => crate::failpoint::pause("after-replaced").await,
            Err(Waited::Missed(reason)) => return ends.missed(reason).await,
            Err(Waited::Stopped(why)) => return ends.stopped_waiting(why, None, 0).await,
        }
    }

    // Environment and mounted files are read per run, so editing them needs no reload.
    let env = match prepare(job) {
        Ok(env) => with_params(env, &run.params),
        Err(reason) => {
            tracing::error!(job = %job.name, run = run_id, "{reason}");
            return ends
                .finish(RunStatus::Failed, Some(reason), None, attempt - 1)
                .await;
        }
    };

    if job.completions > 1 {
        let handover = indexed::Handover {
            env,
            start_by: run.start_by,
            queued: run.queued.take(),
            adopt: run.adopt.take().into_iter().chain(run.adopt_more).collect(),
        };
        return indexed::drive(ctx, job, run_id, handover, deadline, &ends, stops).await;
    }
    loop {
        let (attempt_id, ended) = match run.adopt.take() {
            Some((adopted, slot)) => {
                let ended = adopt_attempt(ctx, job, run_id, &adopted, &mut deadline, stops).await?;
                drop(slot);
                if matches!(ended, Ended::NeverCreated) {
                    continue;
                }
                (adopted.attempt_id, ended)
            }
            None => {
                let first = attempt == run.next_attempt;
                let start_by = run.start_by.filter(|_| first);
                let queued = if first { run.queued.take() } else { None };
                let (permit, waited) =
                    match take_slot(ctx, start_by, queued, &mut deadline, stops).await {
                        Ok(slot) => slot,
                        Err(Waited::Missed(reason)) => return ends.missed(reason).await,
                        Err(Waited::Stopped(why)) => {
                            return ends.stopped_waiting(why, exit_code, attempt - 1).await;
                        }
                    };
                // A resumed run's wait began before this process.
                let waited = match run.waiting_since.take() {
                    Some(since) => waited.max(clock::until(since, ctx.clock.now())),
                    None => waited,
                };
                let (attempt_id, ended) = start_attempt(
                    ctx,
                    job,
                    &env,
                    run_id,
                    attempt,
                    waited,
                    run.prepared,
                    &mut deadline,
                    stops,
                )
                .await?;
                drop(permit);
                (attempt_id, ended)
            }
        };
        let Ended::Attempt {
            end,
            record,
            container,
        } = ended
        else {
            // The engine cannot say how the container ended and the daemon shuts
            // down: the attempt stays running for the next start to adopt.
            return Ok(ends.report(None, exit_code, attempt));
        };
        if record.exit_code.is_some() {
            exit_code = record.exit_code;
        }
        let decision = job.retry_policy().decide(attempt, end);
        let now = ctx.clock.now();
        let reason = match decision {
            Decision::Fail => Some(failure_reason(&record, attempt)),
            Decision::Interrupt if ctx.resume_later => {
                Some("the daemon shut down during the attempt".to_owned())
            }
            Decision::Interrupt => Some(
                "cronbox run was interrupted (SIGTERM or SIGINT) during the attempt".to_owned(),
            ),
            Decision::Stop => Some(STOPPED.to_owned()),
            Decision::Succeed | Decision::Retry(_) => None,
        };
        let next = match decision {
            Decision::Retry(delay) => RunNext::RetryAt(
                now + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX),
            ),
            _ => RunNext::Finish {
                status: final_status(decision),
                at: now,
                reason: reason.as_deref(),
            },
        };
        if !ends
            .record_attempt(attempt_id, attempt, &record, next)
            .await?
        {
            return Ok(ends.report(None, exit_code, attempt));
        }
        crate::failpoint::pause("after-record").await;
        if let Some(id) = container {
            remove_recorded(ctx, job, run_id, id).await;
            crate::failpoint::pause("after-remove").await;
        }
        let (Decision::Retry(delay), RunNext::RetryAt(_)) = (decision, next) else {
            let status = match next {
                RunNext::Finish { status, .. } => status,
                RunNext::RetryAt(_) => RunStatus::Failed,
            };
            return Ok(ends.report(Some(status), exit_code, attempt));
        };
        tracing::info!(job = %job.name, run = run_id, attempt, delay = %humantime::format_duration(delay), "retrying after backoff");
        if let Err(why) = wait(ctx.clock.sleep(delay), &mut deadline, stops).await {
            return ends.stopped_waiting(why, exit_code, attempt).await;
        }
        attempt += 1;
    }
}

/// Remove the container of an attempt whose end is recorded. In a task of its
/// own, tracked by [`Context::tracker`], so that a daemon detaching at that
/// moment (which drops the run's supervision) still removes it, and before it
/// exits, rather than leave it to the next start.
async fn remove_recorded(ctx: &Context, job: &Job, run_id: i64, id: String) {
    let (engine, name) = (ctx.engine.clone(), job.name.clone());
    let removal = ctx.tracker.spawn(async move {
        if let Err(e) = engine.remove(&id).await {
            tracing::warn!(job = %name, run = run_id, container = %id, error = %e, "could not remove the attempt's container; the next start removes it");
        }
    });
    let _ = removal.await;
}

/// Record a new attempt, then make it: in the container made ready before the
/// run if there is one and it is the container the job and the environment
/// read now would make ([`Prepared::fits`]), else on the usual path. Returns
/// the attempt's id and how it ended.
#[allow(clippy::too_many_arguments)]
async fn start_attempt(
    ctx: &Context,
    job: &Job,
    env: &[String],
    run_id: i64,
    attempt: u32,
    waited: Duration,
    prepared: &mut Option<Preparation>,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Result<(i64, Ended), StoreError> {
    let prepared = match prepared.take() {
        Some(preparation) => match preparation.await {
            Some(prepared) if prepared.fits(ctx, job, env) => Some(prepared),
            Some(stale) => {
                attempt::remove_prepared(ctx, stale).await;
                None
            }
            None => None,
        },
        None => None,
    };
    // No container starts before its attempt is recorded.
    let now = ctx.clock.now();
    let attempt_id = persist(ctx, stops, "recording a new attempt", None, || {
        ctx.store
            .start_attempt(run_id, attempt, &job.image, now, waited)
    })
    .await;
    let attempt_id = match attempt_id {
        Ok(attempt_id) => attempt_id,
        Err(e) => {
            if let Some(prepared) = prepared {
                attempt::remove_prepared(ctx, prepared).await;
            }
            return Err(e);
        }
    };
    announce_attempt(ctx, job, run_id, attempt);
    // A prepared container's id is recorded before it starts, or it is not used:
    // its name does not lead back to its attempt.
    let prepared = match prepared {
        Some(prepared) => {
            // A crash here leaves what a crash before a create leaves on the usual
            // path: an attempt with no container of its own (the start-up repair
            // removes the unused one and makes the attempt again).
            crate::failpoint::pause("before-create").await;
            match ctx.store.set_container(attempt_id, prepared.id()).await {
                Ok(()) => Some(prepared),
                Err(e) => {
                    tracing::error!(job = %job.name, error = %e, "could not record the id of the container made ready; creating another");
                    attempt::remove_prepared(ctx, prepared).await;
                    None
                }
            }
        }
        None => None,
    };
    let ended = match prepared {
        Some(prepared) => {
            attempt::run_prepared(ctx, job, attempt_id, prepared, deadline, stops).await
        }
        None => {
            attempt::run_attempt(ctx, job, env, run_id, attempt, attempt_id, deadline, stops).await
        }
    };
    Ok((attempt_id, ended))
}

/// Tell listeners that attempt `attempt` of run `run_id` is recorded running
/// (its container starts next), so a page showing the run waiting moves it to
/// running now rather than when the attempt ends.
pub(super) fn announce_attempt(ctx: &Context, job: &Job, run_id: i64, attempt: u32) {
    ctx.events.publish(Event::AttemptStarted {
        run_id,
        job: job.name.clone(),
        attempt,
    });
}

/// A slot of `[daemon] max_concurrent`, in arrival order, and how long it took.
/// `start_by`: the slot must come by then (a first attempt's
/// `starting_deadline`). `queued` is told once the request is in line.
async fn take_slot(
    ctx: &Context,
    start_by: Option<DateTime<Utc>>,
    queued: Option<oneshot::Sender<()>>,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Result<(Option<tokio::sync::OwnedSemaphorePermit>, Duration), Waited> {
    const LATE: &str =
        "waited for a max_concurrent slot past its starting_deadline; not started late";
    let began = tokio::time::Instant::now();
    let Some(slots) = &ctx.slots else {
        return Ok((None, Duration::ZERO));
    };
    if start_by.is_some_and(|at| at <= ctx.clock.now()) {
        return Err(Waited::Missed(LATE));
    }
    let limit = match start_by {
        Some(at) => ctx.clock.sleep(clock::until(ctx.clock.now(), at)),
        None => Box::pin(std::future::pending()),
    };
    let mut acquire = Box::pin(slots.clone().acquire_owned());
    // Polled once, the request takes its place in the semaphore's queue.
    let first = futures_util::poll!(acquire.as_mut());
    if let Some(queued) = queued {
        let _ = queued.send(());
    }
    let permit = match first {
        std::task::Poll::Ready(permit) => permit.ok(),
        std::task::Poll::Pending => {
            let acquire = async {
                tokio::select! {
                    permit = acquire => Some(permit.ok()),
                    _ = limit => None,
                }
            };
            match wait(Box::pin(acquire), deadline, stops).await {
                Ok(Some(permit)) => permit,
                Ok(None) => return Err(Waited::Missed(LATE)),
                Err(why) => return Err(Waited::Stopped(why)),
            }
        }
    };
    let waited = began.elapsed();
    if waited > Duration::from_millis(100) {
        tracing::info!(
            waited_ms = waited.as_millis() as u64,
            "waited for a max_concurrent slot"
        );
    }
    Ok((permit, waited))
}

/// Wait until every run this one replaces has ended (`concurrency = "replace"`:
/// the new container starts only once the replaced one has exited). Bounded by
/// `start_by` (the wait counts against `starting_deadline`), the deadline and
/// the run's own stops.
async fn wait_replaced(
    ctx: &Context,
    job: &Job,
    run_id: i64,
    replaces: Vec<Predecessor>,
    start_by: Option<DateTime<Utc>>,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Result<(), Waited> {
    const LATE: &str =
        "waited for the run it replaces to stop past its starting_deadline; not started late";
    let limit = match start_by {
        Some(at) => ctx.clock.sleep(clock::until(ctx.clock.now(), at)),
        None => Box::pin(std::future::pending()),
    };
    let ended = async {
        let mut replaces = replaces;
        while !replaces.is_empty() {
            for predecessor in &replaces {
                match predecessor {
                    Predecessor::Local(finished) => finished.cancelled().await,
                    Predecessor::Foreign { run_id, pid } => {
                        foreign_run_ended(&ctx.store, *run_id, *pid).await;
                    }
                }
            }
            // A `cronbox run` of the job may have started meanwhile: it is
            // replaced too, before this run starts.
            replaces = foreign_runs(ctx, job, Some(run_id)).await;
        }
    };
    let bounded = Box::pin(async {
        tokio::select! {
            () = ended => true,
            _ = limit => false,
        }
    });
    tracing::info!(job = %job.name, run = run_id, "waiting for the replaced run to stop before starting");
    match wait(bounded, deadline, stops).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Waited::Missed(LATE)),
        Err(why) => Err(Waited::Stopped(why)),
    }
}

/// The unfinished runs of `job` (other than `except`) that another live
/// process supervises (a `cronbox run`), asked through the database to stop
/// as replaced.
pub(super) async fn foreign_runs(
    ctx: &Context,
    job: &Job,
    except: Option<i64>,
) -> Vec<Predecessor> {
    let unfinished = match ctx.store.unfinished_runs(&job.name).await {
        Ok(unfinished) => unfinished,
        Err(e) => {
            tracing::error!(job = %job.name, error = %chain(&e), "cannot look for runs of the job in other processes; replacing only this daemon's");
            return Vec::new();
        }
    };
    let foreign: Vec<(i64, u32)> = unfinished
        .into_iter()
        .filter(|r| Some(r.run_id) != except)
        .filter_map(|r| {
            Some((
                r.run_id,
                r.pid.filter(|pid| super::owned_elsewhere(Some(*pid)))?,
            ))
        })
        .collect();
    if foreign.is_empty() {
        return Vec::new();
    }
    let ids: Vec<i64> = foreign.iter().map(|(id, _)| *id).collect();
    tracing::info!(job = %job.name, runs = ?ids, "replacing runs that another process supervises (cronbox run)");
    if let Err(e) = ctx.store.request_stop(&ids, STOP_REQUEST_REPLACED).await {
        tracing::error!(job = %job.name, error = %chain(&e), "could not ask the other process to stop its run");
    }
    foreign
        .into_iter()
        .map(|(run_id, pid)| Predecessor::Foreign { run_id, pid })
        .collect()
}

/// Returns once run `run_id`, supervised by process `pid`, is no longer
/// running in the database, or that process is gone (checked every 250 ms).
async fn foreign_run_ended(store: &Store, run_id: i64, pid: u32) {
    loop {
        match store.run_status(run_id).await {
            Ok(Some(status)) if status == "running" => {}
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(run = run_id, error = %e, "cannot read the replaced run's status; asking again")
            }
        }
        if !super::process_alive(pid) {
            tracing::warn!(
                run = run_id,
                pid,
                "the process supervising the replaced run is gone; the next start-up repair settles the run"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The end of a run, recorded with retries while the database refuses writes.
struct Ends<'a> {
    ctx: &'a Context,
    job: &'a Job,
    run_id: i64,
    stops: &'a Stops,
}

impl Ends<'_> {
    fn report(
        &self,
        status: Option<RunStatus>,
        exit_code: Option<i64>,
        attempts: u32,
    ) -> RunReport {
        RunReport {
            run_id: self.run_id,
            status,
            exit_code,
            attempts,
        }
    }

    async fn finish(
        &self,
        status: RunStatus,
        reason: Option<String>,
        exit_code: Option<i64>,
        attempts: u32,
    ) -> Result<RunReport, StoreError> {
        let (ctx, run_id) = (self.ctx, self.run_id);
        let now = ctx.clock.now();
        persist(ctx, self.stops, "recording the end of a run", None, || {
            ctx.store.finish_run(run_id, status, now, reason.as_deref())
        })
        .await?;
        self.ended(status, reason.as_deref(), attempts);
        Ok(self.report(Some(status), exit_code, attempts))
    }

    /// Log and publish the end of the run, once recorded, and mark it ended
    /// ([`Stops::ended`]).
    fn ended(&self, status: RunStatus, reason: Option<&str>, attempts: u32) {
        self.stops.ended.cancel();
        tracing::info!(job = %self.job.name, run = self.run_id, status = status.as_str(), attempts, reason = reason.unwrap_or(""), "run finished");
        self.ctx.events.publish(Event::RunFinished {
            run_id: self.run_id,
            job: self.job.name.clone(),
            status: status.as_str().to_owned(),
        });
    }

    /// Record an attempt's end and what becomes of its run, together. `false`
    /// when another process had recorded it already (this one then leaves the
    /// run to it).
    async fn record_attempt(
        &self,
        attempt_id: i64,
        attempt: u32,
        record: &store::AttemptEnd,
        next: RunNext<'_>,
    ) -> Result<bool, StoreError> {
        let (ctx, job, run_id) = (self.ctx, self.job, self.run_id);
        tracing::info!(
            job = %job.name, run = run_id, attempt, outcome = record.outcome,
            exit_code = record.exit_code, error = record.error.as_deref().unwrap_or(""),
            "attempt finished"
        );
        let recorded = persist(
            ctx,
            self.stops,
            "recording the end of an attempt",
            None,
            || ctx.store.end_attempt(run_id, attempt_id, record, next),
        )
        .await?;
        if !recorded {
            tracing::warn!(job = %job.name, run = run_id, attempt, "the attempt's end was already recorded by another process; leaving the run to it");
            return Ok(false);
        }
        ctx.events.publish(Event::AttemptFinished {
            run_id,
            job: job.name.clone(),
            attempt,
            outcome: record.outcome.to_owned(),
            exit_code: record.exit_code,
        });
        if let RunNext::Finish { status, reason, .. } = next {
            self.ended(status, reason, attempt);
        }
        Ok(true)
    }

    /// The run's first attempt could not start before its `starting_deadline`.
    async fn missed(&self, reason: &str) -> Result<RunReport, StoreError> {
        let (ctx, run_id) = (self.ctx, self.run_id);
        tracing::warn!(job = %self.job.name, run = run_id, "{reason}");
        let now = ctx.clock.now();
        persist(ctx, self.stops, "recording a missed run", None, || {
            ctx.store.mark_missed(run_id, now, reason)
        })
        .await?;
        self.ended(RunStatus::Missed, Some(reason), 0);
        Ok(self.report(Some(RunStatus::Missed), None, 0))
    }

    /// What a run stopped while it waited (for a retry, a slot, or a run it
    /// replaces) becomes. On a daemon's shutdown, nothing is written: the run
    /// stays as it is and the next daemon resumes it.
    async fn stopped_waiting(
        &self,
        why: Interruption,
        exit_code: Option<i64>,
        attempts: u32,
    ) -> Result<RunReport, StoreError> {
        let (status, reason) = match why {
            Interruption::Deadline => (
                RunStatus::Failed,
                "deadline passed while the run waited; no further attempt",
            ),
            Interruption::Replaced => (RunStatus::Failed, REPLACED),
            Interruption::Stopped => (RunStatus::Stopped, STOPPED),
            Interruption::Shutdown if self.ctx.resume_later => {
                tracing::info!(
                    run = self.run_id,
                    "shutdown: the run stays pending; the next daemon resumes it"
                );
                return Ok(self.report(None, exit_code, attempts));
            }
            Interruption::Shutdown => (RunStatus::Interrupted, "interrupted while the run waited"),
        };
        self.finish(status, Some(reason.to_owned()), exit_code, attempts)
            .await
    }
}

/// Do a database write that must not be lost (the end of an attempt or run, a
/// pending retry). While the database refuses it (a full disk, an unwritable
/// file), say so loudly and try again with backoff (1 s doubling to 30 s) until
/// it succeeds, the daemon stops, or `give_up` passes.
/// Take over an attempt a previous daemon left running: its output stored
/// again from the start (what was stored before is replaced), its end awaited.
/// An attempt whose container was never created is forgotten, and
/// [`Ended::NeverCreated`] tells the caller to make it again.
async fn adopt_attempt(
    ctx: &Context,
    job: &Job,
    run_id: i64,
    adopted: &Adoption,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Result<Ended, StoreError> {
    persist(
        ctx,
        stops,
        "clearing output to store it again",
        None,
        || ctx.store.clear_output(adopted.attempt_id),
    )
    .await?;
    let ended = attempt::run_adopted(ctx, job, adopted, deadline, stops).await;
    if matches!(ended, Ended::NeverCreated) {
        tracing::warn!(job = %job.name, run = run_id, attempt = adopted.attempt, "repair: the attempt's container was never created; making the attempt again");
        persist(
            ctx,
            stops,
            "forgetting an attempt that never started",
            None,
            || ctx.store.discard_unstarted_attempt(adopted.attempt_id),
        )
        .await?;
    }
    Ok(ended)
}

async fn persist<T, F, Fut>(
    ctx: &Context,
    stops: &Stops,
    what: &str,
    give_up: Option<DateTime<Utc>>,
    mut write: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_secs(1);
    loop {
        let error = match write().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if give_up.is_some_and(|limit| ctx.clock.now() >= limit) {
            tracing::error!(error = %chain(&error), "{what}: the database still refuses writes; giving up");
            return Err(error);
        }
        tracing::error!(error = %chain(&error), retry_in = %humantime::format_duration(delay), "{what}: the database refuses writes (disk full or file unwritable?); trying again");
        tokio::select! {
            _ = ctx.clock.sleep(delay) => {}
            _ = stops.shutdown.cancelled() => return Err(error),
            _ = stops.detach.cancelled() => return Err(error),
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// An error with its causes, `a: b: c`, for a log line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Wait for `until`, unless the deadline passes or the run is stopped first.
async fn wait<F: std::future::Future + Unpin>(
    until: F,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Result<F::Output, Interruption> {
    tokio::select! {
        output = until => Ok(output),
        _ = deadline => Err(Interruption::Deadline),
        why = stops.stopped() => Err(why),
    }
}

/// The job's environment (`KEY=value` entries) with a run's parameters added,
/// each replacing the job's own value of the same variable.
pub(super) fn with_params(mut env: Vec<String>, params: &[(String, String)]) -> Vec<String> {
    if params.is_empty() {
        return env;
    }
    env.retain(|entry| {
        let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
        !params.iter().any(|(name, _)| name == key)
    });
    env.extend(params.iter().map(|(k, v)| format!("{k}={v}")));
    env
}

/// The status a run ends with after `decision` (a retry is not an end: it
/// counts as failed only if asked, which the supervisor never does).
fn final_status(decision: Decision) -> RunStatus {
    match decision {
        Decision::Succeed => RunStatus::Succeeded,
        Decision::Interrupt => RunStatus::Interrupted,
        Decision::Stop => RunStatus::Stopped,
        Decision::Fail | Decision::Retry(_) => RunStatus::Failed,
    }
}

fn failure_reason(record: &store::AttemptEnd, attempts: u32) -> String {
    match record.outcome {
        "replaced" => return REPLACED.to_owned(),
        "deadline" => {
            return "deadline passed: the running attempt was stopped; no further attempt"
                .to_owned();
        }
        _ => {}
    }
    let last = match (&record.error, record.exit_code) {
        (Some(error), _) => error.clone(),
        (None, Some(code)) => format!("{} with exit code {code}", record.outcome),
        (None, None) => record.outcome.to_owned(),
    };
    format!("{attempts} attempt(s) failed; the last: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_runs_reason_names_its_last_attempt() {
        let end = |outcome, exit_code, error: Option<&str>| store::AttemptEnd {
            finished_at: DateTime::<Utc>::UNIX_EPOCH,
            exit_code,
            oom_killed: None,
            outcome,
            error: error.map(str::to_owned),
        };
        let cases = [
            (
                end("exited", Some(3), None),
                2,
                "2 attempt(s) failed; the last: exited with exit code 3",
            ),
            (
                end("oom", Some(137), None),
                1,
                "1 attempt(s) failed; the last: oom with exit code 137",
            ),
            (
                end("engine-error", None, Some("gone")),
                1,
                "1 attempt(s) failed; the last: gone",
            ),
            (
                end("timeout", None, None),
                1,
                "1 attempt(s) failed; the last: timeout",
            ),
            (end("replaced", Some(143), None), 1, REPLACED),
        ];
        for (record, attempts, want) in cases {
            assert_eq!(failure_reason(&record, attempts), want, "{record:?}");
        }
    }
}
