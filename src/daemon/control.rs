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

/// When the scheduler loop last went round, for a health check.
#[derive(Debug, Default)]
struct Liveness {
    /// Milliseconds since `epoch` of the last iteration (0: none yet).
    last_ms: AtomicU64,
    epoch: std::sync::OnceLock<tokio::time::Instant>,
}

impl Liveness {
    fn epoch(&self) -> tokio::time::Instant {
        *self.epoch.get_or_init(tokio::time::Instant::now)
    }

    fn beat(&self) {
        let ms = self.epoch().elapsed().as_millis().max(1);
        self.last_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn since_last(&self) -> Option<Duration> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(
                self.epoch()
                    .elapsed()
                    .saturating_sub(Duration::from_millis(ms)),
            ),
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
    /// The loop went round.
    pub(super) fn beat(&self) {
        self.liveness.beat();
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

    /// Whether the scheduler loop went round within `within` (twice its
    /// longest sleep is the health check's rule).
    pub fn alive(&self, within: Duration) -> bool {
        self.liveness
            .since_last()
            .is_some_and(|since| since <= within)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_loop_is_alive_while_it_beats() {
        let (handle, controls) = channel();
        let within = Duration::from_secs(120);
        assert!(!handle.alive(within), "not before the first iteration");
        controls.beat();
        assert!(handle.alive(within));
        tokio::time::advance(Duration::from_secs(121)).await;
        assert!(!handle.alive(within), "a stuck loop is not alive");
        controls.beat();
        assert!(handle.alive(within));
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
