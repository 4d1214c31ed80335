//! healthchecks.io-compatible pings (channels of kind `healthchecks`): where each
//! ping goes and what it carries. `/start` when an attempt starts, the check's
//! URL when the run succeeded, `/EXIT_CODE` (or `/fail` without one) when it
//! failed, with the end of the last attempt's output as the body, cut to
//! [`BODY_LIMIT`] as healthchecks.io cuts it.

use super::http::{Body, SendError};
use super::payload::tail;
use crate::store::{Notification, Store, Stream};

/// The largest ping body healthchecks.io keeps (100 kB); cronbox sends its last
/// bytes.
pub const BODY_LIMIT: usize = 100_000;

/// Whether `event` is a ping rather than a message.
pub fn is_ping(event: &str) -> bool {
    event.starts_with("ping_")
}

/// The check a ping row goes to (its payload: `{"check": "..."}`).
pub fn check_of(n: &Notification) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(n.payload.as_deref()?).ok()?;
    Some(value["check"].as_str()?.to_owned())
}

/// The URL suffix and the body of ping `n`.
pub async fn suffix_and_body(store: &Store, n: &Notification) -> Result<(String, Body), SendError> {
    let fail = |e: crate::store::StoreError| SendError {
        channel: n.channel.clone(),
        what: format!(
            "could not read its run: {}",
            crate::daemon::supervisor::chain(&e)
        ),
    };
    let empty = Body {
        content_type: "text/plain; charset=utf-8",
        bytes: Vec::new(),
        headers: Vec::new(),
    };
    let run_id = match (n.event.as_str(), n.run_id) {
        ("ping_start", _) | (_, None) => return Ok(("/start".to_owned(), empty)),
        (_, Some(run_id)) => run_id,
    };
    let last = store.last_attempt(run_id).await.map_err(fail)?;
    let suffix = match (n.event.as_str(), last) {
        ("ping_success", _) => String::new(),
        (_, Some((_, Some(code)))) => format!("/{code}"),
        _ => "/fail".to_owned(),
    };
    let attempts = store.attempts_of(run_id).await.map_err(fail)?;
    let mut output = Vec::new();
    if let Some(&(_, attempt)) = attempts.last() {
        let chunks = store
            .output(run_id, u32::try_from(attempt).ok())
            .await
            .map_err(fail)?;
        for stream in [Stream::Stdout, Stream::Stderr] {
            for chunk in chunks.iter().filter(|c| c.stream == stream) {
                output.extend_from_slice(&chunk.data);
            }
        }
    }
    let body = Body {
        bytes: tail(&output, usize::MAX, BODY_LIMIT).into_bytes(),
        ..empty
    };
    Ok((suffix, body))
}
