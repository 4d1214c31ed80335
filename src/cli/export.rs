//! `cronbox export kubernetes`: the schedule as Kubernetes CronJobs on stdout
//! (see [`crate::export::kubernetes`]), each setting Kubernetes cannot express
//! the same way as a warning on stderr. Exit code 0, or 2 with `--strict` when
//! there are warnings; 2 without output when a job cannot be exported at all.
//! A job paused in the database (read only; none without a database) is
//! exported with `suspend: true`.

use clap::{Args, Subcommand};
use std::process::ExitCode;

use super::{ConfigArg, note};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::export::kubernetes::{self, Options};

/// `cronbox export TARGET`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub target: Target,
}

/// The formats `export` writes.
#[derive(Debug, Subcommand)]
pub enum Target {
    /// Print a batch/v1 CronJob per job (YAML); warn on stderr about each setting Kubernetes cannot express the same way.
    Kubernetes(KubernetesArgs),
}

/// `cronbox export kubernetes`'s options.
#[derive(Debug, Args)]
pub struct KubernetesArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this job.
    #[arg(long)]
    pub job: Option<String>,
    /// The namespace of the CronJobs (and of the kubectl commands in the comments).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Exit with code 2 when anything is warned about (the YAML is printed all the same).
    #[arg(long)]
    pub strict: bool,
}

/// Run `cronbox export`: the exit code as the module says.
pub async fn execute(args: ExportArgs) -> anyhow::Result<ExitCode> {
    match args.target {
        Target::Kubernetes(args) => kubernetes(&args).await,
    }
}

async fn kubernetes(args: &KubernetesArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let jobs = super::selected_jobs(&config, args.job.as_deref())?;
    let daemon_keys = daemon_keys(&config);
    // Read only, as `cronbox check` reads them: the export writes nothing.
    let paused = super::check::paused_jobs(&config).await;
    let options = Options {
        namespace: args.namespace.as_deref(),
        now: SystemClock.now(),
        daemon_keys: &daemon_keys,
        paused: &paused,
    };
    let path = config.path.display();
    let manifest = match kubernetes::export(&config, &jobs, &options) {
        Ok(manifest) => manifest,
        Err(refused) => {
            for problem in &refused.problems {
                note(&format!("{path}: cannot export: {problem}"));
            }
            note(
                "cronbox: nothing exported; fix the jobs named above or leave them out with --job",
            );
            return Ok(ExitCode::from(2));
        }
    };
    super::print_out(&manifest.yaml)?;
    for warning in &manifest.warnings {
        note(&format!("{path}: warning: {warning}"));
    }
    Ok(if args.strict && !manifest.warnings.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The keys written in the file's `[daemon]` table (the file was just read and
/// validated; if it cannot be read again, none).
fn daemon_keys(config: &Config) -> Vec<String> {
    std::fs::read_to_string(&config.path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| match table.get("daemon") {
            Some(toml::Value::Table(daemon)) => Some(daemon.keys().cloned().collect()),
            _ => None,
        })
        .unwrap_or_default()
}
