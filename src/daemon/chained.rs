//! Starting the runs the triggers recorded (a parent's end, a file's arrival),
//! as the `crate::trigger` watchers hand them to the scheduler loop.

use super::{Planned, Scheduler};
use crate::store::{PendingRun, RunStatus};
use crate::trigger::Triggered;

impl Scheduler {
    /// Start `pending`, a run a trigger recorded (a chained run this daemon
    /// claimed, or a file's run), as a waiting run of its job is resumed; a
    /// chained run once its job's `concurrency` admits it, as a tick's run (see
    /// [`Scheduler::resume`]). A job no longer in the schedule gets its run
    /// recorded failed, with the reason.
    pub(super) async fn start_chained(&self, planned: &[Planned], triggered: Triggered) {
        let Triggered { pending, ready } = triggered;
        match planned.iter().find(|p| p.job.name == pending.job) {
            Some(p) => {
                self.announce(&pending).await;
                self.resume(&p.job.clone(), pending, ready).await
            }
            None => {
                self.discard_preparation(ready);
                tracing::warn!(job = %pending.job, run = pending.run_id, "a trigger started a job no longer in the schedule; recording its run failed");
                let reason = "the job was removed from the schedule before its run started";
                let now = self.ctx.clock.now();
                let ended = self
                    .ctx
                    .store
                    .finish_run(pending.run_id, RunStatus::Failed, now, Some(reason))
                    .await;
                if let Err(e) = ended {
                    tracing::error!(run = pending.run_id, error = %super::supervisor::chain(&e), "could not record the run failed; the next start resumes it");
                }
            }
        }
    }

    /// Log the start of `pending`: a file's run with the file's host path, a
    /// chained run with the run whose end started it.
    pub(super) async fn announce(&self, pending: &PendingRun) {
        let (job, run) = (&pending.job, pending.run_id);
        let store = &self.ctx.store;
        match pending.trigger.as_str() {
            "file" => match store.input_file_of_run(run).await {
                Ok(file) => {
                    let file = file.map(|f| f.display().to_string()).unwrap_or_default();
                    tracing::info!(job = %job, run, file = %file, "starting a file run");
                }
                Err(e) => {
                    tracing::info!(job = %job, run, error = %super::supervisor::chain(&e), "starting a file run (its file cannot be read back)")
                }
            },
            "after" => match store.parent_run(run).await {
                Ok(parent) => {
                    let parent = parent.map(|p| p.to_string()).unwrap_or_default();
                    tracing::info!(job = %job, run, parent_run = %parent, "starting a chained run");
                }
                Err(e) => {
                    tracing::info!(job = %job, run, error = %super::supervisor::chain(&e), "starting a chained run (its parent cannot be read back)")
                }
            },
            trigger => tracing::info!(job = %job, run, trigger, "starting a run"),
        }
    }
}
