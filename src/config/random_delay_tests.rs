//! `random_delay` (issue 14): its values, its inheritance from `[defaults]`, the
//! rule that it is no longer than the shortest gap between a job's ticks, and
//! the fixed offset each job gets from the database's seed and its name.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::tests::{check_problems, parse_ok};
use crate::schedule::fixed_offset;

const DAILY: &str = "[daemon]\ndatabase = '/var/lib/cronbox/cronbox.db'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\n";

#[test]
fn random_delay_sets_a_fixed_offset_within_its_window_once_spread() {
    let mut config = parse_ok(&format!("{DAILY}random_delay = '10m'\n"));
    let job = &config.jobs[0];
    assert_eq!(job.random_delay, Some(Duration::from_secs(600)));
    assert_eq!(job.fire_offset, Duration::ZERO, "no offset before the seed");
    config.spread_ticks("seed-1");
    let job = &config.jobs[0];
    assert_eq!(
        job.fire_offset,
        fixed_offset(&["seed-1", "a"], Duration::from_secs(600))
    );
    assert!(job.fire_offset < Duration::from_secs(600));
    // Without random_delay, no offset.
    let plain = parse_ok(DAILY).with_spread_ticks("seed-1");
    assert_eq!(plain.jobs[0].random_delay, None);
    assert_eq!(plain.jobs[0].fire_offset, Duration::ZERO);
}

#[test]
fn random_delay_is_inherited_and_each_job_gets_its_own_offset() {
    let mut text = "[defaults]\nrandom_delay = '1h'\nimage = 'x'\n".to_owned();
    for i in 0..20 {
        text.push_str(&format!("[jobs.j{i}]\nschedule = '0 0 * * *'\n"));
    }
    let config = parse_ok(&text).with_spread_ticks("seed");
    let offsets: std::collections::BTreeSet<Duration> =
        config.jobs.iter().map(|j| j.fire_offset).collect();
    assert!(
        config
            .jobs
            .iter()
            .all(|j| j.random_delay == Some(Duration::from_secs(3600)))
    );
    assert!(offsets.len() > 15, "20 jobs, {} offsets", offsets.len());
    // A job's own value wins over [defaults].
    let own = parse_ok(
        "[defaults]\nrandom_delay = '1h'\n[jobs.a]\nschedule = '*/5 * * * *'\nimage = 'x'\nrandom_delay = '5m'\n",
    );
    assert_eq!(own.jobs[0].random_delay, Some(Duration::from_secs(300)));
}

#[test]
fn the_offset_depends_on_the_database_seed_and_stays_the_same() {
    let config = parse_ok(&format!("{DAILY}random_delay = '1d'\n"));
    let offset = |seed: &str| config.with_spread_ticks(seed).jobs[0].fire_offset;
    assert_eq!(offset("db-1"), offset("db-1"), "stable");
    assert_ne!(offset("db-1"), offset("db-2"), "another database");
    // A reload of the same file with the same seed keeps it.
    let again = parse_ok(&format!("{DAILY}random_delay = '1d'\n"));
    assert_eq!(
        again.with_spread_ticks("db-1").jobs[0].fire_offset,
        offset("db-1")
    );
}

#[test]
fn fire_instants_are_ticks_shifted_by_the_offset() {
    let at = |s: &str| s.parse::<DateTime<Utc>>().expect(s);
    let mut config = parse_ok(&format!("{DAILY}random_delay = '1h'\n"));
    std::sync::Arc::make_mut(&mut config.jobs[0]).fire_offset = Duration::from_secs(600);
    let job = &config.jobs[0];
    // (after, next fire instant)
    let cases = [
        ("2025-01-01T00:00:00Z", "2025-01-01T00:10:00Z"),
        ("2025-01-01T00:09:59Z", "2025-01-01T00:10:00Z"),
        ("2025-01-01T00:10:00Z", "2025-01-02T00:10:00Z"),
        ("2024-12-31T23:59:00Z", "2025-01-01T00:10:00Z"),
    ];
    for (after, want) in cases {
        assert_eq!(job.next_fire(at(after)), Ok(at(want)), "after {after}");
    }
    assert_eq!(
        job.fire_at(at("2025-01-01T00:00:00Z")),
        at("2025-01-01T00:10:00Z")
    );
    assert_eq!(
        job.tick_of(at("2025-01-01T00:10:00Z")),
        at("2025-01-01T00:00:00Z")
    );
}

#[test]
fn bad_random_delays_are_refused_where_they_are_written() {
    let cases: &[(&str, &str, super::tests::Expected)] = &[
        (
            "zero",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nrandom_delay = '0s'\n",
            (4, 16, Some("a"), &["random_delay", "is zero"]),
        ),
        (
            "not whole seconds",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nrandom_delay = '1500ms'\n",
            (
                4,
                16,
                Some("a"),
                &["random_delay", "whole number of seconds"],
            ),
        ),
        (
            "longer than the gap",
            "[jobs.a]\nschedule = '*/5 * * * *'\nimage = 'x'\nrandom_delay = '10m'\n",
            (
                4,
                16,
                Some("a"),
                &["random_delay (10m)", "shortest gap", "(5m)", "at most 5m"],
            ),
        ),
        (
            "from [defaults], placed at the job's schedule",
            "[defaults]\nrandom_delay = '2h'\n[jobs.a]\nschedule = '@hourly'\nimage = 'x'\n",
            (
                4,
                12,
                Some("a"),
                &[
                    "random_delay set in [defaults] (2h)",
                    "(1h)",
                    "random_delay = \"1h\"",
                ],
            ),
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, std::slice::from_ref(expected));
    }
    // As long as the gap is fine.
    parse_ok("[jobs.a]\nschedule = '*/5 * * * *'\nimage = 'x'\nrandom_delay = '5m'\n");
}
