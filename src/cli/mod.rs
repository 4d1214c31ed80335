//! The command line: one file per subcommand. Each parses its arguments (clap
//! derive; doc comments become `--help`), calls into the library and returns an
//! exit code. Errors carry what to do next; `main` prints them once.

pub mod check;
pub mod daemon;
pub mod history;
pub mod logs;
pub mod next;
pub mod run;

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Config, ConfigError, Environment};
use crate::store::Store;

/// cronbox: run scheduled jobs as Docker containers and keep their history in SQLite.
#[derive(Debug, Parser)]
#[command(name = "cronbox", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scheduler (as a systemd service or in the foreground).
    Daemon(daemon::DaemonArgs),
    /// Validate the schedule file and print each job with its next fire time.
    Check(check::CheckArgs),
    /// Print the next fire times of the jobs.
    Next(next::NextArgs),
    /// Run one job now, in the foreground, and exit with its exit code.
    Run(run::RunArgs),
    /// Show recent runs and attempts from the database.
    History(history::HistoryArgs),
    /// Print the output of a run.
    Logs(logs::LogsArgs),
}

/// Where the schedule file is.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The schedule file.
    #[arg(
        long,
        short = 'c',
        env = "CRONBOX_CONFIG",
        default_value = "/etc/cronbox/cronbox.toml"
    )]
    pub config: PathBuf,
}

impl ConfigArg {
    /// Load and validate the schedule file.
    pub fn load(&self) -> Result<Config, ConfigError> {
        config::load(&self.config, &environment())
    }
}

/// What the schedule file's defaults depend on, read from this process: the first
/// path of `$STATE_DIRECTORY` (systemd separates several with `:`), the system's
/// zone (UTC when unknown), and the CPUs available (1 when unknown).
pub fn environment() -> Environment {
    let state_directory = std::env::var_os("STATE_DIRECTORY")
        .and_then(|value| std::env::split_paths(&value).find(|path| !path.as_os_str().is_empty()));
    let local_timezone = iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::Tz::UTC);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Environment {
        state_directory,
        local_timezone,
        cpus,
    }
}

/// Where the database is: `--database`, else the one the schedule file names.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The history database (default: the one named by the schedule file).
    #[arg(long, env = "CRONBOX_DATABASE")]
    pub database: Option<PathBuf>,
}

impl DatabaseArg {
    /// Open the database for reading.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let path = match &self.database {
            Some(path) => path.clone(),
            None => self.config.load()?.daemon.database,
        };
        open_existing(&path).await
    }
}

async fn open_existing(path: &Path) -> anyhow::Result<Store> {
    if !path.exists() {
        anyhow::bail!(
            "no history database at {}; has the daemon run with this schedule file? Pass --database PATH to read another",
            path.display()
        );
    }
    Ok(Store::open_read_only(path).await?)
}

/// A mistake in how cronbox was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run the parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Daemon(args) => daemon::execute(args).await,
        Command::Check(args) => check::execute(args).await,
        Command::Next(args) => next::execute(args),
        Command::Run(args) => run::execute(args).await,
        Command::History(args) => history::execute(args).await,
        Command::Logs(args) => logs::execute(args).await,
    }
}

/// The exit code for an error: 2 for bad usage or configuration, 1 otherwise.
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ConfigError>().is_some() || error.downcast_ref::<UsageError>().is_some()
    {
        2
    } else {
        1
    }
}

/// Write `text` to stdout. A reader that went away (`| head`) is not an error.
pub fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// "no job NAME in FILE; jobs: a, b" for a job name the schedule does not have.
pub fn no_such_job(config: &Config, name: &str) -> UsageError {
    let names: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
    let names = if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    };
    UsageError(format!(
        "no job {name:?} in {}; jobs: {names}",
        config.path.display()
    ))
}

/// Rows as aligned columns (no colour; plain text is easy to grep).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
