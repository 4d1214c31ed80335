//! The five Vixie cron fields: strict parsing and validation, and the next
//! matching minute on a naive wall clock. This file knows nothing about time
//! zones, offsets or daylight saving time (`zone.rs` owns that), and it never
//! reads the clock.
//!
//! The syntax is cronie's: lists, ranges, `*`, steps on `*` and on ranges,
//! three-letter month and weekday names (any case), 0 and 7 both Sunday. The
//! Quartz/croner extensions (`L`, `W`, `#`, `?`) are refused, so a schedule
//! means the same thing here as in `crontab(5)`, and errors name the field.
//!
//! Matching is done on the parsed bit sets, on naive wall-clock time only.
//! cronie ANDs the day-of-month and day-of-week fields when either starts with
//! `*` (so `0 0 */2 * mon` is odd days that are Mondays) and ORs them otherwise.
//! The croner crate answered this at first; it is now the tests' oracle instead
//! (tests.rs compares the two on naive time), because each croner matcher holds
//! a 5,001-byte table of years cronbox never uses: with 1,000 jobs that was a
//! third of the idle daemon's memory (see BENCHMARKS.md).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// No fire time is looked for from this year on (croner's own limit).
pub(super) const YEAR_LIMIT: i32 = 5000;

/// A parsed five-field cron expression.
#[derive(Debug, Clone)]
pub(super) struct CronSpec {
    /// Bit `m` set when minute `m` (0-59) matches.
    minutes: u64,
    /// Bit `h` set when hour `h` (0-23) matches.
    hours: u32,
    /// Bit `d` set when day of month `d` (1-31) matches.
    days: u32,
    /// Bit `m` set when month `m` (1-12) matches.
    months: u16,
    /// Bit `w` set when weekday `w` (0 = Sunday .. 6) matches.
    weekdays: u8,
    /// The day-of-month field starts with `*` (cronie's DOM_STAR).
    dom_star: bool,
    /// The day-of-week field starts with `*` (cronie's DOW_STAR).
    dow_star: bool,
    /// The minute field starts with `*` (cronie's MIN_STAR).
    minute_star: bool,
    /// The hour field starts with `*` (cronie's HR_STAR).
    hour_star: bool,
}

/// What one field accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Three-letter names; `names[i]` stands for `min + i`.
    names: &'static [&'static str],
    /// How the accepted values are described in error messages.
    accepts: &'static str,
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    accepts: "0-59",
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    accepts: "0-23",
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    accepts: "1-31",
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    accepts: "1-12 or jan-dec",
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    accepts: "0-7 (0 and 7 are Sunday) or sun-sat",
};

impl CronSpec {
    /// Parses exactly five whitespace-separated fields. The caller has
    /// already checked the field count; the error is one line without the
    /// expression's location.
    pub(super) fn parse(fields: [&str; 5]) -> Result<CronSpec, String> {
        let [minute, hour, dom, month, dow] = fields;
        let minutes = parse_field(minute, &MINUTE)?;
        let hours = parse_field(hour, &HOUR)?;
        let days = parse_field(dom, &DAY_OF_MONTH)?;
        let months = parse_field(month, &MONTH)?;
        let mut weekdays = parse_field(dow, &DAY_OF_WEEK)?;
        // 7 is another name for Sunday.
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        let dom_star = dom.starts_with('*');
        let dow_star = dow.starts_with('*');
        // Every value fits its field's width: parse_field checked the ranges.
        Ok(CronSpec {
            minutes,
            hours: u32::try_from(hours).unwrap_or(u32::MAX),
            days: u32::try_from(days).unwrap_or(u32::MAX),
            months: u16::try_from(months).unwrap_or(u16::MAX),
            weekdays: u8::try_from(weekdays).unwrap_or(u8::MAX),
            dom_star,
            dow_star,
            minute_star: minute.starts_with('*'),
            hour_star: hour.starts_with('*'),
        })
    }

    /// The weekdays that match: bit `w` for weekday `w` (0 = Sunday .. 6; a
    /// 7 in the field is Sunday's bit 0).
    pub(super) fn weekdays(&self) -> u8 {
        self.weekdays
    }

    /// cronie's fixed-time rule: neither the minute nor the hour field
    /// starts with `*`. Such a job gets the gap and overlap treatment.
    pub(super) fn is_fixed_time(&self) -> bool {
        !self.minute_star && !self.hour_star
    }

    /// Whether any calendar day can ever match. With Vixie's OR rule a
    /// restricted weekday matches every week of every allowed month; with the
    /// AND rule (either day field starts with `*`) some allowed month must
    /// have one of the allowed days of month, and every (month, day) pair
    /// falls on every weekday within the 400-year cycle.
    pub(super) fn can_ever_fire(&self) -> bool {
        if !self.day_fields_and() {
            return true;
        }
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12u32).any(|month| {
            self.months & (1 << month) != 0
                && (1..=LONGEST[(month - 1) as usize]).any(|day| self.days & (1 << day) != 0)
        })
    }

    /// cronie: when either day field starts with `*`, both must match (one of
    /// them then usually matches everything); otherwise either may match.
    fn day_fields_and(&self) -> bool {
        self.dom_star || self.dow_star
    }

    fn month_matches(&self, month: u32) -> bool {
        self.months & (1 << month) != 0
    }

    pub(super) fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.day_fields_and() {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether the naive wall-clock time matches (seconds are ignored).
    #[cfg(test)]
    pub(super) fn matches(&self, at: NaiveDateTime) -> bool {
        self.minutes & (1 << at.minute()) != 0
            && self.hours & (1 << at.hour()) != 0
            && self.month_matches(at.month())
            && self.day_matches(at.date())
    }

    /// The first matching minute at or after `from` on the naive wall clock;
    /// `None` if there is none before [`YEAR_LIMIT`] or the calendar runs out.
    /// The caller checks [`CronSpec::can_ever_fire`] first. Whole months, days
    /// and hours that cannot match are skipped, so a search costs at most a few
    /// hundred steps.
    pub(super) fn next_match_from(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let midnight = |date: NaiveDate| date.and_time(NaiveTime::MIN);
        let mut t = ceil_to_minute(from)?;
        loop {
            if t.year() >= YEAR_LIMIT {
                return None;
            }
            if !self.month_matches(t.month()) {
                let (year, month) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = midnight(NaiveDate::from_ymd_opt(year, month, 1)?);
                continue;
            }
            if !self.day_matches(t.date()) {
                t = midnight(t.date().succ_opt()?);
                continue;
            }
            let hours = u64::from(self.hours) >> t.hour();
            if hours == 0 {
                t = midnight(t.date().succ_opt()?);
                continue;
            }
            let hour = t.hour() + hours.trailing_zeros();
            if hour != t.hour() {
                t = t.date().and_hms_opt(hour, 0, 0)?;
            }
            let minutes = self.minutes >> t.minute();
            if minutes == 0 {
                t = t
                    .date()
                    .and_hms_opt(t.hour(), 0, 0)?
                    .checked_add_signed(chrono::TimeDelta::hours(1))?;
                continue;
            }
            return t
                .date()
                .and_hms_opt(t.hour(), t.minute() + minutes.trailing_zeros(), 0);
        }
    }

    /// The first matching minute strictly after `after`.
    pub(super) fn next_match_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = floor_to_minute(after).checked_add_signed(chrono::TimeDelta::minutes(1))?;
        self.next_match_from(start)
    }
}

/// `at` with seconds and sub-seconds dropped.
fn floor_to_minute(at: NaiveDateTime) -> NaiveDateTime {
    at.date()
        .and_hms_opt(at.hour(), at.minute(), 0)
        .unwrap_or(at)
}

/// The first whole minute at or after `at`.
fn ceil_to_minute(at: NaiveDateTime) -> Option<NaiveDateTime> {
    let floor = floor_to_minute(at);
    if floor == at {
        Some(at)
    } else {
        floor.checked_add_signed(chrono::TimeDelta::minutes(1))
    }
}

/// Parses one field into a bit set over `field.min..=field.max`.
fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let fail = |problem: String| {
        Err(format!(
            "invalid {} field \"{}\": {}; expected {}",
            field.name, text, problem, field.accepts
        ))
    };
    if let Some(extension) = text.chars().find(|c| matches!(c, '?' | '#')) {
        return fail(format!(
            "'{extension}' is a Quartz/croner extension, not Vixie cron syntax"
        ));
    }
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return fail("empty list element (stray comma?)".to_string());
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match parse_step(step) {
                Ok(step) => (range, Some(step)),
                Err(problem) => return fail(problem),
            },
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (field.min, field.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let low = match parse_value(low, field, false) {
                Ok(v) => v,
                Err(problem) => return fail(problem),
            };
            let high = match parse_value(high, field, true) {
                Ok(v) => v,
                Err(problem) => return fail(problem),
            };
            if low > high {
                return fail(format!(
                    "range {range} is backwards (the start must not be after the end)"
                ));
            }
            (low, high)
        } else {
            let value = match parse_value(range, field, false) {
                Ok(v) => v,
                Err(problem) => return fail(problem),
            };
            if step.is_some() {
                return fail(format!(
                    "a step needs a range or '*' before it (write \"{value}-{}/STEP\" or \"*/STEP\")",
                    field.max
                ));
            }
            (value, value)
        };
        let step = step.unwrap_or(1);
        let mut value = low;
        while value <= high {
            bits |= 1 << value;
            value = match value.checked_add(step) {
                Some(v) => v,
                None => break,
            };
        }
    }
    Ok(bits)
}

fn parse_step(text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err("missing step after '/'".to_string());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("step \"{text}\" is not a whole number"));
    }
    match text.parse::<u32>() {
        Ok(0) => Err("step must be at least 1".to_string()),
        Ok(step) => Ok(step),
        Err(_) => Err(format!("step {text} is too large")),
    }
}

/// Parses a number or a name. `range_end` lets "sun" close a weekday range
/// as 7, so "fri-sun" reads as Friday to Sunday.
fn parse_value(text: &str, field: &Field, range_end: bool) -> Result<u32, String> {
    if text.is_empty() {
        return Err("missing number in range".to_string());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
            _ => Err(format!("{text} is out of range")),
        };
    }
    if let Some(index) = field
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        let value = field.min + index as u32;
        return Ok(if range_end && field.max == 7 && value == 0 {
            7
        } else {
            value
        });
    }
    let upper = text.to_ascii_uppercase();
    let digits_then = |suffix: char| {
        upper
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
    };
    if upper == "L" || upper == "LW" || digits_then('L') || digits_then('W') {
        return Err(format!(
            "\"{text}\" uses a Quartz/croner extension (L or W), not Vixie cron syntax"
        ));
    }
    Err(match field.names.first() {
        Some(first) => format!(
            "\"{text}\" is not a number or a three-letter {} name ({first}-{})",
            if field.max == 7 { "day" } else { "month" },
            field.names.last().unwrap_or(first)
        ),
        None => format!("\"{text}\" is not a number"),
    })
}
