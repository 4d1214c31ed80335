//! `cronbox check`: validate the schedule file and show each job's next fire time.

use clap::Args;
use std::process::ExitCode;

use super::ConfigArg;
use crate::clock::{Clock, SystemClock};

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

pub fn execute(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let now = SystemClock.now();
    let rows: Vec<Vec<String>> = config
        .jobs
        .iter()
        .map(|job| {
            let next = job.schedule.next_after(now).map_or_else(
                || "never".to_owned(),
                |t| t.with_timezone(&job.timezone).to_rfc3339(),
            );
            vec![
                job.name.clone(),
                job.schedule.expression().to_owned(),
                job.timezone.to_string(),
                job.image.clone(),
                next,
            ]
        })
        .collect();
    println!(
        "{}: OK, {} job(s), database {}",
        config.path.display(),
        config.jobs.len(),
        config.daemon.database.display()
    );
    if !rows.is_empty() {
        super::print_table(&["JOB", "SCHEDULE", "ZONE", "IMAGE", "NEXT"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}
