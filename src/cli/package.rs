//! The hidden subcommands the Debian package is made with (`scripts/dev.sh
//! package`) and its maintainer scripts call: `cronbox completions SHELL` and
//! `cronbox man` print what `clap_complete` and `clap_mangen` generate from the
//! clap definitions of [`super::Cli`], so the shell completions and the man page
//! never drift from `--help`; `cronbox engine-ping` tells the package's postinst
//! whether the engine the schedule file names (`[daemon] engine`, as the
//! daemon reads it) answers: the unit is then started, else only enabled.
//! Hidden from `--help`: they are for packagers, not for the schedule's operator.

use clap::{Args, CommandFactory};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write cronbox.1 and a page per subcommand (cronbox-daemon.1, ...) into
    /// this directory instead of printing cronbox.1.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnginePingArgs {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// How long to wait for the engine's answer, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub wait: u64,
}

/// The completion script for `shell`, as bytes (what `completions` prints),
/// without the hidden subcommands (`clap_complete` would offer them).
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let full = super::Cli::command();
    let visible: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
        .collect();
    let mut command = clap::Command::new("cronbox")
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .subcommands(visible);
    if let Some(about) = full.get_about() {
        command = command.about(about.clone());
    }
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "cronbox", &mut out);
    out
}

/// The command the man pages describe: without clap's `help` subcommand, as
/// `clap_mangen::generate_to` renders it.
fn documented() -> clap::Command {
    super::Cli::command().disable_help_subcommand(true)
}

/// The man page cronbox(1) in roff (what `man` prints). It lists the
/// subcommands, whose own pages `man --dir` writes.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(documented()).render(&mut out)?;
    Ok(out)
}

pub fn execute_completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    super::output::out(&mut std::io::stdout().lock(), &completions(args.shell))?;
    Ok(ExitCode::SUCCESS)
}

pub fn execute_man(args: ManArgs) -> anyhow::Result<ExitCode> {
    match args.dir {
        Some(dir) => clap_mangen::generate_to(documented(), &dir).map_err(|e| {
            anyhow::anyhow!("cannot write the man pages into {}: {e}", dir.display())
        })?,
        None => super::output::out(&mut std::io::stdout().lock(), &man_page()?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 when the engine the daemon would use (the schedule file's
/// `[daemon] engine`, else `$DOCKER_HOST`, else the local socket) answers a
/// ping within `--wait` seconds; else 1, saying on stderr which engine and why.
/// A schedule file that cannot be loaded is an error naming it (exit 2): the
/// daemon would not start on it either.
pub async fn execute_engine_ping(args: EnginePingArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let engine = super::registry::bare_engine(&config);
    let wait = Duration::from_secs(args.wait);
    match tokio::time::timeout(wait, engine.check()).await {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(e)) => {
            super::note(&format!(
                "cronbox: the engine at {} does not answer: {e}",
                engine.address()
            ));
            Ok(ExitCode::from(1))
        }
        Err(_) => {
            super::note(&format!(
                "cronbox: the engine at {} did not answer within {}s",
                engine.address(),
                args.wait
            ));
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_name_every_visible_subcommand_and_no_hidden_one() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let text = String::from_utf8(completions(shell)).expect("utf-8");
            for name in ["daemon", "check", "next", "history", "logs", "schema"] {
                assert!(text.contains(name), "{shell}: {name} missing");
            }
            // fish writes options as `-l config`.
            assert!(text.contains("config"), "{shell}: --config missing");
            assert!(!text.contains("engine-ping"), "{shell}: a hidden command");
        }
    }

    #[test]
    fn man_page_is_roff_naming_cronbox_in_section_1() {
        let text = String::from_utf8(man_page().expect("render")).expect("utf-8");
        assert!(text.contains(".TH cronbox 1"), "{text}");
        assert!(text.contains("history"), "{text}");
        assert!(!text.contains("engine\\-ping"), "{text}");
    }
}
