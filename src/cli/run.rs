//! `cronbox run JOB`: run one job now in the foreground with its configuration,
//! (or, with `--detach`, in the running daemon: see `detach.rs`),
//! show its output live, record it with trigger `manual`, and exit with the
//! code [`exit_code`] gives. Output that cannot be shown (stdout or stderr full
//! or closed) does not stop the run: it is still recorded in full.

use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

use super::ConfigArg;
use crate::clock::{Clock, SystemClock};
use crate::daemon::{Context, Stops, supervisor};
use crate::store::{RunStatus, Store, Trigger};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job to run.
    pub job: String,
    /// Start the run in the running daemon (through its HTTP API, trigger
    /// `api`, as its concurrency policy says), print its id and return at once.
    #[arg(long)]
    pub detach: bool,
    /// With --detach: set the variable NAME (one the job lists in `params`) for
    /// this run. Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE", requires = "detach")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.detach {
        return super::detach::execute(args).await;
    }
    let config = args.config.load()?;
    let job = config
        .job(&args.job)
        .ok_or_else(|| super::no_such_job(&config, &args.job))?;
    let store = Store::open(&config.daemon.database).await?;
    // The run's end records the runs of the jobs after it (the daemon starts them),
    // as this file says, even if no daemon has read it yet.
    crate::trigger::chains::sync_routes(&store, &config).await?;
    let engine = super::registry::engine(&config)?;
    let clock = Arc::new(SystemClock);
    let ctx = Context {
        store: store.clone(),
        engine,
        clock: clock.clone(),
        slots: None,
        require_limits: config.daemon.require_limits,
        resume_later: false,
        echo: true,
        watch_stop_requests: true,
        events: Default::default(),
        tracker: Default::default(),
    };
    let stops = Stops::default();
    let cancel = stops.shutdown.clone();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            super::note("cronbox: interrupted; stopping the container");
            cancel.cancel();
        })
    };
    let report = supervisor::execute(&ctx, job, Trigger::Manual, clock.now(), &stops).await;
    ctrl_c.abort();
    let last = match &report {
        Ok(Some(report)) => store.last_attempt(report.run_id).await,
        _ => Ok(None),
    };
    store.close().await;
    let Some(report) = report? else {
        anyhow::bail!("the run was not recorded");
    };
    let last = last?;
    if report.status != Some(RunStatus::Succeeded) {
        super::note(&format!(
            "cronbox: run {} of job {} {} after {} attempt(s); see `cronbox logs {}`",
            report.run_id,
            job.name,
            report.status.map_or("pending", RunStatus::as_str),
            report.attempts,
            report.run_id
        ));
    }
    let last = last
        .as_ref()
        .map(|(outcome, code)| (outcome.as_str(), *code));
    Ok(ExitCode::from(exit_code(report.status, last)))
}

/// The exit code of `cronbox run` for a run that ended with `status`, whose last
/// attempt ended with `last` (`(outcome, exit code)` as in the `attempts` table):
///
/// - 0 when the run succeeded: its last attempt exited 0 or with a code listed
///   in `success_exit_codes` (so `success_exit_codes = [0, 3]` and an exit 3 give 0);
/// - otherwise the last attempt's own exit code, when its container exited by
///   itself (outcome `exited`, or `oom`: killed for memory, usually 137) with a
///   code from 1 to 255;
/// - otherwise 1: the last attempt timed out, passed the deadline, was
///   interrupted, had no image or met an engine error, or exited 0 where 0 is not
///   a success code.
pub fn exit_code(status: Option<RunStatus>, last: Option<(&str, Option<i64>)>) -> u8 {
    if status == Some(RunStatus::Succeeded) {
        return 0;
    }
    match last {
        Some(("exited" | "oom", Some(code))) => u8::try_from(code)
            .ok()
            .filter(|code| *code != 0)
            .unwrap_or(1),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_exits_0_on_success_else_the_last_attempts_own_code_else_1() {
        use RunStatus::{Failed, Interrupted, Succeeded};
        // (run status, last attempt's outcome and exit code, `run`'s exit code)
        type Case = (Option<RunStatus>, Option<(&'static str, Option<i64>)>, u8);
        let cases: [Case; 12] = [
            (Some(Succeeded), Some(("exited", Some(0))), 0),
            // A code listed in success_exit_codes.
            (Some(Succeeded), Some(("exited", Some(3))), 0),
            (Some(Failed), Some(("exited", Some(5))), 5),
            (Some(Failed), Some(("exited", Some(255))), 255),
            (Some(Failed), Some(("oom", Some(137))), 137),
            // 0 is not a success code for this job: still a failure.
            (Some(Failed), Some(("exited", Some(0))), 1),
            // Killed by cronbox at the timeout: not the job's own code.
            (Some(Failed), Some(("timeout", Some(143))), 1),
            (Some(Failed), Some(("deadline", None)), 1),
            (Some(Interrupted), Some(("interrupted", Some(143))), 1),
            (Some(Failed), Some(("engine-error", None)), 1),
            (Some(Failed), Some(("exited", Some(-1))), 1),
            (Some(Failed), None, 1),
        ];
        for (status, last, want) in cases {
            assert_eq!(exit_code(status, last), want, "{status:?} {last:?}");
        }
    }
}
