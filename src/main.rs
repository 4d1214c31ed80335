//! The `cronbox` binary: parse the command line, set up logging, call the
//! library, and turn errors into exit codes (2 bad usage or configuration,
//! 1 any other failure, the job's own code for `run`).

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match cronbox::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let filter = EnvFilter::try_from_env("CRONBOX_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // bollard logs request and response bodies at debug, and they carry the
        // jobs' environment: secrets must never reach the logs.
        .add_directive("bollard=info".parse().expect("a valid directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cronbox::cli::dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cronbox: {error:#}");
            ExitCode::from(cronbox::cli::exit_code_for(&error))
        }
    }
}
