//! The `cronbox` binary: parse the command line, set up logging, call the
//! library, and turn errors into exit codes (2 bad usage or configuration,
//! 1 any other failure, 0 when stdout's reader went away, and for `run` the
//! code `cronbox::cli::run` documents). Nothing here may panic: every write to
//! stdout or stderr goes through `cronbox::cli::output`, and the log writer
//! ignores a stderr that cannot be written.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match cronbox::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cronbox::cli::usage(&e),
    };
    // The daemon logs as its schedule file's log_format says, once it has read it.
    if !matches!(cli.command, cronbox::cli::Command::Daemon(_)) {
        cronbox::cli::logging::init(cronbox::config::LogFormat::Text);
    }
    match cronbox::cli::dispatch(cli).await {
        Ok(code) => code,
        Err(error) => cronbox::cli::fail(&error),
    }
}
