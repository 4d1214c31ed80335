//! The run supervisor: one run of one job, from its `runs` row through every
//! attempt (slot, image, container, output, exit) to its final status, following
//! the job's time limits and retry rules. Used by the daemon for ticks and
//! pending retries, and by `cronbox run`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::clock::{self, Clock, Sleep};
use crate::config::{Job, MAX_ENV_FILE_SIZE, PullPolicy, dotenv, file};
use crate::engine::{self, Capabilities, ContainerSpec, Engine, EngineError, Event};
use crate::policy::{self, Decision};
use crate::store::{self, PendingRetry, RunStatus, Store, StoreError, Stream, Trigger};

/// Output is written to the database in chunks of at most this size...
const CHUNK_BYTES: usize = 64 * 1024;
/// ...or at least this often while the container runs.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// What a supervisor needs from the outside world.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Store,
    pub engine: Engine,
    pub clock: Arc<dyn Clock>,
    /// The `[daemon] max_concurrent` slots; `None`: no limit (`cronbox run`).
    pub slots: Option<Arc<Semaphore>>,
    /// `[daemon] require_limits`: refuse to run a job whose limits the host cannot enforce.
    pub require_limits: bool,
    /// On shutdown, leave a run that waits to retry pending in the database for the
    /// next daemon to resume (the daemon), rather than recording it interrupted (`cronbox run`).
    pub resume_later: bool,
    /// Copy the output live to this process's stdout and stderr (`cronbox run`).
    pub echo: bool,
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
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: i64,
    /// `None`: left waiting to retry, for the next daemon to resume.
    pub status: Option<RunStatus>,
    /// The exit code of the last attempt that ran a container to its end.
    pub exit_code: Option<i64>,
    pub attempts: u32,
}

const REPLACED: &str = "replaced by a newer run (concurrency = \"replace\")";

/// Why a run was stopped from outside or by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    Deadline,
    Shutdown,
    Replaced,
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
    execute_prepared(ctx, job, trigger, scheduled_at, stops, None).await
}

/// A container being made ready ahead of a tick (see [`prepare_ahead`]).
pub type Preparation =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<Prepared>> + Send>>;

/// [`execute`], whose first attempt starts the container `preparation` made
/// ready, if it made one and the job's environment is still the same. A
/// preparation that is not used is removed.
pub async fn execute_prepared(
    ctx: &Context,
    job: &Job,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
    stops: &Stops,
    preparation: Option<Preparation>,
) -> Result<Option<RunReport>, StoreError> {
    let mut preparation = preparation;
    let result = record_and_drive(ctx, job, trigger, scheduled_at, stops, &mut preparation).await;
    if let Some(preparation) = preparation {
        discard(ctx, preparation).await;
    }
    result
}

/// Remove the container `preparation` made ready, if it made one.
pub async fn discard(ctx: &Context, preparation: Preparation) {
    if let Some(prepared) = preparation.await {
        remove_prepared(ctx, prepared).await;
    }
}

/// Remove a container made ready that is not used.
async fn remove_prepared(ctx: &Context, prepared: Prepared) {
    let Prepared { spec, attached, .. } = prepared;
    let id = attached.id.clone();
    drop(attached);
    if let Err(e) = ctx.engine.remove(&id).await {
        tracing::warn!(container = %spec.name, error = %e, "could not remove a container made ready for a tick that did not use it");
    }
}

async fn record_and_drive(
    ctx: &Context,
    job: &Job,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
    stops: &Stops,
    preparation: &mut Option<Preparation>,
) -> Result<Option<RunReport>, StoreError> {
    let started = ctx.clock.now();
    // A run that cannot be recorded is not started. While the database refuses
    // writes (a full disk), keep trying for as long as the tick is on time.
    let give_up = scheduled_at.max(started) + crate::daemon::LATE;
    let inserted = persist(ctx, stops, "recording a new run", Some(give_up), || {
        ctx.store
            .insert_run(&job.name, trigger, scheduled_at, started)
    })
    .await;
    let Some(run_id) = inserted? else {
        tracing::info!(job = %job.name, tick = %scheduled_at, "tick already recorded; not running it again");
        return Ok(None);
    };
    tracing::info!(job = %job.name, run = run_id, trigger = trigger.as_str(), "run started");
    // A tick must start within its starting_deadline; a manual run has none.
    let start_by = match (trigger, job.starting_deadline) {
        (Trigger::Manual, _) | (_, None) => None,
        (_, Some(limit)) => Some(
            scheduled_at + chrono::TimeDelta::from_std(limit).unwrap_or(chrono::TimeDelta::MAX),
        ),
    };
    let run = Run {
        id: run_id,
        first_attempt: 1,
        delay: None,
        elapsed: Duration::ZERO,
        start_by,
        adopt: None,
        prepared: preparation,
    };
    detachable(drive(ctx, job, run, stops), run_id, stops)
        .await
        .map(Some)
}

/// The first attempt of a run, made ready ahead of its tick by [`prepare_ahead`].
pub struct Prepared {
    /// The environment it was created with: used only if the run reads the same.
    env: Vec<String>,
    spec: ContainerSpec,
    attached: engine::Attached,
}

/// A little ahead of `tick`, create and attach the container of the first
/// attempt of `job`'s run, so that at the tick the start request is all that is
/// left (the engine takes 10 to 20 ms to create a container, more on a busy box).
/// `None` when anything stands in the way (the image is not there, a limit the
/// host cannot enforce, `pull = "always"`, the engine failing): the tick then
/// takes the usual path, which does the same and records any failure.
///
/// The container has no run or attempt label yet (the run does not exist before
/// its tick): it is named after the tick and labelled `cronbox.tick`; the attempt
/// that starts it records its id. One nothing starts is removed, by the daemon or
/// by the start-up repair after a crash.
pub async fn prepare_ahead(ctx: &Context, job: &Job, tick: DateTime<Utc>) -> Option<Prepared> {
    if job.pull == PullPolicy::Always {
        return None;
    }
    let env = prepare(job).ok()?;
    let requested = job.limits_requested();
    let swap_accounted = if requested.is_empty() {
        true
    } else {
        let capabilities = ctx.engine.capabilities().await.ok()?;
        if !capabilities.unenforceable(&requested).is_empty() {
            return None;
        }
        capabilities.swap
    };
    let mut spec = container_spec(ctx, job, &env, Identity::Tick(tick));
    spec.swap_accounted = swap_accounted;
    let made = async {
        let id = match ctx.engine.create(&spec).await {
            Ok(Some(id)) => id,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(job = %job.name, error = %e, "could not make the container ready ahead of the tick");
                return None;
            }
        };
        match ctx.engine.attach(&id, &spec.name).await {
            Ok(attached) => Some(attached),
            Err(e) => {
                tracing::debug!(job = %job.name, error = %e, "could not attach ahead of the tick");
                let _ = ctx.engine.remove(&id).await;
                None
            }
        }
    };
    // Bounded, so that a stuck engine never holds up the tick or a shutdown; a
    // container created after this gave up is removed by the start-up repair.
    let attached = tokio::time::timeout(Duration::from_secs(10), made)
        .await
        .ok()??;
    Some(Prepared {
        env,
        spec,
        attached,
    })
}

/// Resume a run that was waiting to retry when the previous daemon stopped: its
/// next attempt starts at its recorded due time (at once if that has passed), and
/// its deadline counts from when the run started.
pub async fn resume(
    ctx: &Context,
    job: &Job,
    pending: &PendingRetry,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    let now = ctx.clock.now();
    let delay = clock::until(now, pending.retry_at);
    tracing::info!(
        job = %job.name, run = pending.run_id, attempt = pending.attempts + 1, due = %pending.retry_at,
        "resuming a pending retry"
    );
    let run = Run {
        id: pending.run_id,
        first_attempt: pending.attempts.saturating_add(1),
        delay: Some(delay),
        elapsed: clock::until(pending.started_at, now),
        start_by: None,
        adopt: None,
        prepared: &mut None,
    };
    detachable(drive(ctx, job, run, stops), pending.run_id, stops).await
}

/// Take over an attempt whose container a previous daemon started: its output is
/// stored again from the start (no duplicates), its end awaited and recorded,
/// and the run then follows the job's retry policy.
pub async fn adopt(
    ctx: &Context,
    job: &Job,
    adoption: Adoption,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    tracing::info!(job = %job.name, run = adoption.run_id, attempt = adoption.attempt, container = %adoption.container_id, "adopting a container left by the previous daemon");
    let run_id = adoption.run_id;
    let run = Run {
        id: run_id,
        first_attempt: adoption.attempt,
        delay: None,
        elapsed: clock::until(adoption.run_started_at, ctx.clock.now()),
        start_by: None,
        adopt: Some(adoption),
        prepared: &mut None,
    };
    detachable(drive(ctx, job, run, stops), run_id, stops).await
}

/// Run `drive` unless the daemon detaches: then the run is left as it is, its
/// container running, for the next daemon to adopt.
async fn detachable(
    drive: impl std::future::Future<Output = Result<RunReport, StoreError>>,
    run_id: i64,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    tokio::select! {
        report = drive => report,
        _ = stops.detach.cancelled() => {
            tracing::info!(run = run_id, "detached: the run goes on without this daemon; the next one adopts it");
            Ok(RunReport { run_id, status: None, exit_code: None, attempts: 0 })
        }
    }
}

struct Run<'a> {
    id: i64,
    first_attempt: u32,
    /// Wait this long before the first attempt (a resumed retry).
    delay: Option<Duration>,
    /// How much of the deadline is already used.
    elapsed: Duration,
    /// The first attempt must get its slot by then, else the run is missed.
    start_by: Option<DateTime<Utc>>,
    /// The first attempt is one a previous daemon started: take over its container.
    adopt: Option<Adoption>,
    /// The first attempt's container, being made ready ahead of the tick. Taken
    /// when used; what is left is removed by the caller.
    prepared: &'a mut Option<Preparation>,
}

/// An attempt whose container a previous daemon left running (or exited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub run_id: i64,
    pub attempt_id: i64,
    pub attempt: u32,
    pub container_id: String,
    pub run_started_at: DateTime<Utc>,
    pub attempt_started_at: DateTime<Utc>,
}

async fn drive(
    ctx: &Context,
    job: &Job,
    mut run: Run<'_>,
    stops: &Stops,
) -> Result<RunReport, StoreError> {
    let run_id = run.id;
    let retry = job.retry_policy();
    let mut deadline: Sleep = match job.deadline {
        Some(deadline) => ctx.clock.sleep(deadline.saturating_sub(run.elapsed)),
        None => Box::pin(std::future::pending()),
    };
    let mut attempt = run.first_attempt;
    let mut exit_code = None;
    let report = |status: Option<RunStatus>, exit_code: Option<i64>, attempts: u32| RunReport {
        run_id,
        status,
        exit_code,
        attempts,
    };
    let finish = |status: RunStatus,
                  reason: Option<String>,
                  exit_code: Option<i64>,
                  attempts: u32| async move {
        let now = ctx.clock.now();
        persist(ctx, stops, "recording the end of a run", None, || {
            ctx.store.finish_run(run_id, status, now, reason.as_deref())
        })
        .await?;
        tracing::info!(job = %job.name, run = run_id, status = status.as_str(), attempts, reason = reason.as_deref().unwrap_or(""), "run finished");
        Ok::<_, StoreError>(report(Some(status), exit_code, attempts))
    };

    if let Some(delay) = run.delay {
        if let Err(why) = wait(ctx.clock.sleep(delay), &mut deadline, stops).await {
            return match interrupted_while_waiting(ctx, why, run_id).await? {
                Some((status, reason)) => finish(status, Some(reason), None, attempt - 1).await,
                None => Ok(report(None, None, attempt - 1)),
            };
        }
        persist(ctx, stops, "clearing a pending retry", None, || {
            ctx.store.set_retry_at(run_id, None)
        })
        .await?;
    }

    // Environment and mounted files are read per run, so editing them needs no reload.
    let env = match prepare(job) {
        Ok(env) => env,
        Err(reason) => {
            tracing::error!(job = %job.name, run = run_id, "{reason}");
            return finish(RunStatus::Failed, Some(reason), None, attempt - 1).await;
        }
    };

    loop {
        // A slot of [daemon] max_concurrent, in arrival order.
        let queued = tokio::time::Instant::now();
        let permit: Option<tokio::sync::OwnedSemaphorePermit> = match &ctx.slots {
            Some(slots) => {
                let start_by = match run.start_by.filter(|_| attempt == run.first_attempt) {
                    Some(at) => ctx.clock.sleep(clock::until(ctx.clock.now(), at)),
                    None => Box::pin(std::future::pending()),
                };
                let acquire = Box::pin(async move {
                    tokio::select! {
                        permit = slots.clone().acquire_owned() => Some(permit),
                        _ = start_by => None,
                    }
                });
                match wait(acquire, &mut deadline, stops).await {
                    // The semaphore is never closed.
                    Ok(Some(permit)) => permit.ok(),
                    Ok(None) => {
                        let reason = "waited for a max_concurrent slot past its starting_deadline; not started late";
                        tracing::warn!(job = %job.name, run = run_id, "{reason}");
                        let now = ctx.clock.now();
                        persist(ctx, stops, "recording a missed run", None, || {
                            ctx.store.mark_missed(run_id, now, reason)
                        })
                        .await?;
                        return Ok(report(Some(RunStatus::Missed), None, 0));
                    }
                    Err(why) => {
                        return match interrupted_while_waiting(ctx, why, run_id).await? {
                            Some((status, reason)) => {
                                finish(status, Some(reason), exit_code, attempt - 1).await
                            }
                            None => Ok(report(None, exit_code, attempt - 1)),
                        };
                    }
                }
            }
            None => None,
        };
        let waited = queued.elapsed();
        if waited > Duration::from_millis(100) {
            tracing::info!(job = %job.name, run = run_id, attempt, waited_ms = waited.as_millis() as u64, "waited for a max_concurrent slot");
        }
        let (attempt_id, (end, record)) = match run.adopt.take() {
            Some(adopted) => {
                // Stored again from the start: what was stored before is replaced.
                persist(
                    ctx,
                    stops,
                    "clearing output to store it again",
                    None,
                    || ctx.store.clear_output(adopted.attempt_id),
                )
                .await?;
                let used = clock::until(adopted.attempt_started_at, ctx.clock.now());
                let timeout = job.timeout.map(|t| t.saturating_sub(used));
                let launch = Launch::Adopt(&adopted.container_id, timeout);
                (
                    adopted.attempt_id,
                    contain(ctx, job, adopted.attempt_id, launch, &mut deadline, stops).await,
                )
            }
            None => {
                // The container made ready ahead of the tick, if there is one and
                // the environment read now is the one it was made with.
                let prepared = match run.prepared.take() {
                    Some(preparation) => match preparation.await {
                        Some(prepared) if prepared.env == env => Some(prepared),
                        Some(stale) => {
                            remove_prepared(ctx, stale).await;
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
                            remove_prepared(ctx, prepared).await;
                        }
                        return Err(e);
                    }
                };
                // The container's id is recorded before it starts, or it is not used:
                // a prepared container's name does not lead back to its attempt.
                let prepared = match prepared {
                    Some(prepared) => {
                        // A crash here leaves what a crash before a create leaves on
                        // the usual path: an attempt with no container of its own (the
                        // start-up repair removes the unused one and retries).
                        crate::failpoint::pause("before-create").await;
                        match ctx
                            .store
                            .set_container(attempt_id, &prepared.attached.id)
                            .await
                        {
                            Ok(()) => Some(prepared),
                            Err(e) => {
                                tracing::error!(job = %job.name, error = %e, "could not record the id of the container made ready; creating another");
                                remove_prepared(ctx, prepared).await;
                                None
                            }
                        }
                    }
                    None => None,
                };
                let end = match prepared {
                    Some(prepared) => {
                        run_prepared(ctx, job, attempt_id, prepared, &mut deadline, stops).await
                    }
                    None => {
                        run_attempt(
                            ctx,
                            job,
                            &env,
                            run_id,
                            attempt,
                            attempt_id,
                            &mut deadline,
                            stops,
                        )
                        .await
                    }
                };
                (attempt_id, end)
            }
        };
        drop(permit);
        persist(ctx, stops, "recording the end of an attempt", None, || {
            ctx.store.finish_attempt(attempt_id, &record)
        })
        .await?;
        if record.exit_code.is_some() {
            exit_code = record.exit_code;
        }
        tracing::info!(
            job = %job.name, run = run_id, attempt, outcome = record.outcome,
            exit_code = ?record.exit_code, error = record.error.as_deref().unwrap_or(""),
            "attempt finished"
        );
        let (status, reason) = match retry.decide(attempt, end) {
            Decision::Retry(delay) => {
                let due = ctx.clock.now()
                    + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
                persist(ctx, stops, "recording a pending retry", None, || {
                    ctx.store.set_retry_at(run_id, Some(due))
                })
                .await?;
                tracing::info!(job = %job.name, run = run_id, attempt, delay = %humantime::format_duration(delay), "retrying after backoff");
                match wait(ctx.clock.sleep(delay), &mut deadline, stops).await {
                    Ok(()) => {
                        persist(ctx, stops, "clearing a pending retry", None, || {
                            ctx.store.set_retry_at(run_id, None)
                        })
                        .await?;
                        attempt += 1;
                        continue;
                    }
                    Err(why) => match interrupted_while_waiting(ctx, why, run_id).await? {
                        Some((status, reason)) => (status, Some(reason)),
                        None => return Ok(report(None, exit_code, attempt)),
                    },
                }
            }
            Decision::Succeed => (RunStatus::Succeeded, None),
            Decision::Fail => (RunStatus::Failed, Some(failure_reason(&record, attempt))),
            Decision::Interrupt => (
                RunStatus::Interrupted,
                Some("the daemon shut down during the attempt".to_owned()),
            ),
        };
        return finish(status, reason, exit_code, attempt).await;
    }
}

/// Do a database write that must not be lost (the end of an attempt or run, a
/// pending retry). While the database refuses it (a full disk, an unwritable
/// file), say so loudly and try again with backoff (1 s doubling to 30 s) until
/// it succeeds, the daemon stops, or `give_up` passes.
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
        _ = stops.shutdown.cancelled() => Err(Interruption::Shutdown),
        _ = stops.replace.cancelled() => Err(Interruption::Replaced),
    }
}

/// What a run that was stopped while waiting (for a slot or a retry) becomes:
/// `None` leaves it pending for the next daemon.
async fn interrupted_while_waiting(
    ctx: &Context,
    why: Interruption,
    run_id: i64,
) -> Result<Option<(RunStatus, String)>, StoreError> {
    Ok(Some(match why {
        Interruption::Deadline => (
            RunStatus::Failed,
            "deadline passed while the run waited; no further attempt".to_owned(),
        ),
        Interruption::Replaced => (RunStatus::Failed, REPLACED.to_owned()),
        Interruption::Shutdown if ctx.resume_later => {
            // Keep (or set) the due time so the next daemon resumes the run then.
            if ctx
                .store
                .pending_retries()
                .await?
                .iter()
                .all(|p| p.run_id != run_id)
            {
                ctx.store
                    .set_retry_at(run_id, Some(ctx.clock.now()))
                    .await?;
            }
            tracing::info!(
                run = run_id,
                "shutdown: the run stays pending; the next daemon resumes it"
            );
            return Ok(None);
        }
        Interruption::Shutdown => (
            RunStatus::Interrupted,
            "interrupted while the run waited".to_owned(),
        ),
    }))
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

/// The name of the container of one attempt: unique per database, run and attempt.
pub fn container_name(database: &std::path::Path, job: &str, run_id: i64, attempt: u32) -> String {
    format!(
        "cronbox-{job}-{run_id}-{attempt}-{:08x}",
        database_tag(database)
    )
}

/// The name of the container made ready for `job`'s run at `tick`, before the
/// run has an id: `cronbox-JOB-tUNIXTIME-TAG`.
pub fn prepared_container_name(
    database: &std::path::Path,
    job: &str,
    tick: DateTime<Utc>,
) -> String {
    format!(
        "cronbox-{job}-t{}-{:08x}",
        tick.timestamp(),
        database_tag(database)
    )
}

/// FNV-1a of the database's path: a stable short tag, so two daemons never share names.
fn database_tag(database: &std::path::Path) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in database.as_os_str().as_encoded_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The job's environment (`env_file` under `env`) and a check that every host
/// path it mounts exists. The error never contains a value from the files.
fn prepare(job: &Job) -> Result<Vec<String>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(path) = &job.env_file {
        let text = file::read_to_string(path, MAX_ENV_FILE_SIZE).map_err(|e| {
            format!(
                "cannot read env_file {}: {e}; create it or fix the path",
                path.display()
            )
        })?;
        let pairs = dotenv::parse(&text).map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("{}:{}: {}", path.display(), p.line, p.message))
                .collect();
            format!("env_file is malformed: {}", lines.join("; "))
        })?;
        env.extend(pairs);
    }
    env.extend(job.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    for volume in &job.volumes {
        if !volume.host.exists() {
            return Err(format!(
                "volume host path {} does not exist; create it or fix the volume",
                volume.host.display()
            ));
        }
    }
    for (name, path) in &job.secrets {
        if !path.is_file() {
            return Err(format!(
                "secret {name}: {} is not a readable file; create it or fix the path",
                path.display()
            ));
        }
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// Which attempt a container is for, as its name and labels say.
#[derive(Debug, Clone, Copy)]
enum Identity {
    /// This attempt of this run.
    Attempt(i64, u32),
    /// The first attempt of the run of this tick, made ready before the run exists.
    Tick(DateTime<Utc>),
}

fn container_spec(ctx: &Context, job: &Job, env: &[String], identity: Identity) -> ContainerSpec {
    let database = ctx.store.path();
    let mut labels: HashMap<String, String> = job
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.extend([
        (engine::LABEL_JOB.to_owned(), job.name.clone()),
        (engine::LABEL_DB.to_owned(), database.display().to_string()),
    ]);
    let name = match identity {
        Identity::Attempt(run_id, attempt) => {
            labels.extend([
                (engine::LABEL_RUN.to_owned(), run_id.to_string()),
                (engine::LABEL_ATTEMPT.to_owned(), attempt.to_string()),
            ]);
            container_name(database, &job.name, run_id, attempt)
        }
        Identity::Tick(tick) => {
            labels.insert(engine::LABEL_TICK.to_owned(), tick.to_rfc3339());
            prepared_container_name(database, &job.name, tick)
        }
    };
    let mut binds: Vec<String> = job.volumes.iter().map(|v| v.to_bind()).collect();
    binds.extend(
        job.secrets
            .iter()
            .map(|(name, path)| format!("{}:/run/secrets/{name}:ro", path.display())),
    );
    ContainerSpec {
        name,
        image: job.image.clone(),
        command: job.command.clone(),
        entrypoint: job.entrypoint.clone(),
        env: env.to_vec(),
        binds,
        labels,
        user: job.user.clone(),
        workdir: job.workdir.clone(),
        hostname: job.hostname.clone(),
        stop_signal: job.stop_signal.clone(),
        stop_grace: job.stop_grace,
        memory: job.memory,
        cpus: job.cpus,
        pids_limit: job.pids_limit,
        read_only: job.read_only,
        tmpfs: job.tmpfs.clone(),
        network: job.network.clone(),
        cap_add: job.cap_add.clone(),
        cap_drop: job.cap_drop.clone(),
        privileged: job.privileged,
        swap_accounted: true,
    }
}

/// The limits `job` asks for that the engine's host cannot enforce (empty when it
/// asks for none, or when the engine cannot be asked).
pub async fn unenforceable_limits(
    engine: &Engine,
    job: &Job,
) -> Result<Vec<&'static str>, EngineError> {
    let requested = job.limits_requested();
    if requested.is_empty() {
        return Ok(Vec::new());
    }
    let capabilities: Capabilities = engine.capabilities().await?;
    Ok(capabilities.unenforceable(&requested))
}

#[allow(clippy::too_many_arguments)]
async fn run_attempt(
    ctx: &Context,
    job: &Job,
    env: &[String],
    run_id: i64,
    attempt: u32,
    attempt_id: i64,
    deadline: &mut Sleep,
    stops: &Stops,
) -> (policy::AttemptEnd, store::AttemptEnd) {
    let ended = |outcome: &'static str,
                 exit_code: Option<i64>,
                 oom: Option<bool>,
                 error: Option<String>| store::AttemptEnd {
        finished_at: ctx.clock.now(),
        exit_code,
        oom_killed: oom,
        outcome,
        error,
    };
    let interrupted = |why: Interruption| match why {
        Interruption::Deadline => (
            policy::AttemptEnd::DeadlineExceeded,
            ended("deadline", None, None, None),
        ),
        Interruption::Shutdown => (
            policy::AttemptEnd::Interrupted,
            ended("interrupted", None, None, None),
        ),
        Interruption::Replaced => (
            policy::AttemptEnd::Replaced,
            ended("replaced", None, None, None),
        ),
    };
    let image_failed = |error: EngineError| match error {
        EngineError::ImageMissing { .. } => (
            policy::AttemptEnd::Unrunnable,
            ended("image-missing", None, None, Some(error.to_string())),
        ),
        _ => (
            policy::AttemptEnd::EngineError,
            ended("engine-error", None, None, Some(error.to_string())),
        ),
    };
    let prepare = async {
        // pull = "always" pulls before every attempt; "missing" and "never" create
        // first and look at the image only when the engine has none (below).
        if job.pull == PullPolicy::Always {
            ctx.engine
                .ensure_image(&job.image, job.pull)
                .await
                .map_err(image_failed)?;
        }
        let requested = job.limits_requested();
        if requested.is_empty() {
            return Ok(true);
        }
        let capabilities = ctx.engine.capabilities().await.map_err(|error| {
            (
                policy::AttemptEnd::EngineError,
                ended("engine-error", None, None, Some(error.to_string())),
            )
        })?;
        let missing = capabilities.unenforceable(&requested);
        if !missing.is_empty() {
            let message = format!(
                "the Docker host cannot enforce {} for job {} (on Raspberry Pi OS enable the memory cgroup: add cgroup_enable=memory to the kernel command line)",
                missing.join(", "),
                job.name
            );
            if ctx.require_limits {
                let error =
                    format!("{message}; refusing to run it because [daemon] require_limits = true");
                return Err((
                    policy::AttemptEnd::Unrunnable,
                    ended("engine-error", None, None, Some(error)),
                ));
            }
            tracing::warn!(job = %job.name, "{message}; running it anyway (set [daemon] require_limits = true to refuse)");
        }
        Ok(capabilities.swap)
    };
    // Pulling can take long: a shutdown, a replacement or the deadline cuts it short,
    // and no container is created after any of them.
    let swap_accounted = match until_stopped(deadline, stops, prepare).await {
        Ok(Ok(swap_accounted)) => swap_accounted,
        Ok(Err(failed)) => return failed,
        Err(why) => return interrupted(why),
    };

    let mut spec = container_spec(ctx, job, env, Identity::Attempt(run_id, attempt));
    spec.swap_accounted = swap_accounted;
    let mut pulled = job.pull == PullPolicy::Always;
    crate::failpoint::pause("before-create").await;
    let id = loop {
        match ctx.engine.create(&spec).await {
            Ok(Some(id)) => break id,
            Ok(None) if !pulled => {
                pulled = true;
                // The engine has no such image: pull = "missing" pulls it now,
                // "never" ends the attempt as image-missing.
                match until_stopped(
                    deadline,
                    stops,
                    ctx.engine.ensure_image(&job.image, job.pull),
                )
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return image_failed(error),
                    Err(why) => return interrupted(why),
                }
            }
            Ok(None) => {
                let error = format!(
                    "Docker engine: creating container {} failed: image {} is still not present after pulling it; check that nothing removes it (docker image prune) and that the tag is right",
                    spec.name, job.image
                );
                return (
                    policy::AttemptEnd::EngineError,
                    ended("engine-error", None, None, Some(error)),
                );
            }
            Err(error) => {
                return (
                    policy::AttemptEnd::EngineError,
                    ended("engine-error", None, None, Some(error.to_string())),
                );
            }
        }
    };
    if let Err(e) = ctx.store.set_container(attempt_id, &id).await {
        tracing::error!(job = %job.name, error = %e, "could not record the container id");
    }
    contain(
        ctx,
        job,
        attempt_id,
        Launch::Created(&id, &spec, job.timeout),
        deadline,
        stops,
    )
    .await
}

/// Run an attempt in the container made ready ahead of the tick (its id is
/// recorded): start it and see it to its end.
async fn run_prepared(
    ctx: &Context,
    job: &Job,
    attempt_id: i64,
    prepared: Prepared,
    deadline: &mut Sleep,
    stops: &Stops,
) -> (policy::AttemptEnd, store::AttemptEnd) {
    let Prepared { spec, attached, .. } = prepared;
    contain(
        ctx,
        job,
        attempt_id,
        Launch::Attached(attached, &spec, job.timeout),
        deadline,
        stops,
    )
    .await
}

/// `work`, unless a shutdown, a replacement or the deadline comes first.
async fn until_stopped<T>(
    deadline: &mut Sleep,
    stops: &Stops,
    work: impl std::future::Future<Output = T>,
) -> Result<T, Interruption> {
    tokio::select! {
        biased;
        _ = stops.shutdown.cancelled() => Err(Interruption::Shutdown),
        _ = stops.replace.cancelled() => Err(Interruption::Replaced),
        _ = &mut *deadline => Err(Interruption::Deadline),
        done = work => Ok(done),
    }
}

/// How an attempt's container comes to be supervised.
enum Launch<'a> {
    /// Start this container, just created from the spec, with this timeout.
    Created(&'a str, &'a ContainerSpec, Option<Duration>),
    /// Start this container, created and attached ahead of the tick, with this timeout.
    Attached(engine::Attached, &'a ContainerSpec, Option<Duration>),
    /// Take over this container from a previous daemon, with what is left of the timeout.
    Adopt(&'a str, Option<Duration>),
}

/// Supervise one attempt's container to its end, stopping it when the deadline
/// passes, the daemon shuts down or the run is replaced, while its output is
/// recorded; then classify how it ended.
async fn contain(
    ctx: &Context,
    job: &Job,
    attempt_id: i64,
    launch: Launch<'_>,
    deadline: &mut Sleep,
    stops: &Stops,
) -> (policy::AttemptEnd, store::AttemptEnd) {
    let ended = |outcome: &'static str,
                 exit_code: Option<i64>,
                 oom: Option<bool>,
                 error: Option<String>| store::AttemptEnd {
        finished_at: ctx.clock.now(),
        exit_code,
        oom_killed: oom,
        outcome,
        error,
    };
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let container = async {
        let tx = tx;
        let mut why = None;
        let result = {
            let run: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> =
                match launch {
                    Launch::Created(id, spec, timeout) => {
                        Box::pin(ctx.engine.run_created(id, spec, &tx, &stop, timeout))
                    }
                    Launch::Attached(attached, spec, timeout) => {
                        Box::pin(ctx.engine.run_attached(attached, spec, &tx, &stop, timeout))
                    }
                    Launch::Adopt(id, timeout) => {
                        Box::pin(ctx.engine.adopt(id, job.stop_grace, &tx, &stop, timeout))
                    }
                };
            tokio::pin!(run);
            loop {
                tokio::select! {
                    result = &mut run => break result,
                    _ = &mut *deadline, if why.is_none() => why = Some(Interruption::Deadline),
                    _ = stops.shutdown.cancelled(), if why.is_none() => why = Some(Interruption::Shutdown),
                    _ = stops.replace.cancelled(), if why.is_none() => why = Some(Interruption::Replaced),
                }
                if why.is_some() {
                    stop.cancel();
                }
            }
        };
        // The output recorder finishes once the sender is gone.
        drop(tx);
        (result, why)
    };
    let ((result, why), ()) = tokio::join!(container, record_output(ctx, job, attempt_id, rx));
    let exit = match result {
        Ok(exit) => exit,
        Err(error) => {
            return (
                policy::AttemptEnd::EngineError,
                ended("engine-error", None, None, Some(error.to_string())),
            );
        }
    };
    let (code, oom) = (Some(exit.exit_code), Some(exit.oom_killed));
    match (exit.stopped, why) {
        (true, Some(Interruption::Deadline)) => (
            policy::AttemptEnd::DeadlineExceeded,
            ended("deadline", code, oom, None),
        ),
        (true, Some(Interruption::Shutdown)) => (
            policy::AttemptEnd::Interrupted,
            ended("interrupted", code, oom, None),
        ),
        (true, Some(Interruption::Replaced)) => (
            policy::AttemptEnd::Replaced,
            ended("replaced", code, oom, None),
        ),
        _ if exit.timed_out => (
            policy::AttemptEnd::TimedOut,
            ended("timeout", code, oom, None),
        ),
        _ if exit.oom_killed && !job.retry_policy().is_success(exit.exit_code) => (
            policy::AttemptEnd::Exited(exit.exit_code),
            ended("oom", code, oom, None),
        ),
        _ => (
            policy::AttemptEnd::Exited(exit.exit_code),
            ended("exited", code, oom, None),
        ),
    }
}

/// One stream's output as it is kept: the first half of `max_output` goes to the
/// database as it arrives, the last half is held in a ring and written at the
/// end, and what falls between is counted and dropped as it arrives.
struct Capped {
    stream: Stream,
    head_left: usize,
    tail: VecDeque<u8>,
    tail_max: usize,
    pending: Vec<u8>,
    seq: i64,
    dropped: u64,
}

impl Capped {
    fn new(stream: Stream, max_output: u64) -> Capped {
        let max = usize::try_from(max_output).unwrap_or(usize::MAX);
        let head = max / 2;
        Capped {
            stream,
            head_left: head,
            tail: VecDeque::new(),
            tail_max: max - head,
            pending: Vec::new(),
            seq: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, mut data: &[u8]) {
        let head = data.len().min(self.head_left);
        self.pending.extend_from_slice(&data[..head]);
        self.head_left -= head;
        data = &data[head..];
        if data.is_empty() {
            return;
        }
        if data.len() >= self.tail_max {
            self.dropped += (self.tail.len() + data.len() - self.tail_max) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_max..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_max);
        self.tail.drain(..overflow);
        self.dropped += overflow as u64;
        self.tail.extend(data);
    }

    async fn flush(&mut self, ctx: &Context, job: &Job, attempt_id: i64) {
        if self.pending.is_empty() {
            return;
        }
        if let Err(e) = ctx
            .store
            .append_output(
                attempt_id,
                self.stream,
                self.seq,
                ctx.clock.now(),
                &self.pending,
            )
            .await
        {
            tracing::error!(job = %job.name, attempt = attempt_id, error = %e, "could not store output");
        }
        self.seq += 1;
        self.pending.clear();
    }

    async fn finish(&mut self, ctx: &Context, job: &Job, attempt_id: i64) {
        self.flush(ctx, job, attempt_id).await;
        if self.dropped > 0 {
            let marker = format!(
                "\n[cronbox: {} bytes of {} dropped here: max_output = {} keeps the head and the tail]\n",
                self.dropped,
                self.stream.as_str(),
                job.max_output
            );
            self.pending.extend_from_slice(marker.as_bytes());
            self.flush(ctx, job, attempt_id).await;
            if let Err(e) = ctx
                .store
                .set_dropped(attempt_id, self.stream, self.dropped)
                .await
            {
                tracing::error!(job = %job.name, error = %e, "could not record dropped output");
            }
        }
        let tail: Vec<u8> = self.tail.drain(..).collect();
        for chunk in tail.chunks(CHUNK_BYTES) {
            self.pending.extend_from_slice(chunk);
            self.flush(ctx, job, attempt_id).await;
        }
    }
}

/// Keeps each stream within `max_output` and writes it to the database in chunks
/// while the container runs. A database error is logged and the output dropped;
/// the container is never held up by it.
async fn record_output(ctx: &Context, job: &Job, attempt_id: i64, mut rx: mpsc::Receiver<Event>) {
    let mut streams = [
        Capped::new(Stream::Stdout, job.max_output),
        Capped::new(Stream::Stderr, job.max_output),
    ];
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut echo_live = ctx.echo;
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = flush.tick() => {
                for capped in &mut streams {
                    capped.flush(ctx, job, attempt_id).await;
                }
                continue;
            }
        };
        match event {
            Some(Event::Output(stream, data)) => {
                if echo_live {
                    echo(stream, &data);
                }
                let capped = &mut streams[usize::from(stream == Stream::Stderr)];
                capped.push(&data);
                if capped.pending.len() >= CHUNK_BYTES {
                    capped.flush(ctx, job, attempt_id).await;
                }
            }
            Some(Event::Restart) => {
                // Already shown live: do not echo it twice.
                echo_live = false;
                if let Err(e) = ctx.store.clear_output(attempt_id).await {
                    tracing::error!(job = %job.name, error = %e, "could not clear output before storing it again");
                }
                streams = [
                    Capped::new(Stream::Stdout, job.max_output),
                    Capped::new(Stream::Stderr, job.max_output),
                ];
            }
            None => break,
        }
    }
    for capped in &mut streams {
        capped.finish(ctx, job, attempt_id).await;
    }
}

fn echo(stream: Stream, data: &Bytes) {
    let result = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(data).and_then(|()| out.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(data),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "could not echo output");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_differ_per_database_run_and_attempt() {
        let a = container_name(
            std::path::Path::new("/var/lib/cronbox/cronbox.db"),
            "backup",
            7,
            1,
        );
        assert!(a.starts_with("cronbox-backup-7-1-"), "{a}");
        assert_ne!(
            a,
            container_name(std::path::Path::new("/tmp/other.db"), "backup", 7, 1)
        );
        assert_ne!(
            a,
            container_name(
                std::path::Path::new("/var/lib/cronbox/cronbox.db"),
                "backup",
                7,
                2
            )
        );
        assert_eq!(
            a,
            container_name(
                std::path::Path::new("/var/lib/cronbox/cronbox.db"),
                "backup",
                7,
                1
            )
        );
    }

    #[test]
    fn capped_output_keeps_head_and_tail_and_counts_the_rest() {
        // (max_output, pushes, head kept, tail kept, dropped)
        type Case<'a> = (u64, &'a [&'a [u8]], &'a [u8], &'a [u8], u64);
        let cases: [Case; 5] = [
            (8, &[b"abc"], b"abc", b"", 0),
            (8, &[b"abcdefgh"], b"abcd", b"efgh", 0),
            (8, &[b"abcdefghij"], b"abcd", b"ghij", 2),
            (
                8,
                &[b"ab", b"cd", b"ef", b"gh", b"ij", b"kl"],
                b"abcd",
                b"ijkl",
                4,
            ),
            (8, &[b"abcd", b"0123456789", b"xy"], b"abcd", b"89xy", 8),
        ];
        for (max, pushes, head, tail, dropped) in cases {
            let mut capped = Capped::new(Stream::Stdout, max);
            for push in pushes {
                capped.push(push);
            }
            assert_eq!(capped.pending, head, "{pushes:?}");
            assert_eq!(
                capped.tail.iter().copied().collect::<Vec<u8>>(),
                tail,
                "{pushes:?}"
            );
            assert_eq!(capped.dropped, dropped, "{pushes:?}");
        }
    }
}
