//! The runs this daemon supervises, per job, for the concurrency policies: what
//! replaces each (`concurrency = "replace"`), and what says it has ended, so a
//! run that replaces another starts only once the other is over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

use super::supervisor::{Predecessor, Stops};

struct Entry {
    serial: u64,
    /// The run's own stops (replace, stop) and its id once recorded.
    stops: Stops,
    finished: CancellationToken,
}

/// The runs of this daemon, per job. Cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Running {
    runs: Arc<Mutex<HashMap<String, Vec<Entry>>>>,
    serial: Arc<AtomicU64>,
}

/// A run's place in [`Running`]; dropping it (when the run's task ends, even by
/// a panic) removes it and tells whoever waits for the run that it has ended.
pub(super) struct Registration {
    running: Running,
    job: String,
    serial: u64,
    finished: CancellationToken,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut runs = self.running.lock();
        if let Some(entries) = runs.get_mut(&self.job) {
            entries.retain(|e| e.serial != self.serial);
            if entries.is_empty() {
                runs.remove(&self.job);
            }
        }
        self.finished.cancel();
    }
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Entry>>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a new run of `job`: its stops are the daemon's shutdown and
    /// detach, and a replace of its own.
    pub(super) fn register(&self, job: &str, daemon: &Stops) -> (Stops, Registration) {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let stops = Stops {
            shutdown: daemon.shutdown.clone(),
            detach: daemon.detach.clone(),
            ..Stops::default()
        };
        let finished = CancellationToken::new();
        self.lock().entry(job.to_owned()).or_default().push(Entry {
            serial,
            stops: stops.clone(),
            finished: finished.clone(),
        });
        let registration = Registration {
            running: self.clone(),
            job: job.to_owned(),
            serial,
            finished,
        };
        (stops, registration)
    }

    /// Tell every run of `job` that a newer run replaces it; the newer run
    /// waits for the returned predecessors to end.
    pub(super) fn replace_all(&self, job: &str) -> Vec<Predecessor> {
        let runs = self.lock();
        let entries = runs.get(job).map(Vec::as_slice).unwrap_or_default();
        for entry in entries {
            entry.stops.replace.cancel();
        }
        entries
            .iter()
            .map(|e| Predecessor::Local(e.finished.clone()))
            .collect()
    }

    /// Stop the run `run_id` if this daemon supervises it: `false` if it does not.
    pub(super) fn stop(&self, run_id: i64) -> bool {
        let runs = self.lock();
        let entry = runs
            .values()
            .flatten()
            .find(|e| e.stops.run_id.get() == Some(&run_id));
        if let Some(entry) = entry {
            entry.stops.stop.cancel();
        }
        entry.is_some()
    }

    /// The ids of the runs of `job` this daemon supervises (those recorded yet,
    /// and not recorded ended).
    pub(super) fn run_ids(&self, job: &str) -> Vec<i64> {
        let runs = self.lock();
        going(&runs, job)
            .filter_map(|e| e.stops.run_id.get().copied())
            .collect()
    }

    /// Of each run of `job` this daemon supervises (not recorded ended): its
    /// id (once recorded) and what says it has ended.
    pub(super) fn ids_to_come(
        &self,
        job: &str,
    ) -> Vec<(Arc<tokio::sync::SetOnce<i64>>, CancellationToken)> {
        let runs = self.lock();
        going(&runs, job)
            .map(|e| (e.stops.run_id.clone(), e.finished.clone()))
            .collect()
    }

    /// Whether a run of `job` goes in this daemon: one whose end is recorded
    /// does not, though its task may still be removing its container.
    pub(super) fn any(&self, job: &str) -> bool {
        going(&self.lock(), job).next().is_some()
    }
}

/// The entries of `job` whose run's end is not recorded yet.
fn going<'a>(runs: &'a HashMap<String, Vec<Entry>>, job: &str) -> impl Iterator<Item = &'a Entry> {
    let entries = runs.get(job).map(Vec::as_slice).unwrap_or_default();
    entries.iter().filter(|e| !e.stops.ended.is_cancelled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_run_is_told_and_its_end_is_seen_when_its_registration_drops() {
        let running = Running::default();
        let daemon = Stops::default();
        let (old_stops, old) = running.register("backup", &daemon);
        let (other_stops, _other) = running.register("report", &daemon);
        let predecessors = running.replace_all("backup");
        assert!(old_stops.replace.is_cancelled());
        assert!(
            !other_stops.replace.is_cancelled(),
            "only the job's own runs"
        );
        let [Predecessor::Local(finished)] = predecessors.as_slice() else {
            panic!("one local predecessor: {predecessors:?}");
        };
        assert!(!finished.is_cancelled());
        assert!(running.any("backup"));
        drop(old);
        assert!(
            finished.is_cancelled(),
            "ended once its registration is gone"
        );
        assert!(!running.any("backup"));
        assert!(running.replace_all("backup").is_empty());
    }

    #[test]
    fn a_run_whose_end_is_recorded_no_longer_goes_while_its_task_still_removes() {
        let running = Running::default();
        let daemon = Stops::default();
        let (stops, registration) = running.register("backup", &daemon);
        stops.run_id.set(7).expect("one id");
        assert!(running.any("backup"));
        assert_eq!(running.run_ids("backup"), [7]);
        stops.ended.cancel();
        assert!(!running.any("backup"), "ended, though still registered");
        assert!(running.run_ids("backup").is_empty());
        assert!(running.ids_to_come("backup").is_empty());
        drop(registration);
        assert!(!running.any("backup"));
    }
}
