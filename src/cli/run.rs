//! `cronbox run JOB`: run one job now in the foreground with its configuration,
//! show its output live, record it with trigger `manual`, and exit with its code.

use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

use super::ConfigArg;
use crate::clock::{Clock, SystemClock};
use crate::daemon::{Context, Stops, supervisor};
use crate::engine::Engine;
use crate::store::{RunStatus, Store, Trigger};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job to run.
    pub job: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let job = config
        .job(&args.job)
        .ok_or_else(|| super::no_such_job(&config, &args.job))?;
    let store = Store::open(&config.daemon.database).await?;
    let engine = Engine::connect();
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
            eprintln!("cronbox: interrupted; stopping the container");
            cancel.cancel();
        })
    };
    let report = supervisor::execute(&ctx, job, Trigger::Manual, clock.now(), &stops).await;
    ctrl_c.abort();
    store.close().await;
    let Some(report) = report? else {
        anyhow::bail!("the run was not recorded");
    };
    let code = match (report.status, report.exit_code) {
        (Some(RunStatus::Succeeded), _) => 0,
        (_, Some(code)) if (1..=255).contains(&code) => code as u8,
        _ => 1,
    };
    if report.status != Some(RunStatus::Succeeded) {
        eprintln!(
            "cronbox: run {} of job {} {} after {} attempt(s); see `cronbox logs {}`",
            report.run_id,
            job.name,
            report.status.map_or("pending", RunStatus::as_str),
            report.attempts,
            report.run_id
        );
    }
    Ok(ExitCode::from(code))
}
