//! Logging for the binary: `tracing` events to stderr, filtered by
//! `CRONBOX_LOG` (an `EnvFilter`, default `info`), and never a secret.
//!
//! bollard logs request and response bodies at `debug` and `trace` (a container's
//! create body and its inspection both hold the job's environment). A directive
//! added to the user's filter would not do: `CRONBOX_LOG=bollard::docker=debug`
//! is more specific than `bollard=info` and wins. So a second filter, which the
//! environment cannot change, caps every target starting with `bollard` at
//! `info`; an event is written only when both filters let it through.

use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The environment variable holding the log filter (`EnvFilter` syntax).
pub const ENV: &str = "CRONBOX_LOG";

/// The most verbose level any `bollard*` target is ever logged at.
pub const DOCKER_CLIENT_MAX: LevelFilter = LevelFilter::INFO;

/// The filter no `CRONBOX_LOG` can loosen: `bollard*` targets at
/// [`DOCKER_CLIENT_MAX`] at most, everything else as the user's filter says.
pub fn secrets_cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("bollard", DOCKER_CLIENT_MAX)
}

/// Install the subscriber: stderr, colour only on a terminal, and write errors
/// ignored (a stderr that is full or closed must not panic the process;
/// tracing-subscriber would otherwise report them with `eprintln!`, which panics).
/// An unreadable `CRONBOX_LOG` is said once on stderr and `info` used instead.
pub fn init() {
    let user = match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => EnvFilter::try_new(&text).unwrap_or_else(|e| {
            super::note(&format!(
                "cronbox: warning: {ENV}={text:?} is not a valid filter ({e}); logging at info. Write it like info,cronbox=debug"
            ));
            EnvFilter::new("info")
        }),
        _ => EnvFilter::new("info"),
    };
    let layer = tracing_subscriber::fmt::layer::<Registry>()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .with_filter(user.and(secrets_cap()));
    // Fails only when a subscriber is already installed: then that one logs.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
