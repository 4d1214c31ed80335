//! What the outside world (the HTTP API, and the CLI through it; tests) may ask
//! of a running daemon, and what it can see of it: commands the scheduler loop
//! answers, the lifecycle events, and whether the loop is alive.
//!
//! The loop only decides and spawns: a command never makes it wait for the
//! database or the engine, so no client, however slow, delays a tick. Reads of
//! the history go to the database directly (`Store`), not through here.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[cfg(doc)]
use crate::clock::Clock;
use crate::config::Job;
use crate::events::Events;

/// How many commands may wait for the loop before senders wait.
const QUEUE: usize = 64;

/// A request to the scheduler loop, answered on its `reply`.
#[derive(Debug)]
pub enum Command {
    /// Start a run of `job` now (trigger `api`), honouring its concurrency
    /// policy, with these environment variables added (already checked against
    /// the job's `params`). Answered once the run is recorded, with its id.
    RunNow {
        job: String,
        params: Vec<(String, String)>,
        reply: oneshot::Sender<Result<i64, Refusal>>,
    },
    /// Stop run `run_id` if this daemon supervises it: answers whether it did.
    Stop {
        run_id: i64,
        reply: oneshot::Sender<bool>,
    },
    /// `job` was paused (or resumed) in the database: apply it now.
    Paused {
        job: String,
        paused: bool,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    /// The jobs as the loop plans them now.
    Jobs {
        reply: oneshot::Sender<Vec<JobState>>,
    },
}

/// A job as the scheduler loop sees it.
#[derive(Debug, Clone)]
pub struct JobState {
    pub job: Arc<Job>,
    /// The instant its next tick fires (with `random_delay`, shifted by the
    /// job's offset); `None` when it has none left.
    pub next: Option<DateTime<Utc>>,
    pub paused: bool,
    /// The runs of it this daemon supervises now (recorded ones).
    pub running: Vec<i64>,
}

/// Why the daemon did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no job {0:?} in the schedule; `cronbox check` lists the jobs")]
    NoSuchJob(String),
    #[error(
        "run {} of job {job:?} is still going and the job has concurrency = \"forbid\"; wait for it, or stop it first",
        running.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    )]
    Busy { job: String, running: Vec<i64> },
    #[error("the run could not be recorded: {0}")]
    Unrecorded(String),
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

/// When the scheduler loop last went round, for a health check, in the
/// monotonic time of the daemon's clock ([`Clock::monotonic`]), so that a test
/// clock moves it as it moves the loop's sleeps.
#[derive(Debug, Default)]
struct Liveness {
    /// Milliseconds of the clock's monotonic time at the last iteration, plus
    /// one (0: none yet).
    last_ms: AtomicU64,
}

impl Liveness {
    fn beat(&self, now: Duration) {
        let ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX - 1);
        self.last_ms.store(ms + 1, Ordering::Relaxed);
    }

    fn since_last(&self, now: Duration) -> Option<Duration> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(now.saturating_sub(Duration::from_millis(ms - 1))),
        }
    }
}

/// What the outside world holds of a running daemon. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
    /// The daemon's lifecycle events.
    pub events: Events,
    liveness: Arc<Liveness>,
}

/// The daemon's side of a [`Handle`].
#[derive(Debug)]
pub struct Controls {
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) events: Events,
    liveness: Arc<Liveness>,
}

impl Controls {
    /// The loop went round at `now` (the clock's [`Clock::monotonic`]).
    pub(super) fn beat(&self, now: Duration) {
        self.liveness.beat(now);
    }
}

/// A handle and the controls the daemon is run with ([`super::run_with`]).
pub fn channel() -> (Handle, Controls) {
    let (commands, receiver) = mpsc::channel(QUEUE);
    let events = Events::default();
    let liveness = Arc::new(Liveness::default());
    let handle = Handle {
        commands,
        events: events.clone(),
        liveness: liveness.clone(),
    };
    let controls = Controls {
        commands: receiver,
        events,
        liveness,
    };
    (handle, controls)
}

impl Handle {
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.ok()?;
        answer.await.ok()
    }

    /// Start a run of `job` now (see [`Command::RunNow`]); its id.
    pub async fn run_now(&self, job: &str, params: Vec<(String, String)>) -> Result<i64, Refusal> {
        let job = job.to_owned();
        self.ask(|reply| Command::RunNow { job, params, reply })
            .await
            .unwrap_or(Err(Refusal::ShuttingDown))
    }

    /// Stop run `run_id` if this daemon supervises it; whether it did.
    pub async fn stop(&self, run_id: i64) -> bool {
        self.ask(|reply| Command::Stop { run_id, reply })
            .await
            .unwrap_or(false)
    }

    /// Tell the daemon `job` was paused or resumed in the database.
    pub async fn paused(&self, job: &str, paused: bool) -> Result<(), Refusal> {
        let job = job.to_owned();
        self.ask(|reply| Command::Paused { job, paused, reply })
            .await
            .unwrap_or(Err(Refusal::ShuttingDown))
    }

    /// The jobs as the loop plans them now (empty when the daemon has stopped).
    pub async fn jobs(&self) -> Vec<JobState> {
        self.ask(|reply| Command::Jobs { reply })
            .await
            .unwrap_or_default()
    }

    /// Whether the scheduler loop went round within `within` before `now`
    /// (both in the daemon's clock's [`Clock::monotonic`] time; twice its
    /// longest sleep is the health check's rule).
    pub fn alive(&self, now: Duration, within: Duration) -> bool {
        self.liveness
            .since_last(now)
            .is_some_and(|since| since <= within)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, TestClock};

    #[test]
    fn the_loop_is_alive_while_it_beats() {
        let (handle, controls) = channel();
        let clock = TestClock::new(chrono::DateTime::UNIX_EPOCH);
        let within = Duration::from_secs(120);
        assert!(
            !handle.alive(clock.monotonic(), within),
            "not before the first iteration"
        );
        controls.beat(clock.monotonic());
        assert!(handle.alive(clock.monotonic(), within));
        clock.advance(Duration::from_secs(120));
        assert!(handle.alive(clock.monotonic(), within), "within the bound");
        clock.advance(Duration::from_secs(1));
        assert!(
            !handle.alive(clock.monotonic(), within),
            "a stuck loop is not alive"
        );
        controls.beat(clock.monotonic());
        assert!(handle.alive(clock.monotonic(), within));
    }

    #[tokio::test]
    async fn a_stopped_daemon_answers_every_question() {
        let (handle, controls) = channel();
        drop(controls);
        assert!(matches!(
            handle.run_now("backup", Vec::new()).await,
            Err(Refusal::ShuttingDown)
        ));
        assert!(!handle.stop(7).await);
        assert!(handle.jobs().await.is_empty());
    }
}
