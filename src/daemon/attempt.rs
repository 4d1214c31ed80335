//! One attempt of a run: its container made (or made ready ahead of the tick,
//! or taken over from a previous daemon), supervised to its end while its output
//! is recorded, and its end classified for the retry policy and the history.
//!
//! The container is not removed here: the run's supervisor removes it once the
//! attempt's end is recorded, so that a crash in between leaves the engine's
//! record of the exit for the next start to adopt.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::container::{Identity, container_spec, prepare};
use super::output::record_output;
use super::supervisor::{Adoption, Context, Interruption, Stops};
use crate::clock::{self, Sleep};
use crate::config::{Job, PullPolicy};
use crate::engine::{self, ContainerSpec, EngineError, Watch};
use crate::policy;
use crate::store;

/// How an attempt ended.
pub(super) enum Ended {
    /// It ran, or could not: how (for the retry policy), what to record, and
    /// the container to remove once that is recorded.
    Attempt {
        end: policy::AttemptEnd,
        record: store::AttemptEnd,
        container: Option<String>,
    },
    /// The engine could not be asked how its container ended, and the daemon
    /// shuts down: the attempt is left running for the next start to adopt.
    Abandoned,
    /// A taken-over attempt whose container never existed (its process stopped
    /// between recording the attempt and creating the container): nothing ran.
    NeverCreated,
}

impl Ended {
    fn now(
        ctx: &Context,
        end: policy::AttemptEnd,
        outcome: &'static str,
        exit: Option<(i64, bool)>,
        error: Option<String>,
        container: Option<String>,
    ) -> Ended {
        Ended::Attempt {
            end,
            record: store::AttemptEnd {
                finished_at: ctx.clock.now(),
                exit_code: exit.map(|(code, _)| code),
                oom_killed: exit.map(|(_, oom)| oom),
                outcome,
                error,
            },
            container,
        }
    }

    fn engine_error(ctx: &Context, error: &EngineError, container: Option<String>) -> Ended {
        let end = match error {
            EngineError::ImageMissing { .. } => policy::AttemptEnd::Unrunnable,
            _ => policy::AttemptEnd::EngineError,
        };
        let outcome = match error {
            EngineError::ImageMissing { .. } => "image-missing",
            _ => "engine-error",
        };
        Ended::now(ctx, end, outcome, None, Some(error.to_string()), container)
    }

    fn interrupted(ctx: &Context, why: Interruption, container: Option<String>) -> Ended {
        let (end, outcome) = match why {
            Interruption::Deadline => (policy::AttemptEnd::DeadlineExceeded, "deadline"),
            Interruption::Shutdown => (policy::AttemptEnd::Interrupted, "interrupted"),
            Interruption::Replaced => (policy::AttemptEnd::Replaced, "replaced"),
            Interruption::Stopped => (policy::AttemptEnd::Stopped, "stopped"),
        };
        Ended::now(ctx, end, outcome, None, None, container)
    }
}

/// The container of a run's first attempt, made ready before the run: ahead of
/// its tick ([`prepare_ahead`]) or while its file settled ([`prepare_for_file`]).
pub struct Prepared {
    /// What names it (its tick, or its file's key).
    identity: Identity,
    spec: ContainerSpec,
    attached: engine::Attached,
}

impl Prepared {
    /// The container's id.
    pub fn id(&self) -> &str {
        &self.attached.id
    }

    /// Whether it is the container the run of `job` would create with `env`:
    /// not when the environment (`env_file`) or the job (a reload: image,
    /// command, mounts, limits) changed since it was made.
    pub(super) fn fits(&self, ctx: &Context, job: &Job, env: &[String]) -> bool {
        let mut wanted = container_spec(ctx, job, env, self.identity);
        wanted.swap_accounted = self.spec.swap_accounted;
        wanted == self.spec
    }
}

/// A container being made ready before its run (see [`Prepared`]).
pub type Preparation =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<Prepared>> + Send>>;

/// A little ahead of `tick`, create and attach the container of the first
/// attempt of `job`'s run, so that at the tick the start request is all that is
/// left (the engine takes 10 to 20 ms to create a container, more on a busy box).
/// `None` when anything stands in the way (the image is not there, a limit the
/// host cannot enforce, `pull = "always"`, an indexed job (`completions` above
/// 1), a run of a `forbid` job still going,
/// the engine failing): the tick then takes the usual path, which does the same
/// and records any failure.
///
/// The container has no run or attempt label yet (the run does not exist before
/// its tick): it is named after the tick and labelled `cronbox.tick`; the attempt
/// that starts it records its id. One nothing starts is removed, by the daemon or
/// by the start-up repair after a crash.
pub async fn prepare_ahead(ctx: &Context, job: &Job, tick: DateTime<Utc>) -> Option<Prepared> {
    if !preparable(job) {
        return None;
    }
    // The tick of a forbid job will be skipped while any run of it goes,
    // whichever process supervises it (a `cronbox run`).
    if job.concurrency == crate::config::Concurrency::Forbid
        && !ctx.store.unfinished_runs(&job.name).await.ok()?.is_empty()
    {
        return None;
    }
    let env = prepare(job).ok()?;
    make_ready(ctx, job, env, Identity::Tick(tick)).await
}

/// While a file settles, create and attach the container of the first attempt
/// of its run (`job` with the file mounted, `params` the run's: see
/// `trigger::files::PrepareFile`), as [`prepare_ahead`] does for a tick. A
/// file's run is never skipped, so `concurrency` does not stand in the way.
/// `key` tells apart the containers made ready for files (it names them: a name
/// already taken makes this give `None`).
pub async fn prepare_for_file(
    ctx: &Context,
    job: &Job,
    params: &[(String, String)],
    key: u64,
) -> Option<Prepared> {
    if !preparable(job) {
        return None;
    }
    let env = super::supervisor::with_params(prepare(job).ok()?, params);
    make_ready(ctx, job, env, Identity::File(key)).await
}

/// Whether a container can be made ready before the run of `job` exists: not
/// when it pulls before every attempt, nor for an indexed job (its containers
/// each need their index, known only as they start).
fn preparable(job: &Job) -> bool {
    job.pull != PullPolicy::Always && job.completions <= 1
}

/// Create and attach the container `identity` names for `job` with `env`,
/// unless the host cannot enforce its limits or the engine fails (logged at
/// debug: the run then takes the usual path, which records any failure).
async fn make_ready(
    ctx: &Context,
    job: &Job,
    env: Vec<String>,
    identity: Identity,
) -> Option<Prepared> {
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
    let mut spec = container_spec(ctx, job, &env, identity);
    spec.swap_accounted = swap_accounted;
    let made = async {
        let id = match ctx.engine.create(&spec).await {
            Ok(Some(id)) => id,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(job = %job.name, error = %e, "could not make the container ready ahead of its run");
                return None;
            }
        };
        match ctx.engine.attach(&id, &spec.name).await {
            Ok(attached) => Some(attached),
            Err(e) => {
                tracing::debug!(job = %job.name, error = %e, "could not attach ahead of the run");
                let _ = ctx.engine.remove(&id).await;
                None
            }
        }
    };
    // Bounded, so that a stuck engine never holds up the tick or a shutdown; a
    // container created after this gave up is removed by its name, or by the
    // start-up repair.
    let Ok(attached) = tokio::time::timeout(Duration::from_secs(10), made).await else {
        // Created, perhaps, after all: removed by its name, in the background.
        let (engine, name) = (ctx.engine.clone(), spec.name.clone());
        ctx.tracker.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), engine.remove(&name)).await;
        });
        return None;
    };
    Some(Prepared {
        identity,
        spec,
        attached: attached?,
    })
}

/// Remove the container `preparation` made ready, if it made one.
pub async fn discard(ctx: &Context, preparation: Preparation) {
    if let Some(prepared) = preparation.await {
        remove_prepared(ctx, prepared).await;
    }
}

/// Remove a container made ready that is not used.
pub(super) async fn remove_prepared(ctx: &Context, prepared: Prepared) {
    let Prepared { spec, attached, .. } = prepared;
    let id = attached.id.clone();
    drop(attached);
    if let Err(e) = ctx.engine.remove(&id).await {
        tracing::warn!(container = %spec.name, error = %e, "could not remove a container made ready for a run that did not use it; the next start removes it");
    }
}

/// Run an attempt in the container made ready before its run (its id is
/// recorded): start it and see it to its end.
pub(super) async fn run_prepared(
    ctx: &Context,
    job: &Job,
    attempt_id: i64,
    prepared: Prepared,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Ended {
    let Prepared { spec, attached, .. } = prepared;
    let id = attached.id.clone();
    let launch = Launch::Attached(attached, &spec, job.timeout);
    contain(ctx, job, attempt_id, &id, launch, deadline, stops).await
}

/// An attempt on the usual path: pull if the policy says so, check the limits
/// the host can enforce, create the container (pulling on "No such image"),
/// record its id, start it and see it to its end.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_attempt(
    ctx: &Context,
    job: &Job,
    env: &[String],
    run_id: i64,
    attempt: u32,
    attempt_id: i64,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Ended {
    // Pulling can take long: a shutdown, a replacement or the deadline cuts it short,
    // and no container is created after any of them.
    let swap_accounted = match until_stopped(deadline, stops, check_host(ctx, job)).await {
        Ok(Ok(swap_accounted)) => swap_accounted,
        Ok(Err(failed)) => return failed,
        Err(why) => return Ended::interrupted(ctx, why, None),
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
                let pull = ctx.engine.ensure_image(&job.image, job.pull);
                match until_stopped(deadline, stops, pull).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return Ended::engine_error(ctx, &error, None),
                    Err(why) => return Ended::interrupted(ctx, why, None),
                }
            }
            Ok(None) => {
                let error = EngineError::Operation {
                    action: format!("creating container {}", spec.name),
                    message: format!(
                        "image {} is still not present after pulling it; check that nothing removes it (docker image prune) and that the tag is right",
                        job.image
                    ),
                };
                return Ended::engine_error(ctx, &error, None);
            }
            Err(error) => return Ended::engine_error(ctx, &error, None),
        }
    };
    // Not fatal: the container is found by its name, which names the run and attempt.
    if let Err(e) = ctx.store.set_container(attempt_id, &id).await {
        tracing::error!(job = %job.name, error = %e, "could not record the container id");
    }
    let launch = Launch::Created(&spec, job.timeout);
    contain(ctx, job, attempt_id, &id, launch, deadline, stops).await
}

/// Pull first under `pull = "always"`, then check that the host can enforce
/// the job's limits (refused under `require_limits`). `Ok`: whether the host
/// accounts swap.
async fn check_host(ctx: &Context, job: &Job) -> Result<bool, Ended> {
    if job.pull == PullPolicy::Always {
        ctx.engine
            .ensure_image(&job.image, job.pull)
            .await
            .map_err(|error| Ended::engine_error(ctx, &error, None))?;
    }
    let requested = job.limits_requested();
    if requested.is_empty() {
        return Ok(true);
    }
    let capabilities = ctx
        .engine
        .capabilities()
        .await
        .map_err(|error| Ended::engine_error(ctx, &error, None))?;
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
            let end = policy::AttemptEnd::Unrunnable;
            return Err(Ended::now(
                ctx,
                end,
                "engine-error",
                None,
                Some(error),
                None,
            ));
        }
        tracing::warn!(job = %job.name, "{message}; running it anyway (set [daemon] require_limits = true to refuse)");
    }
    Ok(capabilities.swap)
}

/// Take over an attempt whose container a previous daemon left: see it to its
/// end with what is left of its timeout.
pub(super) async fn run_adopted(
    ctx: &Context,
    job: &Job,
    adopted: &Adoption,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Ended {
    let used = clock::until(adopted.attempt_started_at, ctx.clock.now());
    let timeout = job.timeout.map(|t| t.saturating_sub(used));
    let launch = Launch::Adopt(timeout, adopted.container_recorded);
    let container = &adopted.container;
    contain(
        ctx,
        job,
        adopted.attempt_id,
        container,
        launch,
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
        why = stops.stopped() => Err(why),
        _ = &mut *deadline => Err(Interruption::Deadline),
        done = work => Ok(done),
    }
}

/// How an attempt's container comes to be supervised.
enum Launch<'a> {
    /// Start this container, just created from the spec, with this timeout.
    Created(&'a ContainerSpec, Option<Duration>),
    /// Start this container, created and attached ahead of the tick, with this timeout.
    Attached(engine::Attached, &'a ContainerSpec, Option<Duration>),
    /// Take over the container from a previous daemon, with what is left of the
    /// timeout, and whether its id was recorded (else it is looked up by name).
    Adopt(Option<Duration>, bool),
}

/// Supervise the attempt's container `id` to its end, stopping it when the
/// deadline passes, the daemon shuts down or the run is replaced, while its
/// output is recorded; then classify how it ended.
async fn contain(
    ctx: &Context,
    job: &Job,
    attempt_id: i64,
    id: &str,
    launch: Launch<'_>,
    deadline: &mut Sleep,
    stops: &Stops,
) -> Ended {
    // A container looked up by name that the engine does not know was never created.
    let unknown_means_never_created = matches!(launch, Launch::Adopt(_, false));
    let adopted = matches!(launch, Launch::Adopt(..));
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let container = async {
        let tx = tx;
        let mut why = None;
        let result = {
            let watch = |timeout| Watch {
                events: &tx,
                stop: &stop,
                abandon: &stops.shutdown,
                timeout,
            };
            let run: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> =
                match launch {
                    Launch::Created(spec, timeout) => {
                        Box::pin(ctx.engine.run_created(id, spec, watch(timeout)))
                    }
                    Launch::Attached(attached, spec, timeout) => {
                        Box::pin(ctx.engine.run_attached(attached, spec, watch(timeout)))
                    }
                    Launch::Adopt(timeout, _) => {
                        Box::pin(ctx.engine.adopt(id, job.stop_grace, watch(timeout)))
                    }
                };
            tokio::pin!(run);
            loop {
                tokio::select! {
                    result = &mut run => break result,
                    _ = &mut *deadline, if why.is_none() => why = Some(Interruption::Deadline),
                    stopped = stops.stopped(), if why.is_none() => why = Some(stopped),
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
    let container = Some(id.to_owned());
    let exit = match result {
        Ok(exit) => exit,
        Err(EngineError::Abandoned { .. }) => return Ended::Abandoned,
        Err(EngineError::Lost { .. }) if unknown_means_never_created => {
            return Ended::NeverCreated;
        }
        Err(error) => return Ended::engine_error(ctx, &error, container),
    };
    let code = Some((exit.exit_code, exit.oom_killed));
    let (end, outcome) = match (exit.stopped, why) {
        (true, Some(Interruption::Deadline)) => (policy::AttemptEnd::DeadlineExceeded, "deadline"),
        (true, Some(Interruption::Shutdown)) => (policy::AttemptEnd::Interrupted, "interrupted"),
        (true, Some(Interruption::Replaced)) => (policy::AttemptEnd::Replaced, "replaced"),
        (true, Some(Interruption::Stopped)) => (policy::AttemptEnd::Stopped, "stopped"),
        _ if exit.timed_out => (policy::AttemptEnd::TimedOut, "timeout"),
        _ if exit.oom_killed && !job.retry_policy().is_success(exit.exit_code) => {
            (policy::AttemptEnd::Exited(exit.exit_code), "oom")
        }
        _ => (policy::AttemptEnd::Exited(exit.exit_code), "exited"),
    };
    let mut ended = Ended::now(ctx, end, outcome, code, None, container);
    // Taken over after the daemon was away: it ended when the engine says, not
    // when this daemon came to look.
    if let (true, Some(at), Ended::Attempt { record, .. }) = (adopted, exit.finished_at, &mut ended)
    {
        record.finished_at = at.min(record.finished_at);
    }
    ended
}
