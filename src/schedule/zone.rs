//! Mapping naive cron matches onto real instants in a time zone, with
//! cronie's daylight-saving rules. Instants are whole Unix seconds (`i64`);
//! the caller converts to and from `DateTime<Utc>`. Pure: offsets come from
//! [`super::offsets`] (chrono-tz's tables, carried on past their end by the
//! zone's recurring rule), never from the system or the clock.

use super::cron::CronSpec;
use super::offsets::first_change;
use chrono::{DateTime, NaiveDateTime};
use chrono_tz::Tz;

pub(super) use super::offsets::offset_at;

/// Wider than any UTC offset ever used (local mean times reach about ±16 h).
const OFFSET_BOUND_SECONDS: i64 = 26 * 3600;
/// Safety cap on offset segments crossed by one search. The naive search
/// stops at the year 5000, and no zone changes its offset more than twice a
/// year, so this is reached only by a search that has found nothing anyway.
const MAX_SEGMENTS: usize = 8192;
/// Safety cap on matches skipped by one fixed-time search; only matches
/// inside a repeated (fall-back) hour are ever skipped.
const MAX_SKIPPED_MATCHES: usize = 100_000;

/// The naive date-time whose "UTC reading" is `secs`.
fn naive(secs: i64) -> Option<NaiveDateTime> {
    Some(DateTime::from_timestamp(secs, 0)?.naive_utc())
}

fn seconds(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

/// The local wall clock at instant `secs`.
fn wall_at(tz: Tz, secs: i64) -> Option<NaiveDateTime> {
    naive(secs.checked_add(offset_at(tz, secs)?)?)
}

/// Next fire of a job that is not fixed-time: it follows real time. Walk the
/// segments of constant offset from `after`; in each, the next naive match
/// read with that segment's offset is the answer if it still lies inside the
/// segment. Wall times skipped by a gap never happen; wall times repeated by
/// an overlap happen twice, once in each segment.
pub(super) fn next_following_real_time(spec: &CronSpec, tz: Tz, after: i64) -> Option<i64> {
    let mut start = after;
    let mut offset = offset_at(tz, start)?;
    let mut matched = spec.next_match_after(naive(start.checked_add(offset)?)?);
    for _ in 0..MAX_SEGMENTS {
        let candidate = seconds(matched?).checked_sub(offset)?;
        match first_change(|secs| offset_at(tz, secs), start, candidate, offset)? {
            None => return Some(candidate),
            Some(change) => {
                start = change;
                offset = offset_at(tz, start)?;
                matched = spec.next_match_from(naive(start.checked_add(offset)?)?);
            }
        }
    }
    None
}

/// Next fire of a fixed-time job. Each matching wall time W maps to one
/// instant: itself when unique, the earlier instant when repeated, and the
/// end of the gap (the transition instant) when skipped. The mapping never
/// decreases with W, so several skipped times collapse into one run at the
/// gap's end, and a repeated time runs only in the first pass.
pub(super) fn next_fixed_time(spec: &CronSpec, tz: Tz, after: i64) -> Option<i64> {
    let mut wall = wall_at(tz, after)?;
    for _ in 0..MAX_SKIPPED_MATCHES {
        let matched = spec.next_match_after(wall)?;
        let instant = instant_of_wall_time(tz, matched)?;
        if instant > after {
            return Some(instant);
        }
        // Only reached while `after` is in the second pass of a repeated
        // range: this match already ran in the first pass.
        wall = matched;
    }
    None
}

/// The instant a fixed-time job with wall time `wall` runs at: the instant
/// whose wall clock reads `wall`, the earlier of two when it is repeated, and
/// the end of the gap when it is skipped. An instant reading `wall` is
/// `wall - o` for an offset `o` in force within a day of it; offsets change at
/// most once in such a window, so the offsets at its two ends are all there is.
fn instant_of_wall_time(tz: Tz, wall: NaiveDateTime) -> Option<i64> {
    let target = seconds(wall);
    let mut found: Option<i64> = None;
    for probe in [
        target.checked_sub(OFFSET_BOUND_SECONDS)?,
        target.checked_add(OFFSET_BOUND_SECONDS)?,
    ] {
        let offset = offset_at(tz, probe)?;
        let instant = target.checked_sub(offset)?;
        if offset_at(tz, instant)? == offset && found.is_none_or(|f| instant < f) {
            found = Some(instant);
        }
    }
    match found {
        Some(instant) => Some(instant),
        None => end_of_gap(tz, wall),
    }
}

/// For a wall time that never happens, the instant the clock jumped over it:
/// the first instant whose wall clock reads later than `wall`.
fn end_of_gap(tz: Tz, wall: NaiveDateTime) -> Option<i64> {
    let target = seconds(wall);
    let later_than_target =
        |secs: i64| -> Option<bool> { Some(secs.checked_add(offset_at(tz, secs)?)? > target) };
    let mut low = target.checked_sub(OFFSET_BOUND_SECONDS)?;
    let mut high = target.checked_add(OFFSET_BOUND_SECONDS)?;
    if later_than_target(low)? || !later_than_target(high)? {
        return None;
    }
    // The wall clock only moves past `target` by jumping, since it never
    // reads `target`; any flip of the predicate is that jump.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if later_than_target(middle)? {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}
