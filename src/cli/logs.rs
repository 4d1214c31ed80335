//! `cronbox logs RUN_ID`: the stored output of a run, stdout to stdout and stderr
//! to stderr; with `--follow`, new output as it arrives until the run ends.

use clap::Args;
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::DatabaseArg;
use super::output::{stderr_error, stdout_error};
use crate::store::{Store, Stream};

/// How often `--follow` looks for new output.
const FOLLOW_EVERY: Duration = Duration::from_millis(300);

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run (see `cronbox history`).
    pub run_id: i64,
    /// Only this attempt (1 = the first); default: every attempt in order.
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Only the attempts of this index (0-based) of an indexed run (a job
    /// with completions above 1).
    #[arg(long)]
    pub index: Option<u32>,
    /// Keep printing output as it arrives until the run ends.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub database: DatabaseArg,
}

pub async fn execute(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = args.database.open().await?;
    if store.run_status(args.run_id).await?.is_none() {
        anyhow::bail!(
            "no run {} in {}; see `cronbox history`",
            args.run_id,
            store.path().display()
        );
    }
    if let Some(attempt) = args.attempt {
        let attempts = store.attempts_of(args.run_id).await?;
        if !attempts.iter().any(|(_, n)| *n == i64::from(attempt)) {
            anyhow::bail!(
                "run {} has no attempt {attempt} (it has {}); see `cronbox history`",
                args.run_id,
                attempts.len()
            );
        }
    }
    if let Some(index) = args.index {
        let attempts = store.attempts_with_index(args.run_id).await?;
        if !attempts
            .iter()
            .any(|(_, _, i)| *i == Some(i64::from(index)))
        {
            let indexed = attempts.iter().any(|(_, _, i)| i.is_some());
            anyhow::bail!(
                "run {} has no attempt of index {index}{}; see `cronbox history`",
                args.run_id,
                if indexed {
                    " (yet)"
                } else {
                    " (its job has completions = 1: drop --index)"
                }
            );
        }
    }
    let mut printer = Printer {
        index: args.index,
        ..Printer::default()
    };
    loop {
        // Read the status first: output stored before the run ended is then all seen below.
        let running = store.run_status(args.run_id).await?.as_deref() == Some("running");
        printer.print_new(&store, args.run_id, args.attempt).await?;
        if !args.follow || !running {
            break;
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Prints each chunk once, remembering how far each attempt's streams were printed.
#[derive(Default)]
struct Printer {
    next_seq: HashMap<(i64, Stream), i64>,
    header_for: Option<i64>,
    /// Only the attempts of this index (`--index`).
    index: Option<u32>,
}

impl Printer {
    async fn print_new(
        &mut self,
        store: &Store,
        run_id: i64,
        only: Option<u32>,
    ) -> anyhow::Result<()> {
        let attempts: Vec<_> = store
            .attempts_with_index(run_id)
            .await?
            .into_iter()
            .filter(|(_, _, index)| {
                self.index
                    .is_none_or(|wanted| *index == Some(i64::from(wanted)))
            })
            .collect();
        let several = only.is_none() && attempts.len() > 1;
        let mut stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr().lock();
        for (attempt_id, number, index) in attempts {
            if only.is_some_and(|n| i64::from(n) != number) {
                continue;
            }
            for stream in [Stream::Stdout, Stream::Stderr] {
                let from = self
                    .next_seq
                    .get(&(attempt_id, stream))
                    .copied()
                    .unwrap_or(0);
                let chunks = store.output_since(attempt_id, stream, from).await?;
                for (seq, data) in chunks {
                    if several && self.header_for != Some(number) {
                        stdout.flush().map_err(stdout_error)?;
                        match index {
                            Some(index) => {
                                writeln!(stderr, "--- attempt {number} (index {index}) ---")
                            }
                            None => writeln!(stderr, "--- attempt {number} ---"),
                        }
                        .map_err(stderr_error)?;
                        self.header_for = Some(number);
                    }
                    match stream {
                        Stream::Stdout => stdout.write_all(&data).map_err(stdout_error)?,
                        Stream::Stderr => {
                            // Keep the order of the two streams on a terminal.
                            stdout.flush().map_err(stdout_error)?;
                            stderr.write_all(&data).map_err(stderr_error)?;
                        }
                    }
                    self.next_seq.insert((attempt_id, stream), seq + 1);
                }
            }
        }
        stdout.flush().map_err(stdout_error)?;
        Ok(())
    }
}
