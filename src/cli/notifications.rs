//! `cronbox notifications [--pending] [--json]`: the notifications and the state
//! of their delivery, from the database (newest first).

use clap::Args;
use std::process::ExitCode;

use super::DatabaseArg;

#[derive(Debug, Args)]
pub struct NotificationsArgs {
    /// Only those still waiting to be delivered.
    #[arg(long)]
    pub pending: bool,
    /// How many (newest first).
    #[arg(long, short = 'n', default_value_t = 50)]
    pub limit: u32,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub database: DatabaseArg,
}

pub async fn execute(args: NotificationsArgs) -> anyhow::Result<ExitCode> {
    let store = args.database.open().await?;
    let rows = store.notifications(args.pending, args.limit).await?;
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
    let dash = || "-".to_owned();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|n| {
            vec![
                n.id.to_string(),
                n.job.clone(),
                n.run_id.map_or_else(dash, |id| id.to_string()),
                n.channel.clone(),
                n.event.clone(),
                n.state.clone(),
                n.attempts.to_string(),
                match n.state.as_str() {
                    "pending" => n.next_attempt_at.clone(),
                    _ => n.delivered_at.clone().unwrap_or_else(dash),
                },
                n.last_error.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    super::print_out(&super::table(
        &[
            "ID",
            "JOB",
            "RUN",
            "CHANNEL",
            "EVENT",
            "STATE",
            "ATTEMPTS",
            "NEXT/DONE",
            "LAST ERROR",
        ],
        &table,
        // On a narrow terminal: NEXT/DONE, RUN, ATTEMPTS go first.
        &[7, 2, 6],
    ))?;
    Ok(ExitCode::SUCCESS)
}
