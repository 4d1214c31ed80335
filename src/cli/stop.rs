//! `cronbox stop RUN_ID`: stop a running run now (its stop_signal, SIGKILL
//! after its stop_grace; recorded `stopped`, not retried), through the running
//! daemon's API. With no daemon answering, a run that a live `cronbox run`
//! process supervises is asked to stop through the database, which that
//! process looks at every second.

use clap::Args;
use std::process::ExitCode;

use super::ConfigArg;
use super::client::{Client, ClientError};
use crate::daemon::supervisor::STOP_REQUEST_STOPPED;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run's id (`cronbox history` shows it).
    pub run_id: i64,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn execute(args: StopArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let id = args.run_id;
    let why = match Client::for_config(&config)? {
        Some(client) => {
            let path = format!("/api/v1/runs/{id}/stop");
            match client.post::<serde_json::Value>(&path, None).await {
                Ok(_) => {
                    super::print_out(&format!("run {id} stopping\n"))?;
                    return Ok(ExitCode::SUCCESS);
                }
                Err(ClientError::Unreachable(at)) => format!("no daemon answers at {at}"),
                Err(e) => return Err(e.into()),
            }
        }
        None => "the daemon's server is off ([daemon.http] listen = \"\")".to_owned(),
    };
    let store = Store::open(&config.daemon.database).await?;
    let owner = store.run_owner(id).await;
    let asked = match owner? {
        None => Err(super::UsageError(format!(
            "no run {id} in {}",
            config.daemon.database.display()
        ))
        .into()),
        Some((false, _)) => Err(anyhow::anyhow!("run {id} has already ended")),
        Some((true, Some(pid))) if crate::daemon::process_alive(pid) => store
            .request_stop(&[id], STOP_REQUEST_STOPPED)
            .await
            .map_err(Into::into),
        Some((true, _)) => Err(anyhow::anyhow!(
            "{why}, and no other live process supervises run {id}; start the daemon, then stop the run"
        )),
    };
    store.close().await;
    asked?;
    super::print_out(&format!(
        "run {id} asked to stop (its cronbox run process stops it within a second)\n"
    ))?;
    Ok(ExitCode::SUCCESS)
}
