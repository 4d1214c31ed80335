//! Server-Sent Events responses: a stream of events, kept alive with a comment
//! every 15 s (an idle connection costs a timer, no polling), that ends when
//! the daemon shuts down so that the server's graceful shutdown never waits for
//! a client that keeps listening.

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `events` as an SSE response, ended by `shutdown`.
pub fn respond<S>(
    events: S,
    shutdown: CancellationToken,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    S: Stream<Item = Event> + Send + 'static,
{
    let stream = events
        .take_until(shutdown.cancelled_owned())
        .map(Ok::<Event, Infallible>);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// An event named `name` whose data is `value` as JSON (one line).
pub fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    let data = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(name).data(data)
}
