//! `cronbox next`: the next fire times of the jobs, in each job's zone.

use chrono::{DateTime, Utc};
use clap::Args;
use std::process::ExitCode;

use super::{ConfigArg, UsageError};
use crate::clock::{Clock, SystemClock};

#[derive(Debug, Args)]
pub struct NextArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this job.
    #[arg(long)]
    pub job: Option<String>,
    /// How many fire times per job.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// Start from this instant (RFC 3339, e.g. 2025-03-30T00:00:00+01:00); times are strictly after it. Default: now.
    #[arg(long)]
    pub from: Option<String>,
    /// One JSON object per line: {"job":"backup-db","time":"2025-03-30T03:00:00+02:00"}.
    #[arg(long)]
    pub json: bool,
}

pub fn execute(args: NextArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let from: DateTime<Utc> = match &args.from {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| UsageError(format!("--from {text:?} is not an RFC 3339 time ({e}); write it like 2025-03-30T00:00:00+01:00")))?
            .with_timezone(&Utc),
        None => SystemClock.now(),
    };
    let jobs: Vec<_> = match &args.job {
        Some(name) => vec![config.job(name).ok_or_else(|| {
            let names: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
            UsageError(format!(
                "no job {name:?} in {}; jobs: {}",
                config.path.display(),
                names.join(", ")
            ))
        })?],
        None => config.jobs.iter().collect(),
    };
    let mut times = Vec::new();
    for job in jobs {
        let mut at = from;
        for _ in 0..args.count {
            let Some(next) = job.schedule.next_after(at) else {
                break;
            };
            times.push((next, job));
            at = next;
        }
    }
    times.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let mut out = String::new();
    for (at, job) in times {
        let local = at.with_timezone(&job.timezone).to_rfc3339();
        if args.json {
            out.push_str(&serde_json::json!({ "job": job.name, "time": local }).to_string());
            out.push('\n');
        } else {
            out.push_str(&format!("{local}  {}\n", job.name));
        }
    }
    super::print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}
