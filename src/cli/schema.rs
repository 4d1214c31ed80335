//! `cronbox schema`: print the JSON Schema (draft 2020-12) of the schedule file,
//! generated from the same description of every key that `check` validates with,
//! for editors (the TOML language server taplo: see the README). Reads no file.

use clap::Args;
use std::process::ExitCode;

use crate::config;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn execute(_args: SchemaArgs) -> anyhow::Result<ExitCode> {
    let mut text = serde_json::to_string_pretty(&config::json_schema())?;
    text.push('\n');
    super::print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}
