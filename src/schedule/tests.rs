//! Tests for `schedule`: field semantics, nicknames, @every, rejections, the
//! fixed-time rule, and cronie's DST behaviour in four zones, each checked
//! against exact instants, a brute-force oracle, and croner on naive time.

use super::cron::CronSpec;
use super::*;
use chrono::{NaiveDateTime, Offset, SecondsFormat, TimeDelta, TimeZone, Timelike};
use std::str::FromStr;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad test instant {text}: {e}"))
        .with_timezone(&Utc)
}

fn zone(name: &str) -> Tz {
    name.parse()
        .unwrap_or_else(|e| panic!("bad test zone {name}: {e}"))
}

fn render(instant: DateTime<Utc>, tz: Tz) -> String {
    local_time(tz, instant).map_or_else(
        |end| format!("{instant} (no offset: {end})"),
        |local| local.to_rfc3339_opts(SecondsFormat::Secs, false),
    )
}

/// One table row: `expr` in `tz`, counting from `after`, fires at `expect`
/// (consecutive calls, each fed the previous answer).
struct Case {
    expr: &'static str,
    tz: &'static str,
    after: &'static str,
    expect: &'static [&'static str],
}

fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let tz = zone(case.tz);
        let schedule = match Schedule::parse(case.expr, tz) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{} [{}]: parse error: {e}", case.expr, case.tz));
                continue;
            }
        };
        let expected: Vec<String> = case.expect.iter().map(|e| render(at(e), tz)).collect();
        let mut actual = Vec::new();
        let mut cursor = at(case.after);
        for _ in 0..case.expect.len() {
            match schedule.next_after(cursor) {
                Some(next) => {
                    actual.push(render(next, tz));
                    cursor = next;
                }
                None => {
                    actual.push("None".to_string());
                    break;
                }
            }
        }
        if actual != expected {
            failures.push(format!(
                "{} [{}] after {}:\n    expected {:?}\n    actual   {:?}",
                case.expr, case.tz, case.after, expected, actual
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const UTC: &str = "UTC";
const BERLIN: &str = "Europe/Berlin";
const NEW_YORK: &str = "America/New_York";
const HAVANA: &str = "America/Havana";
const LORD_HOWE: &str = "Australia/Lord_Howe";

// 2025-01-01 is a Wednesday.
const NEW_YEAR: &str = "2025-01-01T00:00:00Z";

#[test]
fn field_semantics() {
    check(&[
        Case {
            expr: "* * * * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"],
        },
        Case {
            expr: "*/15 * * * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T00:15:00Z",
                "2025-01-01T00:30:00Z",
                "2025-01-01T00:45:00Z",
                "2025-01-01T01:00:00Z",
            ],
        },
        Case {
            expr: "10-50/20 * * * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T00:10:00Z",
                "2025-01-01T00:30:00Z",
                "2025-01-01T00:50:00Z",
                "2025-01-01T01:10:00Z",
            ],
        },
        Case {
            expr: "5,10 3 * * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T03:05:00Z",
                "2025-01-01T03:10:00Z",
                "2025-01-02T03:05:00Z",
            ],
        },
        Case {
            expr: "0 9-11 * * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T09:00:00Z",
                "2025-01-01T10:00:00Z",
                "2025-01-01T11:00:00Z",
                "2025-01-02T09:00:00Z",
            ],
        },
        Case {
            expr: "0 */6 * * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T06:00:00Z",
                "2025-01-01T12:00:00Z",
                "2025-01-01T18:00:00Z",
                "2025-01-02T00:00:00Z",
            ],
        },
        Case {
            expr: "0 0 1 */3 *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-04-01T00:00:00Z",
                "2025-07-01T00:00:00Z",
                "2025-10-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
            ],
        },
        // Month names, any case.
        Case {
            expr: "0 0 1 jan *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        },
        Case {
            expr: "0 0 1 JAN,Jul *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z"],
        },
        Case {
            expr: "0 0 1 mar-MAY *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-03-01T00:00:00Z",
                "2025-04-01T00:00:00Z",
                "2025-05-01T00:00:00Z",
                "2026-03-01T00:00:00Z",
            ],
        },
        // Weekday names and ranges.
        Case {
            expr: "0 12 * * MON-FRI",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T12:00:00Z",
                "2025-01-02T12:00:00Z",
                "2025-01-03T12:00:00Z",
                "2025-01-06T12:00:00Z",
            ],
        },
        Case {
            expr: "0 0 * * mon-fri/2",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-03T00:00:00Z",
                "2025-01-06T00:00:00Z",
                "2025-01-08T00:00:00Z",
            ],
        },
        // 0 and 7 are both Sunday.
        Case {
            expr: "0 0 * * 0",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"],
        },
        Case {
            expr: "0 0 * * 7",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"],
        },
        Case {
            expr: "0 0 * * Sun",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"],
        },
        Case {
            expr: "0 0 * * 5-7",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-03T00:00:00Z",
                "2025-01-04T00:00:00Z",
                "2025-01-05T00:00:00Z",
                "2025-01-10T00:00:00Z",
            ],
        },
        Case {
            expr: "0 0 * * fri-sun",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-03T00:00:00Z",
                "2025-01-04T00:00:00Z",
                "2025-01-05T00:00:00Z",
                "2025-01-10T00:00:00Z",
            ],
        },
        // Day of month and day of week both restricted: either fires.
        Case {
            expr: "0 0 13 * fri",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-03T00:00:00Z",
                "2025-01-10T00:00:00Z",
                "2025-01-13T00:00:00Z",
                "2025-01-17T00:00:00Z",
                "2025-01-24T00:00:00Z",
                "2025-01-31T00:00:00Z",
                "2025-02-07T00:00:00Z",
            ],
        },
        // Friday the 13th fires once.
        Case {
            expr: "0 0 13 * fri",
            tz: UTC,
            after: "2025-06-01T00:00:00Z",
            expect: &[
                "2025-06-06T00:00:00Z",
                "2025-06-13T00:00:00Z",
                "2025-06-20T00:00:00Z",
            ],
        },
        // Day of month only.
        Case {
            expr: "0 0 13 * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-13T00:00:00Z", "2025-02-13T00:00:00Z"],
        },
        Case {
            expr: "0 0 31 * *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-31T00:00:00Z",
                "2025-03-31T00:00:00Z",
                "2025-05-31T00:00:00Z",
                "2025-07-31T00:00:00Z",
            ],
        },
        Case {
            expr: "0 0 29 2 *",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"],
        },
        // Day of week only.
        Case {
            expr: "0 0 * * fri",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z"],
        },
        // cronie: a day field starting with '*' (here "*/2") makes the day
        // rule AND: odd days of the month that are Mondays.
        Case {
            expr: "0 0 */2 * mon",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-13T00:00:00Z",
                "2025-01-27T00:00:00Z",
                "2025-02-03T00:00:00Z",
                "2025-02-17T00:00:00Z",
            ],
        },
        // Cron fields are read in the schedule's zone.
        Case {
            expr: "0 0 * * *",
            tz: NEW_YORK,
            after: NEW_YEAR,
            expect: &["2025-01-01T00:00:00-05:00", "2025-01-02T00:00:00-05:00"],
        },
    ]);
}

#[test]
fn nicknames() {
    check(&[
        Case {
            expr: "@yearly",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        },
        Case {
            expr: "@annually",
            tz: UTC,
            after: "2025-06-15T10:00:00Z",
            expect: &["2026-01-01T00:00:00Z"],
        },
        Case {
            expr: "@monthly",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"],
        },
        Case {
            expr: "@weekly",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"],
        },
        Case {
            expr: "@daily",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"],
        },
        Case {
            expr: "@midnight",
            tz: BERLIN,
            after: "2025-01-01T00:00:00+01:00",
            expect: &["2025-01-02T00:00:00+01:00", "2025-01-03T00:00:00+01:00"],
        },
        Case {
            expr: "@hourly",
            tz: UTC,
            after: "2025-01-01T00:30:00Z",
            expect: &["2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"],
        },
        Case {
            expr: "@DAILY",
            tz: UTC,
            after: NEW_YEAR,
            expect: &["2025-01-02T00:00:00Z"],
        },
    ]);
}

#[test]
fn every_is_anchored_to_the_unix_epoch() {
    check(&[
        Case {
            expr: "@every 10m",
            tz: UTC,
            after: "2025-01-01T00:03:17Z",
            expect: &[
                "2025-01-01T00:10:00Z",
                "2025-01-01T00:20:00Z",
                "2025-01-01T00:30:00Z",
            ],
        },
        Case {
            expr: "@every 90s",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T00:01:30Z",
                "2025-01-01T00:03:00Z",
                "2025-01-01T00:04:30Z",
            ],
        },
        Case {
            expr: "@every 1h30m",
            tz: UTC,
            after: "2025-01-01T00:05:00Z",
            expect: &[
                "2025-01-01T01:30:00Z",
                "2025-01-01T03:00:00Z",
                "2025-01-01T04:30:00Z",
            ],
        },
        // 420 s does not divide a day: 2025-01-01T00:00Z is 120 s past a tick.
        Case {
            expr: "@every 7m",
            tz: UTC,
            after: NEW_YEAR,
            expect: &[
                "2025-01-01T00:05:00Z",
                "2025-01-01T00:12:00Z",
                "2025-01-01T00:19:00Z",
            ],
        },
        // The zone is ignored: ticks stay on the UTC grid, through DST too.
        Case {
            expr: "@every 1h",
            tz: BERLIN,
            after: "2025-03-30T01:30:00+01:00",
            expect: &["2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"],
        },
        Case {
            expr: "@every 1h",
            tz: LORD_HOWE,
            after: "2025-04-06T01:40:00+11:00",
            expect: &["2025-04-06T01:30:00+10:30", "2025-04-06T02:30:00+10:30"],
        },
        // Before 1970 too.
        Case {
            expr: "@every 7m",
            tz: UTC,
            after: "1969-12-31T23:50:00Z",
            expect: &["1969-12-31T23:53:00Z", "1970-01-01T00:00:00Z"],
        },
    ]);
}

#[test]
fn every_ticks_do_not_depend_on_the_starting_instant() {
    for (expr, period) in [
        ("@every 10m", 600),
        ("@every 90s", 90),
        ("@every 1h30m", 5400),
        ("@every 7m", 420),
        ("@every 1d", 86_400),
    ] {
        let schedule = Schedule::parse(expr, zone(BERLIN)).expect(expr);
        assert_eq!(
            schedule.every_period(),
            Some(Duration::from_secs(period as u64))
        );
        let base = at("2025-03-30T00:00:00Z");
        // Starting points a prime number of seconds (and some nanoseconds)
        // apart, so every phase of the period is hit.
        for step in 0..2_000i64 {
            let after = base + TimeDelta::seconds(step * 37) + TimeDelta::nanoseconds(step * 7);
            let next = schedule.next_after(after).expect(expr);
            let secs = next.timestamp();
            assert_eq!(secs.rem_euclid(period), 0, "{expr} after {after}: {next}");
            assert!(next > after, "{expr} after {after}: {next}");
            assert!(
                next - TimeDelta::seconds(period) <= after,
                "{expr} after {after}: skipped a tick before {next}"
            );
        }
    }
}

#[test]
fn rejections_say_what_is_wrong() {
    let cases: &[(&str, &[&str])] = &[
        ("", &["empty", "5 fields"]),
        ("   ", &["empty"]),
        (
            "0 0 * * * *",
            &["5 fields", "found 6", "seconds", "year", "@every"],
        ),
        (
            "0 0 0 * * * 2025",
            &["5 fields", "found 7", "seconds", "year", "@every"],
        ),
        (
            "* * * *",
            &[
                "expected 5 fields (minute hour day-of-month month day-of-week)",
                "found 4",
            ],
        ),
        ("hello world", &["expected 5 fields", "found 2"]),
        ("* * * * * * * *", &["expected 5 fields", "found 8"]),
        ("61 * * * *", &["minute field", "61", "0-59"]),
        ("* 24 * * *", &["hour field", "24", "0-23"]),
        ("* * 0 * *", &["day-of-month field", "0", "1-31"]),
        ("* * 32 * *", &["day-of-month field", "32"]),
        ("* * * 13 *", &["month field", "13", "1-12"]),
        (
            "* * * 0 *",
            &["month field", "0 is out of range; expected 1-12"],
        ),
        ("* * * * 8", &["day-of-week field", "8", "0-7"]),
        (
            "* * * * mon-xyz",
            &["day-of-week field", "\"xyz\"", "sun-sat"],
        ),
        ("0 0 * * monday", &["day-of-week field", "\"monday\""]),
        ("* * * jan-foo *", &["month field", "\"foo\"", "jan-dec"]),
        ("a b c d e", &["minute field \"a\"", "not a number"]),
        ("*/0 * * * *", &["minute field", "step must be at least 1"]),
        ("*/ * * * *", &["minute field", "missing step"]),
        ("*/x * * * *", &["minute field", "step"]),
        ("5/10 * * * *", &["minute field", "step needs a range"]),
        ("50-10 * * * *", &["minute field", "backwards"]),
        ("1,,2 * * * *", &["minute field", "empty list element"]),
        ("1, * * * *", &["minute field", "empty list element"]),
        ("- * * * *", &["minute field", "missing number"]),
        (
            "99999999999999999999 * * * *",
            &["minute field", "out of range"],
        ),
        ("0 0 L * *", &["day-of-month field", "Quartz"]),
        ("0 0 15W * *", &["day-of-month field", "Quartz"]),
        ("0 0 ? * *", &["day-of-month field", "Quartz"]),
        ("0 0 * * 5#2", &["day-of-week field", "Quartz"]),
        ("0 0 * * 5L", &["day-of-week field", "Quartz"]),
        ("@every 0s", &["whole number of seconds", "at least 1s"]),
        ("@every 1.5s", &["whole number of seconds", "at least 1s"]),
        ("@every 500ms", &["whole number of seconds", "at least 1s"]),
        ("@every", &["@every needs a duration"]),
        (
            "@every banana",
            &["@every", "invalid duration", "\"banana\""],
        ),
        (
            "@every 10",
            &["@every", "invalid duration", "time unit needed"],
        ),
        ("@every -5m", &["@every", "invalid duration"]),
        ("@reboot", &["@reboot", "not supported"]),
        (
            "@fortnightly",
            &["unknown nickname", "@fortnightly", "@every"],
        ),
        ("@", &["unknown nickname"]),
        ("@daily 5", &["@daily takes no argument", "0 0 * * *"]),
        ("garbage", &["expected 5 fields", "found 1"]),
        ("\u{1F600} * * * *", &["minute field"]),
    ];
    let mut failures = Vec::new();
    for (expr, needles) in cases {
        match Schedule::parse(expr, zone(UTC)) {
            Ok(_) => failures.push(format!("{expr:?}: accepted, expected an error")),
            Err(ScheduleError(message)) => {
                if message.contains('\n') {
                    failures.push(format!("{expr:?}: message is not one line: {message}"));
                }
                for needle in *needles {
                    if !message.contains(needle) {
                        failures.push(format!("{expr:?}: {message:?} lacks {needle:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn accepted_syntax() {
    for expr in [
        "0 0 * * *",
        "  0   0\t* * *  ",
        "00 05 01 01 0",
        "0-59/59 0-23/23 1-31/30 1-12/11 0-7/7",
        "*/100 * * * *",
        "0 0 * * SUN-sat",
        "0 0 1 JAN-dec *",
        "@every 1h 30m",
        "@every 2d",
        "@EVERY 10m",
        "@weekly",
    ] {
        if let Err(e) = Schedule::parse(expr, zone(UTC)) {
            panic!("{expr:?} refused: {e}");
        }
    }
}

#[test]
fn expression_and_timezone_are_kept() {
    let schedule = Schedule::parse(" 30 2 * * * ", zone(BERLIN)).expect("parse");
    assert_eq!(schedule.expression(), " 30 2 * * * ");
    assert_eq!(schedule.timezone(), chrono_tz::Europe::Berlin);
    assert_eq!(schedule.to_string(), "30 2 * * * (Europe/Berlin)");
    assert_eq!(schedule.every_period(), None);
}

#[test]
fn fixed_time_rule() {
    let cases = [
        ("30 2 * * *", true),
        ("0,30 2 * * *", true),
        ("15 1-3 * * *", true),
        ("0 0 13 * fri", true),
        ("0 */2 * * *", false),
        ("15 * * * *", false),
        ("*/20 * * * *", false),
        ("* 2 * * *", false),
        ("*/5 3 * * *", false),
        ("0-59 2 * * *", true),
        ("@yearly", true),
        ("@annually", true),
        ("@monthly", true),
        ("@weekly", true),
        ("@daily", true),
        ("@midnight", true),
        ("@hourly", false),
        ("@every 1h", false),
        ("@every 1d", false),
    ];
    for (expr, fixed) in cases {
        let schedule = Schedule::parse(expr, zone(UTC)).expect(expr);
        assert_eq!(schedule.is_fixed_time(), fixed, "{expr}");
    }
}

/// The transition instants the DST tables below rely on, read from the
/// chrono-tz data rather than assumed: (zone, first instant of the new
/// offset, offset before, offset after), offsets in seconds east of UTC.
const TRANSITIONS: &[(&str, &str, i64, i64)] = &[
    (BERLIN, "2025-03-30T01:00:00Z", 3600, 7200),
    (BERLIN, "2025-10-26T01:00:00Z", 7200, 3600),
    (BERLIN, "2026-03-29T01:00:00Z", 3600, 7200),
    (BERLIN, "2026-10-25T01:00:00Z", 7200, 3600),
    (NEW_YORK, "2025-03-09T07:00:00Z", -18_000, -14_400),
    (NEW_YORK, "2025-11-02T06:00:00Z", -14_400, -18_000),
    (NEW_YORK, "2026-03-08T07:00:00Z", -18_000, -14_400),
    (NEW_YORK, "2026-11-01T06:00:00Z", -14_400, -18_000),
    (HAVANA, "2025-03-09T05:00:00Z", -18_000, -14_400),
    (HAVANA, "2025-11-02T05:00:00Z", -14_400, -18_000),
    (HAVANA, "2026-03-08T05:00:00Z", -18_000, -14_400),
    (HAVANA, "2026-11-01T05:00:00Z", -14_400, -18_000),
    (LORD_HOWE, "2025-04-05T15:00:00Z", 39_600, 37_800),
    (LORD_HOWE, "2025-10-04T15:30:00Z", 37_800, 39_600),
    (LORD_HOWE, "2026-04-04T15:00:00Z", 39_600, 37_800),
    (LORD_HOWE, "2026-10-03T15:30:00Z", 37_800, 39_600),
];

#[test]
fn transition_dates_come_from_the_zone_data() {
    for &(name, instant, before, after) in TRANSITIONS {
        let tz = zone(name);
        let secs = at(instant).timestamp();
        assert_eq!(
            zone::offset_at(tz, secs - 1),
            Some(before),
            "{name} {instant}"
        );
        assert_eq!(zone::offset_at(tz, secs), Some(after), "{name} {instant}");
        // And no other change within two weeks either side.
        for day in 1..14 {
            assert_eq!(
                zone::offset_at(tz, secs - day * 86_400),
                Some(before),
                "{name}"
            );
            assert_eq!(
                zone::offset_at(tz, secs + day * 86_400),
                Some(after),
                "{name}"
            );
        }
    }
}

#[test]
fn dst_europe_berlin() {
    // 2025-03-30: 02:00 CET -> 03:00 CEST. 2025-10-26: 03:00 CEST -> 02:00 CET.
    check(&[
        // Fixed time in the gap: once, at the gap's end.
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2025-03-29T12:00:00+01:00",
            expect: &["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"],
        },
        // Several times in the gap: still once, then normal.
        Case {
            expr: "0,30 2 * * *",
            tz: BERLIN,
            after: "2025-03-29T12:00:00+01:00",
            expect: &[
                "2025-03-30T03:00:00+02:00",
                "2025-03-31T02:00:00+02:00",
                "2025-03-31T02:30:00+02:00",
            ],
        },
        Case {
            expr: "15 1-3 * * *",
            tz: BERLIN,
            after: "2025-03-30T00:00:00+01:00",
            expect: &[
                "2025-03-30T01:15:00+01:00",
                "2025-03-30T03:00:00+02:00",
                "2025-03-30T03:15:00+02:00",
                "2025-03-31T01:15:00+02:00",
            ],
        },
        // A time in the gap and one at its exact end: once.
        Case {
            expr: "0 2,3 * * *",
            tz: BERLIN,
            after: "2025-03-30T00:00:00+01:00",
            expect: &[
                "2025-03-30T03:00:00+02:00",
                "2025-03-31T02:00:00+02:00",
                "2025-03-31T03:00:00+02:00",
            ],
        },
        Case {
            expr: "30 2,3 * * *",
            tz: BERLIN,
            after: "2025-03-30T00:00:00+01:00",
            expect: &[
                "2025-03-30T03:00:00+02:00",
                "2025-03-30T03:30:00+02:00",
                "2025-03-31T02:30:00+02:00",
            ],
        },
        // Exactly at the gap's end, nothing in the gap: ordinary.
        Case {
            expr: "0 3 * * *",
            tz: BERLIN,
            after: "2025-03-29T12:00:00+01:00",
            expect: &["2025-03-30T03:00:00+02:00", "2025-03-31T03:00:00+02:00"],
        },
        // Counting from the gap's end itself: the collapsed run is behind.
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2025-03-30T03:00:00+02:00",
            expect: &["2025-03-31T02:30:00+02:00"],
        },
        // Not fixed-time: nothing in the gap, no catching up.
        Case {
            expr: "0 * * * *",
            tz: BERLIN,
            after: "2025-03-30T00:30:00+01:00",
            expect: &[
                "2025-03-30T01:00:00+01:00",
                "2025-03-30T03:00:00+02:00",
                "2025-03-30T04:00:00+02:00",
            ],
        },
        Case {
            expr: "30 * * * *",
            tz: BERLIN,
            after: "2025-03-30T01:00:00+01:00",
            expect: &["2025-03-30T01:30:00+01:00", "2025-03-30T03:30:00+02:00"],
        },
        Case {
            expr: "*/20 * * * *",
            tz: BERLIN,
            after: "2025-03-30T01:30:00+01:00",
            expect: &[
                "2025-03-30T01:40:00+01:00",
                "2025-03-30T03:00:00+02:00",
                "2025-03-30T03:20:00+02:00",
            ],
        },
        Case {
            expr: "* 2 * * *",
            tz: BERLIN,
            after: "2025-03-30T01:58:00+01:00",
            expect: &["2025-03-31T02:00:00+02:00", "2025-03-31T02:01:00+02:00"],
        },
        // Fixed time in the overlap: once, at the first occurrence.
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2025-10-25T12:00:00+02:00",
            expect: &["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"],
        },
        Case {
            expr: "0,30 2 * * *",
            tz: BERLIN,
            after: "2025-10-26T00:00:00+02:00",
            expect: &[
                "2025-10-26T02:00:00+02:00",
                "2025-10-26T02:30:00+02:00",
                "2025-10-27T02:00:00+01:00",
            ],
        },
        // Counting from inside the second pass: the first pass already ran.
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2025-10-26T02:10:00+01:00",
            expect: &["2025-10-27T02:30:00+01:00"],
        },
        // Counting from the first pass, before the job's time: first pass.
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2025-10-26T02:10:00+02:00",
            expect: &["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"],
        },
        // Hourly in the overlap: every real hour, both passes.
        Case {
            expr: "0 * * * *",
            tz: BERLIN,
            after: "2025-10-26T00:30:00+02:00",
            expect: &[
                "2025-10-26T01:00:00+02:00",
                "2025-10-26T02:00:00+02:00",
                "2025-10-26T02:00:00+01:00",
                "2025-10-26T03:00:00+01:00",
                "2025-10-26T04:00:00+01:00",
            ],
        },
        Case {
            expr: "*/20 * * * *",
            tz: BERLIN,
            after: "2025-10-26T01:50:00+02:00",
            expect: &[
                "2025-10-26T02:00:00+02:00",
                "2025-10-26T02:20:00+02:00",
                "2025-10-26T02:40:00+02:00",
                "2025-10-26T02:00:00+01:00",
                "2025-10-26T02:20:00+01:00",
                "2025-10-26T02:40:00+01:00",
                "2025-10-26T03:00:00+01:00",
            ],
        },
        // Counting from the second pass of the overlap: second pass only.
        Case {
            expr: "*/20 * * * *",
            tz: BERLIN,
            after: "2025-10-26T02:10:00+01:00",
            expect: &["2025-10-26T02:20:00+01:00", "2025-10-26T02:40:00+01:00"],
        },
        // Not fixed-time and sparse: counted from months before, across
        // the spring transition, it still sees both passes in October.
        Case {
            expr: "30 * 26 10 *",
            tz: BERLIN,
            after: "2025-01-01T00:00:00+01:00",
            expect: &[
                "2025-10-26T00:30:00+02:00",
                "2025-10-26T01:30:00+02:00",
                "2025-10-26T02:30:00+02:00",
                "2025-10-26T02:30:00+01:00",
                "2025-10-26T03:30:00+01:00",
            ],
        },
        // Read with January's offset, the first match lands after the
        // October change; the summer segment in between must still be seen.
        Case {
            expr: "* 2 26 10 *",
            tz: BERLIN,
            after: "2025-01-01T00:00:00+01:00",
            expect: &["2025-10-26T02:00:00+02:00", "2025-10-26T02:01:00+02:00"],
        },
        // 2026, same rules.
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2026-03-28T12:00:00+01:00",
            expect: &["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        },
        Case {
            expr: "30 2 * * *",
            tz: BERLIN,
            after: "2026-10-24T12:00:00+02:00",
            expect: &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        },
    ]);
}

#[test]
fn dst_america_new_york() {
    // 2025-03-09: 02:00 EST -> 03:00 EDT. 2025-11-02: 02:00 EDT -> 01:00 EST.
    check(&[
        Case {
            expr: "30 2 * * *",
            tz: NEW_YORK,
            after: "2025-03-08T12:00:00-05:00",
            expect: &["2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"],
        },
        Case {
            expr: "0,30 2 * * *",
            tz: NEW_YORK,
            after: "2025-03-08T12:00:00-05:00",
            expect: &[
                "2025-03-09T03:00:00-04:00",
                "2025-03-10T02:00:00-04:00",
                "2025-03-10T02:30:00-04:00",
            ],
        },
        Case {
            expr: "15 1-3 * * *",
            tz: NEW_YORK,
            after: "2025-03-09T00:00:00-05:00",
            expect: &[
                "2025-03-09T01:15:00-05:00",
                "2025-03-09T03:00:00-04:00",
                "2025-03-09T03:15:00-04:00",
                "2025-03-10T01:15:00-04:00",
            ],
        },
        Case {
            expr: "*/15 * * * *",
            tz: NEW_YORK,
            after: "2025-03-09T01:40:00-05:00",
            expect: &[
                "2025-03-09T01:45:00-05:00",
                "2025-03-09T03:00:00-04:00",
                "2025-03-09T03:15:00-04:00",
            ],
        },
        Case {
            expr: "30 1 * * *",
            tz: NEW_YORK,
            after: "2025-11-01T12:00:00-04:00",
            expect: &["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"],
        },
        Case {
            expr: "0 * * * *",
            tz: NEW_YORK,
            after: "2025-11-02T00:30:00-04:00",
            expect: &[
                "2025-11-02T01:00:00-04:00",
                "2025-11-02T01:00:00-05:00",
                "2025-11-02T02:00:00-05:00",
            ],
        },
        Case {
            expr: "*/15 * * * *",
            tz: NEW_YORK,
            after: "2025-11-02T01:40:00-04:00",
            expect: &[
                "2025-11-02T01:45:00-04:00",
                "2025-11-02T01:00:00-05:00",
                "2025-11-02T01:15:00-05:00",
                "2025-11-02T01:30:00-05:00",
                "2025-11-02T01:45:00-05:00",
                "2025-11-02T02:00:00-05:00",
            ],
        },
        Case {
            expr: "0 2 * * *",
            tz: NEW_YORK,
            after: "2025-11-01T12:00:00-04:00",
            expect: &["2025-11-02T02:00:00-05:00", "2025-11-03T02:00:00-05:00"],
        },
    ]);
}

#[test]
fn dst_america_havana() {
    // Transitions at midnight. 2025-03-09: 00:00 CST -> 01:00 CDT.
    // 2025-11-02: 01:00 CDT -> 00:00 CST.
    check(&[
        Case {
            expr: "30 0 * * *",
            tz: HAVANA,
            after: "2025-03-08T12:00:00-05:00",
            expect: &["2025-03-09T01:00:00-04:00", "2025-03-10T00:30:00-04:00"],
        },
        // Midnight itself is swallowed: @daily runs at 01:00.
        Case {
            expr: "@daily",
            tz: HAVANA,
            after: "2025-03-08T12:00:00-05:00",
            expect: &["2025-03-09T01:00:00-04:00", "2025-03-10T00:00:00-04:00"],
        },
        Case {
            expr: "0,30 0 * * *",
            tz: HAVANA,
            after: "2025-03-08T12:00:00-05:00",
            expect: &[
                "2025-03-09T01:00:00-04:00",
                "2025-03-10T00:00:00-04:00",
                "2025-03-10T00:30:00-04:00",
            ],
        },
        Case {
            expr: "15 0-1 * * *",
            tz: HAVANA,
            after: "2025-03-08T12:00:00-05:00",
            expect: &[
                "2025-03-09T01:00:00-04:00",
                "2025-03-09T01:15:00-04:00",
                "2025-03-10T00:15:00-04:00",
            ],
        },
        // The day of the swallowed time still decides: a Sunday-only job.
        Case {
            expr: "30 0 * * sun",
            tz: HAVANA,
            after: "2025-03-08T12:00:00-05:00",
            expect: &["2025-03-09T01:00:00-04:00", "2025-03-16T00:30:00-04:00"],
        },
        Case {
            expr: "*/20 * * * *",
            tz: HAVANA,
            after: "2025-03-08T23:30:00-05:00",
            expect: &[
                "2025-03-08T23:40:00-05:00",
                "2025-03-09T01:00:00-04:00",
                "2025-03-09T01:20:00-04:00",
            ],
        },
        Case {
            expr: "30 0 * * *",
            tz: HAVANA,
            after: "2025-11-01T12:00:00-04:00",
            expect: &["2025-11-02T00:30:00-04:00", "2025-11-03T00:30:00-05:00"],
        },
        Case {
            expr: "@daily",
            tz: HAVANA,
            after: "2025-11-01T12:00:00-04:00",
            expect: &["2025-11-02T00:00:00-04:00", "2025-11-03T00:00:00-05:00"],
        },
        Case {
            expr: "0 * * * *",
            tz: HAVANA,
            after: "2025-11-01T23:30:00-04:00",
            expect: &[
                "2025-11-02T00:00:00-04:00",
                "2025-11-02T00:00:00-05:00",
                "2025-11-02T01:00:00-05:00",
            ],
        },
        Case {
            expr: "*/20 * * * *",
            tz: HAVANA,
            after: "2025-11-02T00:30:00-04:00",
            expect: &[
                "2025-11-02T00:40:00-04:00",
                "2025-11-02T00:00:00-05:00",
                "2025-11-02T00:20:00-05:00",
                "2025-11-02T00:40:00-05:00",
                "2025-11-02T01:00:00-05:00",
            ],
        },
    ]);
}

#[test]
fn dst_australia_lord_howe() {
    // Half-hour shifts. 2025-04-06: 02:00 +11:00 -> 01:30 +10:30.
    // 2025-10-05: 02:00 +10:30 -> 02:30 +11:00.
    check(&[
        Case {
            expr: "15 2 * * *",
            tz: LORD_HOWE,
            after: "2025-10-04T12:00:00+10:30",
            expect: &["2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"],
        },
        // 02:00 and 02:15 are swallowed, 02:30 is the gap's end: once.
        Case {
            expr: "0,15,30,45 2 * * *",
            tz: LORD_HOWE,
            after: "2025-10-04T12:00:00+10:30",
            expect: &[
                "2025-10-05T02:30:00+11:00",
                "2025-10-05T02:45:00+11:00",
                "2025-10-06T02:00:00+11:00",
            ],
        },
        Case {
            expr: "*/15 * * * *",
            tz: LORD_HOWE,
            after: "2025-10-05T01:40:00+10:30",
            expect: &[
                "2025-10-05T01:45:00+10:30",
                "2025-10-05T02:30:00+11:00",
                "2025-10-05T02:45:00+11:00",
            ],
        },
        Case {
            expr: "45 1 * * *",
            tz: LORD_HOWE,
            after: "2025-04-05T12:00:00+11:00",
            expect: &["2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"],
        },
        Case {
            expr: "*/15 * * * *",
            tz: LORD_HOWE,
            after: "2025-04-06T01:20:00+11:00",
            expect: &[
                "2025-04-06T01:30:00+11:00",
                "2025-04-06T01:45:00+11:00",
                "2025-04-06T01:30:00+10:30",
                "2025-04-06T01:45:00+10:30",
                "2025-04-06T02:00:00+10:30",
            ],
        },
        // Hourly: 01:00 and 02:00 local are 90 real minutes apart that night.
        Case {
            expr: "0 * * * *",
            tz: LORD_HOWE,
            after: "2025-04-06T00:30:00+11:00",
            expect: &[
                "2025-04-06T01:00:00+11:00",
                "2025-04-06T02:00:00+10:30",
                "2025-04-06T03:00:00+10:30",
            ],
        },
    ]);
}

#[test]
fn never_firing_schedules_are_refused() {
    for expr in [
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 30,31 feb *",
        "* * 31 2 *",
    ] {
        for name in [UTC, BERLIN, LORD_HOWE] {
            let error = Schedule::parse(expr, zone(name)).expect_err(expr);
            assert!(error.0.contains("never fires"), "{expr}: {error}");
        }
    }
    // A day field starting with '*' makes the AND rule: rare, but it happens.
    let schedule = Schedule::parse("0 0 29 2 */1", zone(UTC)).expect("parse");
    assert_eq!(
        schedule.next_after(at(NEW_YEAR)),
        Some(at("2028-02-29T00:00:00Z"))
    );
    // "*/7" is 0 and 7: February 29th on a Sunday.
    let schedule = Schedule::parse("0 0 29 2 */7", zone(UTC)).expect("parse");
    assert_eq!(
        schedule.next_after(at(NEW_YEAR)),
        Some(at("2032-02-29T00:00:00Z"))
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let exprs = [
        "* * * * *",
        "30 2 * * *",
        "*/20 * * * *",
        "0 0 29 2 *",
        "@every 1s",
        "@every 1y",
        "@every 100000y",
        "@yearly",
    ];
    let instants = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::<Utc>::MAX_UTC - TimeDelta::days(365),
        DateTime::<Utc>::MIN_UTC + TimeDelta::days(365),
        at("0001-01-01T00:00:00Z"),
        at("9999-12-31T23:59:59Z"),
    ];
    for expr in exprs {
        for name in [UTC, BERLIN, LORD_HOWE, HAVANA] {
            let schedule = Schedule::parse(expr, zone(name)).expect(expr);
            for instant in instants {
                if let Some(next) = schedule.next_after(instant) {
                    assert!(next > instant, "{expr} [{name}] after {instant}: {next}");
                }
            }
        }
    }
    assert_eq!(
        Schedule::parse("* * * * *", zone(UTC))
            .expect("parse")
            .next_after(DateTime::<Utc>::MAX_UTC),
        None
    );
}

#[test]
fn arbitrary_input_does_not_panic() {
    let pieces = [
        "*",
        "/",
        "-",
        ",",
        "0",
        "7",
        "59",
        "60",
        "99999999999999999999",
        "jan",
        "MON",
        "sun",
        "L",
        "W",
        "#",
        "?",
        "@",
        "@every",
        "@daily",
        "1.5s",
        "ms",
        " ",
        "\t",
        "é",
        "\u{0}",
        "--",
        "//",
        "*/",
        "1-",
        "-1",
        "x",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        let mut expr = String::new();
        for _ in 0..(state % 9) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            expr.push_str(pieces[(state % pieces.len() as u64) as usize]);
            if state.is_multiple_of(3) {
                expr.push(' ');
            }
        }
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        if let Ok(schedule) = Schedule::parse(&expr, zone(BERLIN))
            && let Some(next) = schedule.next_after(at(NEW_YEAR))
        {
            assert!(next > at(NEW_YEAR), "{expr:?}");
        }
    }
}

/// Expressions and zones for the property tests below.
const PROPERTY_EXPRESSIONS: &[&str] = &[
    "30 2 * * *",
    "0,30 2 * * *",
    "15 1-3 * * *",
    "0 2,3 * * *",
    "30 0 * * *",
    "0,15,30,45 0-3 * * *",
    "45 1 * * *",
    "0 0 * * *",
    "59 23 * * *",
    "5 1,2,3 * * sun",
    "0 * * * *",
    "*/20 * * * *",
    "*/15 * * * *",
    "30 * * * *",
    "* 2 * * *",
    "*/7 1-3 * * *",
    "0 */2 * * *",
    "*/45 * * * *",
];
const PROPERTY_ZONES: &[&str] = &[UTC, BERLIN, NEW_YORK, HAVANA, LORD_HOWE];

#[test]
fn next_after_is_strict_and_enumerates_an_increasing_sequence() {
    for &name in PROPERTY_ZONES {
        let tz = zone(name);
        for &expr in PROPERTY_EXPRESSIONS {
            let schedule = Schedule::parse(expr, tz).expect(expr);
            let mut previous = at("2025-03-01T00:00:00Z");
            let end = at("2025-11-15T00:00:00Z");
            while previous < end {
                let next = schedule.next_after(previous).expect(expr);
                assert!(next > previous, "{expr} [{name}] after {previous}: {next}");
                // Any instant from the previous tick up to just before this
                // one leads to this one: ticks do not depend on the start.
                for probe in [
                    next - TimeDelta::seconds(1),
                    next - TimeDelta::nanoseconds(1),
                    previous + (next - previous) / 2,
                ] {
                    if probe >= previous {
                        assert_eq!(
                            schedule.next_after(probe),
                            Some(next),
                            "{expr} [{name}] after {probe}"
                        );
                    }
                }
                previous = next;
            }
        }
    }
}

/// The wall clock at a whole-minute instant (the test zones all have
/// whole-minute offsets).
fn wall(tz: Tz, instant: i64) -> NaiveDateTime {
    let utc = DateTime::from_timestamp(instant, 0).expect("in range");
    local_time(tz, utc).expect("a known offset").naive_local()
}

/// Brute force, minute by minute, straight from the rules in the spec.
fn oracle(spec: &CronSpec, tz: Tz, from: i64, to: i64) -> Vec<i64> {
    let mut out = Vec::new();
    if spec.is_fixed_time() {
        // Every matching wall time, mapped to its instant: unique -> it,
        // repeated -> earliest, skipped -> first instant past it.
        let mut w = wall(tz, from) - TimeDelta::days(1);
        let last = wall(tz, to) + TimeDelta::days(1);
        while w <= last {
            if spec.matches(w) {
                let naive_secs = w.and_utc().timestamp();
                let window = (naive_secs - 15 * 3600..=naive_secs + 15 * 3600).step_by(60);
                let instant = window
                    .clone()
                    .find(|&u| wall(tz, u) == w)
                    .or_else(|| window.clone().find(|&u| wall(tz, u) > w))
                    .expect("a wall time maps somewhere");
                out.push(instant);
            }
            w += TimeDelta::minutes(1);
        }
    } else {
        let mut u = from - from.rem_euclid(60);
        while u <= to {
            if spec.matches(wall(tz, u)) {
                out.push(u);
            }
            u += 60;
        }
    }
    out.sort_unstable();
    out.dedup();
    out.retain(|&u| u > from && u <= to);
    out
}

#[test]
fn agrees_with_a_brute_force_oracle_around_every_transition() {
    let failures: Vec<String> = TRANSITIONS
        .iter()
        .flat_map(|&(name, instant, _, _)| oracle_disagreements(name, instant))
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Where the schedules of [`PROPERTY_EXPRESSIONS`] in zone `name` disagree
/// with the brute-force oracle within 36 hours of the transition at `instant`.
fn oracle_disagreements(name: &str, instant: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let tz = zone(name);
    let change = at(instant).timestamp();
    let (from, to) = (change - 36 * 3600, change + 36 * 3600);
    for &expr in PROPERTY_EXPRESSIONS {
        let schedule = Schedule::parse(expr, tz).expect(expr);
        let Kind::Cron(spec) = &schedule.kind else {
            unreachable!("cron expression")
        };
        let expected = oracle(spec, tz, from, to);
        let start = DateTime::from_timestamp(from, 0).expect("in range");
        let actual: Vec<i64> = schedule
            .iter_after(start)
            .map(|t| t.timestamp())
            .take_while(|&t| t <= to)
            .collect();
        if actual != expected {
            let show = |v: &[i64]| -> Vec<String> {
                v.iter()
                    .map(|&s| render(DateTime::from_timestamp(s, 0).expect("in range"), tz))
                    .collect()
            };
            failures.push(format!(
                "{expr} [{name}] around {instant}:\n    oracle {:?}\n    actual {:?}",
                show(&expected),
                show(&actual)
            ));
        }
    }
    failures
}

/// Transitions past chrono-tz's table (it ends with 2099), one table row per
/// change: the zone, the instant written with the offset after it, and the
/// offset before it, in seconds. The dates are those of the zones' rules in
/// tzdata 2025b (as Python's zoneinfo gives them from the POSIX TZ strings in
/// the system's zone files), covering the forms the rules take: nth and last
/// weekdays, "Fri>=23", Egypt's "lastThu 24:00" (which is sometimes November
/// 1st), changes at 23:00 the day before (Nuuk) and at midnight (Havana),
/// half-hour (Lord Howe) and 45-minute (Chatham) offsets, southern summers.
const FAR_TRANSITIONS: &[(&str, &str, i64)] = &[
    ("America/Los_Angeles", "2100-03-14T03:00:00-07:00", -28_800),
    ("America/Los_Angeles", "2100-11-07T01:00:00-08:00", -25_200),
    ("America/Los_Angeles", "2437-03-08T03:00:00-07:00", -28_800),
    ("America/Los_Angeles", "2437-11-01T01:00:00-08:00", -25_200),
    ("Europe/Berlin", "2100-03-28T03:00:00+02:00", 3_600),
    ("Europe/Berlin", "2100-10-31T02:00:00+01:00", 7_200),
    ("Australia/Sydney", "2100-04-04T02:00:00+10:00", 39_600),
    ("Australia/Sydney", "2100-10-03T03:00:00+11:00", 36_000),
    ("Africa/Cairo", "2100-04-30T01:00:00+03:00", 7_200),
    ("Africa/Cairo", "2100-10-28T23:00:00+02:00", 10_800),
    ("Africa/Cairo", "2437-10-29T23:00:00+02:00", 10_800),
    ("Asia/Jerusalem", "2100-03-26T03:00:00+03:00", 7_200),
    ("America/Santiago", "2100-04-03T23:00:00-04:00", -10_800),
    ("America/Santiago", "2100-09-05T01:00:00-03:00", -14_400),
    ("America/Nuuk", "2100-03-28T00:00:00-01:00", -7_200),
    ("America/Havana", "2100-03-14T01:00:00-04:00", -18_000),
    ("America/Havana", "2100-11-07T00:00:00-05:00", -14_400),
    ("Australia/Lord_Howe", "2100-04-04T01:30:00+10:30", 39_600),
    ("Australia/Lord_Howe", "2100-10-03T02:30:00+11:00", 37_800),
    ("Pacific/Chatham", "2100-09-26T03:45:00+13:45", 45_900),
    ("Pacific/Auckland", "2437-09-27T03:00:00+13:00", 43_200),
    ("Asia/Gaza", "2437-03-28T03:00:00+03:00", 7_200),
];

#[test]
fn far_future_offsets_follow_the_zones_rule() {
    let mut failures = Vec::new();
    for &(name, written, before) in FAR_TRANSITIONS {
        let tz = zone(name);
        let change = at(written);
        let secs = change.timestamp();
        let after = i64::from(
            DateTime::parse_from_rfc3339(written)
                .expect("test instant")
                .offset()
                .local_minus_utc(),
        );
        let got = (
            zone::offset_at(tz, secs - 1),
            zone::offset_at(tz, secs),
            render(change, tz),
        );
        let want = (Some(before), Some(after), written.to_owned());
        if got != want {
            failures.push(format!("{name} {written}: got {got:?}"));
        }
        // No other change within two weeks either side.
        for day in 1..14 {
            if zone::offset_at(tz, secs - day * 86_400) != Some(before)
                || zone::offset_at(tz, secs + day * 86_400) != Some(after)
            {
                failures.push(format!("{name} {written}: another change {day} days off"));
            }
        }
    }
    // A zone without daylight saving keeps its offset.
    assert_eq!(
        render(at("3100-07-01T00:00:00Z"), zone("Asia/Tokyo")),
        "3100-07-01T09:00:00+09:00"
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn far_future_fire_times_follow_the_dst_rules() {
    check(&[
        // The case: summer time in Los Angeles in 2100.
        Case {
            expr: "30 2 * * *",
            tz: "America/Los_Angeles",
            after: "2100-06-30T12:00:00-07:00",
            expect: &["2100-07-01T02:30:00-07:00"],
        },
        // Spring forward in 2100: the fixed-time job runs at the end of the gap.
        Case {
            expr: "30 2 * * *",
            tz: "America/Los_Angeles",
            after: "2100-03-13T12:00:00-08:00",
            expect: &["2100-03-14T03:00:00-07:00", "2100-03-15T02:30:00-07:00"],
        },
        // Fall back in 2100: once, in the first pass; hourly jobs in both.
        Case {
            expr: "30 1 * * *",
            tz: "America/Los_Angeles",
            after: "2100-11-06T12:00:00-07:00",
            expect: &["2100-11-07T01:30:00-07:00", "2100-11-08T01:30:00-08:00"],
        },
        Case {
            expr: "0 * * * *",
            tz: "America/Los_Angeles",
            after: "2100-11-07T00:30:00-07:00",
            expect: &[
                "2100-11-07T01:00:00-07:00",
                "2100-11-07T01:00:00-08:00",
                "2100-11-07T02:00:00-08:00",
            ],
        },
        Case {
            expr: "0 3 * * *",
            tz: "Europe/Berlin",
            after: "4999-10-01T00:00:00Z",
            expect: &["4999-10-01T03:00:00+02:00"],
        },
    ]);
    // And the brute-force oracle agrees around every far transition.
    let failures: Vec<String> = FAR_TRANSITIONS
        .iter()
        .flat_map(|&(name, written, _)| oracle_disagreements(name, written))
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn next_or_end_says_why_there_is_none() {
    // (expression, zone, after, the next fire time or the end)
    let cases: [(&str, &str, &str, Result<&str, End>); 4] = [
        (
            "30 2 * * *",
            "America/Los_Angeles",
            "2100-06-30T12:00:00-07:00",
            Ok("2100-07-01T02:30:00-07:00"),
        ),
        (
            "0 0 * * *",
            UTC,
            "4999-12-31T00:00:00Z",
            Err(End::YearLimit(5000)),
        ),
        (
            "0 0 * * *",
            BERLIN,
            "4999-12-31T00:00:00+01:00",
            Err(End::YearLimit(5000)),
        ),
        // @every has no year limit, and its ticks are shown in the job's zone.
        (
            "@every 1h",
            BERLIN,
            "6000-01-01T00:00:00Z",
            Ok("6000-01-01T02:00:00+01:00"),
        ),
    ];
    for (expr, name, after, want) in cases {
        let tz = zone(name);
        let schedule = Schedule::parse(expr, tz).expect(expr);
        let got = schedule.next_or_end(at(after)).map(|t| render(t, tz));
        let want = want.map(|t| render(at(t), tz));
        assert_eq!(got, want, "{expr} [{name}]");
    }
    let every = Schedule::parse("@every 1s", zone(UTC)).expect("parse");
    assert_eq!(
        every.next_or_end(DateTime::<Utc>::MAX_UTC),
        Err(End::Calendar)
    );
    // The message names the year.
    assert_eq!(
        End::YearLimit(5000).to_string(),
        "cron fire times are computed only before the year 5000"
    );
    let end = End::ZoneData {
        zone: zone("Asia/Gaza"),
        last_year: 2099,
    };
    assert!(
        end.to_string()
            .contains("Asia/Gaza are known only through 2099"),
        "{end}"
    );
}

#[test]
fn every_zone_is_carried_past_the_table() {
    // With chrono-tz 0.10 (tzdata 2025b) every zone's last years follow a
    // recurring rule or none; an update that breaks this makes such zones
    // refuse instants from 2100 on (End::ZoneData), and this test says which.
    let refused: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .filter(|tz| local_time(**tz, at("2100-07-01T00:00:00Z")).is_err())
        .map(|tz| tz.name())
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// Expressions checked against both oracles on naive wall-clock time.
const ORACLE_EXPRESSIONS: &[&str] = &[
    "*/15 * * * *",
    "10-50/20 3-5 * * *",
    "0 0 13 * fri",
    "0 0 * * mon-fri",
    "5 4 * jan,jul sun",
    "0 0 31 * *",
    "0 12 1-7 * 1",
    "30 */3 * * *",
    "0 0 29 2 *",
    "* * * * 7",
    "0 0 1,15 * 3",
    "0 0 * */2 *",
    "59 23 31 12 *",
    "0 0 * * 5-7",
    "1-5,50-55 22-23 28-31 * *",
    "0 0 */2 * mon",
    "0 6 1-10 * */3",
    "0 0 29 2 mon",
];

/// Where both oracles start looking: mid-month, across a year end, near the
/// year-range limit.
const ORACLE_STARTS: [&str; 3] = [
    "2024-02-27T13:37:00",
    "2025-12-31T23:59:30",
    "2099-12-30T00:00:00",
];

#[test]
fn naive_matching_agrees_with_a_brute_force_search() {
    // The bit sets from our own parser, stepped minute by minute, are an
    // independent oracle for the matcher's jumps (next_match_from), including
    // cronie's AND rule for day fields starting with `*`.
    let expressions = ORACLE_EXPRESSIONS;
    let starts = ORACLE_STARTS;
    for expr in expressions {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let spec = CronSpec::parse(<[&str; 5]>::try_from(fields.as_slice()).expect("5 fields"))
            .expect(expr);
        for start in starts {
            let mut ours = NaiveDateTime::from_str(start).expect(start);
            let mut brute = ours;
            for _ in 0..40 {
                ours = spec.next_match_after(ours).expect(expr);
                // Step whole days while the day cannot match, then minutes.
                brute = brute
                    .with_second(0)
                    .expect("second")
                    .checked_add_signed(chrono::TimeDelta::minutes(1))
                    .expect("minute");
                while !spec.matches(brute) {
                    brute = if spec.day_matches(brute.date()) {
                        brute + chrono::TimeDelta::minutes(1)
                    } else {
                        brute
                            .date()
                            .succ_opt()
                            .expect("day")
                            .and_hms_opt(0, 0, 0)
                            .expect("midnight")
                    };
                }
                assert_eq!(ours, brute, "{expr} from {start}");
            }
        }
    }
}

#[test]
fn parse_duration_accepts_human_durations() {
    for (text, secs) in [
        ("90s", 90),
        ("10m", 600),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        (" 2d ", 172_800),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_secs(secs)),
            "{text}"
        );
    }
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    for text in ["", "0s", "0", "10", "banana", "-5s", "1x"] {
        let message = parse_duration(text).expect_err(text);
        assert!(message.contains("90s"), "{text}: {message}");
        assert!(!message.contains('\n'), "{text}: {message}");
    }
    assert!(parse_duration("0s").expect_err("zero").contains("zero"));
}

#[test]
fn local_offsets_match_chrono() {
    // The offset helper agrees with chrono's own conversion.
    let tz = zone(LORD_HOWE);
    for &(_, instant, _, _) in TRANSITIONS {
        let secs = at(instant).timestamp();
        for delta in [-3600, -1, 0, 1, 3600] {
            let utc = DateTime::from_timestamp(secs + delta, 0).expect("in range");
            let expected = i64::from(
                tz.offset_from_utc_datetime(&utc.naive_utc())
                    .fix()
                    .local_minus_utc(),
            );
            assert_eq!(zone::offset_at(tz, secs + delta), Some(expected));
        }
    }
}

#[test]
fn ticks_between_counts_first_and_last() {
    // (expression, zone, after, until, Some((count, first, last)))
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<(u64, &'static str, &'static str)>,
    );
    let cases: [Case; 8] = [
        (
            "@every 1s",
            UTC,
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
            Some((86_400, "2026-01-01T00:00:01Z", "2026-01-02T00:00:00Z")),
        ),
        (
            "@every 10m",
            UTC,
            "2026-01-01T00:05:00Z",
            "2026-01-01T01:00:00Z",
            Some((6, "2026-01-01T00:10:00Z", "2026-01-01T01:00:00Z")),
        ),
        (
            "@every 10m",
            UTC,
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:09:59Z",
            None,
        ),
        (
            "0 * * * *",
            UTC,
            "2026-01-01T00:00:00Z",
            "2026-01-01T05:30:00Z",
            Some((5, "2026-01-01T01:00:00Z", "2026-01-01T05:00:00Z")),
        ),
        (
            "30 2 * * *",
            BERLIN,
            "2025-03-29T00:00:00Z",
            "2025-04-01T00:00:00Z",
            Some((3, "2025-03-29T01:30:00Z", "2025-03-31T00:30:00Z")),
        ),
        // The fall-back night: an hourly job fires every real hour, 02:00 twice.
        (
            "0 * * * *",
            BERLIN,
            "2025-10-25T22:30:00Z",
            "2025-10-26T03:30:00Z",
            Some((5, "2025-10-25T23:00:00Z", "2025-10-26T03:00:00Z")),
        ),
        (
            "@yearly",
            UTC,
            "2026-01-01T00:00:00Z",
            "2026-12-31T23:59:59Z",
            None,
        ),
        (
            "* * * * *",
            UTC,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            None,
        ),
    ];
    for (expr, name, after, until, want) in cases {
        let schedule = Schedule::parse(expr, zone(name)).expect(expr);
        let got = schedule.ticks_between(at(after), at(until));
        let want = want.map(|(count, first, last)| (count, at(first), at(last)));
        assert_eq!(
            got.map(|s| (s.count, s.first, s.last)),
            want,
            "{expr} [{name}] ({after}, {until}]"
        );
        if let Some(span) = got {
            // The tick before the last is the last of the span that stops just before it.
            let shorter = schedule.ticks_between(at(after), span.last - TimeDelta::seconds(1));
            assert_eq!(span.before_last, shorter.map(|s| s.last), "{expr}");
            assert_eq!(
                span.without_last().map(|s| s.count),
                shorter.map(|s| s.count),
                "{expr}"
            );
        }
    }
}

#[test]
fn naive_matching_agrees_with_croner() {
    // croner (Vixie/OCPS semantics) as a second opinion on naive wall-clock time,
    // given the day-of-month/day-of-week rule cronie uses for each expression.
    let expressions = ORACLE_EXPRESSIONS;
    let starts = ORACLE_STARTS;
    for expr in expressions {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let spec = CronSpec::parse(<[&str; 5]>::try_from(fields.as_slice()).expect("5 fields"))
            .expect(expr);
        let and_rule = fields[2].starts_with('*') || fields[4].starts_with('*');
        let cron = croner::parser::CronParser::builder()
            .dom_and_dow(and_rule)
            .build()
            .parse(expr)
            .expect(expr);
        for start in starts {
            let mut ours = NaiveDateTime::from_str(start).expect(start);
            let mut theirs = ours;
            for _ in 0..300 {
                ours = spec.next_match_after(ours).expect(expr);
                theirs = cron.find_next_occurrence(&theirs, false).expect(expr);
                assert_eq!(ours, theirs, "{expr} from {start}");
            }
        }
    }
}

#[test]
fn gap_shorter_than_finds_the_shortest_gap_between_ticks() {
    let min = |m: u64| Duration::from_secs(m * 60);
    let hours = |h: u64| min(h * 60);
    // (expression, zone, limit, the gap found shorter than the limit)
    let cases: &[(&str, &str, Duration, Option<Duration>)] = &[
        ("*/15 * * * *", "UTC", min(16), Some(min(15))),
        ("*/15 * * * *", "UTC", min(15), None),
        ("@every 10m", "UTC", min(11), Some(min(10))),
        ("@every 10m", "UTC", min(10), None),
        ("0 9 * * 1-5", "UTC", hours(48), Some(hours(24))),
        ("0 9 * * 1-5", "UTC", hours(24), None),
        ("0,5 * * * *", "UTC", min(6), Some(min(5))),
        ("* * * * *", "UTC", min(1), None),
        ("* * * * *", "UTC", Duration::from_secs(61), Some(min(1))),
        // On the spring-forward day 02:30 Paris does not exist and the job runs
        // at 03:00 CEST, 23h30m after the 02:30 CET before.
        (
            "30 2 * * *",
            "Europe/Paris",
            hours(24),
            Some(min(23 * 60 + 30)),
        ),
        ("30 2 * * *", "Europe/Paris", min(23 * 60 + 30), None),
        ("30 2 * * *", "UTC", hours(24), None),
        // Once every leap year: no two ticks within the year looked at.
        ("0 0 29 2 *", "UTC", hours(24 * 365), None),
        ("@yearly", "UTC", hours(24 * 366), Some(hours(24 * 365))),
    ];
    for (expr, tz, limit, want) in cases {
        let schedule = Schedule::parse(expr, zone(tz)).expect(expr);
        assert_eq!(
            schedule.gap_shorter_than(*limit),
            *want,
            "{expr} in {tz}, limit {limit:?}"
        );
    }
}

#[test]
fn fixed_offsets_stay_in_their_window_and_spread_evenly() {
    let window = Duration::from_secs(600);
    let mut buckets = [0u32; 10];
    for i in 0..1000 {
        let name = format!("job-{i}");
        let offset = fixed_offset(&["box", "/var/lib/cronbox/cronbox.db", &name], window);
        assert!(offset < window, "{name}: {offset:?}");
        assert_eq!(offset.subsec_nanos(), 0, "whole seconds");
        assert_eq!(
            offset,
            fixed_offset(&["box", "/var/lib/cronbox/cronbox.db", &name], window),
            "stable"
        );
        buckets[usize::try_from(offset.as_secs() / 60).expect("small")] += 1;
    }
    // 100 expected per minute of the window; a fair hash stays well within 50..150.
    assert!(
        buckets.iter().all(|&n| (50..150).contains(&n)),
        "{buckets:?}"
    );
    // Another box, or another database, moves the same job elsewhere.
    let offsets = |seed: [&str; 3]| -> Vec<Duration> {
        (0..20)
            .map(|w| fixed_offset(&seed, Duration::from_secs(3600 + w)))
            .collect()
    };
    let here = offsets(["a", "/db", "backup"]);
    assert_ne!(here, offsets(["b", "/db", "backup"]));
    assert_ne!(here, offsets(["a", "/other.db", "backup"]));
    // The parts are separated: ("ab", "c") is not ("a", "bc").
    assert_ne!(offsets(["ab", "c", "x"]), offsets(["a", "bc", "x"]));
    assert_eq!(
        fixed_offset(&["a"], Duration::from_millis(999)),
        Duration::ZERO
    );
}

/// Regression guard: the offsets must not move between versions of cronbox (a
/// box's jobs would fire at other times after an upgrade, and a tick could be
/// run twice or missed). These values were computed by the first version.
#[test]
fn fixed_offsets_do_not_change_between_versions() {
    let day = Duration::from_secs(86_400);
    let got: Vec<u64> = ["backup-db", "heartbeat", "report"]
        .iter()
        .map(|name| fixed_offset(&["machine", "/var/lib/cronbox/cronbox.db", name], day).as_secs())
        .collect();
    assert_eq!(got, PINNED_OFFSETS);
}
/// `fixed_offset` of three jobs over a day, as the first version computed them.
const PINNED_OFFSETS: [u64; 3] = [73_631, 46_635, 11_814];
