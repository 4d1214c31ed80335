//! `cronbox daemon`: open the database, connect to the engine and run the
//! scheduler. This is where the process's signals are handled: SIGTERM and
//! SIGINT shut down, SIGHUP reloads the schedule file.

use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ConfigArg;
use crate::clock::SystemClock;
use crate::engine::Engine;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn execute(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let store = Store::open(&config.daemon.database).await?;
    tracing::info!(database = %store.path().display(), "history database open");
    let engine = Engine::connect();
    let (updates, config_rx) = watch::channel(Arc::new(config));

    let shutdown = CancellationToken::new();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let signals = {
        let shutdown = shutdown.clone();
        let config_arg = args.config.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = terminate.recv() => break,
                    _ = interrupt.recv() => break,
                    _ = hangup.recv() => {
                        match config_arg.load() {
                            Ok(config) => {
                                tracing::info!(config = %config.path.display(), "SIGHUP: schedule file valid; applying it");
                                updates.send_replace(Arc::new(config));
                            }
                            Err(e) => tracing::error!("SIGHUP: schedule file refused, keeping the current schedule:\n{e}"),
                        }
                    }
                }
            }
            tracing::info!("shutdown requested");
            shutdown.cancel();
        })
    };
    let result =
        crate::daemon::run(config_rx, store, engine, Arc::new(SystemClock), shutdown).await;
    signals.abort();
    result?;
    Ok(ExitCode::SUCCESS)
}
