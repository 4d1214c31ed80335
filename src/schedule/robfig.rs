//! The cron dialect of Go's robfig/cron (v3), which Kubernetes' CronJob
//! controller and Ofelia read, and how it maps onto cronbox's (cronie's).
//! Pure: text in, text out; cronbox's meaning of the result is checked by
//! [`Schedule::parse`].
//!
//! Where the dialects differ:
//! - Day fields. cronie requires both day fields to match when either *starts
//!   with* `*` (so `*/2` counts); robfig when either contains a `*` or `?`
//!   without a step above 1 (so `*/2` does not, and `5,*` does). Otherwise
//!   either field may match.
//! - robfig's weekdays are 0-6 (7 is refused); cronie's 7 is Sunday too.
//! - robfig reads `N/S` as `N-max/S` and `?` as `*`; cronie accepts neither.
//! - robfig (with the optional seconds field Ofelia turns on) takes six fields
//!   with seconds first; cronbox schedules cron on whole minutes.
//! - robfig's `@every` counts from the scheduler's start and rounds the period
//!   down to whole seconds; cronbox's counts from the Unix epoch.
//! - A `CRON_TZ=Zone` or `TZ=Zone` prefix names the expression's zone.

use std::time::Duration;

use chrono_tz::Tz;

use super::{Kind, Schedule};

/// A cronbox schedule written for robfig/cron's standard (five-field) parser,
/// as a Kubernetes CronJob's `schedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForRobfig {
    /// Five fields, nicknames expanded.
    pub expression: String,
    /// True when the expression must be read in UTC (an `@every` period, which
    /// cronbox anchors to the Unix epoch), whatever the job's zone.
    pub utc: bool,
}

/// A robfig/cron expression (as Ofelia reads it) rewritten for cronbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromRobfig {
    /// A cronbox schedule with the same fire times (`@every` aside: see the
    /// module's notes).
    pub expression: String,
    /// The zone a `CRON_TZ=`/`TZ=` prefix named, if any.
    pub timezone: Option<Tz>,
    /// What a reader should know about the rewriting, if anything.
    pub note: Option<String>,
}

/// `schedule` for robfig/cron's standard parser, or why no robfig expression
/// fires at the same instants: an `@every` period that is not a cron step of
/// an hour or a day, or day fields whose cronie meaning robfig cannot state.
pub fn to_robfig(schedule: &Schedule) -> Result<ForRobfig, String> {
    if let Some(period) = schedule.every_period() {
        return every_as_cron_step(period).map(|expression| ForRobfig {
            expression,
            utc: true,
        });
    }
    let (Kind::Cron(spec), Some([minute, hour, dom, month, dow])) =
        (&schedule.kind, schedule.cron_fields())
    else {
        return Err("not a cron schedule".to_owned());
    };
    let dom_out = spell_out_hidden_star(&dom, "1-31");
    let dow_out = if mentions_seven(&dow) {
        if dow.starts_with('*') {
            return Err(format!(
                "the day-of-week field {dow:?} names 7 (Sunday), which Kubernetes refuses; write 0 for Sunday"
            ));
        }
        weekday_list(spec.weekdays())
    } else {
        spell_out_hidden_star(&dow, "0-6")
    };
    let cronie_both = dom.starts_with('*') || dow.starts_with('*');
    let robfig_both = robfig_star(&dom_out) || robfig_star(&dow_out);
    if cronie_both != robfig_both {
        return Err(format!(
            "with day-of-month {dom:?} and day-of-week {dow:?} cronbox (like cron) requires both to match, because one starts with '*'; Kubernetes would fire when either matches, and no Kubernetes schedule names the same days: list the days explicitly (e.g. 1-31/2 instead of */2) or use one day field"
        ));
    }
    Ok(ForRobfig {
        expression: format!("{minute} {hour} {dom_out} {month} {dow_out}"),
        utc: false,
    })
}

/// The cron step that fires at the instants of `@every period` (multiples of
/// the period since the Unix epoch, read in UTC): a whole number of minutes
/// dividing an hour, or of hours dividing a day.
fn every_as_cron_step(period: Duration) -> Result<String, String> {
    let secs = period.as_secs();
    let refuse = |why: &str| {
        Err(format!(
            "@every {}: {why}; Kubernetes schedules are cron expressions, so only periods that divide an hour or a day evenly (1m, 5m, 15m, 30m, 1h, 2h, 6h, 12h, 1d ...) carry over; choose one, or a cron expression",
            humantime::format_duration(period)
        ))
    };
    if !secs.is_multiple_of(60) {
        return refuse("the period is not a whole number of minutes");
    }
    let minutes = secs / 60;
    if 60u64.is_multiple_of(minutes) {
        return Ok(match minutes {
            1 => "* * * * *".to_owned(),
            60 => "0 * * * *".to_owned(),
            m => format!("*/{m} * * * *"),
        });
    }
    if minutes.is_multiple_of(60) && 24u64.is_multiple_of(minutes / 60) {
        return Ok(match minutes / 60 {
            24 => "0 0 * * *".to_owned(),
            h => format!("0 */{h} * * *"),
        });
    }
    refuse("the period divides neither an hour nor a day evenly into a cron step")
}

/// Whether robfig treats the day field as unrestricted: one of its parts is
/// `*` or `?`, without a step or with step 1.
fn robfig_star(field: &str) -> bool {
    field.split(',').any(|part| {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        (range == "*" || range == "?") && step.is_none_or(|s| s.parse::<u32>() == Ok(1))
    })
}

/// A day field that does not start with `*` but that robfig would read as
/// unrestricted (`5,*`) written as the full range instead: same days, and
/// restricted for both dialects.
fn spell_out_hidden_star(field: &str, full: &str) -> String {
    if !field.starts_with('*') && robfig_star(field) {
        full.to_owned()
    } else {
        field.to_owned()
    }
}

/// Whether a day-of-week field names the value 7 (not as a step).
fn mentions_seven(field: &str) -> bool {
    field.split(',').any(|part| {
        let range = part.split_once('/').map_or(part, |(range, _)| range);
        range.split('-').any(|value| value.parse::<u32>() == Ok(7))
    })
}

/// Weekday bits (0 = Sunday) as a robfig list with ranges: `0,5-6`.
fn weekday_list(bits: u8) -> String {
    let days: Vec<u32> = (0..7).filter(|d| bits & (1 << d) != 0).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j + 1] == days[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            days[i].to_string()
        } else {
            format!("{}-{}", days[i], days[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// An Ofelia (robfig/cron with an optional seconds field) schedule as a
/// cronbox one, or why there is none: five fields are standard cron, six have
/// seconds first. A seconds field other than `0` has no cronbox cron
/// equivalent; `*/N * * * * *` with N dividing a minute is `@every Ns`.
pub fn from_robfig(spec: &str) -> Result<FromRobfig, String> {
    let spec = spec.trim();
    let (timezone, spec) = zone_prefix(spec)?;
    let mut note = None;
    let expression = if let Some(rest) = spec.strip_prefix("@every") {
        let (every, rounded) = go_every(rest.trim())?;
        note = rounded;
        every
    } else if spec.starts_with('@') {
        // Descriptors: the same nicknames in both dialects.
        spec.to_owned()
    } else {
        let fields: Vec<&str> = spec.split_whitespace().collect();
        match fields.as_slice() {
            [minute, hour, dom, month, dow] => five_fields([minute, hour, dom, month, dow]),
            [second, minute, hour, dom, month, dow] => {
                match seconds_first(second, [minute, hour, dom, month, dow])? {
                    Seconds::Zero(expression) => expression,
                    Seconds::Every(step) => {
                        let expression = format!("@every {step}s");
                        note = Some(format!(
                            "{spec:?} fires every {step} seconds of every minute: the same instants as {expression:?}"
                        ));
                        expression
                    }
                }
            }
            _ => {
                return Err(format!(
                    "expected 5 fields, or 6 with seconds first, found {}",
                    fields.len()
                ));
            }
        }
    };
    Schedule::parse(&expression, timezone.unwrap_or(Tz::UTC))
        .map_err(|e| format!("{spec:?} has no cronbox equivalent: {e}"))?;
    Ok(FromRobfig {
        expression,
        timezone,
        note,
    })
}

/// A leading `CRON_TZ=Zone ` or `TZ=Zone `, and the rest.
fn zone_prefix(spec: &str) -> Result<(Option<Tz>, &str), String> {
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some(rest) = spec.strip_prefix(prefix) {
            let (name, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let zone = name
                .parse::<Tz>()
                .map_err(|_| format!("unknown time zone {name:?} in {prefix}{name}"))?;
            return Ok((Some(zone), rest.trim()));
        }
    }
    Ok((None, spec))
}

/// What a six-field expression's seconds field allows.
enum Seconds {
    /// Second 0: the other five fields, as cron.
    Zero(String),
    /// Every N seconds of every minute (N divides 60): `@every Ns`.
    Every(u64),
}

fn seconds_first(second: &str, rest: [&str; 5]) -> Result<Seconds, String> {
    let second_value = second.parse::<u32>().ok();
    if second_value == Some(0) {
        return Ok(Seconds::Zero(five_fields(rest)));
    }
    let all_star = rest.iter().all(|f| *f == "*" || *f == "?");
    let step = match second {
        "*" => Some(1),
        _ => second
            .strip_prefix("*/")
            .and_then(|s| s.parse::<u64>().ok()),
    };
    if let (true, Some(step)) = (all_star, step)
        && step > 0
        && 60 % step == 0
    {
        return Ok(Seconds::Every(step));
    }
    let what = match second_value {
        Some(s) => format!("at second {s} of the minute"),
        None => format!("on the seconds {second:?}"),
    };
    Err(format!(
        "fires {what}, but cronbox runs cron schedules on whole minutes: use second 0, or for a period shorter than a minute \"@every DURATION\" (e.g. @every 30s)"
    ))
}

/// robfig's five fields as cronie's: `?` as `*`, `N/S` as `N-max/S`, and the
/// day fields written so both dialects agree on whether both must match.
fn five_fields([minute, hour, dom, month, dow]: [&str; 5]) -> String {
    let minute = plain_steps(minute, 59);
    let hour = plain_steps(hour, 23);
    let month = plain_steps(month, 12);
    let dom = cronie_day_field(&plain_steps(dom, 31), "1-31");
    let dow = cronie_day_field(&plain_steps(dow, 6), "0-6");
    format!("{minute} {hour} {dom} {month} {dow}")
}

/// `?` as `*`, and `N/S` (robfig: from N to the field's maximum) as `N-max/S`.
fn plain_steps(field: &str, max: u32) -> String {
    field
        .split(',')
        .map(|part| {
            if part == "?" {
                return "*".to_owned();
            }
            match part.split_once('/') {
                Some((start, step)) if start != "*" && !start.contains('-') => {
                    format!("{start}-{max}/{step}")
                }
                _ => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A robfig day field written so that cronie reads it as unrestricted exactly
/// when robfig does: `*` when robfig sees a star (its days are all of them
/// anyway), and a leading `*/N` (N > 1, restricted for robfig) as `full/N`.
fn cronie_day_field(field: &str, full: &str) -> String {
    if robfig_star(field) {
        "*".to_owned()
    } else if let Some(rest) = field.strip_prefix('*') {
        format!("{full}{rest}")
    } else {
        field.to_owned()
    }
}

/// A Go duration (`90s`, `1h30m`, `1.5h`, `500ms`) as a cronbox `@every`, as
/// robfig uses it: rounded down to whole seconds, at least one second. The
/// note says when rounding changed it.
fn go_every(text: &str) -> Result<(String, Option<String>), String> {
    let nanos = go_duration_nanos(text)
        .ok_or_else(|| format!("@every {text:?} is not a Go duration such as 90s, 10m or 1h30m"))?;
    let secs = u64::try_from((nanos / 1_000_000_000).max(1))
        .map_err(|_| format!("@every {text:?} is too long"))?;
    let every = format!(
        "@every {}",
        humantime::format_duration(Duration::from_secs(secs))
    );
    let rounded = (nanos % 1_000_000_000 != 0 || nanos < 1_000_000_000)
        .then(|| format!("Ofelia ran \"@every {text}\" every {secs}s (whole seconds)"));
    Ok((every, rounded))
}

/// A Go duration string (`time.ParseDuration`'s syntax, without a sign:
/// `90s`, `1h30m`, `1.5h`, `500ms`); `None` when it is not one.
pub fn go_duration(text: &str) -> Option<Duration> {
    let nanos = go_duration_nanos(text)?;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    // The remainder is below 10^9: it fits.
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Nanoseconds in a Go duration string (`time.ParseDuration`'s syntax, without
/// a sign): decimal numbers each followed by a unit.
fn go_duration_nanos(text: &str) -> Option<u128> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let mut rest = text;
    let mut total: u128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| after.starts_with(unit))
            // "ms" before "m", "ns"/"us" before "s": the longest unit wins.
            .max_by_key(|(unit, _)| unit.len())?;
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(*scale)?;
        if !fraction.is_empty() {
            let digits: u128 = fraction.parse().ok()?;
            let denominator = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
            part = part.checked_add(digits.checked_mul(*scale)? / denominator)?;
        }
        total = total.checked_add(part)?;
        rest = &after[unit.len()..];
    }
    Some(total)
}

#[cfg(test)]
mod tests;
