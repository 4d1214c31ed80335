//! Job chains in the schedule file: the `after` key (`{ job, on }` or a list of
//! them), and the rules across jobs it brings: the parent exists, no job is its
//! own ancestor (a cycle), and a job has one trigger kind (not both `schedule`
//! and `after`). Pure: no IO.

use std::collections::HashSet;
use std::ops::Range;

use toml::de::DeValue;

use super::Job;
use super::checker::{Checker, Value, describe, did_you_mean};
use super::error::quote;
use super::schema::{self, Kind};
use super::suggest::closest;

/// Which ends of the parent's runs start the child (`after.on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterOn {
    /// The parent's run succeeded (the default).
    Success,
    /// The parent's run failed (after its last attempt).
    Failure,
    /// Either.
    Always,
}

impl AfterOn {
    /// As written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            AfterOn::Success => "success",
            AfterOn::Failure => "failure",
            AfterOn::Always => "always",
        }
    }

    fn parse(text: &str) -> Option<AfterOn> {
        [AfterOn::Success, AfterOn::Failure, AfterOn::Always]
            .into_iter()
            .find(|on| on.as_str() == text)
    }

    /// Whether a parent that succeeded starts the child.
    pub fn on_success(self) -> bool {
        self != AfterOn::Failure
    }

    /// Whether a parent that failed starts the child.
    pub fn on_failure(self) -> bool {
        self != AfterOn::Success
    }
}

/// One `after` entry: a run of this job starts when a run of `job` ends as `on` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The parent job's name.
    pub job: String,
    pub on: AfterOn,
}

const SHAPE: &str = "after must be a table such as { job = \"backup-db\", on = \"success\" } or an array of such tables";

impl Checker<'_> {
    /// `after`: one `{ job, on }` table or a non-empty array of them, each parent
    /// a job of the file, named once, not the job itself.
    pub(super) fn after(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Vec<After>> {
        let items: Vec<&Value<'_>> = match value.get_ref() {
            DeValue::Table(_) => vec![value],
            DeValue::Array(items) if !items.is_empty() => items.iter().collect(),
            DeValue::Array(_) => {
                let message = format!("{SHAPE}; an empty array starts nothing: remove the line");
                self.report(value.span(), job, message);
                return None;
            }
            other => {
                self.report(
                    value.span(),
                    job,
                    format!("{SHAPE}, found {}", describe(other)),
                );
                return None;
            }
        };
        let before = self.reported;
        let mut found: Vec<After> = Vec::new();
        let mut named: HashSet<String> = HashSet::new();
        for item in items {
            let Some(after) = self.after_entry(item, job) else {
                continue;
            };
            if !named.insert(after.job.clone()) {
                let message = format!(
                    "after names job {} twice; give each parent once (on = \"always\" covers both ends)",
                    quote(&after.job)
                );
                self.report(item.span(), job, message);
            }
            found.push(after);
        }
        (self.reported == before).then_some(found)
    }

    fn after_entry(&mut self, item: &Value<'_>, job: Option<&str>) -> Option<After> {
        let DeValue::Table(table) = item.get_ref() else {
            self.report(
                item.span(),
                job,
                format!("{SHAPE}, found {}", describe(item.get_ref())),
            );
            return None;
        };
        let before = self.reported;
        let keys = schema::sub_keys(Kind::After);
        let mut fields = self.inline((item, table), "after", keys, SHAPE, job);
        let on = fields.text("on").and_then(|(on, _)| AfterOn::parse(&on));
        let parent = fields
            .text("job")
            .and_then(|(name, span)| self.parent(&name, span.unwrap_or(item.span()), job));
        let (job, on) = (parent?, on?);
        (self.reported == before).then_some(After { job, on })
    }

    /// The parent `name`, if it is another job of the file.
    fn parent(&mut self, name: &str, span: Range<usize>, job: Option<&str>) -> Option<String> {
        if job == Some(name) {
            let message = "a job cannot start after itself; name another job in after.job";
            self.report(span.clone(), job, message);
            return None;
        }
        if self.job_name_set.contains(name) {
            return Some(name.to_owned());
        }
        let suggestion = did_you_mean(closest(name, self.job_names.iter().map(String::as_str)));
        let message = format!(
            "after.job names {}, which is not a job of this file{suggestion}; name one of its [jobs.NAME] tables",
            quote(name)
        );
        self.report(span, job, message);
        None
    }
}

impl Job {
    /// What starts this job instead of the clock, in words ("after backup-db
    /// succeeds, after load fails"); `None` for a job its schedule starts.
    pub fn started_by(&self) -> Option<String> {
        if let Some(on) = &self.on_file {
            return Some(format!(
                "a file matching {} in {}",
                on.pattern,
                on.dir.display()
            ));
        }
        if self.after.is_empty() {
            return None;
        }
        let each = self.after.iter().map(|after| {
            let ends = match after.on {
                AfterOn::Success => "succeeds",
                AfterOn::Failure => "fails",
                AfterOn::Always => "ends",
            };
            format!("after {} {ends}", after.job)
        });
        Some(each.collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_problems, parse_ok};
    use super::{After, AfterOn};

    const PARENT: &str = "[jobs.backup-db]\nschedule = \"@daily\"\nimage = \"x\"\n";

    #[test]
    fn after_takes_one_table_or_a_list_and_defaults_to_success() {
        let config = parse_ok(&format!(
            "{PARENT}[jobs.load]\nschedule = \"@hourly\"\nimage = \"x\"\n\
             [jobs.verify]\nafter = {{ job = \"backup-db\" }}\nimage = \"x\"\n\
             [jobs.report]\nafter = [{{ job = \"backup-db\", on = \"always\" }}, {{ job = \"load\", on = \"failure\" }}]\nimage = \"x\"\n"
        ));
        let verify = config.job("verify").expect("verify");
        let after = |job: &str, on| After {
            job: job.to_owned(),
            on,
        };
        assert_eq!(verify.after, [after("backup-db", AfterOn::Success)]);
        assert!(!verify.schedule.has_ticks());
        assert_eq!(
            verify.started_by().as_deref(),
            Some("after backup-db succeeds")
        );
        let report = config.job("report").expect("report");
        assert_eq!(
            report.after,
            [
                after("backup-db", AfterOn::Always),
                after("load", AfterOn::Failure)
            ]
        );
        assert_eq!(
            report.started_by().as_deref(),
            Some("after backup-db ends, after load fails")
        );
        let parent = config.job("backup-db").expect("parent");
        assert!(parent.after.is_empty() && parent.schedule.has_ticks());
        assert_eq!(parent.started_by(), None);
    }

    #[test]
    fn bad_after_entries_are_placed_at_their_value() {
        check_problems(
            "unknown parent, with a suggestion",
            &format!("{PARENT}[jobs.verify]\nafter = {{ job = \"backup-bd\" }}\nimage = \"x\"\n"),
            &[(
                5,
                17,
                Some("verify"),
                &[
                    "after.job names \"backup-bd\", which is not a job",
                    "did you mean \"backup-db\"",
                ],
            )],
        );
        check_problems(
            "both schedule and after",
            &format!(
                "{PARENT}[jobs.verify]\nschedule = \"@daily\"\nafter = {{ job = \"backup-db\" }}\nimage = \"x\"\n"
            ),
            &[(
                6,
                9,
                Some("verify"),
                &["one trigger: schedule, after or on_file"],
            )],
        );
        check_problems(
            "a bad on",
            &format!(
                "{PARENT}[jobs.verify]\nafter = {{ job = \"backup-db\", on = \"ok\" }}\nimage = \"x\"\n"
            ),
            &[(
                5,
                35,
                Some("verify"),
                &["after.on must be \"success\", \"failure\" or \"always\""],
            )],
        );
        check_problems(
            "itself",
            "[jobs.a]\nafter = { job = \"a\" }\nimage = \"x\"\n",
            &[(2, 17, Some("a"), &["cannot start after itself"])],
        );
        check_problems(
            "no parent named",
            &format!("{PARENT}[jobs.verify]\nafter = {{ on = \"failure\" }}\nimage = \"x\"\n"),
            &[(5, 9, Some("verify"), &["after needs the parent job"])],
        );
        check_problems(
            "neither schedule nor after",
            "[jobs.a]\nimage = \"x\"\n",
            &[(1, 7, Some("a"), &["missing required key \"schedule\""])],
        );
    }

    #[test]
    fn a_cycle_is_reported_at_each_job_in_it_with_line_and_column() {
        check_problems(
            "a after b after a",
            "[jobs.a]\nafter = { job = \"b\" }\nimage = \"x\"\n[jobs.b]\nafter = { job = \"a\" }\nimage = \"x\"\n",
            &[
                (
                    2,
                    9,
                    Some("a"),
                    &["the jobs \"a\" after \"b\" after \"a\" form a cycle"],
                ),
                (5, 9, Some("b"), &["form a cycle"]),
            ],
        );
        check_problems(
            "three jobs; a fourth hanging off the cycle is not in it",
            "[jobs.a]\nafter = { job = \"c\" }\nimage = \"x\"\n[jobs.b]\nafter = { job = \"a\" }\nimage = \"x\"\n\
             [jobs.c]\nafter = [{ job = \"b\" }]\nimage = \"x\"\n[jobs.d]\nafter = { job = \"a\" }\nimage = \"x\"\n",
            &[
                (
                    2,
                    9,
                    Some("a"),
                    &["\"a\" after \"c\" after \"b\" after \"a\""],
                ),
                (5, 9, Some("b"), &["form a cycle"]),
                (8, 9, Some("c"), &["form a cycle"]),
            ],
        );
    }
}
