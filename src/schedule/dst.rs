//! Where a schedule meets its zone's daylight-saving changes in a way other
//! schedulers treat differently from cronbox. cronie (and cronbox) run a
//! fixed-time job once when its wall time is skipped (at the end of the gap)
//! or repeated (in the first pass); schedulers built on Go's robfig/cron, such
//! as Kubernetes' CronJob controller, skip the first and run the second twice.
//! Jobs that are not fixed-time follow real time in both, so they never
//! conflict. Pure: offsets come from `offsets.rs`, instants from the caller.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::offsets::{first_change, offset_at};
use super::{Kind, Schedule};

/// Which way a zone's clock moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DstChange {
    /// The clock jumped forward: some wall times never happen (a gap).
    SpringForward,
    /// The clock went back: some wall times happen twice (an overlap).
    FallBack,
}

/// One change of a zone's UTC offset at which a fixed-time job has a wall
/// time that is skipped or repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstConflict {
    /// The instant of the change.
    pub at: DateTime<Utc>,
    /// Whether the change skips or repeats wall times.
    pub change: DstChange,
    /// The job's first wall time (on the zone's clock) that the change skips
    /// or repeats.
    pub wall: NaiveDateTime,
}

impl Schedule {
    /// Every change of the zone's UTC offset in `(after, until]` that skips or
    /// repeats one of this schedule's wall times, in order; empty for `@every`
    /// and for cron jobs that are not fixed-time (see
    /// [`Schedule::is_fixed_time`]), and past what is known of the zone.
    pub fn dst_conflicts(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DstConflict> {
        let Kind::Cron(spec) = &self.kind else {
            return Vec::new();
        };
        if !spec.is_fixed_time() {
            return Vec::new();
        }
        let tz = self.tz;
        let (mut from, end) = (after.timestamp(), until.timestamp());
        let mut conflicts = Vec::new();
        let Some(mut offset) = offset_at(tz, from) else {
            return conflicts;
        };
        while let Some(Some(change)) = first_change(|secs| offset_at(tz, secs), from, end, offset) {
            let Some(new) = offset_at(tz, change) else {
                break;
            };
            // The wall times skipped ([change + old, change + new)) or repeated
            // ([change + new, change + old)).
            let (kind, low, high) = if new > offset {
                (DstChange::SpringForward, change + offset, change + new)
            } else {
                (DstChange::FallBack, change + new, change + offset)
            };
            let matched = naive(low)
                .and_then(|start| spec.next_match_from(start))
                .filter(|wall| wall.and_utc().timestamp() < high);
            if let (Some(wall), Some(at)) = (matched, DateTime::from_timestamp(change, 0)) {
                conflicts.push(DstConflict {
                    at,
                    change: kind,
                    wall,
                });
            }
            from = change;
            offset = new;
        }
        conflicts
    }
}

/// The naive date-time whose "UTC reading" is `secs`.
fn naive(secs: i64) -> Option<NaiveDateTime> {
    Some(DateTime::from_timestamp(secs, 0)?.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Tz;

    fn utc(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0)
            .single()
            .expect("valid date")
    }

    /// The changes a schedule conflicts with, and its first wall time there.
    type Conflicts = &'static [(DstChange, &'static str)];

    /// (expression, zone, the changes of 2025 it conflicts with).
    #[test]
    fn fixed_time_jobs_in_a_transition_hour_conflict_and_others_do_not() {
        let berlin = Tz::Europe__Berlin;
        let cases: [(&str, Tz, Conflicts); 9] = [
            // 02:30 is skipped in March and repeated in October.
            (
                "30 2 * * *",
                berlin,
                &[
                    (DstChange::SpringForward, "2025-03-30 02:30:00"),
                    (DstChange::FallBack, "2025-10-26 02:30:00"),
                ],
            ),
            // 02:00 is skipped (the gap is [02:00, 03:00)) and repeated.
            (
                "0 2 * * *",
                berlin,
                &[
                    (DstChange::SpringForward, "2025-03-30 02:00:00"),
                    (DstChange::FallBack, "2025-10-26 02:00:00"),
                ],
            ),
            // 03:00 exists once on both days.
            ("0 3 * * *", berlin, &[]),
            ("0 1 * * *", berlin, &[]),
            // Only on Sundays in October: the fall-back day is one.
            (
                "15 2 * 10 sun",
                berlin,
                &[(DstChange::FallBack, "2025-10-26 02:15:00")],
            ),
            // Not fixed-time: real time in both schedulers.
            ("*/20 * * * *", berlin, &[]),
            ("0 * * * *", berlin, &[]),
            // No daylight saving.
            ("30 2 * * *", Tz::Asia__Tokyo, &[]),
            ("@every 1h", berlin, &[]),
        ];
        for (expr, tz, want) in cases {
            let schedule = Schedule::parse(expr, tz).expect("valid schedule");
            let got: Vec<(DstChange, String)> = schedule
                .dst_conflicts(utc(2025, 1, 1), utc(2026, 1, 1))
                .into_iter()
                .map(|c| (c.change, c.wall.to_string()))
                .collect();
            let want: Vec<(DstChange, String)> =
                want.iter().map(|(c, w)| (*c, (*w).to_owned())).collect();
            assert_eq!(got, want, "{expr} in {}", tz.name());
        }
    }

    #[test]
    fn the_instant_is_the_change_itself() {
        let schedule = Schedule::parse("30 2 * * *", Tz::America__New_York).expect("valid");
        let conflicts = schedule.dst_conflicts(utc(2025, 1, 1), utc(2025, 6, 1));
        assert_eq!(conflicts.len(), 1);
        // 2025-03-09 02:00 EST = 07:00 UTC.
        assert_eq!(conflicts[0].at.to_rfc3339(), "2025-03-09T07:00:00+00:00");
    }
}
