//! `cronbox pause JOB` and `cronbox resume JOB`: through the running daemon's
//! API, which applies it at once; when no daemon answers (or its server is
//! off), by writing the pause to the database, which the daemon reads at its
//! next start or reload.

use clap::Args;
use serde::Deserialize;
use std::process::ExitCode;

use super::ConfigArg;
use super::client::{Client, ClientError};
use crate::clock::{Clock, SystemClock};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The job.
    pub job: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// What the API answers.
#[derive(Deserialize)]
struct PauseState {
    changed: bool,
}

/// Pause (`paused`) or resume the job `args` names.
pub async fn execute(args: PauseArgs, paused: bool) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let job = &config
        .job(&args.job)
        .ok_or_else(|| super::no_such_job(&config, &args.job))?
        .name;
    let (verb, done) = if paused {
        ("pause", "paused")
    } else {
        ("resume", "resumed")
    };
    if let Some(client) = Client::for_config(&config)? {
        let path = format!("/api/v1/jobs/{job}/{verb}");
        match client.post::<PauseState>(&path, None).await {
            Ok(state) => {
                let what = if state.changed {
                    format!("job {job} {done}")
                } else {
                    format!("job {job} was already {done}")
                };
                super::print_out(&format!("{what}\n"))?;
                return Ok(ExitCode::SUCCESS);
            }
            Err(ClientError::Unreachable(at)) => {
                super::note(&format!(
                    "cronbox: no daemon answers at {at}; writing the database"
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let store = Store::open(&config.daemon.database).await?;
    let changed = store.set_paused(job, paused, SystemClock.now()).await;
    store.close().await;
    let state = if changed? {
        done
    } else {
        &*format!("already {done}")
    };
    super::print_out(&format!(
        "job {job} {state} in the database {}; a running daemon applies it at its next start or reload (systemctl reload cronbox)\n",
        config.daemon.database.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
