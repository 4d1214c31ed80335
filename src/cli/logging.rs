//! Logging for the binary: `tracing` events to stderr, filtered by
//! `CRONBOX_LOG` (an `EnvFilter`, default `info`), as text or JSON lines (the
//! daemon's `[daemon] log_format`), and never a secret.
//!
//! bollard logs request and response bodies at `debug` and `trace` (a container's
//! create body and its inspection both hold the job's environment). A directive
//! added to the user's filter would not do: `CRONBOX_LOG=bollard::docker=debug`
//! is more specific than `bollard=info` and wins. So a second filter, which the
//! environment cannot change, caps every target starting with `bollard` at
//! `info`; an event is written only when both filters let it through.
//!
//! The same filter caps the `notify` crate (inotify) at `debug`: at `trace` it
//! logs every raw event of the directories it watches, and a log file written
//! in one of them (the schedule's directory, an `on_file` directory) would make
//! each line an event, and each event a line, without end.

use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::LogFormat;

/// The environment variable holding the log filter (`EnvFilter` syntax).
pub const ENV: &str = "CRONBOX_LOG";

/// The most verbose level any `bollard*` target is ever logged at.
pub const DOCKER_CLIENT_MAX: LevelFilter = LevelFilter::INFO;

/// The most verbose level the `notify` crate (inotify) is ever logged at.
pub const FILE_WATCH_MAX: LevelFilter = LevelFilter::DEBUG;

/// The filter no `CRONBOX_LOG` can loosen: `bollard*` targets at
/// [`DOCKER_CLIENT_MAX`] at most, `notify*` at [`FILE_WATCH_MAX`],
/// everything else as the user's filter says.
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("bollard", DOCKER_CLIENT_MAX)
        .with_target("notify", FILE_WATCH_MAX)
}

/// Install the subscriber: stderr in `format`, colour only on a terminal, and
/// write errors ignored (a stderr that is full or closed must not panic the
/// process; tracing-subscriber would otherwise report them with `eprintln!`,
/// which panics). An unreadable `CRONBOX_LOG` is said once on stderr and `info`
/// used instead. Text leaves the time out under systemd ([`under_journald`]),
/// whose journal stamps every line itself; JSON always has it.
pub fn init(format: LogFormat) {
    let filter = user_filter().and(caps());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let base = tracing_subscriber::fmt::layer::<Registry>()
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let layer: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text if under_journald() => base
            .without_time()
            .with_ansi(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => base.with_ansi(ansi).with_filter(filter).boxed(),
    };
    // Fails only when a subscriber is already installed: then that one logs.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// `CRONBOX_LOG` as a filter; `info` when unset, empty or unreadable (said once).
fn user_filter() -> EnvFilter {
    match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => EnvFilter::try_new(&text).unwrap_or_else(|e| {
            super::note(&format!(
                "cronbox: warning: {ENV}={text:?} is not a valid filter ({e}); logging at info. Write it like info,cronbox=debug"
            ));
            EnvFilter::new("info")
        }),
        _ => EnvFilter::new("info"),
    }
}

/// Whether stderr goes to systemd's journal: `JOURNAL_STREAM` (set by systemd
/// for a unit whose output goes there, as `device:inode`) names stderr's file.
/// Only the variable set is not enough: a shell started from a unit inherits it
/// while its stderr is a terminal.
pub fn under_journald() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((device, inode)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(stderr) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    device.parse::<u64>().ok() == Some(stderr.dev())
        && inode.parse::<u64>().ok() == Some(stderr.ino())
}
