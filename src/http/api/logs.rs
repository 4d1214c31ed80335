//! `GET /api/v1/runs/{id}/logs`: a run's stored output (of one attempt or
//! stream when asked), as text; with `follow=true`, as Server-Sent Events that
//! bring the output as the daemon stores it (the daemon stores a running
//! container's output every quarter second; the stream looks for new output
//! every half second, [`FOLLOW_EVERY`]) and end with an `end` event once the
//! run has ended.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

use super::{ApiPath, ApiQuery, AppState};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::sse;
use crate::store::{Store, Stream};

/// How often a followed run's new output is looked for.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// Which output, and whether to follow it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct LogsQuery {
    /// Only this attempt (1 for the first).
    attempt: Option<u32>,
    /// Only this stream: stdout or stderr.
    #[param(inline)]
    stream: Option<StreamName>,
    /// Stream the output as Server-Sent Events until the run ends.
    #[serde(default)]
    follow: bool,
}

/// An output stream, as the query names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum StreamName {
    Stdout,
    Stderr,
}

impl StreamName {
    fn stream(self) -> Stream {
        match self {
            StreamName::Stdout => Stream::Stdout,
            StreamName::Stderr => Stream::Stderr,
        }
    }
}

/// Output a followed run printed (`event: output`).
#[derive(Debug, Serialize, ToSchema)]
struct Output {
    attempt: i64,
    #[schema(value_type = String, example = "stdout")]
    stream: Stream,
    /// The text, as UTF-8 (a character cut between two chunks is kept whole).
    text: String,
}

/// A followed run has ended (`event: end`).
#[derive(Debug, Serialize, ToSchema)]
struct End {
    run_id: i64,
    status: String,
}

/// The output of a run: stored text, or a live stream with `follow=true`.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/logs",
    tag = "runs",
    params(("id" = i64, Path, description = "The run's id."), LogsQuery),
    responses(
        (status = 200, description = "Without follow: the stored output as text, per attempt stdout then stderr. With follow=true: a text/event-stream of `output` events ({attempt, stream, text}) ending with an `end` event ({run_id, status}) once the run has ended.", content_type = "text/plain", body = String),
        (status = 400, description = "A malformed id, attempt or stream.", body = ErrorBody),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn run_logs(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<Response, ApiError> {
    let store = state.services.store.clone();
    if store.run_status(id).await?.is_none() {
        return Err(ApiError::no_such_run(id));
    }
    let stream = query.stream.map(StreamName::stream);
    if query.follow {
        return Ok(follow(&state, id, query.attempt, stream));
    }
    let chunks = store.output(id, query.attempt).await?;
    let text: Vec<u8> = chunks
        .into_iter()
        .filter(|c| stream.is_none_or(|s| s == c.stream))
        .flat_map(|c| c.data)
        .collect();
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Run `id`'s output (of `attempt` and `stream` when given) as Server-Sent
/// Events, as the daemon stores it, until the run ends (the API's
/// `follow=true`, the dashboard's live output).
pub(crate) fn follow(
    state: &AppState,
    id: i64,
    attempt: Option<u32>,
    stream: Option<Stream>,
) -> Response {
    let follow = Follow::new(state.services.store.clone(), id, attempt, stream);
    let events = futures_util::stream::unfold(follow, |mut follow| async move {
        let event = follow.next().await?;
        Some((event, follow))
    });
    sse::respond(events, state.shutdown.clone()).into_response()
}

/// A run's output followed as the daemon stores it.
struct Follow {
    store: Store,
    run_id: i64,
    attempt: Option<u32>,
    stream: Option<Stream>,
    /// Per (attempt id, stream): the next chunk's sequence number and the bytes
    /// of a character cut at the end of the last chunk.
    seen: HashMap<(i64, Stream), (i64, Vec<u8>)>,
    ready: VecDeque<axum::response::sse::Event>,
    ended: bool,
    first: bool,
}

impl Follow {
    fn new(store: Store, run_id: i64, attempt: Option<u32>, stream: Option<Stream>) -> Follow {
        Follow {
            store,
            run_id,
            attempt,
            stream,
            seen: HashMap::new(),
            ready: VecDeque::new(),
            ended: false,
            first: true,
        }
    }

    /// The next event, waiting for it; `None` after the `end` event (or when
    /// the database fails, which ends the stream).
    async fn next(&mut self) -> Option<axum::response::sse::Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            if !self.first {
                tokio::time::sleep(FOLLOW_EVERY).await;
            }
            self.first = false;
            // The status first: output stored before the end is then all read below.
            let status = self.store.run_status(self.run_id).await.ok()??;
            self.collect().await.ok()?;
            if status != "running" {
                let end = End {
                    run_id: self.run_id,
                    status,
                };
                self.ready.push_back(sse::json_event("end", &end));
                self.ended = true;
            }
        }
    }

    /// Queue the output stored since the last look.
    async fn collect(&mut self) -> Result<(), crate::store::StoreError> {
        let attempts = self.store.attempts_of(self.run_id).await?;
        for (attempt_id, number) in attempts {
            if self.attempt.is_some_and(|a| i64::from(a) != number) {
                continue;
            }
            for stream in [Stream::Stdout, Stream::Stderr] {
                if self.stream.is_some_and(|s| s != stream) {
                    continue;
                }
                let (next_seq, carry) = self.seen.entry((attempt_id, stream)).or_default();
                let chunks = self
                    .store
                    .output_since(attempt_id, stream, *next_seq)
                    .await?;
                let Some((last, _)) = chunks.last() else {
                    continue;
                };
                *next_seq = last + 1;
                let mut bytes = std::mem::take(carry);
                for (_, data) in chunks {
                    bytes.extend(data);
                }
                let text = complete_text(&mut bytes);
                *carry = bytes;
                if !text.is_empty() {
                    let output = Output {
                        attempt: number,
                        stream,
                        text,
                    };
                    self.ready.push_back(sse::json_event("output", &output));
                }
            }
        }
        Ok(())
    }
}

/// The text of `bytes` up to a character cut at its end, which stays in
/// `bytes` (at most 3 bytes); invalid bytes elsewhere become U+FFFD.
fn complete_text(bytes: &mut Vec<u8>) -> String {
    let keep = match std::str::from_utf8(bytes) {
        Ok(_) => 0,
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        Err(_) => 0,
    };
    let rest = bytes.split_off(bytes.len() - keep);
    let text = String::from_utf8_lossy(bytes).into_owned();
    *bytes = rest;
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_between_chunks_is_kept_for_the_next() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut bytes = b"price: ".to_vec();
        bytes.extend(&euro[..2]);
        assert_eq!(complete_text(&mut bytes), "price: ");
        assert_eq!(bytes, &euro[..2]);
        bytes.extend(&euro[2..]);
        bytes.extend(b"5\n");
        assert_eq!(complete_text(&mut bytes), "€5\n");
        assert!(bytes.is_empty());
        let mut bad = vec![b'a', 0xff, b'b'];
        assert_eq!(complete_text(&mut bad), "a\u{fffd}b");
    }
}
