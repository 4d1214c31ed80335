//! Starting the runs a parent's end recorded (job chains), as the
//! `crate::trigger::chains` watcher hands them to the scheduler loop.

use super::{Planned, Scheduler};
use crate::store::{PendingRun, RunStatus};

impl Scheduler {
    /// Start `pending`, a child run this daemon claimed, as a waiting run of its
    /// job is resumed, once its job's `concurrency` admits it (as a tick's
    /// run; see [`Scheduler::resume`]). A job no longer in the schedule gets its
    /// run recorded failed, with the reason.
    pub(super) async fn start_chained(&self, planned: &[Planned], pending: PendingRun) {
        match planned.iter().find(|p| p.job.name == pending.job) {
            Some(p) => self.resume(&p.job.clone(), pending).await,
            None => {
                tracing::warn!(job = %pending.job, run = pending.run_id, "a parent's end started a job no longer in the schedule; recording its run failed");
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
}
