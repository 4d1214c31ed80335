//! File arrival: `[jobs.NAME] on_file`.
//!
//! One task per such job lists its directory (at start, on each inotify event,
//! every `rescan`), and takes the files in arrival order (oldest mtime first,
//! then by path), one at a time (up to `max_concurrent` at a time with
//! `concurrency = "allow"`, [`file_limit`]): a file is taken once its size and
//! mtime stayed the same for `settle` ([`settled_at`]), in the transaction that
//! records its run ([`Store::take_file`]); the run goes to the scheduler loop,
//! which starts it with the file bind-mounted read-only at [`INPUT`]; once it
//! ended (its `RunFinished` event wakes the watcher), the file is kept, deleted
//! or moved as `after_success` / `after_failure` say, and that is recorded. A
//! file whose run was taken before a crash is not taken again: the daemon
//! resumes its run, and this task applies its action once the run ends. Only
//! the list of the directory's matching files is held in memory.
//!
//! While the file next in line settles, the daemon makes its run's container
//! ready ([`PrepareFile`]): once the file is taken, only the start request is
//! left (issue 12: settled → start request p99 ≤ 50 ms; the engine's create
//! alone takes longer on a busy box).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::{Config, FileAction, Job, OnFile, glob_matches, ignored_name};
use crate::daemon::supervisor::Preparation;
use crate::events::{Event, Events};
use crate::store::{FileIdentity, FileOutcome, PendingRun, Store, StoreError};

pub use crate::store::INPUT;

/// The most containers a watcher keeps made ready at once: one for the file
/// next in line, and a few more when files written side by side take turns at
/// being next (each is made once, not again at every turn).
const READY_AT_MOST: usize = 4;

/// How often the runs of files are looked at while they go, besides their
/// `RunFinished` events (which wake the watcher at once): for an end another
/// process recorded.
const RUN_POLL: Duration = Duration::from_secs(2);

/// What the watchers of one schedule share.
#[derive(Clone)]
pub struct Watching {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Where taken runs go: the scheduler loop starts them.
    pub start: mpsc::Sender<super::Triggered>,
    /// The daemon's events: a run's end wakes the watcher of its job.
    pub events: Events,
    /// What makes a file's container ready while the file settles.
    pub prepare: Arc<dyn PrepareFile>,
}

/// What makes the container of a file's run ready while the file settles (the
/// daemon, which makes a tick's container ready ahead of the tick the same
/// way), so that once the file is taken only the start request is left.
pub trait PrepareFile: Send + Sync {
    /// Begin making ready the first attempt's container of a run of `job` for
    /// the file at `path` ([`with_file`], with [`crate::store::file_params`]).
    /// The work goes on in the background; the preparation gives `None` when
    /// anything stood in the way (the run then creates its container itself).
    fn prepare(&self, job: &Arc<Job>, path: &Path) -> Preparation;
    /// Remove what `preparation` made, not used, in the background.
    fn discard(&self, preparation: Preparation);
}

/// Spawn a watcher on `tracker` for each `on_file` job of `config`; they stop
/// when the returned token (a child of `shutdown`) is cancelled (a reload
/// replaces them: their state is in the database).
pub fn spawn(
    config: &Config,
    watching: &Watching,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> CancellationToken {
    let stop = shutdown.child_token();
    for job in config.jobs.iter().filter(|job| job.on_file.is_some()) {
        let limit = file_limit(job, config.daemon.max_concurrent);
        let (job, watching, stop) = (Arc::new(job.clone()), watching.clone(), stop.clone());
        tracker.spawn(async move {
            let name = job.name.clone();
            if let Err(e) = watch(&job, &watching, limit, &stop).await {
                tracing::error!(job = %name, error = %crate::daemon::supervisor::chain(&e), "the file watcher stopped on a database error; files wait for the next start");
            }
        });
    }
    stop
}

/// The job `job` with the file of its run `pending` mounted at [`INPUT`], if
/// `pending` is a file's run (else `job` itself).
pub async fn with_input(store: &Store, job: &Arc<Job>, pending: &PendingRun) -> Arc<Job> {
    if pending.trigger != "file" {
        return job.clone();
    }
    match store.input_file_of_run(pending.run_id).await {
        Ok(Some(path)) => with_file(job, &path),
        Ok(None) => job.clone(),
        Err(e) => {
            tracing::error!(job = %job.name, run = pending.run_id, error = %crate::daemon::supervisor::chain(&e), "cannot read the run's input file; it runs without it");
            job.clone()
        }
    }
}

/// The job `job` with the file at `path` bind-mounted read-only at [`INPUT`].
pub fn with_file(job: &Job, path: &Path) -> Arc<Job> {
    let mut with = job.clone();
    with.volumes.push(crate::config::Volume {
        host: path.to_path_buf(),
        container: PathBuf::from(INPUT),
        read_only: true,
    });
    Arc::new(with)
}

/// The containers a watcher made ready, each for the file at its path (at
/// most [`READY_AT_MOST`]).
struct Ready {
    prepare: Arc<dyn PrepareFile>,
    made: Vec<(PathBuf, Preparation)>,
}

impl Ready {
    /// Make one ready for the file at `path`, unless one is.
    fn make(&mut self, job: &Arc<Job>, path: &Path) {
        if self.made.iter().any(|(p, _)| p == path) {
            return;
        }
        if self.made.len() >= READY_AT_MOST {
            let (_, oldest) = self.made.remove(0);
            self.prepare.discard(oldest);
        }
        let preparation = self.prepare.prepare(job, path);
        self.made.push((path.to_path_buf(), preparation));
    }

    /// What was made ready for the file at `path`, if anything.
    fn take(&mut self, path: &Path) -> Option<Preparation> {
        let at = self.made.iter().position(|(p, _)| p == path)?;
        Some(self.made.remove(at).1)
    }

    /// Remove those made for files no longer `present` (deleted, renamed away).
    fn keep_only(&mut self, present: &HashSet<&Path>) {
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.made)
            .into_iter()
            .partition(|(p, _)| present.contains(p.as_path()));
        self.made = keep;
        for (_, preparation) in gone {
            self.prepare.discard(preparation);
        }
    }

    /// Remove them all.
    fn discard_all(&mut self) {
        self.keep_only(&HashSet::new());
    }
}

/// A file found in the directory.
struct Found {
    identity: FileIdentity,
}

/// How many runs of `job`'s files may go at once: `max_concurrent` with
/// `concurrency = "allow"`, else one (files are never skipped, so `forbid`
/// means one after the other).
pub fn file_limit(job: &Job, max_concurrent: usize) -> usize {
    match job.concurrency {
        crate::config::Concurrency::Allow => max_concurrent.max(1),
        _ => 1,
    }
}

/// One job's watcher, until `stop` (see the module). The containers it made
/// ready and did not hand to a run are removed when it stops.
async fn watch(
    job: &Arc<Job>,
    w: &Watching,
    limit: usize,
    stop: &CancellationToken,
) -> Result<(), StoreError> {
    let mut ready = Ready {
        prepare: w.prepare.clone(),
        made: Vec::new(),
    };
    let watched = watch_files(job, w, limit, stop, &mut ready).await;
    ready.discard_all();
    watched
}

/// [`watch`], with the containers made ready in `ready`.
async fn watch_files(
    job: &Arc<Job>,
    w: &Watching,
    limit: usize,
    stop: &CancellationToken,
    ready: &mut Ready,
) -> Result<(), StoreError> {
    let Some(on) = job.on_file.clone() else {
        return Ok(());
    };
    // Subscribed before the first take: no run's end is missed.
    let mut ends = w.events.subscribe();
    let (events, mut wake) = mpsc::channel::<()>(1);
    let _inotify = inotify(&on, events);
    let skip = move_targets(job);
    // When each file not taken yet was first seen with its size and mtime.
    let mut seen: HashMap<PathBuf, (u64, i64, DateTime<Utc>)> = HashMap::new();
    loop {
        let mut open = reap(job, w).await?;
        let files = scan(&on, &skip).await;
        let present: HashSet<&Path> = files.iter().map(|f| f.identity.path.as_path()).collect();
        seen.retain(|path, _| present.contains(path.as_path()));
        ready.keep_only(&present);
        let mut wake_at = None;
        for found in &files {
            let id = &found.identity;
            if w.store.file_taken(&job.name, id).await? {
                continue;
            }
            // A slot for its run first: the runs before it end (in any order).
            while open >= limit {
                if !run_ended(&job.name, &mut ends, stop).await {
                    return Ok(());
                }
                open = reap(job, w).await?;
            }
            if stop.is_cancelled() {
                return Ok(());
            }
            let now = w.clock.now();
            let first = seen
                .entry(id.path.clone())
                .or_insert((id.size, id.mtime_ns, now));
            if (first.0, first.1) != (id.size, id.mtime_ns) {
                *first = (id.size, id.mtime_ns, now);
            }
            let ready_at = settled_at(id, first.2, on.settle);
            if ready_at > now {
                // Arrival order: the files after it wait for it. Its container
                // is made ready meanwhile.
                if w.store.paused_jobs().await?.contains(&job.name) {
                    ready.discard_all();
                } else {
                    ready.make(job, &id.path);
                }
                wake_at = Some(ready_at);
                break;
            }
            if w.store.paused_jobs().await?.contains(&job.name) {
                // Paused: the files wait for the job's resumption, with no
                // container made ready for however long that is.
                ready.discard_all();
                wake_at = Some(now + chrono::TimeDelta::seconds(5));
                break;
            }
            if !unchanged(id).await {
                seen.remove(&id.path);
                wake_at = Some(now);
                break;
            }
            if take(job, w, id, ready_at, ready.take(&id.path)).await? {
                open += 1;
            }
            seen.remove(&id.path);
        }
        let sleep = match wake_at {
            Some(at) => crate::clock::until(w.clock.now(), at).min(on.rescan),
            None => on.rescan,
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.recv() => {
                // Let a burst of events settle into one listing.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while wake.try_recv().is_ok() {}
            }
            // A run ended: its file's action is applied at the top of the loop.
            ended = run_ended(&job.name, &mut ends, stop), if open > 0 => if !ended {
                return Ok(());
            },
            _ = stop.cancelled() => return Ok(()),
        }
    }
}

/// When file `id`, first seen unchanged at `first_seen`, counts as settled:
/// `settle` after its last change. The last change is its mtime as the file
/// system stamped it (exact on a local file system, and what lets a file that
/// arrived settled, e.g. renamed in, go at once), or when the daemon first saw
/// it this way if that is earlier (an mtime in the future: a clock ahead on a
/// network mount).
pub fn settled_at(id: &FileIdentity, first_seen: DateTime<Utc>, settle: Duration) -> DateTime<Utc> {
    let changed = DateTime::from_timestamp_nanos(id.mtime_ns).min(first_seen);
    chrono::TimeDelta::from_std(settle)
        .ok()
        .and_then(|settle| changed.checked_add_signed(settle))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Wait until a run of `job` ends (its `RunFinished` event, a lag of the event
/// stream, or [`RUN_POLL`] for an end another process recorded); false when
/// `stop` came first.
async fn run_ended(
    job: &str,
    ends: &mut broadcast::Receiver<Event>,
    stop: &CancellationToken,
) -> bool {
    let poll = tokio::time::sleep(RUN_POLL);
    tokio::pin!(poll);
    loop {
        tokio::select! {
            event = ends.recv() => match event {
                Ok(Event::RunFinished { job: of, .. }) if of == job => return true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => {
                    (&mut poll).await;
                    return !stop.is_cancelled();
                }
            },
            _ = &mut poll => return true,
            _ = stop.cancelled() => return false,
        }
    }
}

/// Take file `id` (settled at `settled`) with its run and hand the run to the
/// scheduler, with the container made `ready` for it if any (removed if the run
/// does not go to the scheduler); false when it was taken before.
async fn take(
    job: &Job,
    w: &Watching,
    id: &FileIdentity,
    settled: DateTime<Utc>,
    ready: Option<Preparation>,
) -> Result<bool, StoreError> {
    let pending = match record(job, w, id, settled).await {
        Ok(Taken::Run(pending)) => pending,
        other => {
            if let Some(ready) = ready {
                w.prepare.discard(ready);
            }
            return other.map(|taken| matches!(taken, Taken::Unseen));
        }
    };
    // The scheduler gone (shutdown): the next start resumes the run.
    if let Err(unsent) = w.start.send(super::Triggered { pending, ready }).await
        && let Some(ready) = unsent.0.ready
    {
        w.prepare.discard(ready);
    }
    Ok(true)
}

/// What [`record`] did.
enum Taken {
    /// The file was taken before: nothing recorded.
    Before,
    /// Taken, with this run, to start.
    Run(PendingRun),
    /// Taken, but its run is not among those waiting to start (something else
    /// started it): nothing to hand on.
    Unseen,
}

/// Record file `id` taken, with its run, and read the run back.
async fn record(
    job: &Job,
    w: &Watching,
    id: &FileIdentity,
    settled: DateTime<Utc>,
) -> Result<Taken, StoreError> {
    let Some(run_id) = w
        .store
        .take_file(&job.name, id, w.clock.now(), std::process::id())
        .await?
    else {
        return Ok(Taken::Before);
    };
    tracing::info!(job = %job.name, run = run_id, file = %id.path.display(), settled = %settled.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), "a file settled: taken, with its run");
    crate::failpoint::pause("after-file-taken").await;
    let pending = w.store.pending_runs().await?;
    Ok(match pending.into_iter().find(|p| p.run_id == run_id) {
        Some(pending) => Taken::Run(pending),
        None => Taken::Unseen,
    })
}

/// Apply `after_success` / `after_failure` to each file taken whose run ended
/// (and record it); the number of files whose runs still go.
async fn reap(job: &Job, w: &Watching) -> Result<usize, StoreError> {
    let mut open = 0;
    for file in w.store.open_files(&job.name).await? {
        let status = match file.run_id {
            Some(run) => w.store.run_status(run).await?,
            None => None,
        };
        let action = match status.as_deref() {
            Some("running") => {
                open += 1;
                continue;
            }
            Some("succeeded") => &job.after_success,
            Some("failed") => &job.after_failure,
            Some("interrupted") => {
                // Stopped by a shutdown, not by its result: taken again, with a new run.
                tracing::info!(job = %job.name, file = %file.path.display(), "the file's run was interrupted; the file is taken again");
                w.store.forget_file(file.id).await?;
                continue;
            }
            // Stopped by an operator, or the run deleted: the file stays.
            _ => &FileAction::Keep,
        };
        let outcome = apply(action, &file.path).await;
        match &outcome {
            FileOutcome::Failed(why) => {
                tracing::error!(job = %job.name, file = %file.path.display(), "the file's action after its run failed: {why}; it is not run again");
            }
            done => {
                tracing::info!(job = %job.name, file = %file.path.display(), outcome = ?done, "file done")
            }
        }
        w.store.file_done(file.id, &outcome).await?;
    }
    Ok(open)
}

/// Keep, delete or move `path` (idempotent: a move already done, or a file
/// already deleted, counts as done).
async fn apply(action: &FileAction, path: &Path) -> FileOutcome {
    let (action, path) = (action.clone(), path.to_path_buf());
    tokio::task::spawn_blocking(move || match action {
        FileAction::Keep => FileOutcome::Kept,
        FileAction::Delete => match std::fs::remove_file(&path) {
            Ok(()) => FileOutcome::Deleted,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileOutcome::Deleted,
            Err(e) => FileOutcome::Failed(format!("cannot delete {}: {e}", path.display())),
        },
        FileAction::MoveTo(dir) => {
            let Some(name) = path.file_name() else {
                return FileOutcome::Failed(format!("{} has no file name", path.display()));
            };
            let target = dir.join(name);
            if !path.exists() && target.exists() {
                return FileOutcome::Moved(target);
            }
            match std::fs::rename(&path, &target) {
                Ok(()) => FileOutcome::Moved(target),
                Err(e) => FileOutcome::Failed(format!(
                    "cannot move {} to {}: {e}",
                    path.display(),
                    dir.display()
                )),
            }
        }
    })
    .await
    .unwrap_or_else(|e| FileOutcome::Failed(format!("the move was cut short: {e}")))
}

/// The move targets of `job`: files under them are never taken.
fn move_targets(job: &Job) -> Vec<PathBuf> {
    [&job.after_success, &job.after_failure]
        .into_iter()
        .filter_map(|action| match action {
            FileAction::MoveTo(dir) => Some(dir.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `id` still describes the file at its path.
async fn unchanged(id: &FileIdentity) -> bool {
    let path = id.path.clone();
    let now = tokio::task::spawn_blocking(move || identity(&path).ok()).await;
    matches!(now, Ok(Some(now)) if now == *id)
}

fn identity(path: &Path) -> std::io::Result<FileIdentity> {
    let m = std::fs::symlink_metadata(path)?;
    Ok(FileIdentity {
        path: path.to_path_buf(),
        dev: m.dev(),
        inode: m.ino(),
        size: m.size(),
        mtime_ns: m
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.mtime_nsec()),
    })
}

/// The matching regular files under `on.dir` (not under `skip`), oldest mtime
/// first, then by path. A directory that cannot be read is logged and gives none.
async fn scan(on: &OnFile, skip: &[PathBuf]) -> Vec<Found> {
    let (on, skip) = (on.clone(), skip.to_vec());
    tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        let mut dirs = vec![on.dir.clone()];
        while let Some(dir) = dirs.pop() {
            if skip.iter().any(|s| dir.starts_with(s)) {
                continue;
            }
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot list the directory of on_file; looking again at the next rescan");
                    continue;
                }
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() && on.recursive && !name.starts_with('.') {
                    dirs.push(entry.path());
                } else if kind.is_file() && !ignored_name(&name) && glob_matches(&on.pattern, &name)
                    && let Ok(identity) = identity(&entry.path())
                {
                    found.push(Found { identity });
                }
            }
        }
        found.sort_by(|a, b| {
            (a.identity.mtime_ns, &a.identity.path).cmp(&(b.identity.mtime_ns, &b.identity.path))
        });
        found
    })
    .await
    .unwrap_or_default()
}

/// Watch `on.dir` with inotify: each event sends on `events` (full: a listing
/// is pending anyway). `None`, logged, when the directory cannot be watched:
/// the rescan still finds its files.
fn inotify(on: &OnFile, events: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && matches!(event.kind, EventKind::Access(_))
        {
            return;
        }
        let _ = events.try_send(());
    });
    let mode = if on.recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    match watcher.and_then(|mut w| w.watch(&on.dir, mode).map(|()| w)) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(dir = %on.dir.display(), error = %e, rescan = %humantime::format_duration(on.rescan), "cannot watch the directory of on_file with inotify; it is listed every rescan");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_settles_after_its_mtime_or_when_first_seen_if_earlier() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).expect("instant");
        let file = |mtime_s: i64| FileIdentity {
            path: PathBuf::from("/in/a"),
            dev: 1,
            inode: 2,
            size: 3,
            mtime_ns: mtime_s * 1_000_000_000,
        };
        let settle = Duration::from_secs(10);
        for (mtime, first_seen, want) in [
            (100, 105, 110), // seen after its last change: settle after the mtime
            (100, 200, 110), // present long before: already settled
            (300, 200, 210), // an mtime in the future: settle after it was first seen
        ] {
            assert_eq!(
                settled_at(&file(mtime), at(first_seen), settle),
                at(want),
                "{mtime} {first_seen}"
            );
        }
    }
}
