//! The lifecycle events the daemon publishes, on a tokio broadcast, and nothing
//! else.
//!
//! SQLite is the source of truth; an event only tells listeners (metrics, the
//! HTTP API's Server-Sent Events, notifications) to look now. A listener that
//! lags behind loses events ([`tokio::sync::broadcast`] drops the oldest), never
//! data: what it missed is in the database. Publishing never waits and never
//! fails, with or without listeners.

use serde::Serialize;
use tokio::sync::broadcast;

/// How many events a slow listener may fall behind before it loses the oldest.
pub const CAPACITY: usize = 1024;

/// Something that happened to a run or a job. Serialized as JSON with a `type`
/// field (`run_started`, `attempt_finished`, ...), as the API's event stream
/// sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A run was recorded and goes on to its first attempt.
    RunStarted {
        run_id: i64,
        job: String,
        /// `schedule`, `catch-up`, `manual` or `api`.
        trigger: String,
    },
    /// An attempt was recorded running and its container is being started:
    /// the run's first attempt once it has its `max_concurrent` slot, or a
    /// retry once its backoff is over (not an attempt a restarted daemon takes
    /// over: that one was announced by the daemon that started it).
    AttemptStarted {
        run_id: i64,
        job: String,
        /// From 1, counted over the whole run (indexes included).
        attempt: u32,
    },
    /// An attempt's end was recorded.
    AttemptFinished {
        run_id: i64,
        job: String,
        attempt: u32,
        /// `exited`, `oom`, `timeout`, ... (`attempts.outcome`).
        outcome: String,
        exit_code: Option<i64>,
    },
    /// A run's end was recorded (`runs.status`: `succeeded`, `failed`, ...).
    RunFinished {
        run_id: i64,
        job: String,
        status: String,
    },
    /// A tick was recorded `skipped` (`concurrency = "forbid"`).
    Skipped { run_id: i64, job: String },
    /// Ticks were recorded `missed`: `ticks` of them in the run `run_id`.
    Missed {
        run_id: i64,
        job: String,
        ticks: u64,
    },
    /// Ticks of a paused job were accounted to its pause's run `run_id`
    /// (status `paused`): `ticks` more of them.
    Paused {
        run_id: i64,
        job: String,
        ticks: u64,
    },
    /// The daemon applied a pause of `job` (through the API, `cronbox pause`,
    /// the dashboard, or a reload that read a pause another process wrote):
    /// its ticks are accounted `paused` until it is resumed. Published only
    /// when the job was not paused before.
    JobPaused { job: String },
    /// The daemon applied the resumption of `job`: its next tick runs.
    /// Published only when the job was paused before.
    JobResumed { job: String },
}

/// Where events are published. Cheap to clone; every clone publishes to the
/// same listeners.
#[derive(Debug, Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Events {
        Events(broadcast::channel(CAPACITY).0)
    }
}

impl Events {
    /// Publish `event` to whoever listens now (nobody is fine).
    pub fn publish(&self, event: Event) {
        let _ = self.0.send(event);
    }

    /// Listen from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_type() {
        let cases = [
            (
                Event::RunStarted {
                    run_id: 7,
                    job: "backup".into(),
                    trigger: "schedule".into(),
                },
                r#"{"type":"run_started","run_id":7,"job":"backup","trigger":"schedule"}"#,
            ),
            (
                Event::AttemptStarted {
                    run_id: 7,
                    job: "backup".into(),
                    attempt: 2,
                },
                r#"{"type":"attempt_started","run_id":7,"job":"backup","attempt":2}"#,
            ),
            (
                Event::AttemptFinished {
                    run_id: 7,
                    job: "backup".into(),
                    attempt: 2,
                    outcome: "exited".into(),
                    exit_code: Some(3),
                },
                r#"{"type":"attempt_finished","run_id":7,"job":"backup","attempt":2,"outcome":"exited","exit_code":3}"#,
            ),
            (
                Event::Missed {
                    run_id: 9,
                    job: "report".into(),
                    ticks: 24,
                },
                r#"{"type":"missed","run_id":9,"job":"report","ticks":24}"#,
            ),
            (
                Event::JobPaused {
                    job: "report".into(),
                },
                r#"{"type":"job_paused","job":"report"}"#,
            ),
            (
                Event::JobResumed {
                    job: "report".into(),
                },
                r#"{"type":"job_resumed","job":"report"}"#,
            ),
        ];
        for (event, want) in cases {
            assert_eq!(serde_json::to_string(&event).ok().as_deref(), Some(want));
        }
    }

    #[test]
    fn publishing_without_listeners_is_fine_and_listeners_get_what_follows() {
        let events = Events::default();
        events.publish(Event::Skipped {
            run_id: 1,
            job: "a".into(),
        });
        let mut listener = events.subscribe();
        let next = Event::Skipped {
            run_id: 2,
            job: "a".into(),
        };
        events.clone().publish(next.clone());
        assert_eq!(listener.try_recv().ok(), Some(next));
    }
}
