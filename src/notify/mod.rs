//! Notifications: the only module that speaks to the outside world about runs.
//!
//! A run's end writes its notification rows in the same transaction (SQLite
//! triggers over the routes [`sync_routes`] writes from the schedule file; see
//! `crate::store`'s outbox). The deliverer ([`deliver::run`]) sends the pending
//! rows with retries and exponential backoff (10 s doubling up to 1 h, for up to
//! 24 h, then `abandoned`), waking on the daemon's events and at the next row due,
//! and starts again from the database after a restart: a notification is
//! delivered at least once, each request carrying the row's id as its
//! `Idempotency-Key` (a mail: in its `Message-ID`, see [`mail`]).
//!
//! It must not block the scheduler (it runs as its own task, every request
//! bounded by the channel's timeout), hold more than a small batch of rows in
//! memory, or show a channel's URL or headers anywhere: errors name the host only.

pub mod deliver;
pub mod heartbeat;
pub mod http;
pub mod mail;
pub mod payload;
pub mod ping;

use crate::config::{Config, Job};
use crate::store::{PingRoute, Route};

/// The routes of `config`'s jobs: one per job and channel it names, with the
/// events it asks for and its cooldown.
pub fn routes(config: &Config) -> Vec<Route> {
    config.jobs.iter().flat_map(|job| job_routes(job)).collect()
}

/// The jobs of `config` that ping a healthchecks channel, with their check.
pub fn ping_routes(config: &Config) -> Vec<PingRoute> {
    config
        .jobs
        .iter()
        .filter_map(|job| {
            let ping = job.healthchecks.as_ref()?;
            Some(PingRoute {
                job: job.name.clone(),
                channel: ping.channel.clone(),
                check: ping.check.clone(),
            })
        })
        .collect()
}

fn job_routes(job: &Job) -> impl Iterator<Item = Route> + '_ {
    job.notify.iter().map(move |channel| Route {
        job: job.name.clone(),
        channel: channel.clone(),
        events: job.notify_on.clone(),
        cooldown_ms: i64::try_from(job.notify_cooldown.as_millis()).unwrap_or(i64::MAX),
    })
}

/// Write `config`'s routes to the database, so that the runs that end from now on
/// write their notifications (at daemon start, before repairs end any run, and at
/// each reload).
pub async fn sync_routes(
    store: &crate::store::Store,
    config: &Config,
) -> Result<(), crate::store::StoreError> {
    store
        .set_notify_routes(routes(config), ping_routes(config))
        .await
}
