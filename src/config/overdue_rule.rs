//! The rule across `expect_success_within` and the schedule: a dead-man alert
//! shorter than the longest gap between two ticks would call the job overdue
//! between runs that all succeed, so `check` refuses it at the value the job
//! sets (or, when inherited from `[defaults]`, at the job's schedule).

use std::time::Duration;

use super::checker::Checker;
use super::schema::job_key;
use super::validate::{Entry, Values};

/// The message for an `expect_success_within` of `within` under a schedule
/// with a gap of `gap` between two ticks; `from_defaults`: the value is
/// inherited.
pub(super) fn too_short(within: Duration, gap: Duration, from_defaults: bool) -> String {
    let (within, gap) = (
        humantime::format_duration(within),
        humantime::format_duration(gap),
    );
    let whose = if from_defaults {
        "the expect_success_within set in [defaults]"
    } else {
        "expect_success_within"
    };
    format!(
        "{whose} ({within}) is shorter than the longest gap between two ticks of the schedule ({gap}), so the job would be overdue between runs that all succeed; make it longer than {gap}, with room for a run and its retries"
    )
}

/// Where a problem of a rule across a value and the schedule is reported: at
/// the value when the job sets it, else (inherited from `[defaults]`) at the
/// job's schedule.
pub(super) fn placed_at(
    entry: Entry<'_>,
    schedule_entry: Option<Entry<'_>>,
) -> Option<std::ops::Range<usize>> {
    if entry.inherited {
        schedule_entry.map(|e| e.value.span())
    } else {
        Some(entry.value.span())
    }
}

impl Checker<'_> {
    /// Checks that a job's `expect_success_within` is no shorter than the longest
    /// gap between its ticks (see [`too_short`]).
    pub(super) fn expect_success_rule(
        &mut self,
        job: Option<&str>,
        values: &Values<'_>,
        schedule: &crate::schedule::Schedule,
        schedule_entry: Option<Entry<'_>>,
    ) {
        let Some((value, Some(entry))) = values.setting(job_key!("expect_success_within")) else {
            return;
        };
        let Some(within) = value.as_duration() else {
            return;
        };
        let Some(gap) = schedule.gap_longer_than(within) else {
            return;
        };
        if let Some(span) = placed_at(entry, schedule_entry) {
            self.report(span, job, too_short(within, gap, entry.inherited));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_problems, parse_ok};

    const HEAD: &str = "[jobs.a]\nimage = \"x\"\n";

    #[test]
    fn expect_success_within_must_cover_the_longest_gap_between_ticks() {
        for (schedule, within) in [
            ("@every 1h", "1h"),
            ("@every 1h", "2h"),
            ("30 2 * * *", "26h"),
            ("*/5 * * * *", "10m"),
        ] {
            parse_ok(&format!(
                "{HEAD}schedule = \"{schedule}\"\nexpect_success_within = \"{within}\"\n"
            ));
        }
        check_problems(
            "an hourly dead-man on a daily job",
            &format!("{HEAD}schedule = \"30 2 * * *\"\nexpect_success_within = \"1h\"\n"),
            &[(
                4,
                25,
                Some("a"),
                &[
                    "expect_success_within (1h) is shorter than the longest gap",
                    "(1day)",
                ],
            )],
        );
        check_problems(
            "an @every period",
            &format!("{HEAD}schedule = \"@every 2h\"\nexpect_success_within = \"90m\"\n"),
            &[(4, 25, Some("a"), &["(1h 30m)", "(2h)"])],
        );
        check_problems(
            "inherited, placed at the schedule",
            &format!("[defaults]\nexpect_success_within = \"1h\"\n{HEAD}schedule = \"@daily\"\n"),
            &[(5, 12, Some("a"), &["set in [defaults]", "(1day)"])],
        );
    }
}
