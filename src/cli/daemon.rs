//! `cronbox daemon`: open the database, connect to the engine and run the
//! scheduler. This is where the process's signals are handled: SIGTERM and
//! SIGINT shut down, SIGHUP reloads the schedule file. It also watches the
//! schedule file (inotify on its directory, no polling) and reloads it once it
//! has been quiet for [`DEBOUNCE`] after a change.
//!
//! A reload validates the whole file first. A file that does not validate is
//! refused: every problem is logged with its file, line and column, and the
//! scheduler keeps the schedule it has. A valid one is sent to
//! [`crate::daemon::run`], which re-plans future ticks from it; runs already
//! going keep the job configuration they started with.
//!
//! It also starts the HTTP server (`[daemon.http]`: the API, metrics, health),
//! on the same runtime and stopped with the same shutdown token.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ConfigArg;
use crate::clock::SystemClock;
use crate::config::{self, Config, ConfigError, DaemonConfig, MAX_CONFIG_SIZE};
use crate::store::Store;

/// How long the schedule file must stay unchanged after a change before it is
/// read: an editor's save (truncate, write, rename, chmod) is one reload, and a
/// half-written file is never read.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// A file that never stays quiet (something rewrites it in a loop) is still read
/// this long after its first change.
pub const DEBOUNCE_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn execute(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    // Read before loading: if the file changes in between, the next change
    // notification finds it different and reloads it.
    let seen = read_schedule(&args.config.config);
    let config = Arc::new(args.config.load()?);
    super::logging::init(config.daemon.log_format);
    let http = config.daemon.http.clone();
    let store = Store::open(&config.daemon.database).await?;
    tracing::info!(database = %store.path().display(), "history database open");
    let engine = super::registry::engine(&config)?;
    let (updates, config_rx) = watch::channel(config.clone());

    let shutdown = CancellationToken::new();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let (changed_tx, mut changed) = mpsc::channel(1);
    // Dropped with the task below, which ends the watch.
    let watcher = match watch_file(&args.config.config, changed_tx) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(
                config = %args.config.config.display(),
                error = %e,
                "cannot watch the schedule file for changes; reload it with SIGHUP (systemctl reload cronbox)"
            );
            None
        }
    };
    let mut reloader = Reloader {
        arg: args.config.clone(),
        started: config,
        updates,
        seen,
    };
    let signals = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _watcher = watcher;
            // When the file has been quiet long enough, and the latest it may wait.
            let mut due: Option<(Instant, Instant)> = None;
            loop {
                let deadline = due.map(|(quiet, latest)| quiet.min(latest));
                tokio::select! {
                    _ = terminate.recv() => break,
                    _ = interrupt.recv() => break,
                    _ = hangup.recv() => {
                        due = None;
                        reloader.reload(Cause::Hangup);
                    }
                    Some(()) = changed.recv() => {
                        let now = Instant::now();
                        let latest = due.map_or(now + DEBOUNCE_MAX, |(_, latest)| latest);
                        due = Some((now + DEBOUNCE, latest));
                    }
                    _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                        due = None;
                        reloader.reload(Cause::FileChanged);
                    }
                }
            }
            tracing::info!("shutdown requested");
            shutdown.cancel();
        })
    };
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(SystemClock);
    let (handle, controls) = crate::daemon::control::channel();
    let services = crate::http::Services {
        handle,
        store: store.clone(),
        engine: engine.clone(),
        clock: clock.clone(),
    };
    // Before the scheduler, so that a port in use or a bad token file stops the
    // start with its reason rather than a daemon without its API.
    let server = match crate::http::start(&http, services, shutdown.clone()).await {
        Ok(server) => server,
        Err(e) => {
            signals.abort();
            return Err(e.into());
        }
    };
    let result =
        crate::daemon::run_with(config_rx, store, engine, clock, shutdown.clone(), controls).await;
    signals.abort();
    // Stops with the same token; a daemon stopping on an error stops it too.
    shutdown.cancel();
    if let Some(server) = server {
        server.stopped(Duration::from_secs(10)).await;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// SIGHUP (`systemctl reload cronbox`): the file is always read again.
    Hangup,
    /// The file changed on disk: read only if its content differs from the last read.
    FileChanged,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cause::Hangup => "SIGHUP",
            Cause::FileChanged => "file changed",
        })
    }
}

/// Reads the schedule file again and hands a valid one to the scheduler.
struct Reloader {
    arg: ConfigArg,
    /// The configuration the daemon started with: its `[daemon]` settings stay in
    /// force until the next start.
    started: Arc<Config>,
    updates: watch::Sender<Arc<Config>>,
    /// The file's bytes at its last reading (`None`: it could not be read), so that
    /// a notification that leaves the content as it was (`touch`, a save without
    /// edits) does nothing.
    seen: Option<Vec<u8>>,
}

impl Reloader {
    fn reload(&mut self, cause: Cause) {
        let path = &self.arg.config;
        let bytes = read_schedule(path);
        if cause == Cause::FileChanged && bytes == self.seen {
            tracing::debug!(config = %path.display(), "schedule file touched but its content is unchanged; nothing to reload");
            return;
        }
        self.seen = bytes;
        let current = self.updates.borrow().clone();
        match self.arg.load() {
            Ok(new) => {
                let changes = Changes::between(&current, &new);
                tracing::info!(
                    config = %new.path.display(),
                    jobs = new.jobs.len(),
                    added = %list(&changes.added),
                    removed = %list(&changes.removed),
                    rescheduled = %list(&changes.rescheduled),
                    changed = %list(&changes.changed),
                    "reload ({cause}): schedule file valid; applying it to future ticks (runs already going keep the configuration they started with)"
                );
                let pending = daemon_changes(&self.started.daemon, &new.daemon);
                if !pending.is_empty() {
                    tracing::warn!(
                        keys = %pending.join(", "),
                        "reload ({cause}): these [daemon] settings differ from the ones the daemon started with; they take effect at the next start (systemctl restart cronbox)"
                    );
                }
                self.updates.send_replace(Arc::new(new));
            }
            Err(e) => log_refused(cause, &e, current.jobs.len()),
        }
    }
}

/// The schedule file's bytes, read as [`crate::config::load`] reads them (a regular
/// file of at most [`MAX_CONFIG_SIZE`] bytes: never blocking on a FIFO), or `None`.
fn read_schedule(path: &Path) -> Option<Vec<u8>> {
    config::file::read(path, MAX_CONFIG_SIZE).ok()
}

/// Log a refused file: a summary, then each problem on its own line as
/// `PATH:LINE:COL: job "NAME": message` (a TOML syntax error with its caret snippet).
fn log_refused(cause: Cause, error: &ConfigError, jobs: usize) {
    tracing::error!(
        config = %error.path.display(),
        problems = error.problems.len(),
        kept_jobs = jobs,
        "reload ({cause}): schedule file refused; the daemon keeps its current schedule. Fix these problems and save the file again (or send SIGHUP):"
    );
    for problem in &error.problems {
        let one = ConfigError {
            path: error.path.clone(),
            problems: vec![problem.clone()],
        };
        tracing::error!("{one}");
    }
}

/// How a reload changes the jobs, by name.
#[derive(Debug, Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    /// Schedule or time zone changed: the job's next tick is planned anew.
    rescheduled: Vec<String>,
    /// Anything else changed: the job's next runs use it.
    changed: Vec<String>,
}

impl Changes {
    fn between(old: &Config, new: &Config) -> Changes {
        let mut changes = Changes::default();
        for job in &new.jobs {
            match old.job(&job.name) {
                None => changes.added.push(job.name.clone()),
                Some(before)
                    if before.schedule.expression() != job.schedule.expression()
                        || before.timezone != job.timezone =>
                {
                    changes.rescheduled.push(job.name.clone());
                }
                // `Job` has no `PartialEq` (its schedule holds a parsed cron); its
                // Debug form holds every setting. Compared only, never logged.
                Some(before) if format!("{before:?}") != format!("{job:?}") => {
                    changes.changed.push(job.name.clone());
                }
                Some(_) => {}
            }
        }
        changes.removed = old
            .jobs
            .iter()
            .filter(|job| new.job(&job.name).is_none())
            .map(|job| job.name.clone())
            .collect();
        changes
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

/// The `[daemon]` keys whose value in `new` differs from `started`. The scheduler
/// reads them once, at start; `timezone` is not among them, as it reaches the
/// jobs (their default zone), which a reload applies.
fn daemon_changes(started: &DaemonConfig, new: &DaemonConfig) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if started.database != new.database {
        keys.push("database");
    }
    if started.max_concurrent != new.max_concurrent {
        keys.push("max_concurrent");
    }
    if started.require_limits != new.require_limits {
        keys.push("require_limits");
    }
    if started.on_shutdown != new.on_shutdown {
        keys.push("on_shutdown");
    }
    if started.log_format != new.log_format {
        keys.push("log_format");
    }
    if started.registry_auth != new.registry_auth {
        keys.push("registry_auth");
    }
    if started.engine != new.engine {
        keys.push("engine");
    }
    if started.history_max_age != new.history_max_age {
        keys.push("history_max_age");
    }
    if started.history_limit != new.history_limit {
        keys.push("history_limit");
    }
    if started.http.listen != new.http.listen {
        keys.push("http.listen");
    }
    if started.http.token_file != new.http.token_file {
        keys.push("http.token_file");
    }
    keys
}

/// Watch the directory of the schedule file at `path` (not the file itself, so
/// that an editor that saves by writing a new file and renaming it over the old
/// one is seen), and send on `changed` when something may have changed it. A
/// symlinked file is also watched in its target's directory, and any change in
/// the link's directory counts (a link swapped to a new target, as Kubernetes
/// does with ConfigMaps). Reading the file does not count. inotify wakes the
/// watcher only when the kernel reports an event: an idle daemon stays asleep.
fn watch_file(
    path: &Path,
    changed: mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};

    let file = std::path::absolute(path)?;
    let dir = file
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let is_link = std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink());
    let target = std::fs::canonicalize(&file).ok().filter(|t| *t != file);
    let relevant = {
        let (file, dir, target) = (file.clone(), dir.clone(), target.clone());
        move |event: &notify::Event| {
            if matches!(event.kind, EventKind::Access(_)) {
                return false;
            }
            // No path: the kernel's queue overflowed; look at the file again.
            event.paths.is_empty()
                || event.paths.iter().any(|p| {
                    *p == file
                        || target.as_ref() == Some(p)
                        || (is_link && p.parent() == Some(dir.as_path()))
                })
        }
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            Ok(event) if relevant(&event) => {
                // Full means a reload is already pending: nothing is lost.
                let _ = changed.try_send(());
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "watching the schedule file: {e}; SIGHUP still reloads it");
            }
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let target_dir = target.as_deref().and_then(Path::parent);
    if let Some(target_dir) = target_dir.filter(|d| *d != dir) {
        watcher.watch(target_dir, RecursiveMode::NonRecursive)?;
    }
    tracing::info!(
        config = %file.display(),
        directory = %dir.display(),
        debounce = %humantime::format_duration(DEBOUNCE),
        "watching the schedule file: a change saved to it is reloaded, as SIGHUP does"
    );
    Ok(watcher)
}
