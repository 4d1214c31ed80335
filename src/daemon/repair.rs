//! The start-up repair: settle what a process that stopped abruptly (a daemon
//! killed, the box losing power, a detached shutdown) left, before the first
//! tick, and log every repair.
//!
//! - An attempt still marked running whose container the engine still has is
//!   adopted: its end is awaited (at once, if it already exited) and recorded
//!   from the engine's record, its output stored again whole.
//! - One whose container was never created (no id recorded, no container of its
//!   name) is forgotten: nothing ran, and its run makes the attempt again.
//! - One whose container the engine no longer knows is recorded `engine-error`,
//!   and its run follows the job's retry policy.
//! - An engine that does not answer does not make anything up: the attempt is
//!   adopted, and its adopter asks the engine until it answers.
//! - A run left running with no attempt going (waiting for a slot, for a run it
//!   replaced, or to retry) is resumed, in the order the runs were waiting.
//! - Containers labelled with this database that nothing adopts are removed.
//!
//! Runs supervised by another live process (a `cronbox run`) are left alone.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::supervisor::{Adoption, Context};
use crate::config::{Config, Job};
use crate::engine::{self, EngineError, Presence};
use crate::store::{AttemptEnd, PendingRun, RunNext, RunStatus, StaleAttempt, StoreError};

/// How long the repair waits for the engine to list or inspect containers.
const ENGINE_WAIT: Duration = Duration::from_secs(15);

/// An attempt to adopt, and whether its container had already ended.
pub(super) struct ToAdopt {
    pub job: Arc<Job>,
    pub adoption: Adoption,
    pub ended: bool,
    /// The other attempts of the same indexed run left running: one
    /// supervision takes them all over (none for a plain run).
    pub more: Vec<Adoption>,
}

/// What the repair leaves for the daemon to take over.
pub(super) struct Repaired {
    pub adopt: Vec<ToAdopt>,
    /// Runs to resume, in the order they were waiting.
    pub resume: Vec<(Arc<Job>, PendingRun)>,
}

/// Settle what the previous process left (see the module's rules).
pub(super) async fn reconcile(ctx: &Context, config: &Config) -> Result<Repaired, StoreError> {
    let mut spared = HashSet::new(); // runs another live process supervises
    let mut adopted = HashSet::new();
    let mut adopt = Vec::new();
    for stale in ctx.store.running_attempts().await? {
        if super::owned_elsewhere(stale.pid) {
            spared.insert(stale.run_id);
            continue;
        }
        if let Some(found) = settle_attempt(ctx, config, &stale).await? {
            adopted.insert(found.adoption.container.clone());
            join_run(&mut adopt, found);
        }
    }
    crate::failpoint::pause("after-adopt").await;
    remove_leftovers(ctx, &adopted, &spared).await;
    let mut resume = Vec::new();
    for pending in ctx.store.pending_runs().await? {
        if super::owned_elsewhere(pending.pid) {
            continue;
        }
        match config.job(&pending.job) {
            Some(job) => resume.push((Arc::new(job.clone()), pending)),
            None => {
                tracing::warn!(job = %pending.job, run = pending.run_id, "repair: a waiting run's job is no longer in the schedule; recording the run failed");
                let reason = "the job was removed from the schedule while the run waited";
                ctx.store
                    .finish_run(
                        pending.run_id,
                        RunStatus::Failed,
                        ctx.clock.now(),
                        Some(reason),
                    )
                    .await?;
            }
        }
    }
    Ok(Repaired { adopt, resume })
}

/// Add `found` to the attempts to adopt: to those of its run when its job is
/// indexed and one of its run's attempts is there already.
fn join_run(adopt: &mut Vec<ToAdopt>, found: ToAdopt) {
    if found.job.completions > 1
        && let Some(run) = adopt
            .iter_mut()
            .find(|a| a.adoption.run_id == found.adoption.run_id)
    {
        run.ended = run.ended && found.ended;
        run.more.push(found.adoption);
        return;
    }
    adopt.push(found);
}

/// Settle one attempt left running: `Some` when it is to be adopted.
async fn settle_attempt(
    ctx: &Context,
    config: &Config,
    stale: &StaleAttempt,
) -> Result<Option<ToAdopt>, StoreError> {
    let attempt = u32::try_from(stale.attempt).unwrap_or(u32::MAX);
    // Named after the run and attempt: found even if its id was never recorded.
    let lookup = stale.container_id.clone().unwrap_or_else(|| {
        super::container::container_name(ctx.store.path(), &stale.job, stale.run_id, attempt)
    });
    let (presence, id) = tokio::time::timeout(ENGINE_WAIT, ctx.engine.presence(&lookup))
        .await
        .unwrap_or_else(|_| {
            let reason = format!("no answer within {} s", ENGINE_WAIT.as_secs());
            (Presence::Unknown(EngineError::Unreachable { reason }), None)
        });
    let (run, job) = (stale.run_id, &stale.job);
    let Some(job) = config.job(job) else {
        tracing::warn!(job = %stale.job, run, attempt, "repair: attempt left running and its job is no longer in the schedule; recording it interrupted");
        if let Some(id) = &id {
            let _ = ctx.engine.remove(id).await;
        }
        let why = "the job is no longer in the schedule";
        return interrupted(ctx, stale, None, why).await.map(|()| None);
    };
    let ended = match presence {
        Presence::Exited => true,
        Presence::Running | Presence::Created => false,
        Presence::Unknown(e) => {
            tracing::warn!(job = %stale.job, run, attempt, error = %e, "repair: cannot ask the Docker engine about the attempt's container now; adopting it, to ask again until the engine answers");
            false
        }
        Presence::Gone if stale.container_id.is_none() => {
            tracing::warn!(job = %stale.job, run, attempt, "repair: the attempt's container was never created; the run makes the attempt again");
            ctx.store
                .discard_unstarted_attempt(stale.attempt_id)
                .await?;
            return Ok(None);
        }
        Presence::Gone => {
            let error = EngineError::Lost {
                container: lookup.clone(),
            }
            .to_string();
            tracing::warn!(job = %stale.job, run, attempt, "repair: {error}");
            return interrupted(ctx, stale, Some(job), &error)
                .await
                .map(|()| None);
        }
    };
    // Found by its name: its id is recorded now, so the attempt links to it.
    if stale.container_id.is_none()
        && let Some(id) = &id
    {
        ctx.store.set_container(stale.attempt_id, id).await?;
    }
    let container = id.unwrap_or(lookup);
    tracing::warn!(job = %stale.job, run, attempt, container = %container, ended, "repair: adopting the container of an attempt the previous daemon left");
    Ok(Some(ToAdopt {
        job: Arc::new(job.clone()),
        adoption: Adoption {
            run_id: stale.run_id,
            attempt_id: stale.attempt_id,
            attempt,
            container,
            container_recorded: stale.container_id.is_some(),
            run_started_at: stale.run_started_at,
            attempt_started_at: stale.attempt_started_at,
        },
        ended,
        more: Vec::new(),
    }))
}

/// Record an attempt that cannot be adopted: `engine-error` with `why` when
/// its job is still scheduled (its run then follows the retry policy),
/// `interrupted` (and its run too) when the job is gone.
async fn interrupted(
    ctx: &Context,
    stale: &StaleAttempt,
    job: Option<&Job>,
    why: &str,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let attempt = u32::try_from(stale.attempt).unwrap_or(u32::MAX);
    let end = AttemptEnd {
        finished_at: now,
        exit_code: None,
        oom_killed: None,
        outcome: if job.is_some() {
            "engine-error"
        } else {
            "interrupted"
        },
        error: Some(why.to_owned()),
    };
    let reason = format!("attempt {attempt} could not be accounted for: {why}");
    let policy = job.map(Job::retry_policy);
    let indexed = job.is_some_and(|job| job.completions > 1);
    let next = match policy.filter(|p| attempt <= p.retries) {
        // An indexed run's attempt numbers span its indexes: the run goes on,
        // and its resumption counts the index's attempts against its retries.
        _ if indexed => RunNext::RetryAt(now),
        Some(policy) => {
            let due = now
                + chrono::TimeDelta::from_std(policy.delay(attempt))
                    .unwrap_or(chrono::TimeDelta::MAX);
            tracing::info!(job = %stale.job, run = stale.run_id, due = %due, "repair: the run retries");
            RunNext::RetryAt(due)
        }
        None => RunNext::Finish {
            status: if job.is_some() {
                RunStatus::Failed
            } else {
                RunStatus::Interrupted
            },
            at: now,
            reason: Some(&reason),
        },
    };
    // Recorded only if still running: a `cronbox run` that ended meanwhile keeps its end.
    ctx.store
        .end_attempt(stale.run_id, stale.attempt_id, &end, next)
        .await
        .map(drop)
}

/// Remove the containers labelled with this database that nothing adopts and
/// no other live process supervises (bounded: systemd waits for READY=1).
async fn remove_leftovers(ctx: &Context, adopted: &HashSet<String>, spared: &HashSet<i64>) {
    let db = ctx.store.path().display().to_string();
    let listed = tokio::time::timeout(
        ENGINE_WAIT,
        ctx.engine.containers_labelled(engine::LABEL_DB, &db),
    )
    .await
    .unwrap_or_else(|_| {
        let reason = format!("no answer within {} s", ENGINE_WAIT.as_secs());
        Err(EngineError::Unreachable { reason })
    });
    let found = match listed {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "repair: could not look for leftover containers; they stay until the next start");
            return;
        }
    };
    for container in found {
        let run = container
            .labels
            .get(engine::LABEL_RUN)
            .and_then(|r| r.parse::<i64>().ok());
        if adopted.contains(&container.id)
            || adopted.contains(&container.name)
            || run.is_some_and(|run| spared.contains(&run))
        {
            continue;
        }
        // Asked again now: a `cronbox run` may have started since the repair
        // read the database, and its container is not a leftover.
        if let Some(run) = run
            && let Ok(Some((true, pid))) = ctx.store.run_owner(run).await
            && super::owned_elsewhere(pid)
        {
            continue;
        }
        tracing::warn!(container = %container.name, running = container.running, "repair: removing a container nothing supervises");
        if let Err(e) = ctx.engine.remove(&container.id).await {
            tracing::error!(container = %container.name, error = %e, "repair: could not remove container");
        }
    }
}
