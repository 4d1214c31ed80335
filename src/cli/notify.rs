//! `cronbox notify test CHANNEL [--job JOB]`: send a test message to a channel
//! now, from this process, and print what became of it (the channel's host
//! only, never its URL). Nothing is written to the database.

use clap::{Args, Subcommand};
use std::process::ExitCode;

use super::ConfigArg;
use crate::notify::{http, mail, payload};

#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message (event `test`) to CHANNEL now and print the result.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A channel of the schedule file ([notify.NAME]).
    pub channel: String,
    /// The job the message names (default: "cronbox").
    #[arg(long)]
    pub job: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn execute(args: NotifyArgs) -> anyhow::Result<ExitCode> {
    let NotifyCommand::Test(args) = args.command;
    let config = args.config.load()?;
    let Some(channel) = config.channels.iter().find(|c| c.name == args.channel) else {
        let known: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "no channel {:?} in {}; channels: {}",
            args.channel,
            config.path.display(),
            if known.is_empty() {
                "none (add one as [notify.NAME])".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let test = payload::Payload {
        event: "test".into(),
        job: args.job.unwrap_or_else(|| "cronbox".into()),
        ..payload::Payload::empty(0)
    };
    let host = if let Some(email) = &channel.email {
        // A fresh Message-ID each time: mail services drop a repeated one.
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        mail::send(channel, &format!("test-{}", now.timestamp_millis()), &test).await?;
        format!("{}:{}", email.host, email.port)
    } else {
        let client = http::client()?;
        let body = payload::render(channel.format, &test);
        let host = http::channel_url(channel).map(|url| http::host_of(&url))?;
        http::post(&client, channel, "test", body).await?;
        host
    };
    super::print_out(&format!(
        "test message delivered to channel {} ({host})\n",
        channel.name
    ))?;
    Ok(ExitCode::SUCCESS)
}
