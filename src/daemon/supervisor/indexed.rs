//! Indexed runs (`completions` above 1; Kubernetes' Indexed Job): one run does
//! `completions` pieces of work, indexes 0..completions-1, at most
//! `parallelism` containers at once, each index with its own attempts and
//! retries (`backoffLimitPerIndex`), the run's deadline over them all.
//!
//! Each index is a task of the run's supervision (polled in the run's own
//! future, so a detach drops them all at once): it takes a `max_concurrent`
//! slot like any attempt, records its attempt before its container is made, and
//! records the attempt's end with where the index stands (`run_indexes`) in one
//! transaction before its container is removed. The run's end is recorded once
//! every index has ended; a process killed before that leaves a run the
//! start-up repair resumes: succeeded and failed indexes are not run again,
//! running ones are adopted, the others start.
//!
//! When more indexes have failed than `max_failed_indexes`, the running ones
//! are stopped (the run's stop signal, then SIGKILL after `stop_grace`), no
//! further index starts, and the run fails.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::OwnedSemaphorePermit;

use super::{
    Adoption, Context, Ends, Interruption, REPLACED, RunReport, STOPPED, Waited, announce_attempt,
    chain, failure_reason, persist, remove_recorded, take_slot, wait, with_params,
};
use crate::clock::{self, Sleep};
use crate::config::Job;
use crate::daemon::attempt::{self, Ended};
use crate::events::Event;
use crate::policy::Decision;
use crate::store::{IndexNext, IndexProgress, RunStatus, StoreError};

pub use crate::config::{COMPLETIONS_VAR, INDEX_VAR};

/// What the run's supervision hands over once the run may start.
pub(super) struct Handover {
    /// The job's environment, with the run's parameters.
    pub env: Vec<String>,
    /// The run's first container must get its slot by then.
    pub start_by: Option<chrono::DateTime<chrono::Utc>>,
    /// Told once the first slot request is in line.
    pub queued: Option<tokio::sync::oneshot::Sender<()>>,
    /// Attempts a previous daemon left running, with the slot each holds.
    pub adopt: Vec<(Adoption, Option<OwnedSemaphorePermit>)>,
}

/// How one index ended, in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IndexEnd {
    Succeeded,
    /// Its retries are spent or its exit code is fatal: why, in words.
    Failed(String),
    /// The run's deadline passed.
    Deadline,
    /// Stopped from outside; `running`: an attempt of it was running (and is
    /// recorded interrupted or stopped), else it waited.
    Halted {
        why: Interruption,
        running: bool,
    },
    /// Left as it is for the next daemon (an attempt the engine could not be
    /// asked about, or one another process recorded).
    Left,
    /// The run's first container could not start before its `starting_deadline`.
    Missed(&'static str),
}

/// Where an index begins in this process.
#[derive(Default)]
struct Begin {
    /// Attempts it has recorded already.
    attempts: u32,
    /// Wait this long before its next attempt (a resumed retry).
    delay: Option<std::time::Duration>,
    /// Its attempt a previous daemon left running.
    adopt: Option<(Adoption, Option<OwnedSemaphorePermit>)>,
}

/// What every index task of a run shares.
struct Shared<'a> {
    ctx: &'a Context,
    job: &'a Job,
    run_id: i64,
    env: Vec<String>,
    /// The stops of the run, with its own `stop` (cancelled to halt the run's
    /// indexes when too many failed).
    stops: super::Stops,
    /// Cancelled when the run's deadline passes.
    deadline: tokio_util::sync::CancellationToken,
    start_by: Option<chrono::DateTime<chrono::Utc>>,
    queued: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// Whether any index has had a slot (then `starting_deadline` is met).
    started: AtomicBool,
    /// Attempts the run has recorded.
    attempts: AtomicU32,
    /// The exit code of the last attempt that ran a container to its end.
    exit_code: Mutex<Option<i64>>,
}

/// Drive the indexes of run `run_id` to the run's end (see the module's
/// rules), `deadline` bounding the whole run.
pub(super) async fn drive(
    ctx: &Context,
    job: &Job,
    run_id: i64,
    handover: Handover,
    mut deadline: Sleep,
    ends: &Ends<'_>,
    stops: &super::Stops,
) -> Result<RunReport, StoreError> {
    let progress = persist(
        ctx,
        stops,
        "reading where the run's indexes stand",
        None,
        || ctx.store.index_progress(run_id),
    )
    .await?;
    let Handover {
        env,
        start_by,
        queued,
        adopt,
    } = handover;
    let shared = Shared {
        ctx,
        job,
        run_id,
        env,
        stops: super::Stops {
            stop: stops.stop.child_token(),
            ..stops.clone()
        },
        deadline: tokio_util::sync::CancellationToken::new(),
        start_by,
        queued: Mutex::new(queued),
        started: AtomicBool::new(progress.values().any(|p| p.attempts > 0)),
        attempts: AtomicU32::new(progress.values().map(|p| p.attempts).sum()),
        exit_code: Mutex::new(None),
    };
    let (mut todo, mut tally) = plan(ctx, job, &progress, adopt, run_id).await?;
    let parallelism = usize::try_from(job.parallelism.max(1)).unwrap_or(usize::MAX);
    let mut tasks = FuturesUnordered::new();
    let mut deadline_passed = false;
    loop {
        while tasks.len() < parallelism && !tally.halting(&shared) {
            let Some((index, begin)) = todo.pop_front() else {
                break;
            };
            tasks.push(run_index(&shared, index, begin));
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            Some((index, end)) = tasks.next() => {
                let end = end?;
                tracing::info!(job = %job.name, run = run_id, index, end = ?end, "index ended");
                tally.add(index, end);
                if tally.too_many_failed(job) && !shared.stops.stop.is_cancelled() {
                    tracing::warn!(job = %job.name, run = run_id, failed = tally.failed.len(), "more indexes failed than max_failed_indexes allows; stopping the run's other indexes");
                    tally.halted_by_failures = true;
                    shared.stops.stop.cancel();
                }
            }
            () = &mut deadline, if !deadline_passed => {
                deadline_passed = true;
                tracing::warn!(job = %job.name, run = run_id, "deadline passed: stopping the run's indexes");
                shared.deadline.cancel();
            }
        }
    }
    // Indexes never started count as left waiting.
    tally.unstarted = todo.len();
    let exit_code = *shared.exit_code.lock().unwrap_or_else(|e| e.into_inner());
    let attempts = shared.attempts.load(Ordering::Relaxed);
    finish(ctx, job, &tally, ends, exit_code, attempts).await
}

/// The indexes to run, in order, and the tally of those already ended, from
/// what the database says (`progress`) and the attempts to adopt.
async fn plan(
    ctx: &Context,
    job: &Job,
    progress: &BTreeMap<u32, IndexProgress>,
    adopt: Vec<(Adoption, Option<OwnedSemaphorePermit>)>,
    run_id: i64,
) -> Result<(VecDeque<(u32, Begin)>, Tally), StoreError> {
    let mut adopted: BTreeMap<u32, (Adoption, Option<OwnedSemaphorePermit>)> = BTreeMap::new();
    for (adoption, slot) in adopt {
        match ctx.store.attempt_index(adoption.attempt_id).await? {
            Some(index) => {
                adopted.insert(index, (adoption, slot));
            }
            None => {
                tracing::warn!(job = %job.name, run = run_id, attempt = adoption.attempt, "repair: an attempt of an indexed run has no index; leaving its container to the start-up cleanup");
            }
        }
    }
    let now = ctx.clock.now();
    let mut todo = VecDeque::new();
    let mut tally = Tally::default();
    // Adopted attempts first: their containers run already.
    let mut first = VecDeque::new();
    for index in 0..job.completions {
        let known = progress.get(&index).cloned().unwrap_or_default();
        let mut begin = Begin {
            attempts: known.attempts,
            delay: None,
            adopt: adopted.remove(&index),
        };
        match known.status.as_deref() {
            _ if begin.adopt.is_some() => {
                tracing::info!(job = %job.name, run = run_id, index, "repair: adopting the index's running attempt");
                first.push_back((index, begin));
                continue;
            }
            Some("succeeded") => {
                tally.add(index, IndexEnd::Succeeded);
                continue;
            }
            Some("failed") => {
                tally.add(
                    index,
                    IndexEnd::Failed("failed before the daemon restarted".to_owned()),
                );
                continue;
            }
            Some(_) => begin.delay = known.retry_at.map(|at| clock::until(now, at)),
            None if known.attempts > job.retries => {
                let why = format!("{} attempt(s) made, none left", known.attempts);
                tally.add(index, IndexEnd::Failed(why));
                continue;
            }
            None => {}
        }
        if known.attempts > 0 {
            tracing::info!(job = %job.name, run = run_id, index, attempts = known.attempts, "repair: resuming the index");
        }
        todo.push_back((index, begin));
    }
    first.append(&mut todo);
    Ok((first, tally))
}

/// Run index `index` from `begin` to its end: its attempts, its retries.
async fn run_index(
    shared: &Shared<'_>,
    index: u32,
    begin: Begin,
) -> (u32, Result<IndexEnd, StoreError>) {
    (index, index_attempts(shared, index, begin).await)
}

async fn index_attempts(
    shared: &Shared<'_>,
    index: u32,
    begin: Begin,
) -> Result<IndexEnd, StoreError> {
    let (ctx, job, stops) = (shared.ctx, shared.job, &shared.stops);
    let mut deadline: Sleep = Box::pin(shared.deadline.clone().cancelled_owned());
    let Begin {
        mut attempts,
        delay,
        mut adopt,
    } = begin;
    if let Some(delay) = delay
        && let Err(why) = wait(ctx.clock.sleep(delay), &mut deadline, stops).await
    {
        return Ok(waiting_end(why));
    }
    let env = with_params(
        shared.env.clone(),
        &[
            (INDEX_VAR.to_owned(), index.to_string()),
            (COMPLETIONS_VAR.to_owned(), job.completions.to_string()),
        ],
    );
    loop {
        let (attempt_id, number, ended) = match adopt.take() {
            Some((adopted, slot)) => {
                let ended = super::adopt_attempt(
                    shared.ctx,
                    shared.job,
                    shared.run_id,
                    &adopted,
                    &mut deadline,
                    &shared.stops,
                )
                .await?;
                drop(slot);
                if matches!(ended, Ended::NeverCreated) {
                    attempts = attempts.saturating_sub(1);
                    continue;
                }
                (adopted.attempt_id, adopted.attempt, ended)
            }
            None => {
                let start_by = shared
                    .start_by
                    .filter(|_| !shared.started.load(Ordering::Relaxed));
                let queued = shared.queued.lock().ok().and_then(|mut q| q.take());
                let (permit, waited) =
                    match take_slot(ctx, start_by, queued, &mut deadline, stops).await {
                        Ok(slot) => slot,
                        Err(Waited::Missed(_)) if shared.started.load(Ordering::Relaxed) => {
                            continue;
                        }
                        Err(Waited::Missed(reason)) => return Ok(IndexEnd::Missed(reason)),
                        Err(Waited::Stopped(why)) => return Ok(waiting_end(why)),
                    };
                shared.started.store(true, Ordering::Relaxed);
                let now = ctx.clock.now();
                let (attempt_id, number) =
                    persist(ctx, stops, "recording a new attempt", None, || {
                        ctx.store
                            .start_index_attempt(shared.run_id, index, &job.image, now, waited)
                    })
                    .await?;
                announce_attempt(ctx, job, shared.run_id, number);
                attempts += 1;
                shared.attempts.fetch_add(1, Ordering::Relaxed);
                let ended = attempt::run_attempt(
                    ctx,
                    job,
                    &env,
                    shared.run_id,
                    number,
                    attempt_id,
                    &mut deadline,
                    stops,
                )
                .await;
                drop(permit);
                (attempt_id, number, ended)
            }
        };
        let Ended::Attempt {
            end,
            record,
            container,
        } = ended
        else {
            return Ok(IndexEnd::Left);
        };
        if record.exit_code.is_some()
            && let Ok(mut last) = shared.exit_code.lock()
        {
            *last = record.exit_code;
        }
        let decision = job.retry_policy().decide(attempts, end);
        let now = ctx.clock.now();
        let next = match decision {
            Decision::Succeed => IndexNext::Succeeded,
            Decision::Fail => IndexNext::Failed,
            Decision::Retry(delay) => IndexNext::RetryAt(
                now + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX),
            ),
            Decision::Interrupt | Decision::Stop => IndexNext::Unchanged,
        };
        tracing::info!(
            job = %job.name, run = shared.run_id, index, attempt = number, outcome = record.outcome,
            exit_code = record.exit_code, error = record.error.as_deref().unwrap_or(""),
            "attempt finished"
        );
        let recorded = persist(ctx, stops, "recording the end of an attempt", None, || {
            ctx.store
                .end_index_attempt(shared.run_id, attempt_id, index, &record, next)
        })
        .await?;
        if !recorded {
            tracing::warn!(job = %job.name, run = shared.run_id, index, attempt = number, "the attempt's end was already recorded by another process; leaving the index to it");
            return Ok(IndexEnd::Left);
        }
        ctx.events.publish(Event::AttemptFinished {
            run_id: shared.run_id,
            job: job.name.clone(),
            attempt: number,
            outcome: record.outcome.to_owned(),
            exit_code: record.exit_code,
        });
        if let Some(id) = container {
            remove_recorded(ctx, job, shared.run_id, id).await;
        }
        let delay = match decision {
            Decision::Succeed => return Ok(IndexEnd::Succeeded),
            Decision::Fail => return Ok(failed_end(&record, attempts)),
            Decision::Interrupt => {
                return Ok(IndexEnd::Halted {
                    why: Interruption::Shutdown,
                    running: true,
                });
            }
            Decision::Stop => {
                return Ok(IndexEnd::Halted {
                    why: Interruption::Stopped,
                    running: true,
                });
            }
            Decision::Retry(delay) => delay,
        };
        tracing::info!(job = %job.name, run = shared.run_id, index, delay = %humantime::format_duration(delay), "retrying the index after backoff");
        if let Err(why) = wait(ctx.clock.sleep(delay), &mut deadline, stops).await {
            return Ok(waiting_end(why));
        }
    }
}

/// What an index that failed (its retries spent, or a fatal exit) ends as.
fn failed_end(record: &crate::store::AttemptEnd, attempts: u32) -> IndexEnd {
    match record.outcome {
        "deadline" => IndexEnd::Deadline,
        "replaced" => IndexEnd::Halted {
            why: Interruption::Replaced,
            running: true,
        },
        _ => IndexEnd::Failed(failure_reason(record, attempts)),
    }
}

/// What an index stopped while it waited (for a slot or a retry) ends as.
fn waiting_end(why: Interruption) -> IndexEnd {
    match why {
        Interruption::Deadline => IndexEnd::Deadline,
        why => IndexEnd::Halted {
            why,
            running: false,
        },
    }
}

/// How the run's indexes ended.
#[derive(Debug, Default)]
struct Tally {
    succeeded: usize,
    /// The failed indexes, in index order, with why.
    failed: BTreeMap<u32, String>,
    deadline: bool,
    /// Stopped from outside: why, and whether an attempt was running.
    halted: Vec<(Interruption, bool)>,
    left: usize,
    missed: Option<&'static str>,
    /// Indexes that never started (the run was halted first).
    unstarted: usize,
    /// The run's indexes were stopped because too many failed.
    halted_by_failures: bool,
}

impl Tally {
    fn add(&mut self, index: u32, end: IndexEnd) {
        match end {
            IndexEnd::Succeeded => self.succeeded += 1,
            IndexEnd::Failed(why) => {
                self.failed.insert(index, why);
            }
            IndexEnd::Deadline => self.deadline = true,
            IndexEnd::Halted { why, running } => self.halted.push((why, running)),
            IndexEnd::Left => self.left += 1,
            IndexEnd::Missed(reason) => self.missed = Some(reason),
        }
    }

    fn too_many_failed(&self, job: &Job) -> bool {
        job.max_failed_indexes
            .is_some_and(|max| self.failed.len() > usize::try_from(max).unwrap_or(usize::MAX))
    }

    /// Whether no further index starts.
    fn halting(&self, shared: &Shared<'_>) -> bool {
        let stops = &shared.stops;
        self.halted_by_failures
            || self.deadline
            || self.missed.is_some()
            || shared.deadline.is_cancelled()
            || stops.shutdown.is_cancelled()
            || stops.stop.is_cancelled()
            || stops.replace.is_cancelled()
    }
}

/// Record the run's end from how its indexes ended.
async fn finish(
    ctx: &Context,
    job: &Job,
    tally: &Tally,
    ends: &Ends<'_>,
    exit_code: Option<i64>,
    attempts: u32,
) -> Result<RunReport, StoreError> {
    let failed_list = || {
        let list: Vec<String> = tally.failed.keys().map(u32::to_string).collect();
        list.join(", ")
    };
    let first_failure = || {
        tally
            .failed
            .iter()
            .next()
            .map(|(index, why)| format!("; index {index}: {why}"))
            .unwrap_or_default()
    };
    let halted = |want: Interruption| tally.halted.iter().find(|(why, _)| *why == want);
    let (status, reason) = if tally.halted_by_failures {
        let reason = format!(
            "{} indexes failed, more than max_failed_indexes = {} allows: index(es) {}; the others were stopped{}",
            tally.failed.len(),
            job.max_failed_indexes.unwrap_or(0),
            failed_list(),
            first_failure()
        );
        (RunStatus::Failed, Some(reason))
    } else if tally.deadline {
        let reason = format!(
            "deadline passed: the running indexes were stopped; no further attempt ({} of {} indexes succeeded)",
            tally.succeeded, job.completions
        );
        (RunStatus::Failed, Some(reason))
    } else if halted(Interruption::Shutdown).is_some_and(|(_, running)| *running) {
        let reason = if ctx.resume_later {
            "the daemon shut down during the attempt"
        } else {
            "cronbox run was interrupted (SIGTERM or SIGINT) during the attempt"
        };
        (RunStatus::Interrupted, Some(reason.to_owned()))
    } else if halted(Interruption::Stopped).is_some() {
        (RunStatus::Stopped, Some(STOPPED.to_owned()))
    } else if halted(Interruption::Replaced).is_some() {
        (RunStatus::Failed, Some(REPLACED.to_owned()))
    } else if halted(Interruption::Shutdown).is_some() {
        if ctx.resume_later {
            tracing::info!(job = %job.name, run = ends.run_id, "shutdown: the run's waiting indexes stay pending; the next daemon resumes them");
            return Ok(ends.report(None, exit_code, attempts));
        }
        let reason = "interrupted while the run waited".to_owned();
        (RunStatus::Interrupted, Some(reason))
    } else if let Some(reason) = tally.missed {
        if attempts == 0 {
            return ends.missed(reason).await;
        }
        // Another index started meanwhile: the run started, but not whole.
        (RunStatus::Failed, Some(reason.to_owned()))
    } else if tally.left > 0 || tally.unstarted > 0 {
        return Ok(ends.report(None, exit_code, attempts));
    } else if !tally.failed.is_empty() {
        let reason = format!(
            "{} of {} indexes failed: index(es) {}{}",
            tally.failed.len(),
            job.completions,
            failed_list(),
            first_failure()
        );
        (RunStatus::Failed, Some(reason))
    } else {
        (RunStatus::Succeeded, None)
    };
    if let Err(e) = ends.finish(status, reason, exit_code, attempts).await {
        tracing::error!(job = %job.name, run = ends.run_id, error = %chain(&e), "could not record the end of the indexed run");
        return Err(e);
    }
    Ok(ends.report(Some(status), exit_code, attempts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(outcome: &'static str, exit_code: Option<i64>) -> crate::store::AttemptEnd {
        crate::store::AttemptEnd {
            finished_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            exit_code,
            oom_killed: None,
            outcome,
            error: None,
        }
    }

    #[test]
    fn a_failed_index_ends_by_why_its_last_attempt_failed() {
        assert_eq!(failed_end(&end("deadline", None), 1), IndexEnd::Deadline);
        assert_eq!(
            failed_end(&end("replaced", Some(143)), 1),
            IndexEnd::Halted {
                why: Interruption::Replaced,
                running: true
            }
        );
        assert_eq!(
            failed_end(&end("exited", Some(3)), 2),
            IndexEnd::Failed("2 attempt(s) failed; the last: exited with exit code 3".to_owned())
        );
        assert_eq!(waiting_end(Interruption::Deadline), IndexEnd::Deadline);
        assert_eq!(
            waiting_end(Interruption::Stopped),
            IndexEnd::Halted {
                why: Interruption::Stopped,
                running: false
            }
        );
    }
}
