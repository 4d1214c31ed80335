//! `cronbox history [JOB]`: recent runs and their attempts, from the database.

use clap::Args;
use std::process::ExitCode;

use super::DatabaseArg;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this job.
    pub job: Option<String>,
    /// How many runs (newest first).
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: u32,
    /// One JSON object per line (one per attempt).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub database: DatabaseArg,
}

pub async fn execute(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let store = args.database.open().await?;
    let rows = store.history(args.job.as_deref(), args.limit).await?;
    store.close().await;
    if args.json {
        let mut out = String::new();
        for row in &rows {
            out.push_str(&serde_json::to_string(row)?);
            out.push('\n');
        }
        super::print_out(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let opt = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    // The INDEX column only when an indexed run (completions > 1) is listed.
    let indexed = rows.iter().any(|r| r.completion_index.is_some());
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.run_id.to_string(),
                r.job.clone(),
                trigger_shown(r),
                r.scheduled_at.clone(),
                r.status.clone(),
                opt(r.attempt),
                r.outcome.clone().unwrap_or_else(|| "-".into()),
                opt(r.exit_code),
                r.started_at.clone(),
                r.duration_ms.map_or_else(
                    || "-".to_owned(),
                    |ms| format!("{:.1}s", ms as f64 / 1000.0),
                ),
            ];
            if indexed {
                row.push(opt(r.completion_index));
            }
            row
        })
        .collect();
    let mut header = vec![
        "RUN",
        "JOB",
        "TRIGGER",
        "SCHEDULED",
        "STATUS",
        "ATTEMPT",
        "OUTCOME",
        "EXIT",
        "STARTED",
        "DURATION",
    ];
    if indexed {
        header.push("INDEX");
    }
    super::print_out(&super::table(
        &header,
        &table,
        // On a narrow terminal: STARTED, TRIGGER, ATTEMPT, EXIT go first.
        &[8, 2, 5, 7],
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The trigger, with what started the run for `after` ("after #12") and
/// `file` ("file orders.csv").
fn trigger_shown(row: &crate::store::HistoryRow) -> String {
    match (&row.parent_run_id, &row.input_file) {
        (Some(parent), _) => format!("{} #{parent}", row.trigger),
        (None, Some(path)) => {
            let name = std::path::Path::new(path)
                .file_name()
                .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
            format!("{} {name}", row.trigger)
        }
        (None, None) => row.trigger.clone(),
    }
}
