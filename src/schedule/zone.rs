//! Mapping naive cron matches onto real instants in a time zone, with
//! cronie's daylight-saving rules. Instants are whole Unix seconds (`i64`);
//! the caller converts to and from `DateTime<Utc>`. Pure: offsets come from
//! the chrono-tz tables, never from the system or the clock.
//!
//! chrono-tz does not expose its transitions, so they are found by sampling
//! the UTC offset once a day and bisecting to the second where it changes.
//! In the chrono-tz 0.10 data no two changes of a zone's total UTC offset
//! are closer than about seven days (America/Boa_Vista, October 2000), so a
//! daily sample never steps over a pair of changes.

use super::cron::CronSpec;
use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// Sampling step when looking for an offset change.
const SAMPLE_SECONDS: i64 = 86_400;
/// Wider than any UTC offset ever used (local mean times reach about ±16 h).
const OFFSET_BOUND_SECONDS: i64 = 26 * 3600;
/// Safety cap on offset segments crossed by one search. The naive search
/// stops after about 400 years, which is far fewer segments than this.
const MAX_SEGMENTS: usize = 4096;
/// Safety cap on matches skipped by one fixed-time search; only matches
/// inside a repeated (fall-back) hour are ever skipped.
const MAX_SKIPPED_MATCHES: usize = 100_000;

/// The total UTC offset in seconds at instant `secs`.
pub(super) fn offset_at(tz: Tz, secs: i64) -> Option<i64> {
    let utc = DateTime::from_timestamp(secs, 0)?.naive_utc();
    Some(i64::from(
        tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
    ))
}

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

/// The first instant in `(from, to]` whose offset differs from `offset`
/// (the offset at `from`), or `Ok(None)` if the offset holds through `to`.
/// `None` (outer) when the calendar runs out.
fn first_change(tz: Tz, from: i64, to: i64, offset: i64) -> Option<Option<i64>> {
    let mut previous = from;
    while previous < to {
        let sample = previous.saturating_add(SAMPLE_SECONDS).min(to);
        if offset_at(tz, sample)? != offset {
            // Bisect: `low` has the old offset, `high` a new one.
            let (mut low, mut high) = (previous, sample);
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if offset_at(tz, middle)? == offset {
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
        match first_change(tz, start, candidate, offset)? {
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

/// The instant a fixed-time job with wall time `wall` runs at.
fn instant_of_wall_time(tz: Tz, wall: NaiveDateTime) -> Option<i64> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(at) => Some(at.timestamp()),
        LocalResult::Ambiguous(first, second) => Some(first.timestamp().min(second.timestamp())),
        LocalResult::None => end_of_gap(tz, wall),
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
