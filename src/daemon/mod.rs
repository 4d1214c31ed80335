//! The daemon: the scheduler loop, the run supervisors it spawns, reload,
//! shutdown and start-up repair.
//!
//! The loop computes every job's next tick, sleeps until the earliest (each sleep
//! capped at [`MAX_SLEEP`] and re-planned, so a wall-clock jump is noticed), fires
//! what is due, and wakes early on a reload or shutdown. It installs no signal
//! handlers: `main` does, and passes the shutdown token and config updates in.

mod admit;
mod attempt;
mod chained;
pub mod checkpoint;
mod commands;
mod container;
pub mod control;
mod file_ready;
mod output;
mod repair;
pub mod retention;
mod run_now;
mod running;
pub mod supervisor;

use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{self, Clock};
use crate::config::{CatchUp, Concurrency, Config, Job, OnShutdown};
use crate::engine::Engine;
use crate::events::Event;
use crate::schedule::TickSpan;
use crate::store::{Store, StoreError, Trigger};
use admit::Admission;
pub use control::{Controls, Handle};
use running::Running;
pub use supervisor::{Context, Predecessor, RunReport, Start, Stops};

/// The longest the loop sleeps before looking at the clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long before a tick the container of its first attempt is created and
/// attached ([`supervisor::prepare_ahead`]), so that at the tick only the start
/// request is left.
pub const PREPARE_AHEAD: Duration = Duration::from_secs(3);

/// A container being made ready for a job's next tick.
pub(super) struct Preparing {
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
/// here (the tick will most likely be skipped; one going in another process is
/// looked for by [`supervisor::prepare_ahead`]).
fn worth_preparing(job: &Job, running: &Running) -> bool {
    if job.pull == crate::config::PullPolicy::Always {
        return false;
    }
    job.concurrency != Concurrency::Forbid || !running.any(&job.name)
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

pub(super) struct Planned {
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
    let previous: HashMap<&str, &Planned> =
        previous.iter().map(|p| (p.job.name.as_str(), p)).collect();
    config
        .jobs
        .iter()
        .map(|job| {
            let kept = previous.get(job.name.as_str());
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
                job: job.clone(),
                horizon,
                next: next_tick(job, horizon),
            }
        })
        .collect()
}

/// The job's first fire instant after `after` (its next tick, shifted by its
/// `random_delay` offset: every instant the loop plans with, horizons included,
/// is a fire instant); `None`, logged with the reason, when it
/// has none cronbox can compute (past the year 5000, or past the end of its
/// zone's known offsets): the job then stays idle, without a wake-up of its own.
fn next_tick(job: &Job, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !job.schedule.has_ticks() {
        return None; // Another trigger starts it (after).
    }
    match job.next_fire(after) {
        Ok(next) => Some(next),
        Err(end) => {
            tracing::warn!(job = %job.name, after = %after, "the job has no fire time left and will not run: {end}");
            None
        }
    }
}

/// What the loop starts runs with.
pub(super) struct Scheduler {
    ctx: Context,
    running: Running,
    /// What stops every run: cancelled on shutdown, per `[daemon] on_shutdown`.
    daemon_stops: Stops,
    tracker: TaskTracker,
    /// What the runs started on request share ([`run_now`]).
    requests: run_now::Requests,
    /// Told when a run starts or ends, and of the next tick (WAL checkpoints).
    checkpoints: checkpoint::Signals,
}

impl Scheduler {
    /// Spawn a run of `job`, registered for the concurrency policies while it goes.
    fn spawn_run<F, Fut>(&self, job: &Arc<Job>, what: &'static str, run: F)
    where
        F: FnOnce(Context, Arc<Job>, Stops) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        let (stops, registration) = self.running.register(&job.name, &self.daemon_stops);
        let done = run(self.ctx.clone(), job.clone(), stops);
        let name = job.name.clone();
        let checkpoints = self.checkpoints.clone();
        checkpoints.run_moved();
        self.tracker.spawn(async move {
            if let Err(e) = done.await {
                tracing::error!(job = %name, error = %supervisor::chain(&e), "{what} could not be recorded");
            }
            drop(registration);
            checkpoints.run_moved();
        });
    }

    /// Start `start`'s run of `job`, in the container `ready` made if any.
    fn start(&self, job: &Arc<Job>, start: Start, ready: Option<Preparing>) {
        let preparation = ready.map(Preparing::into_preparation);
        self.spawn_run(job, "a run", move |ctx, job, stops| async move {
            supervisor::execute_prepared(&ctx, &job, start, &stops, preparation)
                .await
                .map(drop)
        });
    }

    /// [`Scheduler::discard_in_background`], if anything was made ready.
    fn discard(&self, ready: Option<Preparing>) {
        if let Some(ready) = ready {
            self.discard_in_background(ready);
        }
    }

    /// Remove what `ready` made, once it is made, without holding up the loop.
    fn discard_in_background(&self, ready: Preparing) {
        self.discard_preparation(Some(ready.into_preparation()));
    }

    /// A `forbid` job's new run (a tick's, a parent's end's) is refused while a
    /// run of it started on request is being recorded: that one is not in the
    /// database yet, which is where the policy looks ([`admit`]).
    fn busy_on_request(&self, job: &Job) -> Option<Admission> {
        let admitting =
            job.concurrency == Concurrency::Forbid && self.requests.admitting.contains(&job.name);
        admitting.then(|| Admission::Busy {
            reason: admit::busy_reason(&[]),
            running: Vec::new(),
        })
    }

    /// Remove what `preparation` made, if anything, without holding up the loop.
    fn discard_preparation(&self, preparation: Option<supervisor::Preparation>) {
        if let Some(preparation) = preparation {
            let ctx = self.ctx.clone();
            self.tracker
                .spawn(async move { supervisor::discard(&ctx, preparation).await });
        }
    }

    /// Take over what the previous daemon left (see [`repair`]): adopt its
    /// containers, the ones that already exited before the first tick (so a
    /// `forbid` tick is not skipped for a run that is in fact over), and resume
    /// its waiting runs in the order they waited.
    async fn take_over(&self, config: &Config) -> Result<(), StoreError> {
        let repaired = repair::reconcile(&self.ctx, config).await?;
        let mut ending = Vec::new();
        for found in repaired.adopt {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let adoption = found.adoption;
            // Its container runs already: it takes a slot if one is free, before
            // any resumed run can, and never waits for one.
            let slot = || {
                self.ctx
                    .slots
                    .as_ref()
                    .and_then(|s| s.clone().try_acquire_owned().ok())
            };
            let more: Vec<_> = found.more.into_iter().map(|a| (a, slot())).collect();
            let slot = slot();
            self.spawn_run(&found.job, "an adopted run", |ctx, job, stops| async move {
                let report = supervisor::adopt(&ctx, &job, adoption, slot, more, &stops).await;
                drop(tx);
                report.map(drop)
            });
            if found.ended {
                ending.push(rx);
            }
        }
        for ended in ending {
            // Bounded: a stuck engine must not keep the scheduler from starting.
            let _ = tokio::time::timeout(Duration::from_secs(30), ended).await;
        }
        for (job, pending) in repaired.resume {
            if matches!(pending.trigger.as_str(), "file" | "after") {
                // Recorded by a trigger: a file taken, a parent's end.
                self.announce(&pending).await;
                self.resume(&job, pending, None).await;
                continue;
            }
            tracing::info!(
                job = %job.name, run = pending.run_id, attempt = pending.attempts + 1,
                due = %pending.retry_at.unwrap_or(self.ctx.clock.now()),
                "repair: resuming a run that was waiting when the previous daemon stopped"
            );
            self.resume(&job, pending, None).await;
        }
        Ok(())
    }

    /// Resume `pending`, a run of `job` waiting for its next attempt, and wait
    /// (a little) until it is in line for a slot when it is due now, so that
    /// runs resumed one after the other keep their order. A run a parent's end
    /// started (job chains) that has made no attempt is first admitted by its
    /// job's `concurrency`, as a tick is: refused (`forbid`), it is recorded
    /// `skipped`; with `replace`, the runs of the job going here or in another
    /// process are stopped before it starts. `ready`: its container, made ready
    /// while its file settled (a file's run).
    async fn resume(
        &self,
        job: &Arc<Job>,
        pending: crate::store::PendingRun,
        mut ready: Option<supervisor::Preparation>,
    ) {
        // A file's run gets its file mounted.
        let job = &crate::trigger::files::with_input(&self.ctx.store, job, &pending).await;
        let replaces = if pending.trigger == Trigger::After.as_str() && pending.attempts == 0 {
            // A parent's end started it: the job's policy applies as to a tick.
            self.discard_preparation(ready.take());
            let admission = match self.busy_on_request(job) {
                Some(busy) => busy,
                None => admit::admit_child(&self.ctx, &self.running, job, pending.run_id).await,
            };
            match admission {
                Admission::Start(replaces) => replaces,
                Admission::Busy { reason, .. } => {
                    return admit::skip_child(&self.ctx, job, pending.run_id, &reason).await;
                }
                // Logged; claimed again by the chain watcher, then admitted again.
                Admission::Unknown => {
                    return admit::release_child(&self.ctx, job, pending.run_id).await;
                }
            }
        } else {
            // A run that never started replaces the runs of its job before it;
            // not a file's run: files of a job run one at a time by the watcher,
            // and never replace a run started by hand.
            match job.concurrency {
                Concurrency::Replace
                    if pending.attempts == 0 && pending.trigger != Trigger::File.as_str() =>
                {
                    self.running.replace_all(&job.name)
                }
                _ => Vec::new(),
            }
        };
        let due_now = pending.retry_at.is_none_or(|at| at <= self.ctx.clock.now());
        let (queued, in_line) = tokio::sync::oneshot::channel();
        self.spawn_run(job, "a resumed run", move |ctx, job, stops| async move {
            supervisor::resume(&ctx, &job, &pending, replaces, &stops, Some(queued), ready)
                .await
                .map(drop)
        });
        if due_now {
            // Next in line only once this one is in line.
            let _ = tokio::time::timeout(Duration::from_secs(5), in_line).await;
        }
    }
}

/// Run the scheduler until `shutdown` is cancelled. `config` delivers the
/// schedule and, later, reloaded ones. On shutdown, per `[daemon] on_shutdown`,
/// running containers are left running for the next start to adopt, or stopped
/// and recorded interrupted; runs waiting (for a slot or to retry) stay as they
/// are in the database for the next start to resume.
pub async fn run(
    config: watch::Receiver<Arc<Config>>,
    store: Store,
    engine: Engine,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let (_, controls) = control::channel();
    run_with(config, store, engine, clock, shutdown, controls).await
}

/// [`run`], answering the commands of the [`Handle`] that `controls` came
/// with ([`control::channel`]) and publishing its events there.
pub async fn run_with(
    mut config: watch::Receiver<Arc<Config>>,
    store: Store,
    engine: Engine,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    mut controls: Controls,
) -> Result<(), DaemonError> {
    // Each job's random_delay offset comes from the database's seed.
    let seed = store.database_seed().await?.unwrap_or_default();
    let current = Arc::new(config.borrow_and_update().with_spread_ticks(&seed));
    let events = controls.events.clone();
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
        watch_stop_requests: false,
        events: events.clone(),
        tracker: TaskTracker::new(),
    };
    let scheduler = Scheduler {
        ctx: ctx.clone(),
        running: Running::default(),
        daemon_stops: Stops::default(),
        tracker: ctx.tracker.clone(),
        requests: run_now::Requests::default(),
        checkpoints: checkpoint::Signals::default(),
    };
    let tracker = &scheduler.tracker;
    tracker.spawn(watch_engine(engine.clone(), shutdown.clone()));
    tracker.spawn(warn_unenforceable_limits(engine.clone(), current.clone()));
    tracker.spawn(checkpoint::between_ticks(
        ctx.store.clone(),
        clock.clone(),
        scheduler.checkpoints.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(retention::prune_periodically(
        ctx.store.clone(),
        clock.clone(),
        current.daemon.history_max_age,
        current.daemon.history_limit,
        shutdown.clone(),
    ));
    // Before any run is ended (the repair of take_over included): the routes that
    // make a run's end write its notifications.
    crate::notify::sync_routes(&ctx.store, &current).await?;
    crate::trigger::chains::sync_routes(&ctx.store, &current).await?;
    // Child runs recorded while no daemon ran are this one's: take_over starts them.
    ctx.store.claim_child_runs(std::process::id()).await?;
    tracker.spawn(crate::notify::deliver::run(
        config.clone(),
        ctx.store.clone(),
        clock.clone(),
        events.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(crate::notify::heartbeat::run(
        config.clone(),
        shutdown.clone(),
    ));
    scheduler.take_over(&current).await?;
    let (chained_tx, mut chained) = tokio::sync::mpsc::channel(16);
    let files = crate::trigger::files::Watching {
        store: ctx.store.clone(),
        clock: clock.clone(),
        start: chained_tx.clone(),
        events: events.clone(),
        prepare: Arc::new(file_ready::FileReady::new(ctx.clone())),
    };
    let mut file_watchers = crate::trigger::files::spawn(&current, &files, tracker, &shutdown);
    tracker.spawn(crate::trigger::chains::watch(
        ctx.store.clone(),
        events.clone(),
        config.clone(),
        chained_tx,
        shutdown.clone(),
    ));

    let stored = ctx.store.horizons().await?;
    let mut planned = plan(&current, clock.now(), &[], &stored);
    let new: Vec<String> = planned
        .iter()
        .map(|p| p.job.name.clone())
        .filter(|name| !stored.contains_key(name))
        .collect();
    save_horizons(&scheduler, new, clock.now());
    let mut first_wake = true;
    let mut last_wake = clock.now();
    tracing::info!(
        jobs = planned.len(),
        config = %current.path.display(),
        default_zone = %current.daemon.timezone.name(),
        zone_source = %current.daemon.timezone_source,
        "scheduler started"
    );
    give_back_freed_memory();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled().map(|interval| interval / 2);
    let mut config_open = true;
    let mut commands_open = true;
    let mut preparing: HashMap<String, Preparing> = HashMap::new();
    let mut paused: HashSet<String> = ctx.store.paused_jobs().await?;

    loop {
        controls.beat(clock.monotonic());
        if watchdog.is_some() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
        let now = clock.now();
        if now + chrono::TimeDelta::seconds(5) < last_wake {
            tracing::warn!(by = %(last_wake - now), "the wall clock went back; ticks already accounted for are not run again");
        }
        last_wake = last_wake.max(now);
        fire_due(
            &scheduler,
            &mut planned,
            &mut paused,
            &mut preparing,
            now,
            first_wake,
        )
        .await;
        first_wake = false;
        prepare_near(&scheduler, &planned, &paused, &mut preparing, now);

        scheduler
            .checkpoints
            .set_next_tick(planned.iter().filter_map(|p| p.next).min());
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
                    let new = Arc::new(config.borrow_and_update().with_spread_ticks(&seed));
                    let now = clock.now();
                    planned = plan(&new, now, &planned, &HashMap::new());
                    let fresh = planned.iter().filter(|p| p.horizon == now).map(|p| p.job.name.clone()).collect();
                    // In the background, as the check of the limits: a reload of
                    // thousands of jobs never holds a tick up.
                    save_horizons(&scheduler, fresh, now);
                    if let Err(e) = crate::notify::sync_routes(&ctx.store, &new).await {
                        tracing::error!(error = %supervisor::chain(&e), "could not write the new notification routes; the previous ones apply");
                    }
                    if let Err(e) = crate::trigger::chains::sync_routes(&ctx.store, &new).await {
                        tracing::error!(error = %supervisor::chain(&e), "could not write the new job chains (after); the previous ones apply");
                    }
                    file_watchers.cancel();
                    file_watchers = crate::trigger::files::spawn(&new, &files, tracker, &shutdown);
                    tracker.spawn(warn_unenforceable_limits(engine.clone(), new));
                    // Pauses written by another process (cronbox pause with no API) apply now.
                    match ctx.store.paused_jobs().await {
                        Ok(now_paused) => commands::replace_paused(&ctx.events, &mut paused, now_paused),
                        Err(e) => tracing::error!(error = %supervisor::chain(&e), "could not read the paused jobs; keeping those known"),
                    }
                    tracing::info!(jobs = planned.len(), "schedule reloaded");
                    give_back_freed_memory();
                }
                Err(_) => config_open = false,
            },
            Some(triggered) = chained.recv() => scheduler.start_chained(&planned, triggered).await,
            command = controls.commands.recv(), if commands_open => match command {
                Some(command) => {
                    let state = commands::State { planned: &planned, paused: &mut paused, preparing: &mut preparing };
                    commands::handle(&scheduler, state, command);
                }
                None => commands_open = false,
            },
            _ = shutdown.cancelled() => break,
        }
    }

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    for (_, ready) in preparing.drain() {
        scheduler.discard_in_background(ready);
    }
    // Runs handed over and not started stay recorded for the next start; what
    // was made ready for them goes (a send under way is waited for).
    chained.close();
    while let Some(triggered) = chained.recv().await {
        scheduler.discard_preparation(triggered.ready);
    }
    match current.daemon.on_shutdown {
        OnShutdown::Detach => {
            tracing::info!(
                "shutting down: no new runs; running containers go on and the next start adopts them"
            );
            scheduler.daemon_stops.detach.cancel();
        }
        OnShutdown::Stop => {
            tracing::info!("shutting down: no new runs; stopping running containers");
            scheduler.daemon_stops.shutdown.cancel();
        }
    }
    tracker.close();
    tracker.wait().await;
    ctx.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Give the memory freed after reading the schedule (its parse peaks at a few
/// times what the jobs keep) back to the system: glibc's allocator keeps freed
/// pages between live ones, where they count in the daemon's RSS for as long as
/// it runs (measured in BENCHMARKS.md: about 2 MiB with 1,000 jobs). Other C
/// libraries (musl) give pages back by themselves.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes
    // its locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Handle every job whose next tick has come by `now`; those of a paused job
/// are accounted to its pause.
async fn fire_due(
    scheduler: &Scheduler,
    planned: &mut [Planned],
    paused: &mut HashSet<String>,
    preparing: &mut HashMap<String, Preparing>,
    now: DateTime<Utc>,
    after_start: bool,
) {
    for p in planned.iter_mut() {
        if p.next.is_none_or(|next| next > now) {
            continue;
        }
        // The ticks (as scheduled) whose fire instants are in (horizon, now].
        let span = p
            .job
            .schedule
            .ticks_between(p.job.tick_of(p.horizon), p.job.tick_of(now));
        p.horizon = now;
        p.next = next_tick(&p.job, now);
        let ready = preparing.remove(&p.job.name);
        let ready = if paused.contains(&p.job.name) {
            scheduler.discard(ready);
            let Some(span) = span else { continue };
            if commands::record_paused(&scheduler.ctx, &p.job, &span, now).await {
                continue;
            }
            // Resumed by another process meanwhile: its ticks run.
            commands::set_paused(&scheduler.ctx.events, paused, &p.job.name, false);
            None
        } else {
            ready
        };
        match span {
            // Each tick's record saves the job's horizon with it.
            Some(span) => handle_ticks(scheduler, &p.job, span, now, after_start, ready).await,
            None => {
                if let Some(ready) = ready {
                    scheduler.discard_in_background(ready);
                }
            }
        }
    }
}

/// Containers made ready for a tick that will not come as planned (the job was
/// reloaded or removed, the wake was late) go; the jobs whose tick is near are
/// made ready.
fn prepare_near(
    scheduler: &Scheduler,
    planned: &[Planned],
    paused: &HashSet<String>,
    preparing: &mut HashMap<String, Preparing>,
    now: DateTime<Utc>,
) {
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
            scheduler.discard_in_background(ready);
        }
    }
    for p in planned {
        let Some(next) = p.next else { continue };
        if clock::until(now, next) > PREPARE_AHEAD
            || preparing.contains_key(&p.job.name)
            || paused.contains(&p.job.name)
            || !worth_preparing(&p.job, &scheduler.running)
        {
            continue;
        }
        let (ctx, job, tick) = (scheduler.ctx.clone(), p.job.clone(), p.job.tick_of(next));
        let made = scheduler
            .tracker
            .spawn(async move { supervisor::prepare_ahead(&ctx, &job, tick).await });
        preparing.insert(
            p.job.name.clone(),
            Preparing {
                tick: next,
                job: p.job.clone(),
                made,
            },
        );
    }
}

/// Save the horizon of jobs with no tick to record (new ones), in the
/// background. A failure is logged: at worst such a job's ticks are looked at
/// again after a restart, and a tick already recorded is never run twice.
fn save_horizons(scheduler: &Scheduler, names: Vec<String>, now: DateTime<Utc>) {
    if names.is_empty() {
        return;
    }
    let store = scheduler.ctx.store.clone();
    scheduler.tracker.spawn(async move {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Err(e) = store.set_horizon(&names, now).await {
            tracing::error!(error = %supervisor::chain(&e), "could not save how far the schedule is accounted for");
        }
    });
}

/// Handle the ticks of `job` that fell due up to `now`: run the last one if it is
/// on time (or catch it up, if the job says so and it is within its
/// starting_deadline), and record the others as one missed span. `span` holds the
/// ticks as scheduled; how late they are counts from their fire instants.
async fn handle_ticks(
    scheduler: &Scheduler,
    job: &Arc<Job>,
    span: TickSpan,
    now: DateTime<Utc>,
    after_start: bool,
    ready: Option<Preparing>,
) {
    let ctx = &scheduler.ctx;
    // What was made ready serves the tick it was made for, run on time.
    let ready = match ready {
        Some(ready) if ready.tick == job.fire_at(span.last) && now - ready.tick <= LATE => {
            Some(ready)
        }
        Some(stale) => {
            scheduler.discard_in_background(stale);
            None
        }
        None => None,
    };
    let (run, missed, reason) = decide_ticks(job, &span, now, after_start);
    if let Some(missed) = missed {
        tracing::warn!(job = %job.name, ticks = missed.count, first = %missed.first, last = %missed.last, "missed ticks: {reason}");
        // A tick still to run keeps the horizon before it until its run is recorded.
        let horizon = if run.is_some() {
            job.fire_at(missed.last)
        } else {
            now
        };
        crate::failpoint::pause("before-missed").await;
        let recorded = ctx
            .store
            .insert_missed(
                &job.name,
                missed.first,
                missed.last,
                missed.count,
                now,
                horizon,
                &reason,
            )
            .await;
        crate::failpoint::pause("after-missed").await;
        match recorded {
            Ok(Some(run_id)) => ctx.events.publish(Event::Missed {
                run_id,
                job: job.name.clone(),
                ticks: missed.count,
            }),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(job = %job.name, error = %supervisor::chain(&e), "could not record missed ticks");
            }
        }
    }
    match run {
        Some(trigger) => {
            if trigger == Trigger::CatchUp {
                tracing::info!(job = %job.name, tick = %span.last, "catching up the latest missed tick");
            }
            fire(scheduler, job, span.last, now, trigger, ready).await;
        }
        None => {
            if let Some(ready) = ready {
                scheduler.discard_in_background(ready);
            }
        }
    }
}

/// Of the ticks in `span`, handled at `now`: whether the last one runs (and as
/// what), which ones are recorded missed, and why.
fn decide_ticks(
    job: &Job,
    span: &TickSpan,
    now: DateTime<Utc>,
    after_start: bool,
) -> (Option<Trigger>, Option<TickSpan>, String) {
    let late = now - job.fire_at(span.last);
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
    if late <= LATE {
        (Some(Trigger::Schedule), span.without_last(), why)
    } else if job.catch_up == CatchUp::Latest && within_starting_deadline {
        let reason = format!("{why}; the latest tick ran as a catch-up");
        (Some(Trigger::CatchUp), span.without_last(), reason)
    } else if job.catch_up == CatchUp::Latest {
        let reason = format!("{why}; the latest tick was older than starting_deadline");
        (None, Some(*span), reason)
    } else {
        (None, Some(*span), format!("{why}; catch_up = \"none\""))
    }
}

/// Start a run for `job`'s `tick`, handled at `now`, as its `concurrency`
/// says ([`admit`]); a tick the policy refuses is recorded `skipped`.
async fn fire(
    scheduler: &Scheduler,
    job: &Arc<Job>,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
    trigger: Trigger,
    ready: Option<Preparing>,
) {
    let admission = match scheduler.busy_on_request(job) {
        Some(busy) => busy,
        None => admit::admit(&scheduler.ctx, &scheduler.running, job).await,
    };
    let replaces = match admission {
        Admission::Start(replaces) => replaces,
        Admission::Busy { reason, .. } => {
            tracing::warn!(job = %job.name, tick = %tick, "tick skipped: {reason}");
            admit::record_skipped(&scheduler.ctx, job, trigger, tick, now, &reason).await;
            return scheduler.discard(ready);
        }
        Admission::Unknown => return scheduler.discard(ready),
    };
    let start = Start {
        trigger,
        scheduled_at: tick,
        horizon: Some(now),
        replaces,
        params: Vec::new(),
        recorded: None,
    };
    scheduler.start(job, start, ready);
}

/// Warn about every job that asks for a limit the Docker host cannot enforce
/// (one `/info` request for all of them).
async fn warn_unenforceable_limits(engine: Engine, config: Arc<Config>) {
    let unenforceable = match supervisor::unenforceable_limits(
        &engine,
        config.jobs.iter().map(|j| &**j),
    )
    .await
    {
        Ok(unenforceable) => unenforceable,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the engine's capabilities now; they are checked again at each run");
            return;
        }
    };
    let consequence = if config.daemon.require_limits {
        "its runs will fail ([daemon] require_limits = true)"
    } else {
        "the limits are ignored by Docker; set [daemon] require_limits = true to refuse such runs"
    };
    for (job, missing) in unenforceable {
        tracing::warn!(job = %job.name, limits = %missing.join(", "), "the Docker host cannot enforce these limits; {consequence}");
    }
}

/// Whether process `pid` exists (a PID a process used may be reused by another
/// after a reboot; cronbox accepts that rare confusion).
pub(crate) fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether another live process (a `cronbox run`, another daemon) supervises a run.
fn owned_elsewhere(pid: Option<u32>) -> bool {
    pid.is_some_and(|pid| pid != std::process::id() && process_alive(pid))
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
