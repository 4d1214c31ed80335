//! The deliverer: a task that sends the pending rows of the outbox, oldest due
//! first, a small batch at a time, and records what became of each attempt.
//!
//! It wakes when the daemon publishes a run's end (or a skip, a miss), when the
//! next row is due (on the daemon's clock), and at least every minute of real
//! time (runs ended by another process, `cronbox run`, publish nothing here). A failed attempt is tried again after
//! [`backoff`]; a row still undelivered 24 hours after it was written is
//! `abandoned` and logged as an error. Nothing is kept in memory between wakes:
//! a restart picks up where the database says.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::http::{self, SendError};
use super::mail;
use super::payload::{self, Payload};
use super::ping;
use crate::clock::{self, Clock};
use crate::config::{Channel, ChannelKind, Config};
use crate::events::{Event, Events};
use crate::store::{DeliveryRecord, Notification, Store};

/// The first retry waits this long; each next one twice as long as the last.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// A notification not delivered this long after it was written is abandoned.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Rows read and sent per batch: what the deliverer holds in memory.
pub const BATCH: u32 = 16;
/// The longest the deliverer sleeps without looking at the database.
pub const MAX_IDLE: Duration = Duration::from_secs(60);

/// The wait before the attempt after `attempts` failed ones (1: the first retry):
/// 10 s, 20 s, 40 s, ... up to 1 h.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY)
}

/// What the deliverer needs.
pub struct Deliverer {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub client: reqwest::Client,
    /// The channels of the schedule file now, by name.
    pub channels: BTreeMap<String, Channel>,
    /// The jobs with a dead-man alert: name and `expect_success_within` (ms).
    pub watched: Vec<(String, i64)>,
    /// `[daemon] public_url`: payloads link to the run's page under it.
    pub public_url: Option<String>,
}

/// The jobs of `config` with `expect_success_within`, in milliseconds.
pub fn watched_of(config: &Config) -> Vec<(String, i64)> {
    config
        .jobs
        .iter()
        .filter_map(|job| {
            let within = job.expect_success_within?;
            Some((
                job.name.clone(),
                i64::try_from(within.as_millis()).unwrap_or(i64::MAX),
            ))
        })
        .collect()
}

/// The channels of `config` by name.
pub fn channels_of(config: &Config) -> BTreeMap<String, Channel> {
    config
        .channels
        .iter()
        .map(|c| (c.name.clone(), c.clone()))
        .collect()
}

/// Deliver until `shutdown`, following `config` (its channels; its routes are
/// written by the daemon) and woken by `events`.
pub async fn run(
    mut config: watch::Receiver<Arc<Config>>,
    store: Store,
    clock: Arc<dyn Clock>,
    events: Events,
    shutdown: CancellationToken,
) {
    let client = match http::client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e.without_url(), "notifications cannot be sent: the HTTP client could not be built; they stay pending");
            return;
        }
    };
    let (channels, watched, public_url) = {
        let current = config.borrow_and_update();
        (
            channels_of(&current),
            watched_of(&current),
            current.daemon.public_url.clone(),
        )
    };
    let mut deliverer = Deliverer {
        store,
        clock,
        client,
        channels,
        watched,
        public_url,
    };
    let mut wake = events.subscribe();
    let mut config_open = true;
    loop {
        // A send cut short by the shutdown is sent again at the next start.
        let sleep = tokio::select! {
            sleep = deliverer.work() => sleep,
            _ = shutdown.cancelled() => break,
        };
        // The clock's timer only when a row is pending or a job is watched: a
        // daemon without notifications never sleeps on the clock here (tests on
        // the test clock count the scheduler's sleeps). The real-time poll finds
        // the rows that other processes (`cronbox run`) write.
        let due: crate::clock::Sleep = match sleep {
            Some(sleep) => deliverer.clock.sleep(sleep),
            None => Box::pin(std::future::pending()),
        };
        tokio::select! {
            _ = due => {}
            _ = tokio::time::sleep(MAX_IDLE) => {}
            event = wake.recv() => match event {
                Ok(Event::RunFinished { .. } | Event::Skipped { .. } | Event::Missed { .. })
                | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    wake = events.subscribe();
                }
            },
            changed = config.changed(), if config_open => match changed {
                Ok(()) => {
                    let current = config.borrow_and_update();
                    deliverer.channels = channels_of(&current);
                    deliverer.watched = watched_of(&current);
                    deliverer.public_url = current.daemon.public_url.clone();
                }
                Err(_) => config_open = false,
            },
            _ = shutdown.cancelled() => break,
        }
    }
}

impl Deliverer {
    /// Send every row due now, a batch at a time; returns how long to sleep on
    /// the clock before the next row is due or the next look for overdue jobs
    /// (at most [`MAX_IDLE`]), or `None` when neither is needed.
    pub async fn work(&mut self) -> Option<Duration> {
        self.mark_overdue().await;
        loop {
            let now = self.clock.now();
            let due = match self.store.due_notifications(now, BATCH).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %crate::daemon::supervisor::chain(&e), "could not read the notifications to send; trying again in a minute");
                    return None;
                }
            };
            if due.is_empty() {
                break;
            }
            for n in &due {
                self.attempt(n).await;
            }
        }
        let next = self.store.next_notification_at().await.ok().flatten();
        match next {
            Some(at) => Some(clock::until(self.clock.now(), at).min(MAX_IDLE)),
            None if !self.watched.is_empty() => Some(MAX_IDLE),
            None => None,
        }
    }

    /// Mark the watched jobs that became overdue (their notifications are
    /// written with the mark), and say so in the log.
    async fn mark_overdue(&self) {
        if self.watched.is_empty() {
            return;
        }
        match self
            .store
            .mark_overdue(self.watched.clone(), self.clock.now())
            .await
        {
            Ok(jobs) => {
                for job in jobs {
                    tracing::warn!(job = %job, "job overdue: no successful run within its expect_success_within");
                }
            }
            Err(e) => {
                tracing::error!(error = %crate::daemon::supervisor::chain(&e), "could not look for overdue jobs; trying again in a minute")
            }
        }
    }

    /// One attempt to deliver `n`, recorded.
    pub async fn attempt(&self, n: &Notification) {
        let record = match self.try_send(n).await {
            Ok(state) => DeliveryRecord {
                state,
                attempts: n.attempts + i64::from(state == "delivered"),
                next_attempt_at: self.clock.now(),
                delivered_at: (state == "delivered").then(|| self.clock.now()),
                last_error: None,
            },
            Err(error) => self.failed(n, &error),
        };
        if let Err(e) = self.store.record_delivery(n.id, &record).await {
            tracing::error!(id = n.id, error = %crate::daemon::supervisor::chain(&e), "could not record a notification's delivery; it will be sent again");
        }
    }

    /// Fold `n`, or send it: `Ok("folded")`, `Ok("delivered")`, or why it failed.
    async fn try_send(&self, n: &Notification) -> Result<&'static str, SendError> {
        let fail = |what: String| SendError {
            channel: n.channel.clone(),
            what,
        };
        if ping::is_ping(&n.event) {
            return self.ping(n).await;
        }
        if n.payload.is_none() && self.folds(n).await.map_err(|e| fail(e.to_string()))? {
            tracing::info!(id = n.id, job = %n.job, channel = %n.channel, event = %n.event, "notification folded into the next one (notify_cooldown)");
            return Ok("folded");
        }
        let channel = self.channels.get(&n.channel).ok_or_else(|| {
            fail("no such channel in the schedule file now; add it back as [notify.NAME] or the notification is abandoned after 24 hours".to_owned())
        })?;
        let payload = self.payload(n, channel).await.map_err(fail)?;
        if channel.kind == ChannelKind::Email {
            mail::send(channel, &n.id.to_string(), &payload).await?;
        } else {
            let body = payload::render(channel.format, &payload);
            http::post(&self.client, channel, &n.id.to_string(), body).await?;
        }
        tracing::info!(id = n.id, job = %n.job, channel = %n.channel, event = %n.event, "notification delivered");
        Ok("delivered")
    }

    /// Send ping `n` to its healthchecks channel.
    async fn ping(&self, n: &Notification) -> Result<&'static str, SendError> {
        let fail = |what: &str| SendError {
            channel: n.channel.clone(),
            what: what.to_owned(),
        };
        let channel = self.channels.get(&n.channel).ok_or_else(|| {
            fail("no such channel in the schedule file now; add it back as [notify.NAME]")
        })?;
        let check = ping::check_of(n).ok_or_else(|| fail("the ping names no check"))?;
        let (suffix, body) = ping::suffix_and_body(&self.store, n).await?;
        let url = http::ping_url(channel, &check, &suffix)?;
        http::post_to(&self.client, channel, url, &n.id.to_string(), body).await?;
        tracing::info!(id = n.id, job = %n.job, channel = %n.channel, event = %n.event, "ping delivered");
        Ok("delivered")
    }

    /// Whether `n` repeats, within its job's cooldown, an event already sent to
    /// its channel (never a recovery).
    async fn folds(&self, n: &Notification) -> Result<bool, crate::store::StoreError> {
        if matches!(n.event.as_str(), "recovery" | "overdue_resolved" | "test")
            || n.cooldown_ms <= 0
        {
            return Ok(false);
        }
        let Some(created) = crate::store::parse_timestamp(&n.created_at) else {
            return Ok(false);
        };
        let last = self.store.last_sent_before(n).await?;
        Ok(last.is_some_and(|last| created - last < TimeDelta::milliseconds(n.cooldown_ms)))
    }

    /// The payload `n` sends: the one stored, else built now and stored, so that
    /// every retry sends the same.
    async fn payload(&self, n: &Notification, channel: &Channel) -> Result<Payload, String> {
        if let Some(stored) = &n.payload
            && let Ok(payload) = serde_json::from_str::<Payload>(stored)
        {
            return Ok(payload);
        }
        let error = |e: crate::store::StoreError| {
            format!(
                "could not read its run: {}",
                crate::daemon::supervisor::chain(&e)
            )
        };
        let folded = self.store.folded_before(n).await.map_err(error)?;
        let payload = payload::build(
            &self.store,
            n,
            folded,
            self.public_url.as_deref(),
            channel.tail,
        )
        .await
        .map_err(error)?;
        if let Ok(text) = serde_json::to_string(&payload) {
            self.store
                .set_notification_payload(n.id, &text)
                .await
                .map_err(error)?;
        }
        Ok(payload)
    }

    /// The record of a failed attempt: retried after [`backoff`], or abandoned.
    fn failed(&self, n: &Notification, error: &SendError) -> DeliveryRecord {
        let now = self.clock.now();
        let attempts = n.attempts + 1;
        let created = crate::store::parse_timestamp(&n.created_at).unwrap_or(now);
        let give_up = now - created >= TimeDelta::from_std(GIVE_UP_AFTER).unwrap_or(TimeDelta::MAX);
        let wait = backoff(u32::try_from(attempts).unwrap_or(u32::MAX));
        if give_up {
            tracing::error!(id = n.id, job = %n.job, channel = %n.channel, event = %n.event, attempts, error = %error, "notification ABANDONED: not delivered within 24 hours; see cronbox notifications");
        } else {
            tracing::warn!(id = n.id, job = %n.job, channel = %n.channel, event = %n.event, attempts, retry_in = %humantime::format_duration(wait), error = %error, "notification not delivered; it will be retried");
        }
        DeliveryRecord {
            state: if give_up { "abandoned" } else { "pending" },
            attempts,
            next_attempt_at: now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
            delivered_at: None,
            last_error: Some(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_an_hour() {
        let cases = [
            (0, 10),
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (9, 2560),
            (10, 3600),
            (60, 3600),
        ];
        for (attempts, secs) in cases {
            assert_eq!(backoff(attempts), Duration::from_secs(secs), "{attempts}");
        }
    }
}
