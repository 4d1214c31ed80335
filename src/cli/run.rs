//! `cronbox run JOB`: run one job now in the foreground with its configuration,
//! show its output live, record it with trigger `manual`, and exit with its code.

use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::{ConfigArg, UsageError};
use crate::clock::{Clock, SystemClock};
use crate::daemon::{Context, STOP_GRACE, supervisor};
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
    let Some(job) = config.job(&args.job) else {
        let names: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
        return Err(UsageError(format!(
            "no job {:?} in {}; jobs: {}",
            args.job,
            config.path.display(),
            if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            }
        ))
        .into());
    };
    let store = Store::open(&config.daemon.database).await?;
    let engine = Engine::connect();
    let clock = Arc::new(SystemClock);
    let ctx = Context {
        store: store.clone(),
        engine,
        clock: clock.clone(),
        stop_grace: STOP_GRACE,
        echo: true,
    };
    let cancel = CancellationToken::new();
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cronbox: interrupted; stopping the container");
                cancel.cancel();
            }
        })
    };
    let report = supervisor::execute(&ctx, job, Trigger::Manual, clock.now(), &cancel).await;
    ctrl_c.abort();
    store.close().await;
    let Some(report) = report? else {
        anyhow::bail!("the run was not recorded");
    };
    let code = match (report.status, report.exit_code) {
        (RunStatus::Succeeded, _) => 0,
        (_, Some(code)) if (1..=255).contains(&code) => code as u8,
        _ => 1,
    };
    if report.status != RunStatus::Succeeded {
        eprintln!(
            "cronbox: run {} of job {} {} after {} attempt(s); see `cronbox logs {}`",
            report.run_id,
            job.name,
            report.status.as_str(),
            report.attempts,
            report.run_id
        );
    }
    Ok(ExitCode::from(code))
}
