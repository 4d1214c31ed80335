//! The command line: one file per subcommand. Each parses its arguments (clap
//! derive; doc comments become `--help`), calls into the library and returns an
//! exit code. Errors carry what to do next; `main` prints them once.

pub mod check;
pub mod client;
pub mod daemon;
pub mod detach;
pub mod export;
pub mod history;
pub mod import;
pub mod logging;
pub mod logs;
pub mod next;
pub mod notifications;
pub mod notify;
pub mod output;
pub mod package;
pub mod pause;
pub mod registry;
pub mod run;
pub mod schema;
mod spread;
pub mod stop;

pub use output::{OutputError, note, print_out};

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, Config, ConfigError, Environment, Job};
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
    /// Run one job now, in the foreground; exit 0 if the run succeeded, else with its exit code.
    ///
    /// The run follows the job's configuration (retries included), shows the
    /// job's output live and is recorded with trigger `manual`.
    ///
    /// Exit code: 0 when the run succeeded (its last attempt exited 0 or with a
    /// code listed in `success_exit_codes`); otherwise the last attempt's own exit
    /// code when its container exited by itself; otherwise 1 (a timeout, the
    /// deadline, an interruption, a missing image, an engine error); 2 for an
    /// unknown job or an invalid schedule file.
    ///
    /// With --detach, the run starts in the running daemon instead (through its
    /// HTTP API, trigger `api`), and its id is printed; exit 1 when the daemon
    /// refuses (a forbid job still running) or does not answer.
    Run(run::RunArgs),
    /// Pause a job: its ticks do not run until it is resumed (recorded as one `paused` run).
    ///
    /// Through the running daemon's HTTP API, which applies it at once; with no
    /// daemon answering, written to the database, which the daemon reads at its
    /// next start or reload. The pause survives restarts and reloads.
    Pause(pause::PauseArgs),
    /// Resume a paused job: its next tick runs (the ticks of the pause are not run).
    ///
    /// Through the daemon's API, or the database when no daemon answers, as `pause`.
    Resume(pause::PauseArgs),
    /// Stop a running run now: its stop_signal, SIGKILL after stop_grace; recorded `stopped`, not retried.
    ///
    /// Through the running daemon's HTTP API; a run of a `cronbox run` process
    /// is asked to stop through the database when no daemon answers.
    Stop(stop::StopArgs),
    /// Show recent runs and attempts from the database.
    History(history::HistoryArgs),
    /// Print the output of a run.
    Logs(logs::LogsArgs),
    /// List notifications and the state of their delivery (newest first).
    Notifications(notifications::NotificationsArgs),
    /// Notification channels: `notify test CHANNEL` sends a test message now.
    Notify(notify::NotifyArgs),
    /// Write the schedule in another system's format (Kubernetes CronJobs).
    Export(export::ExportArgs),
    /// Turn another scheduler's file (Ofelia, a crontab of docker run lines) into a cronbox schedule.
    Import(import::ImportArgs),
    /// Print the JSON Schema of the schedule file, for editors.
    ///
    /// The schema (JSON Schema draft 2020-12) is generated from the description
    /// of every key that `check` validates with: types, allowed values,
    /// defaults, docs, and `additionalProperties: false`, so an editor flags an
    /// unknown key. Save it and point the TOML language server taplo at it, e.g.
    /// with `#:schema ./cronbox.schema.json` as the first line of the schedule
    /// file. Rules across keys (backoff_max at least backoff, ...) are checked
    /// by `cronbox check` only.
    Schema(schema::SchemaArgs),
    /// Print the shell completion script for SHELL (for packagers).
    #[command(hide = true)]
    Completions(package::CompletionsArgs),
    /// Print the man page cronbox(1) in roff (for packagers).
    #[command(hide = true)]
    Man(package::ManArgs),
    /// Exit 0 when the engine answers a ping (for the package's postinst).
    #[command(hide = true)]
    EnginePing(package::EnginePingArgs),
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
/// path of `$STATE_DIRECTORY` (systemd separates several with `:`), the default
/// zone as the C library picks it (`TZ`, else `/etc/localtime`, else UTC; see
/// [`config::default_zone`]), and the CPUs available (1 when unknown).
pub fn environment() -> Environment {
    let state_directory = std::env::var_os("STATE_DIRECTORY")
        .and_then(|value| std::env::split_paths(&value).find(|path| !path.as_os_str().is_empty()));
    let tz = std::env::var_os("TZ").map(|value| value.to_string_lossy().into_owned());
    let system = iana_time_zone::get_timezone().map_err(|e| e.to_string());
    let canonical = |path: &str| {
        std::fs::canonicalize(path)
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    };
    let (local_timezone, local_timezone_source) = config::default_zone(
        tz.as_deref(),
        canonical,
        system.as_deref().map_err(Clone::clone),
    );
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Environment {
        state_directory,
        local_timezone,
        local_timezone_source,
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
        Command::Next(args) => next::execute(args).await,
        Command::Run(args) => run::execute(args).await,
        Command::Pause(args) => pause::execute(args, true).await,
        Command::Resume(args) => pause::execute(args, false).await,
        Command::Stop(args) => stop::execute(args).await,
        Command::History(args) => history::execute(args).await,
        Command::Logs(args) => logs::execute(args).await,
        Command::Notifications(args) => notifications::execute(args).await,
        Command::Notify(args) => notify::execute(args).await,
        Command::Export(args) => export::execute(args).await,
        Command::Import(args) => import::execute(args),
        Command::Schema(args) => schema::execute(args),
        Command::Completions(args) => package::execute_completions(args),
        Command::Man(args) => package::execute_man(args),
        Command::EnginePing(args) => package::execute_engine_ping(args).await,
    }
}

/// The exit code for an error: 0 when stdout's reader went away (`| head`:
/// nothing went wrong), 2 for bad usage or configuration, 1 otherwise.
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    if matches!(error.downcast_ref(), Some(OutputError::Closed)) {
        0
    } else if error.downcast_ref::<ConfigError>().is_some()
        || error.downcast_ref::<UsageError>().is_some()
    {
        2
    } else {
        1
    }
}

/// Print what clap has to say (`--help`, `--version`, or a usage error) and
/// return the exit code: 0 for help and version, 2 for a usage error. Help that
/// cannot be written is an error like any output (see [`output`]).
pub fn usage(error: &clap::Error) -> ExitCode {
    use std::io::Write;
    if error.use_stderr() {
        // A usage error goes to stderr; if stderr cannot take it, the code still tells.
        let _ = error.print();
        return ExitCode::from(2);
    }
    match error.print().and_then(|()| std::io::stdout().flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&output::stdout_error(e).into()),
    }
}

/// Say what went wrong on stderr (the error and its causes, once; nothing when
/// stdout's reader merely went away) and return the exit code for it.
pub fn fail(error: &anyhow::Error) -> ExitCode {
    let code = exit_code_for(error);
    if code != 0 {
        note(&format!("cronbox: {error:#}"));
    }
    ExitCode::from(code)
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

/// The job `--job NAME` names (an error listing the jobs if there is none),
/// or every job when it is not given.
pub fn selected_jobs<'c>(
    config: &'c Config,
    job: Option<&str>,
) -> Result<Vec<&'c Job>, UsageError> {
    match job {
        Some(name) => Ok(vec![
            config.job(name).ok_or_else(|| no_such_job(config, name))?,
        ]),
        None => Ok(config.jobs.iter().map(|j| &**j).collect()),
    }
}

/// Rows as aligned columns (no colour; plain text is easy to grep). When stdout
/// is a terminal the table is fitted to its width (see [`fit`]); piped, every
/// column is printed whole.
pub fn table(header: &[&str], rows: &[Vec<String>], drop_first: &[usize]) -> String {
    match terminal_width() {
        Some(width) => {
            let (header, rows) = fit(header, rows, drop_first, width);
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            aligned(&header, &rows)
        }
        None => aligned(header, rows),
    }
}

/// The width of the terminal stdout is, or `None` when it is not one.
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct passed, which lives
    // for the call; a failure leaves it zeroed and is handled below.
    let done = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    if done == 0 && size.ws_col > 0 {
        return Some(usize::from(size.ws_col));
    }
    std::env::var("COLUMNS").ok()?.parse().ok()
}

/// Fit a table into `width` columns of text: leave out the columns `drop_first`
/// names (by index, in that order) while it is too wide, then cut the last
/// column's cells short with `…`, and if that is not enough, the widest of the
/// others (see [`column_caps`]). `--json` always has everything.
pub fn fit(
    header: &[&str],
    rows: &[Vec<String>],
    drop_first: &[usize],
    width: usize,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut keep: Vec<usize> = (0..header.len()).collect();
    let cell_width = |i: usize| {
        rows.iter()
            .filter_map(|row| row.get(i))
            .map(|cell| cell.chars().count())
            .chain(std::iter::once(header[i].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let total = |keep: &[usize]| {
        keep.iter().map(|&i| cell_width(i)).sum::<usize>() + 2 * keep.len().saturating_sub(1)
    };
    for drop in drop_first {
        if total(&keep) <= width {
            break;
        }
        if keep.len() > 1 {
            keep.retain(|i| i != drop);
        }
    }
    let mut header: Vec<String> = keep.iter().map(|&i| header[i].to_owned()).collect();
    let mut rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            keep.iter()
                .map(|&i| row.get(i).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = keep.iter().map(|&i| cell_width(i)).collect();
    let heads: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let room = width.saturating_sub(2 * keep.len().saturating_sub(1));
    let caps = column_caps(&widths, &heads, room);
    for row in &mut rows {
        for (cell, &cap) in row.iter_mut().zip(&caps) {
            cut(cell, cap);
        }
    }
    for (cell, &cap) in header.iter_mut().zip(&caps) {
        cut(cell, cap);
    }
    (header, rows)
}

/// How many characters each column may have so that together they take at most
/// `room` (gaps excluded). The last column gives way first, then the widest of
/// the others, level by level; no column goes below its header's width
/// (`heads`), so a terminal narrower than the headers gets a wider table.
fn column_caps(widths: &[usize], heads: &[usize], room: usize) -> Vec<usize> {
    let mut caps = widths.to_vec();
    let Some(last) = caps.len().checked_sub(1) else {
        return caps;
    };
    let over = caps.iter().sum::<usize>().saturating_sub(room);
    caps[last] = caps[last].saturating_sub(over).max(heads[last]);
    let mut level = caps[..last].iter().copied().max().unwrap_or(0);
    while level > 0 && caps.iter().sum::<usize>() > room {
        level -= 1;
        for (cap, (&width, &head)) in caps[..last].iter_mut().zip(widths.iter().zip(heads)) {
            *cap = width.min(level.max(head));
        }
    }
    caps
}

/// Cut `cell` to `cap` characters, its last one `…`, when it is longer.
fn cut(cell: &mut String, cap: usize) {
    if cell.chars().count() > cap {
        *cell = cell
            .chars()
            .take(cap.saturating_sub(1))
            .chain(['…'])
            .collect();
    }
}

fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
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
            text.push_str(cell);
            if i + 1 < cells.len() {
                // Padded by hand: a `{:<width$}` wider than 65,535 panics.
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                text.extend(std::iter::repeat_n(' ', pad));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a cell of 65,536 characters panicked (`{:<width$}` takes at
    /// most 65,535), and cells of several bytes per character must neither panic
    /// nor be cut inside a character.
    #[test]
    fn long_and_multi_byte_cells_neither_panic_nor_split_characters() {
        let long = "a".repeat(65_536);
        let header = ["JOB", "IMAGE", "NEXT"];
        let rows = vec![
            vec!["é-job".to_owned(), long.clone(), "never".to_owned()],
            vec![
                "🦀".to_owned(),
                "café/🐳:1".to_owned(),
                "ünïcödé…".to_owned(),
            ],
        ];
        let text = aligned(&header, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        // Columns line up by character: NEXT starts at the same character everywhere.
        let next_at = |line: &str, word: &str| line.find(word).map(|b| line[..b].chars().count());
        assert_eq!(next_at(lines[0], "NEXT"), Some(5 + 2 + 65_536 + 2));
        assert_eq!(next_at(lines[1], "never"), Some(5 + 2 + 65_536 + 2));
        assert_eq!(next_at(lines[2], "ünïcödé…"), Some(5 + 2 + 65_536 + 2));
        for width in [0, 1, 5, 12, 40, 80, 70_000] {
            let (got_header, got_rows) = fit(&header, &rows, &[1], width);
            let text = aligned(
                &got_header.iter().map(String::as_str).collect::<Vec<_>>(),
                &got_rows,
            );
            assert_eq!(text.lines().count(), 3, "width {width}:\n{text}");
            // Fits whenever the headers do ("JOB  NEXT" once IMAGE is dropped).
            if width >= 9 {
                assert!(
                    text.lines().all(|l| l.chars().count() <= width),
                    "width {width}:\n{text}"
                );
            }
        }
        // A long column that is not the last is cut too, after the last one.
        let (_, got) = fit(&header, &rows, &[], 40);
        assert_eq!(got[0][2], "nev…");
        assert!(got[0][1].ends_with('…') && got[0][1].chars().count() == 40 - 5 - 4 - 4);
        // The last column is cut by character, never inside one.
        let (_, cut) = fit(&["IMAGE"], &[vec!["🐳".repeat(100)]], &[], 10);
        assert_eq!(cut[0][0], format!("{}…", "🐳".repeat(9)));
    }

    #[test]
    fn tables_fit_the_terminal() {
        let header = ["RUN", "JOB", "WHEN", "REASON"];
        let rows = vec![vec![
            "7".to_owned(),
            "backup".to_owned(),
            "2026-11-22T02:30:00.000Z".to_owned(),
            "the daemon was not running".to_owned(),
        ]];
        // Full width: 3 + 6 + 24 + 26 + 3 gaps of 2 = 65.
        let cases: [(usize, &[usize], &[&str], &str); 5] = [
            (80, &[2], &header, "the daemon was not running"),
            (65, &[2], &header, "the daemon was not running"),
            // Too narrow by 1: WHEN is dropped first, and then it fits.
            (
                64,
                &[2],
                &["RUN", "JOB", "REASON"],
                "the daemon was not running",
            ),
            // Nothing to drop: the last column is cut short, with an ellipsis.
            (60, &[], &header, "the daemon was not r…"),
            // Dropping WHEN is not enough: the last column is cut too.
            (30, &[2], &["RUN", "JOB", "REASON"], "the daemon was n…"),
        ];
        for (width, drop_first, want_header, want_reason) in cases {
            let (got_header, got_rows) = fit(&header, &rows, drop_first, width);
            assert_eq!(got_header, want_header, "width {width}");
            assert_eq!(
                got_rows[0].last().map(String::as_str),
                Some(want_reason),
                "width {width}"
            );
            let text = aligned(
                &got_header.iter().map(String::as_str).collect::<Vec<_>>(),
                &got_rows,
            );
            assert!(
                text.lines().all(|l| l.chars().count() <= width),
                "width {width}:\n{text}"
            );
        }
    }
}
