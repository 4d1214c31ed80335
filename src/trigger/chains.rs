//! Job chains: `[jobs.NAME] after = { job, on }`.
//!
//! The routes (`chain_routes`, from [`routes`]) make the database record a
//! child run in the transaction that records its parent's end, whoever writes
//! that end (see `migrations/20261201010000_triggers.sql`). [`watch`] claims
//! such runs for this daemon (their `pid`) as soon as a run finishes, and every
//! [`POLL`] for the ends other processes (`cronbox run`) write, and hands each
//! to the scheduler loop, which starts it as it resumes a waiting run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::events::{Event, Events};
use crate::store::{ChainRoute, PendingRun, Store, StoreError};

/// How often the database is looked at for child runs recorded by another
/// process (a parent run by `cronbox run`), besides each run's end here; only
/// while the schedule has a job with `after`.
pub const POLL: Duration = Duration::from_secs(5);

/// The chain routes of `config`: one per job and parent it names in `after`.
pub fn routes(config: &Config) -> Vec<ChainRoute> {
    config
        .jobs
        .iter()
        .flat_map(|job| {
            job.after.iter().map(|after| ChainRoute {
                child: job.name.clone(),
                parent: after.job.clone(),
                on_success: after.on.on_success(),
                on_failure: after.on.on_failure(),
            })
        })
        .collect()
}

/// Write the chain routes of `config` (at start, before any run can end, and
/// at each reload).
pub async fn sync_routes(store: &Store, config: &Config) -> Result<(), StoreError> {
    store.set_chain_routes(routes(config)).await
}

/// Claim for this process the child runs no process started yet, and give
/// them back as runs waiting for their first attempt, oldest first.
pub async fn claim(store: &Store) -> Result<Vec<PendingRun>, StoreError> {
    let ids = store.claim_child_runs(std::process::id()).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pending: Vec<PendingRun> = store
        .pending_runs()
        .await?
        .into_iter()
        .filter(|run| ids.contains(&run.run_id))
        .collect();
    pending.sort_by_key(|run| run.run_id);
    Ok(pending)
}

/// Until `shutdown`: claim child runs (see the module) and send each to
/// `start`. A database error is logged and the claim tried again at the next
/// wake; a claimed run that was not started is resumed at the next start.
pub async fn watch(
    store: Store,
    events: Events,
    mut config: watch::Receiver<Arc<Config>>,
    start: mpsc::Sender<super::Triggered>,
    shutdown: CancellationToken,
) {
    let mut wake = events.subscribe();
    let mut config_open = true;
    loop {
        match claim(&store).await {
            Ok(runs) => {
                if !runs.is_empty() {
                    crate::failpoint::pause("before-chained-start").await;
                }
                for run in runs {
                    tracing::info!(job = %run.job, run = run.run_id, "starting a run after its parent's end");
                    let triggered = super::Triggered {
                        pending: run,
                        ready: None,
                    };
                    if start.send(triggered).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %crate::daemon::supervisor::chain(&e), "could not look for runs started by a parent's end; trying again");
            }
        }
        // Only a schedule with chains has other processes' ends to look for: an
        // idle daemon without any is not woken every POLL.
        let chained = config.borrow().jobs.iter().any(|job| !job.after.is_empty());
        tokio::select! {
            _ = tokio::time::sleep(POLL), if chained => {}
            () = run_finished(&events, &mut wake) => {}
            changed = config.changed(), if config_open => config_open = changed.is_ok(),
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Wait for a run's end (or for events lost by lagging behind).
async fn run_finished(events: &Events, wake: &mut broadcast::Receiver<Event>) {
    loop {
        match wake.recv().await {
            Ok(Event::RunFinished { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Closed) => *wake = events.subscribe(),
        }
    }
}
