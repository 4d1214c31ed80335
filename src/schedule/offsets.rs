//! A zone's total UTC offset at any instant, and where that knowledge ends.
//!
//! Before [`TABLE_END`] (2100-01-01T00:00:00Z) the offset is chrono-tz's. Its
//! tables hold transitions only through 2099 and then keep the last offset for
//! ever, which is wrong for every zone that still observes daylight saving
//! (America/Los_Angeles would stay on PST from November 2099 on). From
//! [`TABLE_END`] on, the offset comes from the zone's recurring rule, the kind a
//! POSIX `TZ` string states ("the first Sunday on or after March 8, at 02:00"):
//! it is derived from the table's transitions in [`RULE_YEARS`] and accepted only
//! when it reproduces every one of them. A zone with no transitions in those
//! years keeps its last offset. A zone whose last years follow no such rule has
//! no known offset from [`TABLE_END`] on (`None`): cronbox refuses such instants
//! rather than guess.
//!
//! chrono-tz does not expose its transitions, so they are found by sampling the
//! offset once a day and bisecting to the second where it changes. In the
//! chrono-tz 0.10 data no two changes of a zone's total UTC offset are closer
//! than about seven days (America/Boa_Vista, October 2000), so a daily sample
//! never steps over a pair of changes.
//!
//! Pure: the derived rules are memoised in a process-wide map; nothing else is
//! kept, read or written.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, OnceLock};

/// 2100-01-01T00:00:00Z: chrono-tz's tables hold the transitions before it.
pub(super) const TABLE_END: i64 = 4_102_444_800;
/// The last year whose offsets come from chrono-tz's table.
pub(super) const TABLE_LAST_YEAR: i32 = 2099;
/// The years a zone's recurring rule is derived from and checked against. Twelve
/// years are enough for a "weekday on or after day D" rule to fall on each of
/// the seven days D..D+6 at least once, which pins D down.
const RULE_YEARS: RangeInclusive<i32> = 2088..=TABLE_LAST_YEAR;
/// Sampling step when looking for an offset change.
const SAMPLE_SECONDS: i64 = 86_400;

/// The total UTC offset in seconds at instant `secs`, or `None` past the end
/// of what is known about the zone (or of the calendar).
pub(super) fn offset_at(tz: Tz, secs: i64) -> Option<i64> {
    if secs < TABLE_END {
        table_offset(tz, secs)
    } else {
        rule(tz)?.offset_at(secs)
    }
}

/// The last year whose offsets are known in `tz`: `None` when they are known
/// for ever (the table's end is carried on by a recurring rule or a fixed
/// offset), else `Some(2099)`.
pub(super) fn last_known_year(tz: Tz) -> Option<i32> {
    match rule(tz) {
        Some(_) => None,
        None => Some(TABLE_LAST_YEAR),
    }
}

/// chrono-tz's offset, whatever the year.
fn table_offset(tz: Tz, secs: i64) -> Option<i64> {
    let utc = DateTime::from_timestamp(secs, 0)?.naive_utc();
    Some(i64::from(
        tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
    ))
}

/// The first instant in `(from, to]` whose offset (by `offset_at`) differs
/// from `offset`, the offset at `from`; `Ok(None)` if the offset holds through
/// `to`. `None` (outer) when an offset is unknown.
pub(super) fn first_change(
    offset_at: impl Fn(i64) -> Option<i64>,
    from: i64,
    to: i64,
    offset: i64,
) -> Option<Option<i64>> {
    let mut previous = from;
    while previous < to {
        let sample = previous.saturating_add(SAMPLE_SECONDS).min(to);
        if offset_at(sample)? != offset {
            // Bisect: `low` has the old offset, `high` a new one.
            let (mut low, mut high) = (previous, sample);
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if offset_at(middle)? == offset {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            return Some(Some(high));
        }
        previous = sample;
    }
    Some(None)
}

/// One change of offset: at instant `at` (Unix seconds), from `before` to `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    at: i64,
    before: i64,
    after: i64,
}

/// One yearly change of a recurring rule: on the first `weekday` on or after
/// day `first_day` of `month`, at `time` seconds after midnight on the local
/// clock as it reads before the change, the offset goes from `before` to `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    month: u32,
    weekday: Weekday,
    first_day: u32,
    time: i64,
    before: i64,
    after: i64,
}

impl Change {
    /// The instant this change happens in `year`; `None` when the day it
    /// names does not exist that year.
    fn instant_in(&self, year: i32) -> Option<i64> {
        let first = NaiveDate::from_ymd_opt(year, self.month, self.first_day)?;
        let ahead =
            (self.weekday.num_days_from_monday() + 7 - first.weekday().num_days_from_monday()) % 7;
        let day = first.checked_add_days(chrono::Days::new(u64::from(ahead)))?;
        if day.month() != self.month {
            return None;
        }
        let midnight = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
        midnight.checked_add(self.time)?.checked_sub(self.before)
    }
}

/// What a zone's offsets do after the table.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// No more changes: this offset for ever.
    Fixed(i64),
    /// These changes every year, in this order.
    Yearly(Vec<Change>),
}

impl Rule {
    /// The offset at `secs` by this rule.
    fn offset_at(&self, secs: i64) -> Option<i64> {
        let changes = match self {
            Rule::Fixed(offset) => return Some(*offset),
            Rule::Yearly(changes) => changes,
        };
        let year = DateTime::from_timestamp(secs, 0)?.year();
        let mut latest: Option<(i64, i64)> = None;
        for y in [year.checked_sub(1)?, year, year.checked_add(1)?] {
            for change in changes {
                let at = change.instant_in(y)?;
                if at <= secs && latest.is_none_or(|(seen, _)| at > seen) {
                    latest = Some((at, change.after));
                }
            }
        }
        latest.map(|(_, offset)| offset)
    }
}

/// The local wall clock just before transition `t`.
fn local_before(t: &Transition) -> Option<NaiveDateTime> {
    Some(DateTime::from_timestamp(t.at.checked_add(t.before)?, 0)?.naive_utc())
}

/// Derive the recurring rule that `transitions` (every transition of the years
/// `years`, by the local clock, in order) follow; `offset_at_end` is the offset
/// after the last of those years. `None` when they follow no rule of the form
/// "weekday on or after day D of a month, at a local time": the same number of
/// changes each year, the n-th change of every year in the same month, on the
/// same weekday, at the same local time, between the same offsets, each on all
/// seven days D..D+6 over the years, and the rule reproducing every transition.
fn derive(
    transitions: &[Transition],
    years: RangeInclusive<i32>,
    offset_at_end: i64,
) -> Option<Rule> {
    if transitions.is_empty() {
        return Some(Rule::Fixed(offset_at_end));
    }
    let mut by_year: Vec<Vec<(NaiveDateTime, Transition)>> =
        years.clone().map(|_| vec![]).collect();
    for t in transitions {
        let local = local_before(t)?;
        let index = usize::try_from(local.year().checked_sub(*years.start())?).ok()?;
        by_year.get_mut(index)?.push((local, *t));
    }
    let per_year = by_year.first()?.len();
    if per_year == 0 || by_year.iter().any(|y| y.len() != per_year) {
        return None;
    }
    let changes = (0..per_year)
        .map(|n| derive_change(&by_year.iter().map(|y| y[n]).collect::<Vec<_>>()))
        .collect::<Option<Vec<Change>>>()?;
    // Each change starts from the offset the one before it left.
    let chained = changes
        .iter()
        .zip(changes.iter().cycle().skip(1))
        .all(|(a, b)| a.after == b.before);
    let last = changes.last()?;
    if !chained || last.after != offset_at_end {
        return None;
    }
    // The rule must give back every transition it was derived from.
    for (year, observed) in years.zip(&by_year) {
        for (change, (_, t)) in changes.iter().zip(observed) {
            if change.instant_in(year)? != t.at {
                return None;
            }
        }
    }
    Some(Rule::Yearly(changes))
}

/// The change that the n-th transitions of every year, `observed`, follow.
/// A change at midnight may be written as 24:00 on the day before, as
/// tzdata does for Egypt ("lastThu 24:00", which is sometimes November 1st):
/// each observed local time is read as on its own day, then as on the day before.
fn derive_change(observed: &[(NaiveDateTime, Transition)]) -> Option<Change> {
    (0..=1).find_map(|days_back| derive_change_from(observed, days_back))
}

/// [`derive_change`] with every local time read as `days_back` days later than
/// midnight of its day.
fn derive_change_from(observed: &[(NaiveDateTime, Transition)], days_back: u64) -> Option<Change> {
    let mut change: Option<Change> = None;
    let mut days = Vec::new();
    for (local, t) in observed {
        let day = local
            .date()
            .checked_sub_days(chrono::Days::new(days_back))?;
        let this = Change {
            month: day.month(),
            weekday: day.weekday(),
            first_day: 1,
            time: local
                .signed_duration_since(day.and_time(chrono::NaiveTime::MIN))
                .num_seconds(),
            before: t.before,
            after: t.after,
        };
        if change.is_some_and(|c| c != this) {
            return None;
        }
        change = Some(this);
        days.push(day.day());
    }
    let first_day = *days.iter().min()?;
    let all_seven = (first_day..first_day + 7).all(|d| days.contains(&d));
    if !all_seven || days.iter().any(|&d| d >= first_day + 7) {
        return None;
    }
    Some(Change {
        first_day,
        ..change?
    })
}

/// The rule that carries `tz` past the table, derived once per zone.
fn rule(tz: Tz) -> Option<Arc<Rule>> {
    static RULES: OnceLock<Mutex<HashMap<Tz, Option<Arc<Rule>>>>> = OnceLock::new();
    let rules = RULES.get_or_init(Mutex::default);
    if let Some(known) = rules.lock().unwrap_or_else(|e| e.into_inner()).get(&tz) {
        return known.clone();
    }
    let derived = derive_for(tz).map(Arc::new);
    rules
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(tz, derived.clone());
    derived
}

/// Read the transitions of [`RULE_YEARS`] from the table and derive the rule.
fn derive_for(tz: Tz) -> Option<Rule> {
    let start = NaiveDate::from_ymd_opt(*RULE_YEARS.start(), 1, 1)?
        .and_hms_opt(0, 0, 0)?
        .and_utc()
        .timestamp();
    let offset = |secs: i64| table_offset(tz, secs);
    let mut transitions = Vec::new();
    let (mut from, mut current) = (start, offset(start)?);
    while let Some(at) = first_change(offset, from, TABLE_END - 1, current)? {
        let after = offset(at)?;
        transitions.push(Transition {
            at,
            before: current,
            after,
        });
        (from, current) = (at, after);
    }
    derive(&transitions, RULE_YEARS, current)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One transition of a synthetic zone: `(year, month, day, local time
    /// before, offset before, offset after)`, the local time as "HH:MM".
    type Row = (i32, u32, u32, &'static str, i64, i64);

    fn transitions(rows: &[Row]) -> Vec<Transition> {
        rows.iter()
            .map(|&(y, m, d, time, before, after)| {
                let local = NaiveDate::from_ymd_opt(y, m, d)
                    .and_then(|date| {
                        date.and_time(chrono::NaiveTime::parse_from_str(time, "%H:%M").ok()?)
                            .into()
                    })
                    .unwrap_or_else(|| panic!("bad date {y}-{m}-{d} {time}"));
                Transition {
                    at: local.and_utc().timestamp() - before,
                    before,
                    after,
                }
            })
            .collect()
    }

    /// US rule: second Sunday of March 02:00, first Sunday of November 02:00.
    fn us(years: RangeInclusive<i32>) -> Vec<Row> {
        let mut rows = Vec::new();
        for year in years {
            let nth_sunday = |month: u32, first_day: u32| {
                (first_day..first_day + 7)
                    .find(|&d| {
                        NaiveDate::from_ymd_opt(year, month, d)
                            .is_some_and(|date| date.weekday() == Weekday::Sun)
                    })
                    .unwrap_or(0)
            };
            rows.push((year, 3, nth_sunday(3, 8), "02:00", -28_800, -25_200));
            rows.push((year, 11, nth_sunday(11, 1), "02:00", -25_200, -28_800));
        }
        rows
    }

    #[test]
    fn rules_are_derived_only_when_every_year_follows_them() {
        let years = 2088..=2099;
        let mut wrong_weekday = us(years.clone());
        wrong_weekday[4].2 += 1; // one spring change a day late
        let mut wrong_time = us(years.clone());
        wrong_time[5].3 = "01:00";
        let mut missing = us(years.clone());
        missing.pop();
        let few_years = us(2088..=2090);
        let fixed_date: Vec<_> = (2088..=2099)
            .flat_map(|y| {
                [
                    (y, 3, 22, "00:00", 12_600, 16_200),
                    (y, 9, 22, "00:00", 16_200, 12_600),
                ]
            })
            .collect();
        // (name, transitions, offset after the last year, derived?)
        let cases: Vec<(&str, Vec<Row>, i64, bool)> = vec![
            ("US rule", us(years.clone()), -28_800, true),
            ("a year off by a day", wrong_weekday, -28_800, false),
            ("a change at another time", wrong_time, -28_800, false),
            ("a year with one change", missing, -25_200, false),
            ("fixed dates (weekday varies)", fixed_date, 12_600, false),
            (
                "the end offset is not the rule's",
                us(years.clone()),
                -25_200,
                false,
            ),
        ];
        for (name, rows, end, derived) in cases {
            let got = derive(&transitions(&rows), years.clone(), end);
            assert_eq!(got.is_some(), derived, "{name}: {got:?}");
        }
        // Too few years to pin the day down.
        assert_eq!(derive(&transitions(&few_years), 2088..=2090, -28_800), None);
        // No transitions at all: the last offset for ever.
        assert_eq!(derive(&[], years, 3600), Some(Rule::Fixed(3600)));
    }

    #[test]
    fn a_derived_rule_carries_the_transitions_on() {
        let rule =
            derive(&transitions(&us(2088..=2099)), 2088..=2099, -28_800).expect("the US rule");
        // The rule's own transitions in later years, against the known dates.
        let later = transitions(&us(2100..=2140));
        for t in &later {
            assert_eq!(rule.offset_at(t.at - 1), Some(t.before), "{t:?}");
            assert_eq!(rule.offset_at(t.at), Some(t.after), "{t:?}");
        }
    }

    #[test]
    fn table_end_is_where_chrono_tz_stops() {
        // chrono-tz 0.10 ends with 2099's transitions: Los Angeles has summer
        // time in 2099 but, by the table alone, not in 2100. Should a chrono-tz
        // update move the end, this fails and TABLE_END must follow.
        let la: Tz = "America/Los_Angeles".parse().expect("zone");
        let summer = |year: i32| {
            NaiveDate::from_ymd_opt(year, 7, 1)
                .and_then(|d| d.and_hms_opt(12, 0, 0))
                .map(|t| t.and_utc().timestamp())
                .expect("date")
        };
        assert_eq!(table_offset(la, summer(2099)), Some(-25_200));
        assert_eq!(table_offset(la, summer(2100)), Some(-28_800));
        assert_eq!(offset_at(la, summer(2100)), Some(-25_200));
    }
}
