//! The daemon: the scheduler loop, the run supervisors it spawns, reload,
//! shutdown and start-up repair.
//!
//! The loop computes every job's next tick, sleeps until the earliest (each sleep
//! capped at [`MAX_SLEEP`] and re-planned, so a wall-clock jump is noticed), fires
//! what is due, and wakes early on a reload or shutdown. It installs no signal
//! handlers: `main` does, and passes the shutdown token and config updates in.

pub mod retention;
pub mod supervisor;

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{self, Clock};
use crate::config::{CatchUp, Concurrency, Config, Job, OnShutdown};
use crate::engine::{self, Engine, EngineError};
use crate::schedule::TickSpan;
use crate::store::{RunStatus, Store, StoreError, Trigger};
use std::collections::HashMap;
use std::sync::Mutex;
pub use supervisor::{Context, RunReport, Stops};
use tokio::sync::Semaphore;

/// The longest the loop sleeps before looking at the clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long before a tick the container of its first attempt is created and
/// attached ([`supervisor::prepare_ahead`]), so that at the tick only the start
/// request is left.
pub const PREPARE_AHEAD: Duration = Duration::from_secs(3);

/// A container being made ready for a job's next tick.
struct Preparing {
    tick: DateTime<Utc>,
    /// The job as planned when it was made: a reload makes it stale.
    job: Arc<Job>,
    made: tokio::task::JoinHandle<Option<supervisor::Prepared>>,
}

impl Preparing {
    fn into_preparation(self) -> supervisor::Preparation {
        Box::pin(async move { self.made.await.ok().flatten() })
    }
}

/// Whether to make `job`'s next run ready ahead of its tick: not when it pulls
/// before every attempt, nor when it forbids overlap and a run of it still goes
/// (the tick will most likely be skipped).
fn worth_preparing(job: &Job, running: &Running) -> bool {
    if job.pull == crate::config::PullPolicy::Always {
        return false;
    }
    job.concurrency != Concurrency::Forbid
        || !running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&job.name)
}

/// A failure that stops the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tick handled this much after its instant or less is on time; later, it was
/// missed (the daemon was down, the box suspended, or the clock jumped forward).
pub const LATE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

struct Planned {
    job: Arc<Job>,
    /// Every tick up to this instant is accounted for (run, skipped or missed).
    horizon: DateTime<Utc>,
    /// The first tick after the horizon.
    next: Option<DateTime<Utc>>,
}

/// Plan every job of `config`. A job keeps its horizon from `previous` (a reload)
/// or `stored` (the database) when its schedule is unchanged; a job never seen, or
/// whose schedule changed, starts from `now` and so has no missed ticks.
fn plan(
    config: &Config,
    now: DateTime<Utc>,
    previous: &[Planned],
    stored: &HashMap<String, DateTime<Utc>>,
) -> Vec<Planned> {
    config
        .jobs
        .iter()
        .map(|job| {
            let kept = previous.iter().find(|p| p.job.name == job.name);
            let horizon = match kept {
                Some(p)
                    if p.job.schedule.expression() == job.schedule.expression()
                        && p.job.timezone == job.timezone =>
                {
                    p.horizon
                }
                Some(_) => now,
                None => stored.get(&job.name).copied().unwrap_or(now),
            };
            Planned {
                job: Arc::new(job.clone()),
                horizon,
                next: next_tick(job, horizon),
            }
        })
        .collect()
}

/// The job's first tick after `after`; `None`, logged with the reason, when it
/// has none cronbox can compute (past the year 5000, or past the end of its
/// zone's known offsets): the job then stays idle, without a wake-up of its own.
fn next_tick(job: &Job, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match job.schedule.next_or_end(after) {
        Ok(next) => Some(next),
        Err(end) => {
            tracing::warn!(job = %job.name, after = %after, "the job has no fire time left and will not run: {end}");
            None
        }
    }
}

/// The runs this daemon supervises, per job, with the token that replaces each.
type Running = Arc<Mutex<HashMap<String, Vec<(u64, CancellationToken)>>>>;

/// Run the scheduler until `shutdown` is cancelled. `config` delivers the
/// schedule and, later, reloaded ones. On shutdown, running containers are
/// stopped and recorded as interrupted before this returns; runs waiting to
/// retry stay pending in the database for the next start.
pub async fn run(
    mut config: watch::Receiver<Arc<Config>>,
    store: Store,
    engine: Engine,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let current = config.borrow_and_update().clone();
    let ctx = Context {
        store,
        engine: engine.clone(),
        clock: clock.clone(),
        slots: Some(Arc::new(Semaphore::new(
            current.daemon.max_concurrent.max(1),
        ))),
        require_limits: current.daemon.require_limits,
        resume_later: true,
        echo: false,
    };
    let tracker = TaskTracker::new();
    tracker.spawn(watch_engine(engine.clone(), shutdown.clone()));
    warn_unenforceable_limits(&engine, &current).await;
    let running: Running = Arc::default();
    let mut serial = 0u64;
    // What stops every run: cancelled on shutdown, per [daemon] on_shutdown.
    let daemon_stops = Stops::default();

    tracker.spawn(retention::prune_periodically(
        ctx.store.clone(),
        clock.clone(),
        current.daemon.history_max_age,
        current.daemon.history_limit,
        shutdown.clone(),
    ));

    // Attempts a previous daemon left: adopt their containers, or settle them.
    for (job, adoption) in reconcile(&ctx, &current).await? {
        serial += 1;
        let stops = register(&running, &job.name, serial, &daemon_stops);
        let (ctx, running) = (ctx.clone(), running.clone());
        tracker.spawn(async move {
            if let Err(e) = supervisor::adopt(&ctx, &job, adoption, &stops).await {
                tracing::error!(job = %job.name, error = %e, "an adopted run could not be recorded");
            }
            deregister(&running, &job.name, serial);
        });
    }

    // Runs that were waiting to retry when the last daemon stopped.
    for pending in ctx.store.pending_retries().await? {
        let Some(job) = current.job(&pending.job) else {
            tracing::warn!(job = %pending.job, run = pending.run_id, "repair: a pending retry's job is no longer in the schedule; recording the run failed");
            ctx.store
                .finish_run(
                    pending.run_id,
                    RunStatus::Failed,
                    clock.now(),
                    Some("the job was removed from the schedule while the run waited to retry"),
                )
                .await?;
            continue;
        };
        let job = Arc::new(job.clone());
        serial += 1;
        let stops = register(&running, &job.name, serial, &daemon_stops);
        let (ctx, running) = (ctx.clone(), running.clone());
        tracker.spawn(async move {
            if let Err(e) = supervisor::resume(&ctx, &job, &pending, &stops).await {
                tracing::error!(job = %job.name, error = %e, "a resumed run could not be recorded");
            }
            deregister(&running, &job.name, serial);
        });
    }

    let stored = ctx.store.horizons().await?;
    let mut planned = plan(&current, clock.now(), &[], &stored);
    let new: Vec<&str> = planned
        .iter()
        .map(|p| p.job.name.as_str())
        .filter(|name| !stored.contains_key(*name))
        .collect();
    save_horizons(&ctx, &new, clock.now()).await;
    let mut first_wake = true;
    let mut last_wake = clock.now();
    tracing::info!(
        jobs = planned.len(),
        config = %current.path.display(),
        default_zone = %current.daemon.timezone.name(),
        zone_source = %current.daemon.timezone_source,
        "scheduler started"
    );
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled().map(|interval| interval / 2);
    let mut config_open = true;
    let mut preparing: HashMap<String, Preparing> = HashMap::new();

    loop {
        if watchdog.is_some() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
        let now = clock.now();
        if now + chrono::TimeDelta::seconds(5) < last_wake {
            tracing::warn!(by = %(last_wake - now), "the wall clock went back; ticks already accounted for are not run again");
        }
        last_wake = last_wake.max(now);
        let mut handled: Vec<Arc<Job>> = Vec::new();
        for p in &mut planned {
            if p.next.is_none_or(|next| next > now) {
                continue;
            }
            let span = p.job.schedule.ticks_between(p.horizon, now);
            p.horizon = now;
            p.next = next_tick(&p.job, now);
            handled.push(p.job.clone());
            let ready = preparing.remove(&p.job.name);
            if let Some(span) = span {
                handle_ticks(
                    &ctx,
                    &p.job,
                    span,
                    now,
                    first_wake,
                    &running,
                    &mut serial,
                    &daemon_stops,
                    &tracker,
                    ready,
                )
                .await;
            } else if let Some(ready) = ready {
                discard_in_background(&ctx, &tracker, ready);
            }
        }
        let names: Vec<&str> = handled.iter().map(|j| j.name.as_str()).collect();
        save_horizons(&ctx, &names, now).await;
        first_wake = false;

        // Containers made ready for a tick that will not come as planned (the job
        // was reloaded or removed, the wake was late) go; the jobs whose tick is
        // near are made ready.
        let stale: Vec<String> = preparing
            .iter()
            .filter(|(name, ready)| {
                !planned.iter().any(|p| {
                    p.job.name == **name
                        && Arc::ptr_eq(&p.job, &ready.job)
                        && p.next == Some(ready.tick)
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(ready) = preparing.remove(&name) {
                discard_in_background(&ctx, &tracker, ready);
            }
        }
        for p in &planned {
            let Some(next) = p.next else { continue };
            if clock::until(now, next) > PREPARE_AHEAD
                || preparing.contains_key(&p.job.name)
                || !worth_preparing(&p.job, &running)
            {
                continue;
            }
            let (ctx, job) = (ctx.clone(), p.job.clone());
            let made =
                tracker.spawn(async move { supervisor::prepare_ahead(&ctx, &job, next).await });
            preparing.insert(
                p.job.name.clone(),
                Preparing {
                    tick: next,
                    job: p.job.clone(),
                    made,
                },
            );
        }

        // Wake for the earliest tick, or earlier to make one ready.
        let earliest = planned
            .iter()
            .filter_map(|p| {
                let next = p.next?;
                let ready_at = next - chrono::TimeDelta::from_std(PREPARE_AHEAD).ok()?;
                Some(if ready_at > now && !preparing.contains_key(&p.job.name) {
                    ready_at
                } else {
                    next
                })
            })
            .min();
        // Timed from the clock as it is now, not from the wake: the work above (the
        // database, the engine) would otherwise make the next wake that much late.
        let mut sleep = earliest
            .map_or(MAX_SLEEP, |t| clock::until(clock.now(), t))
            .min(MAX_SLEEP);
        if let Some(watchdog) = watchdog {
            sleep = sleep.min(watchdog);
        }
        tokio::select! {
            _ = clock.sleep(sleep) => {}
            changed = config.changed(), if config_open => match changed {
                Ok(()) => {
                    let new = config.borrow_and_update().clone();
                    let now = clock.now();
                    planned = plan(&new, now, &planned, &HashMap::new());
                    let fresh: Vec<&str> = planned.iter().filter(|p| p.horizon == now).map(|p| p.job.name.as_str()).collect();
                    save_horizons(&ctx, &fresh, now).await;
                    warn_unenforceable_limits(&engine, &new).await;
                    tracing::info!(jobs = planned.len(), "schedule reloaded");
                }
                Err(_) => config_open = false,
            },
            _ = shutdown.cancelled() => break,
        }
    }

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    for (_, ready) in preparing.drain() {
        discard_in_background(&ctx, &tracker, ready);
    }
    match current.daemon.on_shutdown {
        OnShutdown::Detach => {
            tracing::info!(
                "shutting down: no new runs; running containers go on and the next start adopts them"
            );
            daemon_stops.detach.cancel();
        }
        OnShutdown::Stop => {
            tracing::info!("shutting down: no new runs; stopping running containers");
            daemon_stops.shutdown.cancel();
        }
    }
    tracker.close();
    tracker.wait().await;
    ctx.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Save the horizon of these jobs. A failure is logged: at worst the ticks since
/// the last saved horizon are looked at again after a restart, and a tick already
/// recorded is never run twice.
async fn save_horizons(ctx: &Context, names: &[&str], now: DateTime<Utc>) {
    if names.is_empty() {
        return;
    }
    if let Err(e) = ctx.store.set_horizon(names, now).await {
        tracing::error!(error = %e, "could not save how far the schedule is accounted for");
    }
}

/// Handle the ticks of `job` that fell due up to `now`: run the last one if it is
/// on time (or catch it up, if the job says so and it is within its
/// starting_deadline), and record the others as one missed span.
#[allow(clippy::too_many_arguments)]
async fn handle_ticks(
    ctx: &Context,
    job: &Arc<Job>,
    span: TickSpan,
    now: DateTime<Utc>,
    after_start: bool,
    running: &Running,
    serial: &mut u64,
    daemon_stops: &Stops,
    tracker: &TaskTracker,
    ready: Option<Preparing>,
) {
    // What was made ready serves the tick it was made for, run on time.
    let ready = match ready {
        Some(ready) if ready.tick == span.last && now - span.last <= LATE => Some(ready),
        Some(stale) => {
            discard_in_background(ctx, tracker, stale);
            None
        }
        None => None,
    };
    let late = now - span.last;
    let within_starting_deadline = job.starting_deadline.is_none_or(|limit| {
        late <= chrono::TimeDelta::from_std(limit).unwrap_or(chrono::TimeDelta::MAX)
    });
    let why = if after_start {
        "the daemon was not running".to_owned()
    } else {
        format!(
            "the daemon woke {} late: the box was suspended or the wall clock jumped forward",
            humantime::format_duration(late.to_std().unwrap_or_default())
        )
    };
    let (run, missed, reason) = if late <= LATE {
        (Some(Trigger::Schedule), span.without_last(), why)
    } else if job.catch_up == CatchUp::Latest && within_starting_deadline {
        (
            Some(Trigger::CatchUp),
            span.without_last(),
            format!("{why}; the latest tick ran as a catch-up"),
        )
    } else if job.catch_up == CatchUp::Latest {
        (
            None,
            Some(span),
            format!("{why}; the latest tick was older than starting_deadline"),
        )
    } else {
        (None, Some(span), format!("{why}; catch_up = \"none\""))
    };
    if let Some(missed) = missed {
        tracing::warn!(job = %job.name, ticks = missed.count, first = %missed.first, last = %missed.last, "missed ticks: {reason}");
        if let Err(e) = ctx
            .store
            .insert_missed(
                &job.name,
                missed.first,
                missed.last,
                missed.count,
                now,
                &reason,
            )
            .await
        {
            tracing::error!(job = %job.name, error = %e, "could not record missed ticks");
        }
    }
    match run {
        Some(trigger) => {
            if trigger == Trigger::CatchUp {
                tracing::info!(job = %job.name, tick = %span.last, "catching up the latest missed tick");
            }
            fire(
                ctx,
                job,
                span.last,
                trigger,
                running,
                serial,
                daemon_stops,
                tracker,
                ready,
            )
            .await;
        }
        None => {
            if let Some(ready) = ready {
                discard_in_background(ctx, tracker, ready);
            }
        }
    }
}

/// Remove what `ready` made, once it is made, without holding up the loop.
fn discard_in_background(ctx: &Context, tracker: &TaskTracker, ready: Preparing) {
    let ctx = ctx.clone();
    tracker.spawn(async move { supervisor::discard(&ctx, ready.into_preparation()).await });
}

/// Start a run for `job`'s `tick`, as its `concurrency` says.
#[allow(clippy::too_many_arguments)]
async fn fire(
    ctx: &Context,
    job: &Arc<Job>,
    tick: DateTime<Utc>,
    trigger: Trigger,
    running: &Running,
    serial: &mut u64,
    daemon_stops: &Stops,
    tracker: &TaskTracker,
    ready: Option<Preparing>,
) {
    let discard = |ready: Option<Preparing>| {
        if let Some(ready) = ready {
            discard_in_background(ctx, tracker, ready);
        }
    };
    match job.concurrency {
        Concurrency::Allow => {}
        Concurrency::Forbid => match ctx.store.unfinished_runs(&job.name).await {
            Ok(unfinished) if !unfinished.is_empty() => {
                let reason = format!(
                    "run {} of this job was still going (concurrency = \"forbid\")",
                    unfinished
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                tracing::warn!(job = %job.name, tick = %tick, "tick skipped: {reason}");
                if let Err(e) = ctx
                    .store
                    .insert_skipped_run(
                        &job.name,
                        Trigger::Schedule,
                        tick,
                        ctx.clock.now(),
                        &reason,
                    )
                    .await
                {
                    tracing::error!(job = %job.name, error = %e, "could not record a skipped tick");
                }
                discard(ready);
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(job = %job.name, tick = %tick, error = %e, "cannot tell whether the previous run still goes; not starting a run that cannot be recorded");
                discard(ready);
                return;
            }
        },
        Concurrency::Replace => {
            let guard = running.lock().unwrap_or_else(|e| e.into_inner());
            for (_, replace) in guard.get(&job.name).into_iter().flatten() {
                tracing::info!(job = %job.name, tick = %tick, "replacing the running run (concurrency = \"replace\")");
                replace.cancel();
            }
        }
    }
    *serial += 1;
    let serial = *serial;
    let stops = register(running, &job.name, serial, daemon_stops);
    let (ctx, job, running) = (ctx.clone(), job.clone(), running.clone());
    let preparation = ready.map(Preparing::into_preparation);
    tracker.spawn(async move {
        if let Err(e) =
            supervisor::execute_prepared(&ctx, &job, trigger, tick, &stops, preparation).await
        {
            tracing::error!(job = %job.name, tick = %tick, error = %e, "run could not be recorded");
        }
        deregister(&running, &job.name, serial);
    });
}

/// Stops for a new run: the daemon's shutdown and detach, and a replace of its own.
fn register(running: &Running, job: &str, serial: u64, daemon: &Stops) -> Stops {
    let stops = Stops {
        shutdown: daemon.shutdown.clone(),
        replace: CancellationToken::new(),
        detach: daemon.detach.clone(),
    };
    let mut guard = running.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .entry(job.to_owned())
        .or_default()
        .push((serial, stops.replace.clone()));
    stops
}

fn deregister(running: &Running, job: &str, serial: u64) {
    let mut guard = running.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(runs) = guard.get_mut(job) {
        runs.retain(|(s, _)| *s != serial);
        if runs.is_empty() {
            guard.remove(job);
        }
    }
}

/// Warn about every job that asks for a limit the Docker host cannot enforce.
async fn warn_unenforceable_limits(engine: &Engine, config: &Config) {
    for job in &config.jobs {
        match supervisor::unenforceable_limits(engine, job).await {
            Ok(missing) if !missing.is_empty() => {
                let consequence = if config.daemon.require_limits {
                    "its runs will fail ([daemon] require_limits = true)"
                } else {
                    "the limits are ignored by Docker; set [daemon] require_limits = true to refuse such runs"
                };
                tracing::warn!(job = %job.name, limits = %missing.join(", "), "the Docker host cannot enforce these limits; {consequence}");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the engine's capabilities now; they are checked again at each run");
                return;
            }
        }
    }
}

/// Whether another live process (a `cronbox run`, another daemon) supervises a run.
fn owned_elsewhere(pid: Option<u32>) -> bool {
    pid.is_some_and(|pid| {
        pid != std::process::id() && std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
}

/// Settle what a process that stopped abruptly (a daemon killed, the box losing
/// power, a detached shutdown) left, before the first tick:
/// - an attempt still marked running whose container still exists is adopted
///   (returned here: its exit is awaited and its output stored again whole);
/// - one whose container is gone is recorded `interrupted`, and its run follows
///   the job's retry policy (a pending retry, resumed with the others, or failed);
/// - a run still marked running with no attempt left is recorded `interrupted`;
/// - containers labelled with this database that nothing adopts are removed.
///
/// Runs supervised by another live process (a `cronbox run`) are left alone. An
/// engine that does not answer within a bounded time is treated as having lost
/// the containers. Every repair is logged.
async fn reconcile(
    ctx: &Context,
    config: &Config,
) -> Result<Vec<(Arc<Job>, supervisor::Adoption)>, StoreError> {
    let (store, engine, now) = (&ctx.store, &ctx.engine, ctx.clock.now());
    let mut spared = std::collections::HashSet::new(); // runs another live process supervises
    let mut settled = std::collections::HashSet::new(); // runs handled below
    let mut adopted_containers = std::collections::HashSet::new();
    let mut adoptions = Vec::new();
    for stale in store.running_attempts().await? {
        if owned_elsewhere(stale.pid) {
            spared.insert(stale.run_id);
            continue;
        }
        settled.insert(stale.run_id);
        let attempt = u32::try_from(stale.attempt).unwrap_or(u32::MAX);
        // Named after the run and attempt: found even if its id was never recorded.
        let lookup = stale.container_id.clone().unwrap_or_else(|| {
            supervisor::container_name(store.path(), &stale.job, stale.run_id, attempt)
        });
        let state = tokio::time::timeout(Duration::from_secs(15), engine.container_state(&lookup))
            .await
            .unwrap_or_else(|_| {
                Err(EngineError::Unreachable {
                    reason: "no answer within 15 s".into(),
                })
            });
        let job = config.job(&stale.job);
        match (state, job) {
            (Ok(Some((id, running))), Some(job)) => {
                tracing::warn!(
                    job = %stale.job, run = stale.run_id, attempt, container = %id, running,
                    "repair: adopting the container of an attempt the previous daemon left"
                );
                if stale.container_id.is_none() {
                    store.set_container(stale.attempt_id, &id).await?;
                }
                adopted_containers.insert(id.clone());
                adoptions.push((
                    Arc::new(job.clone()),
                    supervisor::Adoption {
                        run_id: stale.run_id,
                        attempt_id: stale.attempt_id,
                        attempt,
                        container_id: id,
                        run_started_at: stale.run_started_at,
                        attempt_started_at: stale.attempt_started_at,
                    },
                ));
            }
            (state, job) => {
                let why = match (&state, job) {
                    (_, None) => "the job is no longer in the schedule".to_owned(),
                    (Ok(_), _) => "its container is gone".to_owned(),
                    (Err(e), _) => format!("its container could not be looked up: {e}"),
                };
                tracing::warn!(job = %stale.job, run = stale.run_id, attempt, "repair: attempt left running; {why}; recording it as interrupted");
                if let (Ok(Some((id, _))), None) = (&state, job) {
                    let _ = engine.remove(id).await;
                }
                let end = crate::store::AttemptEnd {
                    finished_at: now,
                    exit_code: None,
                    oom_killed: None,
                    outcome: "interrupted",
                    error: Some(format!(
                        "the process supervising this attempt stopped abruptly and {why}"
                    )),
                };
                store.finish_attempt(stale.attempt_id, &end).await?;
                // The run follows the retry policy, as for any failed attempt.
                let policy = job.map(Job::retry_policy);
                match policy.filter(|p| attempt <= p.retries) {
                    Some(policy) => {
                        let delay = policy.delay(attempt);
                        let due = now
                            + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
                        tracing::info!(job = %stale.job, run = stale.run_id, due = %due, "repair: the run retries");
                        store.set_retry_at(stale.run_id, Some(due)).await?;
                    }
                    None => {
                        let status = if job.is_some() {
                            RunStatus::Failed
                        } else {
                            RunStatus::Interrupted
                        };
                        store
                            .finish_run(
                                stale.run_id,
                                status,
                                now,
                                Some(&format!("attempt {attempt} was cut short: {why}")),
                            )
                            .await?;
                    }
                }
            }
        }
    }
    for (run_id, job, pid) in store.running_runs().await? {
        if settled.contains(&run_id) {
            continue;
        }
        if owned_elsewhere(pid) {
            spared.insert(run_id);
            continue;
        }
        tracing::warn!(job = %job, run = run_id, "repair: run was left running between attempts; recording it as interrupted");
        store
            .finish_run(
                run_id,
                RunStatus::Interrupted,
                now,
                Some("the process supervising this run stopped abruptly"),
            )
            .await?;
    }
    let db = store.path().display().to_string();
    // Bounded: systemd waits for READY=1, which comes after this.
    let listed = tokio::time::timeout(
        Duration::from_secs(15),
        engine.containers_labelled(engine::LABEL_DB, &db),
    )
    .await;
    match listed.unwrap_or_else(|_| {
        Err(EngineError::Unreachable {
            reason: "no answer within 15 s".into(),
        })
    }) {
        Ok(found) => {
            for container in found {
                let run = container
                    .labels
                    .get(engine::LABEL_RUN)
                    .and_then(|r| r.parse::<i64>().ok());
                if adopted_containers.contains(&container.id)
                    || run.is_some_and(|run| spared.contains(&run))
                {
                    continue;
                }
                tracing::warn!(container = %container.name, running = container.running, "repair: removing a container nothing supervises");
                if let Err(e) = engine.remove(&container.id).await {
                    tracing::error!(container = %container.name, error = %e, "repair: could not remove container");
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "repair: could not look for leftover containers; they stay until the next start")
        }
    }
    Ok(adoptions)
}

/// Log when the engine becomes unreachable and when it is back, checking with
/// backoff while it is away (1 s doubling to a minute) and every minute while it
/// answers. Runs never wait for this: each attempt checks the engine itself and
/// records an engine error while it is away.
async fn watch_engine(engine: Engine, shutdown: CancellationToken) {
    let mut delay = Duration::from_secs(1);
    let mut reachable = None;
    loop {
        match engine.check().await {
            Ok(()) => {
                if reachable != Some(true) {
                    tracing::info!("Docker engine reachable");
                }
                reachable = Some(true);
                delay = MAX_SLEEP;
            }
            Err(e) => {
                if reachable != Some(false) {
                    delay = Duration::from_secs(1);
                }
                tracing::error!(error = %e, retry_in = %humantime::format_duration(delay), "Docker engine unreachable");
                reachable = Some(false);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return,
        }
        if reachable == Some(false) {
            delay = (delay * 2).min(MAX_SLEEP);
        }
    }
}
