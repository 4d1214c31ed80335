//! Running a container to its end: start it (or take it over from a previous
//! daemon), stream its output, stop it when asked or when its timeout passes,
//! and learn from the engine how it ended.
//!
//! The rules, each from a fault seen in practice:
//! - The engine's record of the exit is the truth, and nothing here destroys it:
//!   a container is never removed here. The caller removes it once the end is
//!   recorded (a crash in between leaves an exited container that the next start
//!   adopts, rather than an attempt nobody can account for).
//! - A stop is sent only to a container that still runs. A container that ended
//!   by itself keeps its own exit, even when a timeout or a deadline passes at
//!   the same moment or while the daemon was away (an adopted container).
//! - An engine that goes away is asked again, with backoff, until it answers; a
//!   graceful dockerd stop ends containers itself (exit 143), and that exit is
//!   what is recorded. An engine that answers but no longer knows the container
//!   (its state was lost) ends the attempt with [`EngineError::Lost`].
//! - An OOM kill is confirmed from more than one signal: `State.OOMKilled`, and
//!   for a memory-limited container that failed without it, the engine's `oom`
//!   event and a second inspect (on cgroup v1 the flag may be set after the exit).

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, KillContainerOptionsBuilder, LogsOptionsBuilder,
    StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::{Attached, ContainerSpec, Engine, EngineError, Event, Exit, Output};
use crate::store::Stream;

/// How long to wait between two questions to an engine that does not answer.
const ASK_AGAIN_MAX: Duration = Duration::from_secs(2);

/// What the engine says of a container.
#[derive(Debug)]
pub enum Presence {
    /// Created, never started.
    Created,
    /// Running (or paused, or restarting).
    Running,
    /// It ended (exited, dead, or being removed).
    Exited,
    /// The engine answers and has no such container.
    Gone,
    /// The engine did not answer, or answered with an error: ask again.
    Unknown(EngineError),
}

/// What a supervision watches besides the container.
#[derive(Debug, Clone, Copy)]
pub struct Watch<'a> {
    /// Output and restarts go here as they happen.
    pub events: &'a mpsc::Sender<Event>,
    /// Stop the container: its stop signal, then SIGKILL after its grace.
    pub stop: &'a CancellationToken,
    /// Stop asking an engine that does not answer and return
    /// [`EngineError::Abandoned`] (the daemon shuts down; the next start asks).
    pub abandon: &'a CancellationToken,
    /// Stop the container once it has run this long (counted from its start
    /// here, or from now for a container taken over). `None`: no limit.
    pub timeout: Option<Duration>,
}

fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn presence_of(inspect: &ContainerInspectResponse) -> Presence {
    use ContainerStateStatusEnum as S;
    match inspect.state.as_ref().and_then(|s| s.status) {
        Some(S::CREATED) => Presence::Created,
        Some(S::RUNNING | S::PAUSED | S::RESTARTING) => Presence::Running,
        _ => Presence::Exited,
    }
}

impl Engine {
    /// Inspect a container: `Ok(None)` when the engine has no such container.
    async fn inspect(
        &self,
        id_or_name: &str,
    ) -> Result<Option<ContainerInspectResponse>, EngineError> {
        let docker = self.docker().await?;
        match docker
            .inspect_container(id_or_name, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspect) => Ok(Some(inspect)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(EngineError::from_bollard(
                format!("inspecting container {id_or_name}"),
                e,
            )),
        }
    }

    /// What the engine says of the container `id_or_name`, and its id.
    pub async fn presence(&self, id_or_name: &str) -> (Presence, Option<String>) {
        match self.inspect(id_or_name).await {
            Ok(Some(inspect)) => (presence_of(&inspect), inspect.id),
            Ok(None) => (Presence::Gone, None),
            Err(e) => (Presence::Unknown(e), None),
        }
    }

    /// Inspect `id`, asking again with backoff while the engine does not answer,
    /// until it does or `abandon` fires. A container the engine does not know is
    /// [`EngineError::Lost`].
    async fn inspect_until_answered(
        &self,
        id: &str,
        abandon: &CancellationToken,
    ) -> Result<ContainerInspectResponse, EngineError> {
        let mut delay = Duration::from_millis(100);
        let mut said = false;
        loop {
            match self.inspect(id).await {
                Ok(Some(inspect)) => return Ok(inspect),
                Ok(None) => {
                    return Err(EngineError::Lost {
                        container: id.to_owned(),
                    });
                }
                Err(e) => {
                    if !said {
                        tracing::warn!(container = %id, error = %e, "cannot learn the container's state from the Docker engine; asking again until it answers");
                        said = true;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = abandon.cancelled() => {
                    return Err(EngineError::Abandoned { container: id.to_owned() });
                }
            }
            delay = (delay * 2).min(ASK_AGAIN_MAX);
        }
    }

    /// Start the container `id` that [`Engine::create`] made from `spec`, attach
    /// first, and see it to its end (see [`Engine::run_attached`]).
    pub async fn run_created(
        &self,
        id: &str,
        spec: &ContainerSpec,
        watch: Watch<'_>,
    ) -> Result<Exit, EngineError> {
        let attached = self.attach(id, &spec.name).await?;
        self.run_attached(attached, spec, watch).await
    }

    /// Start a container already attached to and see it to its end: stream its
    /// output as [`Event`]s, stop it when `watch.stop` fires or it runs past
    /// `watch.timeout`, then inspect its exit. The container is not removed.
    pub async fn run_attached(
        &self,
        attached: Attached,
        spec: &ContainerSpec,
        watch: Watch<'_>,
    ) -> Result<Exit, EngineError> {
        let Attached { id, output } = attached;
        let docker = self.docker().await?;
        crate::failpoint::pause("after-create").await;
        let mut output_broken = false;
        if let Err(e) = docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            let error = EngineError::from_bollard(
                format!("starting container {} (image {})", spec.name, spec.image),
                e,
            );
            if !error.is_unreachable() {
                return Err(error);
            }
            // The engine went away during the start: whether it started is
            // known only once the engine answers again.
            let inspect = self.inspect_until_answered(&id, watch.abandon).await?;
            if matches!(presence_of(&inspect), Presence::Created) {
                return Err(error);
            }
            output_broken = true;
        }
        crate::failpoint::pause("after-start").await;
        self.follow(
            &id,
            &spec.name,
            spec.stop_grace,
            output,
            output_broken,
            watch,
        )
        .await
    }

    /// Take over a container a previous daemon left (by id, or by name when its
    /// id was never recorded): one created and never started is started now;
    /// one that runs is followed to its end; one that already ended is not
    /// stopped and keeps its own exit. Its whole output is sent again from the
    /// start (the caller replaces what it had stored). Not removed.
    pub async fn adopt(
        &self,
        id_or_name: &str,
        grace: Duration,
        watch: Watch<'_>,
    ) -> Result<Exit, EngineError> {
        let inspect = self
            .inspect_until_answered(id_or_name, watch.abandon)
            .await?;
        let id = inspect.id.clone().unwrap_or_else(|| id_or_name.to_owned());
        let image = inspect
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        match presence_of(&inspect) {
            Presence::Created => {
                let attached = self.attach(&id, &id).await?;
                let spec = ContainerSpec {
                    name: id.clone(),
                    image,
                    stop_grace: grace,
                    ..Default::default()
                };
                self.run_attached(attached, &spec, watch).await
            }
            presence => {
                let ended = matches!(presence, Presence::Exited);
                let watch = Watch {
                    // Time limits apply to time it was running, not to time it lay exited.
                    timeout: watch.timeout.filter(|_| !ended),
                    ..watch
                };
                let docker = self.docker().await?;
                let logs = LogsOptionsBuilder::default()
                    .follow(true)
                    .stdout(true)
                    .stderr(true)
                    .build();
                let output: Output = Box::pin(docker.logs(&id, Some(logs)));
                self.follow(&id, &id, grace, output, false, watch).await
            }
        }
    }

    /// Follow a started container to its end (see the module's rules).
    async fn follow(
        &self,
        id: &str,
        name: &str,
        grace: Duration,
        mut output: Output,
        mut output_broken: bool,
        watch: Watch<'_>,
    ) -> Result<Exit, EngineError> {
        let docker = self.docker().await?;
        let mut wait = self.wait_for_exit(&docker, id);
        // Monotonic: setting the wall clock does not move a timeout.
        let expiry = tokio::time::sleep(
            watch
                .timeout
                .unwrap_or(Duration::MAX)
                .min(Duration::from_secs(100 * 365 * 86_400)),
        );
        tokio::pin!(expiry);
        let (mut output_open, mut wait_open, mut exited) = (!output_broken, true, false);
        let mut stopping: Option<(AbortOnDropHandle<bool>, bool)> = None;
        // The backstop asks the engine directly once the output has closed and
        // the wait has not answered within a second (it normally answers in a few
        // ms), or at once when the wait broke; then less and less often.
        let mut poll_every = Duration::from_secs(1);
        let poll = tokio::time::sleep(if output_open {
            poll_every
        } else {
            Duration::ZERO
        });
        tokio::pin!(poll);
        let mut engine_away = false;
        while output_open || !exited {
            tokio::select! {
                item = output.next(), if output_open => match item {
                    Some(Ok(item)) => send_output(watch.events, item).await,
                    Some(Err(e)) => {
                        tracing::warn!(container = %name, error = %e, "output stream broke; waiting for the exit");
                        (output_open, output_broken) = (false, true);
                        poll.as_mut().reset(tokio::time::Instant::now() + poll_every);
                    }
                    None => {
                        output_open = false;
                        poll.as_mut().reset(tokio::time::Instant::now() + poll_every);
                    }
                },
                result = &mut wait, if wait_open => {
                    wait_open = false;
                    exited = result.unwrap_or(false);
                    if !exited {
                        // The connection to the engine broke: the live output may
                        // have ended with it, without an error.
                        tracing::warn!(container = %name, "lost the engine while waiting for the container; asking again");
                        output_broken = true;
                        poll_every = Duration::from_millis(100);
                        poll.as_mut().reset(tokio::time::Instant::now() + poll_every);
                    }
                }
                _ = watch.stop.cancelled(), if stopping.is_none() && !exited => {
                    stopping = Some((self.stop_if_running(id, grace, watch.abandon), false));
                }
                _ = &mut expiry, if watch.timeout.is_some() && stopping.is_none() && !exited => {
                    tracing::info!(container = %name, "timeout reached; stopping the container");
                    stopping = Some((self.stop_if_running(id, grace, watch.abandon), true));
                }
                _ = &mut poll, if (!output_open || !wait_open) && !exited => {
                    match self.presence(id).await.0 {
                        Presence::Exited => exited = true,
                        Presence::Gone => return Err(EngineError::Lost { container: name.to_owned() }),
                        Presence::Created | Presence::Running => {
                            if engine_away {
                                tracing::info!(container = %name, "the Docker engine answers again; the container still runs");
                                engine_away = false;
                            }
                            if !wait_open {
                                // Listen again: the wait broke (with the engine, or alone).
                                wait = self.wait_for_exit(&docker, id);
                                wait_open = true;
                            }
                        }
                        Presence::Unknown(e) => {
                            if !engine_away {
                                tracing::warn!(container = %name, error = %e, "cannot tell whether the container still runs; asking again until the engine answers");
                                engine_away = true;
                            }
                            if watch.abandon.is_cancelled() {
                                return Err(EngineError::Abandoned { container: name.to_owned() });
                            }
                        }
                    }
                    poll_every = (poll_every * 2).min(ASK_AGAIN_MAX);
                    poll.as_mut().reset(tokio::time::Instant::now() + poll_every);
                }
            }
        }
        let (stopped, timed_out) = match stopping {
            // Whether a stop reached a running container.
            Some((handle, for_timeout)) => {
                let acted = handle.await.unwrap_or(true);
                (acted && !for_timeout, acted && for_timeout)
            }
            None => (false, false),
        };
        crate::failpoint::pause("after-exit").await;
        let inspect = self.inspect_until_answered(id, watch.abandon).await?;
        if output_broken {
            self.resend_output(&docker, id, name, watch.events).await;
        }
        let state = inspect.state.clone().unwrap_or_default();
        if state.running == Some(true) {
            return Err(EngineError::Operation {
                action: format!("waiting for container {name}"),
                message: "the engine reports it still running after its exit was seen".into(),
            });
        }
        let exit_code = state.exit_code.ok_or_else(|| EngineError::Operation {
            action: format!("inspecting container {name}"),
            message: "the engine reported no exit code".into(),
        })?;
        let oom_killed = self.oom_killed(&docker, id, &inspect).await;
        let finished_at = state
            .finished_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .filter(|t| t.timestamp() > 0);
        Ok(Exit {
            exit_code,
            oom_killed,
            stopped,
            timed_out,
            finished_at,
        })
    }

    /// A wait for the container's end (`condition=not-running`), answering
    /// `true` once it has ended and `false` when the connection broke. Registered
    /// after the start, it cannot miss the exit: cronbox never sets AutoRemove,
    /// so a container that has already exited is still there and answers at once.
    fn wait_for_exit(&self, docker: &Docker, id: &str) -> AbortOnDropHandle<bool> {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = Box::pin(docker.wait_container(id, Some(options)));
        AbortOnDropHandle::new(tokio::spawn(async move {
            // A non-zero exit arrives as a DockerContainerWaitError: the container
            // ended either way. Any other error says nothing about the container.
            matches!(
                wait.next().await,
                Some(Ok(_)) | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. }))
            )
        }))
    }

    /// `docker stop` (the container's stop signal, then SIGKILL after `grace`),
    /// in the background, but only if the container still runs: `true` when the
    /// stop was sent to a running container, `false` when it had already ended
    /// (its own exit stands). While the engine does not answer, asks again.
    fn stop_if_running(
        &self,
        id: &str,
        grace: Duration,
        abandon: &CancellationToken,
    ) -> AbortOnDropHandle<bool> {
        let (engine, id, abandon) = (self.clone(), id.to_owned(), abandon.clone());
        let secs = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        AbortOnDropHandle::new(tokio::spawn(async move {
            let mut delay = Duration::from_millis(100);
            loop {
                match engine.presence(&id).await.0 {
                    Presence::Exited | Presence::Gone => return false,
                    Presence::Created | Presence::Running => break,
                    Presence::Unknown(_) if abandon.is_cancelled() => return false,
                    Presence::Unknown(_) => {}
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(ASK_AGAIN_MAX);
            }
            let Ok(docker) = engine.docker().await else {
                return true;
            };
            let options = StopContainerOptionsBuilder::default().t(secs).build();
            if let Err(e) = docker.stop_container(&id, Some(options)).await {
                tracing::warn!(container = %id, error = %e, "stopping the container failed; killing it");
                let kill = KillContainerOptionsBuilder::default()
                    .signal("SIGKILL")
                    .build();
                if let Err(e) = docker.kill_container(&id, Some(kill)).await {
                    tracing::error!(container = %id, error = %e, "killing the container failed");
                }
            }
            true
        }))
    }

    /// Send the container's whole output again from its logs (after the live
    /// stream broke, what it printed meanwhile is only there).
    async fn resend_output(
        &self,
        docker: &Docker,
        id: &str,
        name: &str,
        events: &mpsc::Sender<Event>,
    ) {
        tracing::info!(container = %name, "reading the container's whole output again from its logs");
        let _ = events.send(Event::Restart).await;
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = docker.logs(id, Some(options));
        while let Some(item) = logs.next().await {
            match item {
                Ok(item) => send_output(events, item).await,
                Err(e) => {
                    tracing::warn!(container = %name, error = %e, "could not read the container's logs again; its output may be incomplete");
                    break;
                }
            }
        }
    }

    /// Whether the kernel killed the container for memory: what its inspect
    /// says (see [`oom_says`]), else, asked, the engine's `oom` event for the
    /// container since its start, then the flag once more (on cgroup v1 the
    /// engine may set it after handling the exit).
    async fn oom_killed(
        &self,
        docker: &Docker,
        id: &str,
        inspect: &ContainerInspectResponse,
    ) -> bool {
        let since = match oom_says(inspect) {
            OomSays::Killed => return true,
            OomSays::NotKilled => return false,
            OomSays::Ask { since } => since,
        };
        if self.oom_event_since(docker, id, since).await {
            tracing::info!(container = %id, "OOM kill confirmed by the engine's oom event (State.OOMKilled was not set)");
            return true;
        }
        matches!(self.inspect(id).await, Ok(Some(again)) if again.state.as_ref().and_then(|s| s.oom_killed) == Some(true))
    }

    /// Whether the engine logged an `oom` event for the container since the
    /// Unix time `since` (the engine keeps recent events; bounded to 3 s).
    async fn oom_event_since(&self, docker: &Docker, id: &str, since: i64) -> bool {
        // Half a second ahead (the engine takes fractional seconds): the events
        // the engine has not logged yet get that long, and the answer ends then.
        let until = crate::clock::unix_now_millis().saturating_add(500);
        let options = EventsOptions {
            since: Some(since.to_string()),
            until: Some(format!(
                "{}.{:03}",
                until.div_euclid(1000),
                until.rem_euclid(1000)
            )),
            filters: Some(HashMap::from([
                ("container".to_owned(), vec![id.to_owned()]),
                ("event".to_owned(), vec!["oom".to_owned()]),
            ])),
        };
        let mut events = docker.events(Some(options));
        let seen = async {
            while let Some(event) = events.next().await {
                if event.is_ok_and(|e| e.action.as_deref() == Some("oom")) {
                    return true;
                }
            }
            false
        };
        tokio::time::timeout(Duration::from_secs(3), seen)
            .await
            .unwrap_or(false)
    }
}

/// What a container's inspect says of an OOM kill.
#[derive(Debug, PartialEq, Eq)]
enum OomSays {
    /// `State.OOMKilled` is set.
    Killed,
    /// Not an OOM kill: no memory limit, or it succeeded.
    NotKilled,
    /// A memory-limited container that failed without the flag: the
    /// flag is unreliable on cgroup v1, so ask the engine's events since this
    /// Unix time (the container's start; 0 when unknown).
    Ask { since: i64 },
}

fn oom_says(inspect: &ContainerInspectResponse) -> OomSays {
    let state = inspect.state.clone().unwrap_or_default();
    if state.oom_killed == Some(true) {
        return OomSays::Killed;
    }
    let limited = inspect
        .host_config
        .as_ref()
        .and_then(|h| h.memory)
        .is_some_and(|m| m > 0);
    // Any failure: the kernel may kill a child (a shell then fails with its own
    // code), not only the container's main process (137).
    if state.exit_code.is_none_or(|code| code == 0) || !limited {
        return OomSays::NotKilled;
    }
    let since = state
        .started_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| t.timestamp());
    OomSays::Ask { since }
}

/// Pass one item of a container's output on.
async fn send_output(events: &mpsc::Sender<Event>, item: LogOutput) {
    let event = match item {
        LogOutput::StdOut { message } => Event::Output(Stream::Stdout, message),
        LogOutput::StdErr { message } => Event::Output(Stream::Stderr, message),
        _ => return,
    };
    // The receiver going away only means nobody records; the container runs on.
    let _ = events.send(event).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerState, HostConfig};

    #[test]
    fn only_a_memory_limited_failure_without_the_flag_asks_for_a_second_signal() {
        let inspect =
            |flag: Option<bool>, exit: i64, memory: Option<i64>, started: Option<&str>| {
                ContainerInspectResponse {
                    state: Some(ContainerState {
                        oom_killed: flag,
                        exit_code: Some(exit),
                        started_at: started.map(str::to_owned),
                        ..Default::default()
                    }),
                    host_config: Some(HostConfig {
                        memory,
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            };
        let start = Some("2026-11-29T22:05:00.123456789Z");
        let cases = [
            // The flag alone is enough, whatever the exit.
            (
                inspect(Some(true), 137, Some(16 << 20), start),
                OomSays::Killed,
            ),
            (
                inspect(Some(true), 1, Some(16 << 20), start),
                OomSays::Killed,
            ),
            // SIGKILL under a memory limit without the flag: ask, since its start.
            (
                inspect(Some(false), 137, Some(16 << 20), start),
                OomSays::Ask {
                    since: 1_795_989_900,
                },
            ),
            (
                inspect(None, 137, Some(16 << 20), start),
                OomSays::Ask {
                    since: 1_795_989_900,
                },
            ),
            (
                inspect(None, 137, Some(16 << 20), Some("not a time")),
                OomSays::Ask { since: 0 },
            ),
            // No memory limit: the kernel's memory killer is not the container's.
            (inspect(Some(false), 137, None, start), OomSays::NotKilled),
            (
                inspect(Some(false), 137, Some(0), start),
                OomSays::NotKilled,
            ),
            // Any failure may hide an OOM kill (a shell whose child was killed exits 1).
            (
                inspect(Some(false), 1, Some(16 << 20), start),
                OomSays::Ask {
                    since: 1_795_989_900,
                },
            ),
            (
                inspect(Some(false), 143, Some(16 << 20), start),
                OomSays::Ask {
                    since: 1_795_989_900,
                },
            ),
            // A success is the job's own.
            (
                inspect(Some(false), 0, Some(16 << 20), start),
                OomSays::NotKilled,
            ),
            (ContainerInspectResponse::default(), OomSays::NotKilled),
        ];
        for (inspect, want) in cases {
            assert_eq!(oom_says(&inspect), want, "{:?}", inspect.state);
        }
    }
}
