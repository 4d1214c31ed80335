//! The daemon's own heartbeat (`[daemon] heartbeat = { channel, check, every }`):
//! a ping to `CHANNEL_URL/CHECK` when the daemon starts and then every `every`,
//! so that the outside monitor raises its alarm when the box stops (power lost,
//! daemon dead): the one failure cronbox cannot report itself.
//!
//! Sent directly, not through the outbox: a heartbeat says "alive now". A late
//! one, retried after an outage, would tell the monitor a box was alive when it
//! was not, and a row every few minutes would grow the table for nothing; a
//! failed ping is logged (channel and host only) and the next one is sent on
//! time. Its period is real time (tokio's timer), not the daemon's clock.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::http::{self, Body, SendError};
use crate::config::{Config, Heartbeat};

/// Ping the heartbeat of `config` (as it is at each ping) until `shutdown`;
/// returns at once when the daemon has none.
pub async fn run(config: watch::Receiver<Arc<Config>>, shutdown: CancellationToken) {
    let Some(every) = config.borrow().daemon.heartbeat.as_ref().map(|h| h.every) else {
        return;
    };
    let client = match http::client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e.without_url(), "the heartbeat cannot be sent: the HTTP client could not be built");
            return;
        }
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let current = config.borrow().clone();
        let Some(heartbeat) = &current.daemon.heartbeat else {
            continue;
        };
        let sent = tokio::select! {
            sent = ping(&client, &current, heartbeat) => sent,
            _ = shutdown.cancelled() => return,
        };
        match sent {
            Ok(()) => tracing::debug!(channel = %heartbeat.channel, "heartbeat sent"),
            Err(e) => {
                tracing::warn!(error = %e, next_in = %humantime::format_duration(every), "heartbeat not sent; the next one is sent on time")
            }
        }
    }
}

/// One heartbeat: a POST to the check's URL on its channel, with an empty body.
pub async fn ping(
    client: &reqwest::Client,
    config: &Config,
    heartbeat: &Heartbeat,
) -> Result<(), SendError> {
    let channel = config
        .channels
        .iter()
        .find(|c| c.name == heartbeat.channel)
        .ok_or_else(|| SendError {
            channel: heartbeat.channel.clone(),
            what: "no such channel in the schedule file now; add it back as [notify.NAME]"
                .to_owned(),
        })?;
    let url = http::ping_url(channel, &heartbeat.check, "")?;
    let body = Body {
        content_type: "text/plain; charset=utf-8",
        bytes: Vec::new(),
        headers: Vec::new(),
    };
    http::post_to(client, channel, url, "heartbeat", body).await
}
