//! The run supervisor: one run of one job, from its `runs` row through every
//! attempt (image, container, output, exit) to its final status, following the
//! job's retry policy. Used by the daemon for ticks and by `cronbox run`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Job;
use crate::engine::{self, ContainerSpec, Engine, EngineError, Event};
use crate::policy::{self, Decision};
use crate::store::{self, RunStatus, Store, StoreError, Stream, Trigger};

/// Output is written to the database in chunks of at most this size...
const CHUNK_BYTES: usize = 64 * 1024;
/// ...or at least this often while the container runs.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// What a supervisor needs from the outside world.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Store,
    pub engine: Engine,
    pub clock: Arc<dyn Clock>,
    /// How long a stopped container gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Copy the output live to this process's stdout and stderr (`cronbox run`).
    pub echo: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: i64,
    pub status: RunStatus,
    /// The exit code of the last attempt that ran a container to its end.
    pub exit_code: Option<i64>,
    pub attempts: u32,
}

/// Run `job` once for `trigger` at `scheduled_at`, with retries. Returns `None` when
/// this scheduled tick was already recorded (it never runs twice). `cancel` is the
/// daemon's shutdown: the running container is stopped and the run recorded as
/// interrupted.
pub async fn execute(
    ctx: &Context,
    job: &Job,
    trigger: Trigger,
    scheduled_at: DateTime<Utc>,
    cancel: &CancellationToken,
) -> Result<Option<RunReport>, StoreError> {
    let Some(run_id) = ctx
        .store
        .insert_run(&job.name, trigger, scheduled_at, ctx.clock.now())
        .await?
    else {
        tracing::info!(job = %job.name, tick = %scheduled_at, "tick already recorded; not running it again");
        return Ok(None);
    };
    tracing::info!(job = %job.name, run = run_id, trigger = trigger.as_str(), "run started");
    let retry = job.retry_policy();
    let mut attempt: u32 = 1;
    let mut exit_code = None;
    loop {
        let attempt_id = ctx
            .store
            .start_attempt(run_id, attempt, &job.image, ctx.clock.now())
            .await?;
        let (end, record) = run_attempt(ctx, job, run_id, attempt, attempt_id, cancel).await;
        ctx.store.finish_attempt(attempt_id, &record).await?;
        if record.exit_code.is_some() {
            exit_code = record.exit_code;
        }
        tracing::info!(
            job = %job.name, run = run_id, attempt, outcome = record.outcome,
            exit_code = ?record.exit_code, error = record.error.as_deref().unwrap_or(""),
            "attempt finished"
        );
        let (status, reason) = match retry.decide(attempt, end) {
            Decision::Retry(delay) => {
                tracing::info!(job = %job.name, run = run_id, attempt, delay = %humantime::format_duration(delay), "retrying after backoff");
                tokio::select! {
                    _ = ctx.clock.sleep(delay) => {
                        attempt += 1;
                        continue;
                    }
                    _ = cancel.cancelled() => (RunStatus::Interrupted, Some("the daemon shut down while the run waited to retry".to_owned())),
                }
            }
            Decision::Succeed => (RunStatus::Succeeded, None),
            Decision::Fail => (RunStatus::Failed, Some(failure_reason(&record, attempt))),
            Decision::Interrupt => (
                RunStatus::Interrupted,
                Some("the daemon shut down during the attempt".to_owned()),
            ),
        };
        ctx.store
            .finish_run(run_id, status, ctx.clock.now(), reason.as_deref())
            .await?;
        tracing::info!(job = %job.name, run = run_id, status = status.as_str(), attempts = attempt, "run finished");
        return Ok(Some(RunReport {
            run_id,
            status,
            exit_code,
            attempts: attempt,
        }));
    }
}

fn failure_reason(record: &store::AttemptEnd, attempts: u32) -> String {
    let last = match (&record.error, record.exit_code) {
        (Some(error), _) => error.clone(),
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => record.outcome.to_owned(),
    };
    format!("{attempts} attempt(s) failed; the last: {last}")
}

/// The name of the container of one attempt: unique per database, run and attempt.
pub fn container_name(database: &std::path::Path, job: &str, run_id: i64, attempt: u32) -> String {
    // FNV-1a: a stable short tag for the database, so two daemons never share names.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in database.as_os_str().as_encoded_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("cronbox-{job}-{run_id}-{attempt}-{hash:08x}")
}

async fn run_attempt(
    ctx: &Context,
    job: &Job,
    run_id: i64,
    attempt: u32,
    attempt_id: i64,
    cancel: &CancellationToken,
) -> (policy::AttemptEnd, store::AttemptEnd) {
    let failed = |outcome: &'static str, error: &EngineError| store::AttemptEnd {
        finished_at: ctx.clock.now(),
        exit_code: None,
        oom_killed: None,
        outcome,
        error: Some(error.to_string()),
    };
    if let Err(error) = ctx.engine.ensure_image(&job.image, job.pull).await {
        return match error {
            EngineError::ImageMissing { .. } => (
                policy::AttemptEnd::ImageMissing,
                failed("image-missing", &error),
            ),
            _ => (
                policy::AttemptEnd::EngineError,
                failed("engine-error", &error),
            ),
        };
    }
    let database = ctx.store.path();
    let labels = HashMap::from([
        (engine::LABEL_JOB.to_owned(), job.name.clone()),
        (engine::LABEL_RUN.to_owned(), run_id.to_string()),
        (engine::LABEL_ATTEMPT.to_owned(), attempt.to_string()),
        (engine::LABEL_DB.to_owned(), database.display().to_string()),
    ]);
    let spec = ContainerSpec {
        name: container_name(database, &job.name, run_id, attempt),
        image: job.image.clone(),
        command: job.command.clone(),
        env: job.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        binds: job.volumes.iter().map(|v| v.to_bind()).collect(),
        labels,
    };
    let (tx, rx) = mpsc::channel(64);
    let container = async move {
        let result = ctx.engine.run(&spec, &tx, cancel, ctx.stop_grace).await;
        drop(tx);
        result
    };
    let (result, ()) = tokio::join!(container, record_output(ctx, job, attempt_id, rx));
    match result {
        Ok(exit) if exit.stopped => (
            policy::AttemptEnd::Interrupted,
            store::AttemptEnd {
                finished_at: ctx.clock.now(),
                exit_code: Some(exit.exit_code),
                oom_killed: Some(exit.oom_killed),
                outcome: "interrupted",
                error: None,
            },
        ),
        Ok(exit) => (
            policy::AttemptEnd::Exited(exit.exit_code),
            store::AttemptEnd {
                finished_at: ctx.clock.now(),
                exit_code: Some(exit.exit_code),
                oom_killed: Some(exit.oom_killed),
                outcome: "exited",
                error: None,
            },
        ),
        Err(error) => (
            policy::AttemptEnd::EngineError,
            failed("engine-error", &error),
        ),
    }
}

/// Buffers output per stream and writes it to the database in chunks while the
/// container runs. A database error is logged and the output dropped; the
/// container is never held up by it.
async fn record_output(ctx: &Context, job: &Job, attempt_id: i64, mut rx: mpsc::Receiver<Event>) {
    let mut buffers = [
        (Stream::Stdout, Vec::new(), 0i64),
        (Stream::Stderr, Vec::new(), 0i64),
    ];
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let write = |stream: Stream, data: &Bytes| {
        if ctx.echo {
            let result = match stream {
                Stream::Stdout => std::io::stdout()
                    .lock()
                    .write_all(data)
                    .and_then(|()| std::io::stdout().flush()),
                Stream::Stderr => std::io::stderr().lock().write_all(data),
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "could not echo output");
            }
        }
    };
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = flush.tick() => {
                for (stream, buffer, seq) in &mut buffers {
                    store_chunk(ctx, job, attempt_id, *stream, buffer, seq).await;
                }
                continue;
            }
        };
        match event {
            Some(Event::Created(id)) => {
                if let Err(e) = ctx.store.set_container(attempt_id, &id).await {
                    tracing::error!(job = %job.name, error = %e, "could not record the container id");
                }
            }
            Some(Event::Output(stream, data)) => {
                write(stream, &data);
                let (_, buffer, seq) = &mut buffers[usize::from(stream == Stream::Stderr)];
                buffer.extend_from_slice(&data);
                if buffer.len() >= CHUNK_BYTES {
                    store_chunk(ctx, job, attempt_id, stream, buffer, seq).await;
                }
            }
            None => break,
        }
    }
    for (stream, buffer, seq) in &mut buffers {
        store_chunk(ctx, job, attempt_id, *stream, buffer, seq).await;
    }
}

async fn store_chunk(
    ctx: &Context,
    job: &Job,
    attempt_id: i64,
    stream: Stream,
    buffer: &mut Vec<u8>,
    seq: &mut i64,
) {
    if buffer.is_empty() {
        return;
    }
    if let Err(e) = ctx
        .store
        .append_output(attempt_id, stream, *seq, ctx.clock.now(), buffer)
        .await
    {
        tracing::error!(job = %job.name, attempt = attempt_id, error = %e, "could not store output");
    }
    *seq += 1;
    buffer.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_differ_per_database_run_and_attempt() {
        let a = container_name(
            std::path::Path::new("/var/lib/cronbox/cronbox.db"),
            "backup",
            7,
            1,
        );
        assert!(a.starts_with("cronbox-backup-7-1-"), "{a}");
        assert_ne!(
            a,
            container_name(std::path::Path::new("/tmp/other.db"), "backup", 7, 1)
        );
        assert_ne!(
            a,
            container_name(
                std::path::Path::new("/var/lib/cronbox/cronbox.db"),
                "backup",
                7,
                2
            )
        );
        assert_eq!(
            a,
            container_name(
                std::path::Path::new("/var/lib/cronbox/cronbox.db"),
                "backup",
                7,
                1
            )
        );
    }
}
