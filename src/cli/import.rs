//! `cronbox import ofelia FILE` and `cronbox import crontab FILE`: another
//! scheduler's file as a cronbox schedule on stdout (see [`crate::import`]),
//! the lines that could not be imported on stderr with their numbers. Exit
//! code 0, or 1 when any line was not imported (the schedule printed has the
//! rest); 2 when the file cannot be read.

use clap::{Args, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{UsageError, note};
use crate::import::{self, Imported};

/// Largest file read: the same bound as the schedule file's.
const MAX_SIZE: u64 = crate::config::MAX_CONFIG_SIZE;

/// `cronbox import SOURCE FILE`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: Source,
}

/// The formats `import` reads.
#[derive(Debug, Subcommand)]
pub enum Source {
    /// An Ofelia INI file ([job-run "NAME"] sections); 6-field schedules have seconds first.
    Ofelia(FileArg),
    /// A crontab whose lines run `docker run ...` (CRON_TZ= and TZ= lines set the zone).
    Crontab(FileArg),
}

/// The file an import reads.
#[derive(Debug, Args)]
pub struct FileArg {
    /// The file to import.
    pub file: PathBuf,
}

/// Run `cronbox import`: the exit code as the module says.
pub fn execute(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (file, translate): (&Path, fn(&str, &str) -> Imported) = match &args.source {
        Source::Ofelia(arg) => (&arg.file, import::ofelia::import),
        Source::Crontab(arg) => (&arg.file, import::crontab::import),
    };
    let text = read(file)?;
    let shown = file.display().to_string();
    let imported = translate(&text, &shown);
    super::print_out(&imported.toml)?;
    for note_line in &imported.notes {
        note(&format!(
            "{shown}:{}: note: {}",
            note_line.line, note_line.reason
        ));
    }
    for skipped in &imported.skipped {
        note(&format!(
            "{shown}:{}: not imported: {}",
            skipped.line, skipped.reason
        ));
    }
    if imported.skipped.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    note(&format!(
        "cronbox: {} line(s) not imported (listed above); the schedule printed has the other {} job(s)",
        imported.skipped.len(),
        imported.jobs
    ));
    Ok(ExitCode::from(1))
}

/// The file as UTF-8 text: a regular file (or a link to one) of at most
/// [`MAX_SIZE`] bytes; anything else is a usage error naming it.
fn read(path: &Path) -> Result<String, UsageError> {
    let fail = |why: String| UsageError(format!("cannot import {}: {why}", path.display()));
    // Looked at before opening: opening a named pipe would wait for a writer.
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".to_owned()));
    }
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(fail(format!(
            "larger than {} MiB",
            MAX_SIZE / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".to_owned()))
}
