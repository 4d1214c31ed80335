//! Crash points for tests. With `CRONBOX_TEST_PAUSE_AT=POINT` in its environment
//! the process stops dead when it reaches POINT (it says so on stderr, then waits
//! forever), so a test can SIGKILL it exactly there and check what a restart
//! repairs; `POINT#N` stops only the Nth time the process reaches POINT (`#2`:
//! the second attempt of a run, or the second run to get there), and lets the
//! others by. Points, in the order a run meets them: `before-run` (a tick's run is
//! about to be recorded), `after-run` (recorded; no attempt yet),
//! `after-replaced` (the runs a `replace` run waited for have ended; its first
//! attempt is not recorded yet),
//! `before-create` (the attempt is recorded; no container of its own yet),
//! `after-create` (created, not started), `after-start`, `after-exit` (the
//! container ended; nothing recorded or removed yet), `after-record` (the
//! attempt's end and its run's next state are recorded; the container is still
//! there), `after-remove` (the container is removed); for a tick the policy
//! refuses, `before-skip` and `after-skip` (its `skipped` row about to be
//! written, and written); for ticks missed, `before-missed` and `after-missed`;
//! at start-up, `after-adopt` (the repair has settled every attempt left
//! running and chosen what to adopt; nothing removed or resumed yet); for job
//! chains, `before-chained-start` (a child run a parent's end recorded is
//! claimed by the daemon, not started yet); for file arrival,
//! `after-file-taken` (a file and its run are recorded, the run not handed to
//! the scheduler yet). Only the pausing task stops; the rest of the process
//! goes on. Unset, this costs one cached environment read.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The point asked for, and which time reaching it stops (`None`: every time).
fn parse(spec: &str) -> (String, Option<u32>) {
    match spec.rsplit_once('#') {
        Some((point, nth)) => match nth.parse() {
            Ok(nth) => (point.to_owned(), Some(nth)),
            Err(_) => (spec.to_owned(), None),
        },
        None => (spec.to_owned(), None),
    }
}

/// Stop here for good if the environment asks for `point` (this time).
pub async fn pause(point: &str) {
    static AT: OnceLock<Option<(String, Option<u32>)>> = OnceLock::new();
    static REACHED: AtomicU32 = AtomicU32::new(0);
    let Some((at, nth)) = AT.get_or_init(|| {
        std::env::var("CRONBOX_TEST_PAUSE_AT")
            .ok()
            .map(|spec| parse(&spec))
    }) else {
        return;
    };
    if at != point {
        return;
    }
    let reached = REACHED.fetch_add(1, Ordering::SeqCst).saturating_add(1);
    if nth.is_none_or(|nth| nth == reached) {
        crate::cli::note(&format!("cronbox: test pause at {point} (time {reached})"));
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_point_may_name_which_time_it_stops() {
        let cases = [
            ("after-start", ("after-start", None)),
            ("after-start#2", ("after-start", Some(2))),
            ("after-start#x", ("after-start#x", None)),
        ];
        for (spec, (point, nth)) in cases {
            assert_eq!(parse(spec), (point.to_owned(), nth), "{spec}");
        }
    }
}
