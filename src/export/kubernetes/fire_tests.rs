//! The exported schedules fire when cronbox does: for each schedule of a
//! table (nicknames, weekday 7, day-field rules, `@every`, zones with
//! daylight saving), the CronJob's `schedule` and `timeZone` are read by
//! croner (an independent implementation) with robfig's day-of-month /
//! day-of-week rule, as the CronJob controller reads them, and give cronbox's
//! fire times for a year, in zones with daylight saving too. Schedules whose
//! times fall in a clock change are warned about; croner resolves those
//! times as cronbox does (once, after a gap; once in an overlap), not as
//! robfig does, so it agrees there as well, and what Kubernetes does instead
//! is the warning's to say (its wording is asserted in `tests.rs`).

use super::*;
use crate::config::{Environment, ZoneSource};
use chrono::{TimeDelta, TimeZone};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::path::Path;
use yaml_rust2::YamlLoader;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
        .single()
        .expect("date")
}

/// robfig/cron's rule, written from its source (parser.go, spec.go): a day
/// field is a "star" when one of its comma-separated parts is `*` or `?`
/// without a step above 1; with a star in either field both must match,
/// otherwise either may.
fn robfig_both_days(dom: &str, dow: &str) -> bool {
    let star = |field: &str| {
        field.split(',').any(|part| {
            let (range, step) = part.split_once('/').unwrap_or((part, "1"));
            (range == "*" || range == "?") && step == "1"
        })
    };
    star(dom) || star(dow)
}

/// The CronJob's schedule and zone for `schedule` in `zone`, and whether the
/// export warned about the schedule.
fn exported(schedule: &str, zone: &str) -> (String, Tz, bool, Config) {
    let env = Environment {
        state_directory: None,
        local_timezone: Tz::UTC,
        local_timezone_source: ZoneSource::Tz(String::new()),
        cpus: 2,
    };
    let text =
        format!("[jobs.x]\nschedule = \"{schedule}\"\ntimezone = \"{zone}\"\nimage = \"a\"\n");
    let config = crate::config::parse(Path::new("/etc/cronbox/cronbox.toml"), &text, &env)
        .unwrap_or_else(|e| panic!("{e}"));
    let jobs: Vec<&Job> = config.jobs.iter().map(|j| &**j).collect();
    let options = Options {
        namespace: None,
        now: start(),
        daemon_keys: &[],
        paused: &[],
    };
    let manifest = export(&config, &jobs, &options).unwrap_or_else(|e| panic!("{schedule}: {e}"));
    let doc = &YamlLoader::load_from_str(&manifest.yaml).expect("yaml")[0];
    let expression = doc["spec"]["schedule"]
        .as_str()
        .expect("schedule")
        .to_owned();
    let zone: Tz = doc["spec"]["timeZone"]
        .as_str()
        .expect("timeZone")
        .parse()
        .expect("a zone croner can use");
    let warned = manifest.warnings.iter().any(|w| w.key == "schedule");
    (expression, zone, warned, config)
}

/// croner's fire times of `expression` in `zone` in the year after [`start`].
fn croner_times(expression: &str, zone: Tz) -> BTreeSet<DateTime<Utc>> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let cron = croner::parser::CronParser::builder()
        .dom_and_dow(robfig_both_days(fields[2], fields[4]))
        .build()
        .parse(expression)
        .unwrap_or_else(|e| panic!("croner refuses {expression}: {e}"));
    let end = start() + TimeDelta::days(366);
    let mut at = start().with_timezone(&zone);
    let mut times = BTreeSet::new();
    loop {
        at = cron.find_next_occurrence(&at, false).expect(expression);
        let utc = at.with_timezone(&Utc);
        if utc > end {
            return times;
        }
        times.insert(utc);
    }
}

/// cronbox's fire times of the job in the year after [`start`].
fn cronbox_times(config: &Config) -> BTreeSet<DateTime<Utc>> {
    let schedule = &config.jobs[0].schedule;
    let end = start() + TimeDelta::days(366);
    let mut at = start();
    let mut times = BTreeSet::new();
    while let Some(next) = schedule.next_after(at) {
        if next > end {
            break;
        }
        times.insert(next);
        at = next;
    }
    times
}

#[test]
fn exported_schedules_fire_when_cronbox_does_for_a_year() {
    // (cronbox schedule, its zone, whether it falls in a clock change there)
    let cases = [
        ("30 2 * * *", "UTC", false),
        ("@daily", "Europe/Paris", false),
        ("@midnight", "America/Sao_Paulo", false),
        ("@hourly", "America/New_York", false),
        ("@weekly", "Australia/Sydney", false),
        ("@monthly", "Asia/Tokyo", false),
        ("@yearly", "Europe/London", false),
        ("@annually", "Pacific/Auckland", false),
        ("*/15 * * * *", "Europe/Berlin", false),
        ("0 9 * * 1-5", "America/New_York", false),
        ("0 12 * * *", "Australia/Lord_Howe", false),
        ("0 0 * * 7", "Europe/Paris", false),
        ("0 0 * * 5-7", "America/Chicago", false),
        ("0 0 1,* * mon", "UTC", false),
        ("0 0 */2 * *", "Europe/Paris", false),
        ("0 0 13 * fri", "America/Los_Angeles", false),
        ("*/5 9-17 * jan-mar *", "Europe/Madrid", false),
        ("@every 15m", "Europe/Paris", false),
        ("@every 6h", "Asia/Kolkata", false),
        ("@every 1d", "America/New_York", false),
        // In the hours the clocks change: warned about (see the module's note).
        ("30 2 * * *", "Europe/Berlin", true),
        ("30 1 * * sun", "America/New_York", true),
        ("0 2 * 3 *", "Europe/Paris", true),
    ];
    for (schedule, zone, in_a_change) in cases {
        let (expression, k8s_zone, warned, config) = exported(schedule, zone);
        let what = format!("{schedule} in {zone} as {expression:?} in {k8s_zone}");
        assert_eq!(warned, in_a_change, "{what}");
        let ours = cronbox_times(&config);
        let theirs = croner_times(&expression, k8s_zone);
        assert!(!ours.is_empty(), "{what}");
        let differ: Vec<&DateTime<Utc>> = ours.symmetric_difference(&theirs).collect();
        assert!(differ.is_empty(), "{what}: they differ at {differ:?}");
    }
}
