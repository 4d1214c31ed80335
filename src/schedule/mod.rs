//! Schedules: parsing cron expressions (5-field Vixie syntax and nicknames)
//! and `@every DURATION`, and computing when a job fires next in its time
//! zone, with cronie's daylight-saving rules. This module owns the meaning of
//! a schedule string and the instants it yields, nothing more: it is pure. It
//! must not do IO, use tokio, read the clock (no `Utc::now`, no
//! `SystemTime::now`: callers pass the instant to count from), or panic on
//! any input; a bad expression is a [`ScheduleError`], and when there is no
//! fire time to give, [`Schedule::next_or_end`] says why ([`End`]).
//!
//! # Semantics
//!
//! * Cron: minute hour day-of-month month day-of-week, as in `crontab(5)`
//!   (cronie). When neither day field starts with `*`, a day matching either
//!   fires; when one does, both must match (for `*` itself that means "the
//!   other one decides"). `@yearly`/`@annually`, `@monthly`, `@weekly`,
//!   `@daily`/`@midnight` and `@hourly` stand for their usual five fields.
//! * `@every DURATION`: instants `k * period` since 1970-01-01T00:00:00Z, so
//!   ticks do not depend on when the daemon started; the zone is ignored.
//! * Daylight saving, as cronie does it. A *fixed-time* job (neither minute
//!   nor hour starts with `*`) whose wall times are skipped by a spring-forward
//!   gap runs once, at the first instant after the gap; in a fall-back overlap
//!   it runs once, at the first occurrence. Other cron jobs follow real time:
//!   nothing in the gap, both passes of the overlap.
//! * Offsets past 2099, where chrono-tz's tables end, follow the zone's
//!   recurring daylight-saving rule (see `offsets.rs`); in a zone without one,
//!   no instant from 2100 on is given ([`End::ZoneData`]). Cron fire times are
//!   looked for only before the year 5000 ([`End::YearLimit`]).

mod cron;
mod dst;
mod offsets;
pub mod robfig;
#[cfg(test)]
mod tests;
mod words;
mod zone;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use chrono_tz::Tz;
use std::fmt;
use std::time::Duration;

use cron::CronSpec;

pub use dst::{DstChange, DstConflict};

/// The last year cronbox gives fire times in (RFC 3339 ends with it).
pub const LAST_YEAR: i32 = 9999;

/// Why an expression was refused. Display is a one-line message without
/// location (config adds file:line:col and the job name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

/// Why a schedule gives no (more) fire times: the end of what cronbox can
/// compute. Display is one line saying so, without the job's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Cron fire times are looked for only before this year (5000).
    YearLimit(i32),
    /// The zone's UTC offsets are known only through `last_year`: the time-zone
    /// data (chrono-tz) ends there, and the zone's last years follow no
    /// recurring daylight-saving rule to carry on.
    ZoneData { zone: Tz, last_year: i32 },
    /// The calendar cronbox shows ends: RFC 3339 times end with the year 9999.
    Calendar,
    /// The job has no schedule: another trigger (`after`, `on_file`) starts it.
    NoClock,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::YearLimit(year) => write!(
                f,
                "cron fire times are computed only before the year {year}"
            ),
            End::ZoneData { zone, last_year } => write!(
                f,
                "the UTC offsets of {} are known only through {last_year}: the time-zone data ends there and the zone follows no recurring daylight-saving rule cronbox can carry on",
                zone.name()
            ),
            End::Calendar => write!(
                f,
                "the calendar cronbox shows ends with the year {LAST_YEAR}"
            ),
            End::NoClock => write!(f, "it has no schedule: another trigger starts it"),
        }
    }
}

/// `at` on the wall clock of `tz`, with the offset in force there (past 2099
/// from the zone's recurring rule, which chrono-tz's own conversion does not
/// know: use this, not `with_timezone`, to show an instant in a job's zone).
/// An error when the zone's offset at `at` is not known. An offset that is not
/// a whole number of minutes (local mean time before a zone's first standard
/// time, as Africa/Casablanca's -00:30:20 in 1900) cannot be written in RFC
/// 3339: the instant is then given in UTC rather than printed wrong.
pub fn local_time(tz: Tz, at: DateTime<Utc>) -> Result<DateTime<FixedOffset>, End> {
    let offset = zone::offset_at(tz, at.timestamp()).ok_or_else(|| zone_end(tz))?;
    let offset = if offset % 60 == 0 { offset } else { 0 };
    let offset = i32::try_from(offset)
        .ok()
        .and_then(FixedOffset::east_opt)
        .ok_or(End::Calendar)?;
    Ok(at.with_timezone(&offset))
}

/// The end of what is known of `tz`'s offsets (the calendar's when they are
/// known for ever).
fn zone_end(tz: Tz) -> End {
    match offsets::last_known_year(tz) {
        Some(last_year) => End::ZoneData {
            zone: tz,
            last_year,
        },
        None => End::Calendar,
    }
}

/// A parsed schedule: a cron expression in a time zone, or a fixed period.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    tz: Tz,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<CronSpec>),
    /// `@every`: the period in whole seconds, at least 1.
    Every(i64),
    /// No tick at all: the job of [`Schedule::none`].
    Never,
}

const FIELD_NAMES: &str = "minute hour day-of-month month day-of-week";

impl Schedule {
    /// Parse a 5-field Vixie cron expression, a nickname (`@daily` ...), or
    /// `@every DURATION`, interpreted in zone `tz` (ignored by `@every`, which
    /// is anchored to the Unix epoch in UTC).
    pub fn parse(expr: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
        let kind = parse_kind(expr.trim()).map_err(ScheduleError)?;
        if let Kind::Cron(spec) = &kind
            && !spec.can_ever_fire()
        {
            return Err(ScheduleError(format!(
                "\"{}\" never fires: no month it allows has the day of the month it asks for (e.g. February 30); fix the day or month field",
                expr.trim()
            )));
        }
        Ok(Schedule {
            expression: expr.to_string(),
            tz,
            kind,
        })
    }

    /// A schedule that never fires, for a job another trigger starts (`after`,
    /// `on_file`): its expression is empty.
    pub fn none(tz: Tz) -> Schedule {
        Schedule {
            expression: String::new(),
            tz,
            kind: Kind::Never,
        }
    }

    /// Whether the clock fires this schedule (false for [`Schedule::none`]).
    pub fn has_ticks(&self) -> bool {
        !matches!(self.kind, Kind::Never)
    }

    /// The first fire instant strictly after `after`, or `None` if there is
    /// none (a cron expression that never matches, such as `0 0 30 2 *`, or
    /// an instant near the end of the representable calendar).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire instants are whole seconds, so counting from the whole second
        // at or before `after` changes nothing.
        let after_secs = after.timestamp();
        let next = match &self.kind {
            Kind::Every(period) => after_secs
                .div_euclid(*period)
                .checked_add(1)?
                .checked_mul(*period)?,
            Kind::Cron(spec) if !spec.can_ever_fire() => return None,
            Kind::Cron(spec) if spec.is_fixed_time() => {
                zone::next_fixed_time(spec, self.tz, after_secs)?
            }
            Kind::Cron(spec) => zone::next_following_real_time(spec, self.tz, after_secs)?,
            Kind::Never => return None,
        };
        DateTime::from_timestamp(next, 0)
    }

    /// [`Schedule::next_after`], or why there is no fire time to give: for
    /// cron, the end of the zone's known offsets or the year 5000 (whichever
    /// comes first); for `@every`, the end of the calendar.
    pub fn next_or_end(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>, End> {
        if let Some(next) = self.next_after(after) {
            // RFC 3339, which every output and `--from` use, ends with the year 9999.
            if next.year() > LAST_YEAR {
                return Err(End::Calendar);
            }
            return Ok(next);
        }
        Err(match self.kind {
            Kind::Every(_) => End::Calendar,
            Kind::Never => End::NoClock,
            Kind::Cron(_) => match zone_end(self.tz) {
                End::Calendar => End::YearLimit(cron::YEAR_LIMIT),
                end => end,
            },
        })
    }

    /// The fire instants strictly after `after`, in increasing order. Handy
    /// for listing upcoming runs or the ticks missed while the daemon was
    /// down (`take_while(|t| *t <= now)`).
    pub fn iter_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(self.next_after(after), move |t| self.next_after(*t))
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone the expression is read in (`@every` ignores it).
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Whether cronie would treat this as a fixed-time job: a cron expression
    /// (or nickname, by its expansion) whose minute and hour fields both do
    /// not start with `*`. Such jobs run once when daylight saving skips or
    /// repeats their time. `@every` is not cron and is never fixed-time.
    pub fn is_fixed_time(&self) -> bool {
        match &self.kind {
            Kind::Cron(spec) => spec.is_fixed_time(),
            Kind::Every(_) | Kind::Never => false,
        }
    }

    /// The five cron fields (minute hour day-of-month month day-of-week) as
    /// written, a nickname replaced by the fields it stands for (`@daily` is
    /// `0 0 * * *`); `None` for `@every`.
    pub fn cron_fields(&self) -> Option<[String; 5]> {
        if !matches!(self.kind, Kind::Cron(_)) {
            return None;
        }
        let expr = self.expression.trim();
        let fields: Vec<String> = match nickname_fields(&expr.to_ascii_lowercase()) {
            Some(fields) => fields.iter().map(|f| (*f).to_owned()).collect(),
            None => expr.split_whitespace().map(str::to_owned).collect(),
        };
        fields.try_into().ok()
    }

    /// The `@every` period, or `None` for a cron schedule.
    pub fn every_period(&self) -> Option<Duration> {
        match self.kind {
            Kind::Every(secs) => u64::try_from(secs).ok().map(Duration::from_secs),
            Kind::Cron(_) | Kind::Never => None,
        }
    }

    /// The ticks in `(after, until]`: how many, the first and the last; `None`
    /// when there is none. `@every` is counted arithmetically (a day of `@every 1s`
    /// costs nothing); cron ticks are enumerated, about a microsecond each.
    pub fn ticks_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<TickSpan> {
        let first = self.next_after(after)?;
        if first > until {
            return None;
        }
        match self.kind {
            Kind::Every(period) => {
                let last = until.timestamp().div_euclid(period).checked_mul(period)?;
                let count = (last - first.timestamp()) / period + 1;
                let before_last = if count > 1 {
                    DateTime::from_timestamp(last - period, 0)
                } else {
                    None
                };
                Some(TickSpan {
                    count: u64::try_from(count).ok()?,
                    first,
                    before_last,
                    last: DateTime::from_timestamp(last, 0)?,
                })
            }
            Kind::Cron(_) | Kind::Never => {
                let (mut count, mut before_last, mut last) = (1u64, None, first);
                while let Some(next) = self.next_after(last).filter(|t| *t <= until) {
                    count += 1;
                    before_last = Some(last);
                    last = next;
                }
                Some(TickSpan {
                    count,
                    first,
                    before_last,
                    last,
                })
            }
        }
    }
}

impl Schedule {
    /// A gap between two consecutive ticks shorter than `limit`, if the
    /// schedule has one (the first found), for the rule that `random_delay` is no
    /// longer than the shortest gap. `@every` has one gap, its period. Cron ticks
    /// are looked at over the year 2024 (a leap year, with every zone's DST changes
    /// of that year) and up to the first tick after it, at most
    /// [`GAP_SEARCH_TICKS`] of them: a schedule's pattern repeats yearly, but
    /// for leap days and changes of a zone's rules.
    pub fn gap_shorter_than(&self, limit: Duration) -> Option<Duration> {
        let limit_secs = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX);
        if let Kind::Every(period) = self.kind {
            return (period < limit_secs).then(|| Duration::from_secs(period.unsigned_abs()));
        }
        // Cron ticks are whole minutes apart: no gap is shorter than one.
        if limit_secs <= 60 {
            return None;
        }
        self.first_cron_gap(|gap| gap < limit_secs)
    }

    /// The first gap (in seconds) between two cron ticks that `wanted` accepts,
    /// over the year 2024 and up to the first tick after it.
    fn first_cron_gap(&self, wanted: impl Fn(i64) -> bool) -> Option<Duration> {
        let start = DateTime::from_timestamp(GAP_SEARCH_FROM, 0)?;
        let end = DateTime::from_timestamp(GAP_SEARCH_UNTIL, 0)?;
        let mut previous = self.next_after(start)?;
        for _ in 0..GAP_SEARCH_TICKS {
            let next = self.next_after(previous)?;
            let gap = (next - previous).num_seconds();
            if wanted(gap) {
                return Some(Duration::from_secs(gap.unsigned_abs()));
            }
            if previous > end {
                break;
            }
            previous = next;
        }
        None
    }
}

impl Schedule {
    /// A gap between two consecutive ticks longer than `limit`, if the schedule
    /// has one (the first found), for the rule that `expect_success_within` is no
    /// shorter than the job's period. Looked for as
    /// [`Schedule::gap_shorter_than`] looks (`@every`: its period; cron: the ticks
    /// of 2024 and the first after).
    pub fn gap_longer_than(&self, limit: Duration) -> Option<Duration> {
        let limit_secs = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX);
        if let Kind::Every(period) = self.kind {
            return (period > limit_secs).then(|| Duration::from_secs(period.unsigned_abs()));
        }
        self.first_cron_gap(|gap| gap > limit_secs)
    }
}

/// Where [`Schedule::gap_shorter_than`] starts: 2024-01-01T00:00:00Z.
const GAP_SEARCH_FROM: i64 = 1_704_067_200;
/// Where it stops, but for the first tick after: 2025-01-01T00:00:00Z.
const GAP_SEARCH_UNTIL: i64 = 1_735_689_600;
/// The most ticks it looks at: a year of an every-minute job (527,040 in 2024) fits.
pub const GAP_SEARCH_TICKS: usize = 530_000;

/// A fixed offset in `[0, window)`, in whole seconds, that depends only on
/// `seed` (systemd's `FixedRandomDelay=true`, which hashes the machine id and the
/// unit's name): the same seed always gives the same offset, across versions of
/// cronbox, and different seeds spread evenly over the window. The hash is
/// 64-bit FNV-1a over the parts (each followed by a zero byte), finished with
/// SplitMix64's mixer so that the low bits are as good as the high ones. A window
/// under one second gives zero.
pub fn fixed_offset(seed: &[&str], window: Duration) -> Duration {
    let secs = window.as_secs();
    if secs == 0 {
        return Duration::ZERO;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in seed {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    Duration::from_secs(hash % secs)
}

/// A run of consecutive ticks: how many, the first and the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickSpan {
    pub count: u64,
    pub first: DateTime<Utc>,
    /// The tick before the last, when there are two or more.
    pub before_last: Option<DateTime<Utc>>,
    pub last: DateTime<Utc>,
}

impl TickSpan {
    /// The span without its last tick (`None` if that was the only one).
    pub fn without_last(&self) -> Option<TickSpan> {
        let last = self.before_last?;
        Some(TickSpan {
            count: self.count - 1,
            first: self.first,
            before_last: None,
            last,
        })
    }
}

impl fmt::Display for Schedule {
    /// The expression and, for cron, its zone: `0 3 * * * (Europe/Berlin)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Cron(_) => write!(f, "{} ({})", self.expression.trim(), self.tz.name()),
            Kind::Every(_) => write!(f, "{}", self.expression.trim()),
            Kind::Never => write!(f, "no schedule"),
        }
    }
}

fn parse_kind(expr: &str) -> Result<Kind, String> {
    if expr.is_empty() {
        return Err(format!(
            "empty schedule; expected 5 fields ({FIELD_NAMES}), a nickname such as @daily, \
             or @every DURATION"
        ));
    }
    if expr.starts_with('@') {
        return parse_nickname(expr);
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    match <[&str; 5]>::try_from(fields.as_slice()) {
        Ok(five) => CronSpec::parse(five).map(|spec| Kind::Cron(Box::new(spec))),
        Err(_) if fields.len() == 6 || fields.len() == 7 => Err(format!(
            "expected 5 fields ({FIELD_NAMES}) but found {}: cron dialects disagree whether \
             extra fields are seconds (first) or a year (last), so cronbox accepts only 5 fields; \
             for sub-minute schedules use \"@every DURATION\", e.g. \"@every 30s\"",
            fields.len()
        )),
        Err(_) => Err(format!(
            "expected 5 fields ({FIELD_NAMES}) but found {} in \"{expr}\"",
            fields.len()
        )),
    }
}

fn parse_nickname(expr: &str) -> Result<Kind, String> {
    let (name, rest) = match expr.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (expr, ""),
    };
    let lower = name.to_ascii_lowercase();
    let fields: [&str; 5] = match (lower.as_str(), nickname_fields(&lower)) {
        ("@every", _) => return parse_every(rest).map(Kind::Every),
        (_, Some(fields)) => fields,
        ("@reboot", _) => {
            return Err(
                "@reboot is not supported: cronbox runs recurring schedules only; \
                 use a cron expression or @every DURATION"
                    .to_string(),
            );
        }
        _ => {
            return Err(format!(
                "unknown nickname \"{name}\"; expected @yearly, @annually, @monthly, @weekly, \
                 @daily, @midnight, @hourly or @every DURATION"
            ));
        }
    };
    if !rest.is_empty() {
        return Err(format!(
            "{lower} takes no argument (found \"{rest}\"); it stands for \"{}\"",
            fields.join(" ")
        ));
    }
    CronSpec::parse(fields).map(|spec| Kind::Cron(Box::new(spec)))
}

/// The five fields a nickname (`@daily`, lower case) stands for.
fn nickname_fields(lower: &str) -> Option<[&'static str; 5]> {
    Some(match lower {
        "@yearly" | "@annually" => ["0", "0", "1", "1", "*"],
        "@monthly" => ["0", "0", "1", "*", "*"],
        "@weekly" => ["0", "0", "*", "*", "0"],
        "@daily" | "@midnight" => ["0", "0", "*", "*", "*"],
        "@hourly" => ["0", "*", "*", "*", "*"],
        _ => return None,
    })
}

/// The `@every` period in whole seconds.
fn parse_every(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err(
            "@every needs a duration, e.g. \"@every 10m\", \"@every 90s\" or \"@every 1h30m\""
                .to_string(),
        );
    }
    let period = humantime::parse_duration(text).map_err(|e| {
        format!(
            "@every: invalid duration \"{text}\" ({e}); expected a whole number of \
             seconds, at least 1s, such as \"@every 30s\", \"@every 10m\" or \"@every 1h30m\""
        )
    })?;
    if period.subsec_nanos() != 0 || period.as_secs() == 0 {
        return Err(format!(
            "@every period \"{text}\" must be a whole number of seconds, at least 1s \
             (ticks are counted in seconds from the Unix epoch)"
        ));
    }
    i64::try_from(period.as_secs()).map_err(|_| format!("@every period \"{text}\" is too long"))
}

/// Parse a human duration ("90s", "10m", "1h30m", "2h 15m"); must be > 0.
/// The error message says what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const ACCEPTED: &str = "expected a positive duration such as \"90s\", \"10m\", \"1h30m\" \
                            or \"2h 15m\" (units: ms, s, m, h, d, w)";
    let text = text.trim();
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => {
            Err(format!("duration \"{text}\" is zero; {ACCEPTED}"))
        }
        Ok(duration) => Ok(duration),
        Err(e) => Err(format!("invalid duration \"{text}\" ({e}); {ACCEPTED}")),
    }
}
