//! `cronbox logs RUN_ID`: the stored output of a run, stdout to stdout and stderr to stderr.

use clap::Args;
use std::io::Write;
use std::process::ExitCode;

use super::DatabaseArg;
use crate::store::Stream;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run (see `cronbox history`).
    pub run_id: i64,
    /// Only this attempt (1 = the first); default: every attempt in order.
    #[arg(long)]
    pub attempt: Option<u32>,
    #[command(flatten)]
    pub database: DatabaseArg,
}

pub async fn execute(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = args.database.open().await?;
    if !store.run_exists(args.run_id).await? {
        anyhow::bail!(
            "no run {} in {}; see `cronbox history`",
            args.run_id,
            store.path().display()
        );
    }
    let chunks = store.output(args.run_id, args.attempt).await?;
    store.close().await;
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let several = chunks
        .first()
        .is_some_and(|first| chunks.iter().any(|c| c.attempt != first.attempt));
    let mut current = None;
    for chunk in chunks {
        if several && current != Some(chunk.attempt) {
            stdout.flush()?;
            writeln!(stderr, "--- attempt {} ---", chunk.attempt)?;
            current = Some(chunk.attempt);
        }
        match chunk.stream {
            Stream::Stdout => stdout.write_all(&chunk.data)?,
            Stream::Stderr => {
                // Keep the order of the two streams on a terminal.
                stdout.flush()?;
                stderr.write_all(&chunk.data)?;
            }
        }
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
