//! `GET /api/v1/events`: the daemon's lifecycle events as Server-Sent Events,
//! each named by its type (`run_started`, `attempt_started`,
//! `attempt_finished`, `run_finished`,
//! `skipped`, `missed`, `paused`, `job_paused`, `job_resumed`) with the event
//! as JSON. A client that falls behind gets a `lagged` event saying how many
//! it missed (the history has them).

use axum::extract::State;
use axum::response::IntoResponse;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::events::Event;
use crate::http::error::ErrorBody;
use crate::http::sse;

/// The event a listener that fell behind gets.
#[derive(serde::Serialize)]
struct Lagged {
    missed: u64,
}

/// The daemon's lifecycle events from now on, as Server-Sent Events.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses(
        (status = 200, description = "A text/event-stream: each event's name is its type (run_started, attempt_started (an attempt recorded running, its container starting: after a max_concurrent slot or a retry's backoff), attempt_finished, run_finished, skipped, missed, paused (ticks of a paused job accounted), job_paused, job_resumed (a pause or resumption applied, from any client); lagged when the client fell behind) and its data the event as JSON, with a `type` field.", content_type = "text/event-stream", body = String),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn events(State(state): State<AppState>) -> impl IntoResponse {
    let receiver = state.services.handle.events.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(event) => sse::json_event(kind(&event), &event),
            Err(RecvError::Lagged(missed)) => sse::json_event("lagged", &Lagged { missed }),
            Err(RecvError::Closed) => return None,
        };
        Some((event, receiver))
    });
    sse::respond(stream, state.shutdown.clone())
}

/// The event's `type`, as it is serialized.
fn kind(event: &Event) -> &'static str {
    match event {
        Event::RunStarted { .. } => "run_started",
        Event::AttemptStarted { .. } => "attempt_started",
        Event::AttemptFinished { .. } => "attempt_finished",
        Event::RunFinished { .. } => "run_finished",
        Event::Skipped { .. } => "skipped",
        Event::Missed { .. } => "missed",
        Event::Paused { .. } => "paused",
        Event::JobPaused { .. } => "job_paused",
        Event::JobResumed { .. } => "job_resumed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_is_named_by_its_serialized_type() {
        let events = [
            Event::RunStarted {
                run_id: 1,
                job: "a".into(),
                trigger: "api".into(),
            },
            Event::AttemptStarted {
                run_id: 1,
                job: "a".into(),
                attempt: 1,
            },
            Event::AttemptFinished {
                run_id: 1,
                job: "a".into(),
                attempt: 1,
                outcome: "exited".into(),
                exit_code: Some(0),
            },
            Event::RunFinished {
                run_id: 1,
                job: "a".into(),
                status: "succeeded".into(),
            },
            Event::Skipped {
                run_id: 2,
                job: "a".into(),
            },
            Event::Missed {
                run_id: 3,
                job: "a".into(),
                ticks: 2,
            },
            Event::Paused {
                run_id: 4,
                job: "a".into(),
                ticks: 1,
            },
            Event::JobPaused { job: "a".into() },
            Event::JobResumed { job: "a".into() },
        ];
        for event in events {
            let json = serde_json::to_value(&event).expect("json");
            assert_eq!(json["type"], kind(&event));
        }
    }
}
