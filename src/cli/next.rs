//! `cronbox next`: the next fire times of the jobs (with `random_delay`, the
//! shifted instants, each followed by its tick), in each job's zone, merged
//! in time order and written as they are computed (memory does not grow with
//! `--count`). A job that runs out of fire times before `--count` (past what
//! cronbox can compute: see [`End`]) is named on stderr and the exit code is 1.

use chrono::{DateTime, Utc};
use clap::Args;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::process::ExitCode;

use super::{ConfigArg, UsageError};
use crate::clock::{Clock, SystemClock};
use crate::config::Job;
use crate::schedule::{End, local_time};

/// The most fire times `--count` may ask for, per job: a year of an
/// every-minute job (525,600) fits.
pub const MAX_COUNT: u32 = 1_000_000;

#[derive(Debug, Args)]
pub struct NextArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this job.
    #[arg(long)]
    pub job: Option<String>,
    /// How many fire times per job, from 1 to 1000000.
    #[arg(long, default_value_t = 5, value_parser = parse_count)]
    pub count: u32,
    /// Start from this instant (RFC 3339, e.g. 2025-03-30T00:00:00+01:00); times are strictly after it. Default: now.
    #[arg(long)]
    pub from: Option<String>,
    /// One JSON object per line: {"job":"backup-db","time":"2025-03-30T03:00:00+02:00"} (with random_delay, "time" is when the tick fires and "tick" the tick).
    #[arg(long)]
    pub json: bool,
}

/// `--count`: a whole number from 1 to [`MAX_COUNT`].
fn parse_count(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(count) if (1..=MAX_COUNT).contains(&count) => Ok(count),
        _ => Err(format!(
            "expected a whole number from 1 to {MAX_COUNT} (fire times per job); for more, run `cronbox next` again with --from set to the last time printed"
        )),
    }
}

/// A job that ran out of fire times before `--count`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct NoMoreFireTimes(Vec<String>);

pub async fn execute(args: NextArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config.load()?;
    if let Some(note) = super::spread::spread_from_database(&mut config).await {
        super::note(&note);
    }
    let from: DateTime<Utc> = match &args.from {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| UsageError(format!("--from {text:?} is not an RFC 3339 time ({e}); write it like 2025-03-30T00:00:00+01:00")))?
            .with_timezone(&Utc),
        None => SystemClock.now(),
    };
    let jobs = super::selected_jobs(&config, args.job.as_deref())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = write_times(&mut out, &jobs, from, args.count, args.json).and_then(|ended| {
        out.flush()?;
        Ok(ended)
    });
    let ended = match written {
        Ok(ended) => ended,
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            return Err(anyhow::Error::new(e).context("cannot write the fire times to stdout"));
        }
    };
    if ended.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(NoMoreFireTimes(ended).into())
    }
}

/// Where one job is in the merge.
struct Cursor<'a> {
    job: &'a Job,
    /// Fire times still to write.
    left: u32,
    /// The last time written, as written; `None` before the first.
    last: Option<String>,
}

/// Write up to `count` fire times of each job after `from`, merged in time
/// order (ties by job name), one line each, as they are computed. Returns a
/// line for each job that ran out before `count`: what it is and why.
fn write_times(
    out: &mut impl Write,
    jobs: &[&Job],
    from: DateTime<Utc>,
    count: u32,
    json: bool,
) -> std::io::Result<Vec<String>> {
    let mut cursors: Vec<Cursor<'_>> = jobs
        .iter()
        .map(|job| Cursor {
            job,
            left: count,
            last: None,
        })
        .collect();
    let mut ended = Vec::new();
    // (next fire time, job index): the smallest comes out first.
    let mut queue = BinaryHeap::new();
    write_started_by(out, jobs, json)?;
    for (index, cursor) in cursors.iter().enumerate() {
        if cursor.job.started_by().is_some() {
            continue;
        }
        match cursor.job.next_fire(from) {
            Ok(at) => queue.push(Reverse((at, index))),
            Err(end) => ended.push(ran_out(cursor, from, count, end)),
        }
    }
    while let Some(Reverse((at, index))) = queue.pop() {
        let cursor = &mut cursors[index];
        let job = cursor.job;
        let local = match local_time(job.timezone, at) {
            Ok(local) => local.to_rfc3339(),
            Err(end) => {
                ended.push(ran_out(cursor, from, count, end));
                continue;
            }
        };
        // With random_delay, `at` is the fire instant; the tick is said too.
        let tick = (job.random_delay.is_some())
            .then(|| local_time(job.timezone, job.tick_of(at)).map(|t| t.to_rfc3339()))
            .and_then(Result::ok);
        match (json, &tick) {
            (true, None) => {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "job": job.name, "time": local })
                )?;
            }
            (true, Some(tick)) => {
                let line = serde_json::json!({ "job": job.name, "time": local, "tick": tick });
                writeln!(out, "{line}")?;
            }
            (false, None) => writeln!(out, "{local}  {}", job.name)?,
            (false, Some(tick)) => writeln!(out, "{local}  {}  (tick {tick})", job.name)?,
        }
        cursor.left -= 1;
        cursor.last = Some(local);
        if cursor.left == 0 {
            continue;
        }
        match job.next_fire(at) {
            Ok(next) => queue.push(Reverse((next, index))),
            Err(end) => ended.push(ran_out(cursor, from, count, end)),
        }
    }
    Ok(ended)
}

/// One line for each job another trigger starts (`after`), saying what starts
/// it, before the fire times: such a job has none.
fn write_started_by(out: &mut impl Write, jobs: &[&Job], json: bool) -> std::io::Result<()> {
    for job in jobs {
        let Some(started_by) = job.started_by() else {
            continue;
        };
        if json {
            let line = serde_json::json!({ "job": job.name, "started_by": started_by });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{started_by}  {}", job.name)?;
        }
    }
    Ok(())
}

/// "job "x" has no fire time after T (2 of 5 printed): why".
fn ran_out(cursor: &Cursor<'_>, from: DateTime<Utc>, count: u32, end: End) -> String {
    let after = cursor.last.clone().unwrap_or_else(|| from.to_rfc3339());
    format!(
        "job {:?} has no fire time after {after} ({} of {count} printed): {end}",
        cursor.job.name,
        count - cursor.left
    )
}
