//! The scheduler loop's answers to the commands of a [`super::Handle`] (the
//! HTTP API): start a run now ([`run_now`]), stop a run, apply a pause, list
//! the jobs; and the accounting of a paused job's ticks. A command never makes
//! the loop wait for the database or the engine: what waits is spawned.

use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

use super::control::{Command, JobState, Refusal};
use super::supervisor::{self, Context};
use super::{Planned, Preparing, Scheduler, run_now};
use crate::config::Job;
use crate::events::{Event, Events};
use crate::schedule::TickSpan;

/// What of the loop's state a command may read or change.
pub(super) struct State<'a> {
    pub planned: &'a [Planned],
    pub paused: &'a mut HashSet<String>,
    pub preparing: &'a mut HashMap<String, Preparing>,
}

/// Answer `command` (at once: what waits is spawned).
pub(super) fn handle(scheduler: &Scheduler, state: State<'_>, command: Command) {
    let find = |name: &str| state.planned.iter().find(|p| p.job.name == name);
    match command {
        Command::RunNow { job, params, reply } => match find(&job) {
            Some(p) => run_now::run_now(scheduler, &p.job, params, reply),
            None => {
                let _ = reply.send(Err(Refusal::NoSuchJob(job)));
            }
        },
        Command::Stop { run_id, reply } => {
            let _ = reply.send(scheduler.running.stop(run_id));
        }
        Command::Paused { job, paused, reply } => {
            let answer = match find(&job) {
                Some(_) => {
                    if paused {
                        scheduler.discard(state.preparing.remove(&job));
                    }
                    set_paused(&scheduler.ctx.events, state.paused, &job, paused);
                    Ok(())
                }
                None => Err(Refusal::NoSuchJob(job)),
            };
            let _ = reply.send(answer);
        }
        Command::Jobs { reply } => {
            let jobs = state
                .planned
                .iter()
                .map(|p| JobState {
                    job: p.job.clone(),
                    next: p.next,
                    paused: state.paused.contains(&p.job.name),
                    running: scheduler.running.run_ids(&p.job.name),
                })
                .collect();
            let _ = reply.send(jobs);
        }
    }
}

/// Apply the pause (`paused`) or resumption of `job` to the loop's set, and
/// log and publish it ([`Event::JobPaused`], [`Event::JobResumed`]) when it
/// changes the job's state.
pub(super) fn set_paused(events: &Events, set: &mut HashSet<String>, job: &str, paused: bool) {
    let changed = if paused {
        set.insert(job.to_owned())
    } else {
        set.remove(job)
    };
    if !changed {
        return;
    }
    let job = job.to_owned();
    if paused {
        tracing::info!(job = %job, "job paused: its ticks do not run until it is resumed");
        events.publish(Event::JobPaused { job });
    } else {
        tracing::info!(job = %job, "job resumed: its next tick runs");
        events.publish(Event::JobResumed { job });
    }
}

/// Make the loop's set of paused jobs `now_paused` (as the database has it,
/// read again at a reload), applying each change as [`set_paused`] does.
pub(super) fn replace_paused(
    events: &Events,
    set: &mut HashSet<String>,
    now_paused: HashSet<String>,
) {
    let resumed: Vec<String> = set.difference(&now_paused).cloned().collect();
    for job in resumed {
        set_paused(events, set, &job, false);
    }
    for job in now_paused {
        set_paused(events, set, &job, true);
    }
}

/// Account for the ticks `span` of paused `job`, found at `now`, to its pause's
/// run (status `paused`), and publish it. `false` when the database says the job
/// is not paused after all (another process resumed it): the ticks are then
/// the caller's to handle.
pub(super) async fn record_paused(
    ctx: &Context,
    job: &Job,
    span: &TickSpan,
    now: DateTime<Utc>,
) -> bool {
    match ctx
        .store
        .record_paused(&job.name, span.first, span.last, span.count, now)
        .await
    {
        Ok(Some(run_id)) => {
            ctx.events.publish(Event::Paused {
                run_id,
                job: job.name.clone(),
                ticks: span.count,
            });
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::error!(job = %job.name, error = %supervisor::chain(&e), "could not record the ticks of a paused job");
            true
        }
    }
}
