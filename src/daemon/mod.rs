//! The daemon: the scheduler loop, the run supervisors it spawns, reload,
//! shutdown and start-up repair.
//!
//! The loop computes every job's next tick, sleeps until the earliest (each sleep
//! capped at [`MAX_SLEEP`] and re-planned, so a wall-clock jump is noticed), fires
//! what is due, and wakes early on a reload or shutdown. It installs no signal
//! handlers: `main` does, and passes the shutdown token and config updates in.

pub mod supervisor;

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{self, Clock};
use crate::config::{Config, Job};
use crate::engine::{self, Engine};
use crate::store::{RunStatus, Store, StoreError, Trigger};
pub use supervisor::{Context, RunReport};

/// The longest the loop sleeps before looking at the clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Grace between SIGTERM and SIGKILL when the daemon stops a container.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A failure that stops the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Planned {
    job: Arc<Job>,
    next: Option<DateTime<Utc>>,
}

fn plan(config: &Config, now: DateTime<Utc>, previous: &[Planned]) -> Vec<Planned> {
    config
        .jobs
        .iter()
        .map(|job| {
            // A job whose schedule did not change keeps its planned tick.
            let kept = previous.iter().find(|p| {
                p.job.name == job.name
                    && p.job.schedule.expression() == job.schedule.expression()
                    && p.job.timezone == job.timezone
            });
            let next = match kept {
                Some(p) => p.next,
                None => job.schedule.next_after(now),
            };
            Planned {
                job: Arc::new(job.clone()),
                next,
            }
        })
        .collect()
}

/// Run the scheduler until `shutdown` is cancelled. `config` delivers the
/// schedule and, later, reloaded ones. On shutdown, running containers are
/// stopped and recorded as interrupted before this returns.
pub async fn run(
    mut config: watch::Receiver<Arc<Config>>,
    store: Store,
    engine: Engine,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    repair(&store, &engine, clock.as_ref()).await?;
    let ctx = Context {
        store,
        engine: engine.clone(),
        clock: clock.clone(),
        stop_grace: STOP_GRACE,
        echo: false,
    };
    let tracker = TaskTracker::new();
    tracker.spawn(watch_engine(engine, shutdown.clone()));

    let current = config.borrow_and_update().clone();
    let mut planned = plan(&current, clock.now(), &[]);
    tracing::info!(jobs = planned.len(), config = %current.path.display(), "scheduler started");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled().map(|interval| interval / 2);
    let mut config_open = true;

    loop {
        if watchdog.is_some() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
        let now = clock.now();
        for p in &mut planned {
            let Some(tick) = p.next else { continue };
            if tick > now {
                continue;
            }
            let job = p.job.clone();
            let ctx = ctx.clone();
            let cancel = shutdown.clone();
            tracker.spawn(async move {
                if let Err(e) = supervisor::execute(&ctx, &job, Trigger::Schedule, tick, &cancel).await {
                    tracing::error!(job = %job.name, tick = %tick, error = %e, "run could not be recorded");
                }
            });
            p.next = p.job.schedule.next_after(tick.max(now));
        }
        let earliest = planned.iter().filter_map(|p| p.next).min();
        let mut sleep = earliest
            .map_or(MAX_SLEEP, |t| clock::until(now, t))
            .min(MAX_SLEEP);
        if let Some(watchdog) = watchdog {
            sleep = sleep.min(watchdog);
        }
        tokio::select! {
            _ = clock.sleep(sleep) => {}
            changed = config.changed(), if config_open => match changed {
                Ok(()) => {
                    let new = config.borrow_and_update().clone();
                    planned = plan(&new, clock.now(), &planned);
                    tracing::info!(jobs = planned.len(), "schedule reloaded");
                }
                Err(_) => config_open = false,
            },
            _ = shutdown.cancelled() => break,
        }
    }

    tracing::info!("shutting down: no new runs; stopping running containers");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracker.close();
    tracker.wait().await;
    ctx.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Repair what a daemon that died left behind: attempts and runs still marked
/// running are recorded as interrupted, and containers of this database removed.
/// Every repair is logged.
async fn repair(store: &Store, engine: &Engine, clock: &dyn Clock) -> Result<(), StoreError> {
    for stale in store.running_attempts().await? {
        tracing::warn!(
            job = %stale.job, run = stale.run_id, attempt = stale.attempt,
            "repair: attempt was left running by a daemon that stopped abruptly; recording it as interrupted"
        );
        let end = crate::store::AttemptEnd {
            finished_at: clock.now(),
            exit_code: None,
            oom_killed: None,
            outcome: "interrupted",
            error: Some("the daemon stopped abruptly while this attempt ran".into()),
        };
        store.finish_attempt(stale.attempt_id, &end).await?;
    }
    for (run_id, job) in store.running_runs().await? {
        tracing::warn!(job = %job, run = run_id, "repair: run was left running; recording it as interrupted");
        store
            .finish_run(
                run_id,
                RunStatus::Interrupted,
                clock.now(),
                Some("the daemon stopped abruptly during this run"),
            )
            .await?;
    }
    remove_leftovers(store, engine).await;
    Ok(())
}

async fn remove_leftovers(store: &Store, engine: &Engine) {
    let db = store.path().display().to_string();
    match engine.containers_labelled(engine::LABEL_DB, &db).await {
        Ok(found) => {
            for container in found {
                tracing::warn!(container = %container.name, running = container.running, "repair: removing a container left by a previous daemon");
                if let Err(e) = engine.remove(&container.id).await {
                    tracing::error!(container = %container.name, error = %e, "repair: could not remove container");
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "repair: could not look for containers left by a previous daemon; they stay until the next start")
        }
    }
}

/// Log the engine's reachability at start-up and keep checking, with backoff,
/// until it answers; then log that it does. Runs never wait for this: each
/// attempt checks the engine itself and records an engine error if it is away.
async fn watch_engine(engine: Engine, shutdown: CancellationToken) {
    let mut delay = Duration::from_secs(1);
    loop {
        match engine.check().await {
            Ok(()) => {
                tracing::info!("Docker engine reachable");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, retry_in = %humantime::format_duration(delay), "Docker engine unreachable")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}
