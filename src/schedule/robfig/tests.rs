//! The robfig dialect both ways: a table per direction, and the translated
//! Ofelia schedules checked against croner reading the source with seconds.

use super::*;
use chrono::{DateTime, TimeZone, Utc};

fn robfig(expr: &str) -> Result<ForRobfig, String> {
    to_robfig(&Schedule::parse(expr, Tz::Europe__Paris).expect(expr))
}

#[test]
fn cronbox_schedules_for_kubernetes() {
    // (cronbox, robfig five fields, read in UTC)
    let cases = [
        ("30 2 * * *", "30 2 * * *", false),
        ("@daily", "0 0 * * *", false),
        ("@midnight", "0 0 * * *", false),
        ("@hourly", "0 * * * *", false),
        ("@weekly", "0 0 * * 0", false),
        ("@monthly", "0 0 1 * *", false),
        ("@yearly", "0 0 1 1 *", false),
        ("0 0 * * 7", "0 0 * * 0", false),
        ("0 0 * * 5-7", "0 0 * * 0,5-6", false),
        ("0 0 * * 0-7", "0 0 * * 0-6", false),
        ("0 0 * * mon-fri", "0 0 * * mon-fri", false),
        ("0 0 */2 * *", "0 0 */2 * *", false),
        ("0 0 13 * fri", "0 0 13 * fri", false),
        // Restricted for cronie (OR), a star for robfig: spelt out.
        ("0 0 1,* * mon", "0 0 1-31 * mon", false),
        ("*/5 9-17 * jan-mar *", "*/5 9-17 * jan-mar *", false),
        ("@every 1m", "* * * * *", true),
        ("@every 15m", "*/15 * * * *", true),
        ("@every 1h", "0 * * * *", true),
        ("@every 60m", "0 * * * *", true),
        ("@every 6h", "0 */6 * * *", true),
        ("@every 1d", "0 0 * * *", true),
        ("@every 24h", "0 0 * * *", true),
    ];
    for (cronbox, want, utc) in cases {
        let got = robfig(cronbox).unwrap_or_else(|e| panic!("{cronbox}: {e}"));
        assert_eq!(
            got,
            ForRobfig {
                expression: want.to_owned(),
                utc
            },
            "{cronbox}"
        );
    }
}

#[test]
fn schedules_kubernetes_cannot_express_are_refused_with_the_reason() {
    let cases = [
        ("@every 30s", "not a whole number of minutes"),
        ("@every 90s", "not a whole number of minutes"),
        ("@every 7m", "divides neither an hour nor a day"),
        ("@every 90m", "divides neither an hour nor a day"),
        ("@every 5h", "divides neither an hour nor a day"),
        ("@every 2d", "divides neither an hour nor a day"),
        ("0 0 */2 * mon", "requires both to match"),
        ("0 0 * * */2,7", "names 7"),
    ];
    for (cronbox, why) in cases {
        match robfig(cronbox) {
            Ok(got) => panic!("{cronbox} gave {got:?}"),
            Err(e) => assert!(e.contains(why), "{cronbox}: {e}"),
        }
    }
}

#[test]
fn ofelia_schedules_for_cronbox() {
    // (robfig with optional seconds, cronbox, zone, a note expected)
    let cases: [(&str, &str, Option<Tz>, bool); 14] = [
        ("0 30 4 * * *", "30 4 * * *", None, false),
        ("00 30 4 * * *", "30 4 * * *", None, false),
        ("30 4 * * *", "30 4 * * *", None, false),
        ("*/10 * * * * *", "@every 10s", None, true),
        ("* * * * * *", "@every 1s", None, true),
        ("0 0 4 ? * MON", "0 4 * * MON", None, false),
        ("0 5/15 * * * *", "5-59/15 * * * *", None, false),
        ("0 0 0 */2 * mon", "0 0 1-31/2 * mon", None, false),
        ("0 0 0 5,* * mon", "0 0 * * mon", None, false),
        (
            "CRON_TZ=Asia/Tokyo 0 30 6 * * *",
            "30 6 * * *",
            Some(Tz::Asia__Tokyo),
            false,
        ),
        ("TZ=UTC @daily", "@daily", Some(Tz::UTC), false),
        ("@every 1h30m", "@every 1h 30m", None, false),
        ("@every 1.5h", "@every 1h 30m", None, false),
        ("@every 1500ms", "@every 1s", None, true),
    ];
    for (ofelia, want, zone, noted) in cases {
        let got = from_robfig(ofelia).unwrap_or_else(|e| panic!("{ofelia}: {e}"));
        assert_eq!(got.expression, want, "{ofelia}");
        assert_eq!(got.timezone, zone, "{ofelia}");
        assert_eq!(got.note.is_some(), noted, "{ofelia}: {:?}", got.note);
    }
}

#[test]
fn ofelia_schedules_without_a_cronbox_equivalent_are_refused_with_the_reason() {
    let cases = [
        ("30 0 4 * * *", "at second 30"),
        ("*/7 * * * * *", "on the seconds \"*/7\""),
        ("0-30 * * * * *", "whole minutes"),
        ("1 2 3", "expected 5 fields, or 6"),
        ("TZ=Nowhere/City 0 0 * * *", "unknown time zone"),
        ("@every soon", "not a Go duration"),
        ("@every 10", "not a Go duration"),
        ("0 0 0 30 2 *", "never fires"),
    ];
    for (ofelia, why) in cases {
        match from_robfig(ofelia) {
            Ok(got) => panic!("{ofelia} gave {got:?}"),
            Err(e) => assert!(e.contains(why), "{ofelia}: {e}"),
        }
    }
}

/// Whether robfig requires both day fields of six-field `spec` to match.
fn robfig_and(fields: &[&str]) -> bool {
    robfig_star(fields[3]) || robfig_star(fields[5])
}

#[test]
fn translated_ofelia_schedules_fire_when_croner_reads_the_source_with_seconds() {
    let sources = [
        "0 30 4 * * *",
        "0 */20 9-17 * * mon-fri",
        "0 0 0 */2 * mon",
        "0 0 12 ? * SUN",
        // (croner refuses robfig's "5/15"; the table above covers it.)
        "0 5-59/15 * * * *",
        "0 0 6 1,15 * *",
    ];
    let start = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    for source in sources {
        let fields: Vec<&str> = source.split_whitespace().collect();
        let ours = from_robfig(source).expect(source);
        let schedule = Schedule::parse(&ours.expression, Tz::UTC).expect(source);
        let theirs = croner::parser::CronParser::builder()
            .dom_and_dow(robfig_and(&fields))
            .build()
            .parse(source)
            .expect(source);
        let (mut a, mut b): (DateTime<Utc>, DateTime<Utc>) = (start, start);
        for _ in 0..500 {
            a = schedule.next_after(a).expect(source);
            b = theirs.find_next_occurrence(&b, false).expect(source);
            assert_eq!(a, b, "{source} as {}", ours.expression);
        }
    }
}
