//! The rules that span several keys of a job (or of `[defaults]`), which the
//! description of single keys cannot express: `backoff_max` at least `backoff`, no
//! exit code both a success and fatal, no capability both added and dropped, no
//! container path mounted twice across volumes, tmpfs and secrets, no
//! `random_delay` longer than the shortest gap between the job's ticks. (Which zone a
//! schedule is read in is the walk's, and cron syntax `crate::schedule`'s.)
//!
//! Each rule is a pure function of the checked values and of where each comes from
//! ([`Origin`]); it names the key to place its problem at, always one the job (or
//! `[defaults]`, when checking it) sets itself: a conflict that lies wholly in
//! `[defaults]` is reported once, there.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::de::DeValue;

use super::SECRETS_DIR;
use super::checker::Checker;
use super::error::quote;
use super::indexes_rule::{self, int_of};
use super::kinds::Parsed;
use super::schema::{self, Table, job_key};
use super::validate::{Entry, Values};
use super::values::mount_target;

/// Where a value a rule looks at comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// The table being checked sets it.
    Own,
    /// `[defaults]` sets it (for a job that does not).
    Defaults,
    /// Nothing sets it: the built-in default.
    BuiltIn,
}

impl Origin {
    fn of(entry: Option<Entry<'_>>) -> Origin {
        match entry {
            Some(entry) if entry.inherited => Origin::Defaults,
            Some(_) => Origin::Own,
            None => Origin::BuiltIn,
        }
    }

    /// `key`, saying where its value comes from when not from the table checked.
    pub(super) fn described(self, key: &str) -> String {
        match self {
            Origin::Own => key.to_owned(),
            Origin::Defaults => format!("{key} (set in [defaults])"),
            Origin::BuiltIn => format!("{key} (by default)"),
        }
    }
}

/// A problem found by a rule, to be placed at the value of the key `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    pub at: &'static str,
    pub message: String,
}

/// `backoff_max` caps the retry delay, so it must be at least `backoff`.
pub(super) fn backoff(
    (low, low_from): (Duration, Origin),
    (high, high_from): (Duration, Origin),
) -> Option<Finding> {
    if high >= low {
        return None;
    }
    let (low_text, high_text) = (
        humantime::format_duration(low),
        humantime::format_duration(high),
    );
    if high_from == Origin::Own {
        let from = match low_from {
            Origin::Own => "",
            Origin::Defaults => ", set in [defaults]",
            Origin::BuiltIn => ", the default",
        };
        return Some(Finding {
            at: "backoff_max",
            message: format!(
                "backoff_max ({high_text}) is shorter than backoff ({low_text}{from}); backoff_max caps the retry delay and must be at least backoff"
            ),
        });
    }
    let which = match high_from {
        Origin::Defaults => "the backoff_max set in [defaults]",
        _ => "the default backoff_max",
    };
    (low_from == Origin::Own).then(|| Finding {
        at: "backoff",
        message: format!(
            "backoff ({low_text}) is longer than {which} ({high_text}); shorten backoff or set backoff_max to at least {low_text}"
        ),
    })
}

/// No exit code may both mean success and fail the run without retries.
pub(super) fn exit_codes(
    (success, success_from): (&[i64], Origin),
    (fatal, fatal_from): (&[i64], Origin),
) -> Option<Finding> {
    let both: Vec<String> = fatal
        .iter()
        .filter(|code| success.contains(code))
        .map(i64::to_string)
        .collect();
    let at = own_of([
        ("fatal_exit_codes", fatal_from),
        ("success_exit_codes", success_from),
    ])?;
    (!both.is_empty()).then(|| Finding {
        at,
        message: format!(
            "exit code(s) {} listed in both {} and {}; a code cannot both mean success and fail the run without retries",
            both.join(", "),
            success_from.described("success_exit_codes"),
            fatal_from.described("fatal_exit_codes"),
        ),
    })
}

/// No capability may be both added and dropped.
pub(super) fn capabilities(
    (add, add_from): (&[String], Origin),
    (drop, drop_from): (&[String], Origin),
) -> Option<Finding> {
    let both: Vec<&str> = drop
        .iter()
        .filter(|cap| add.contains(cap))
        .map(String::as_str)
        .collect();
    let at = own_of([("cap_drop", drop_from), ("cap_add", add_from)])?;
    (!both.is_empty()).then(|| Finding {
        at,
        message: format!(
            "capability {} listed in both {} and {}; keep it in one list only (cap_drop = [\"ALL\"] with cap_add = [\"NAME\"] keeps just NAME)",
            both.join(", "),
            add_from.described("cap_add"),
            drop_from.described("cap_drop"),
        ),
    })
}

/// The first of `keys` that the table being checked sets itself.
fn own_of<const N: usize>(keys: [(&'static str, Origin); N]) -> Option<&'static str> {
    keys.into_iter()
        .find(|&(_, origin)| origin == Origin::Own)
        .map(|(key, _)| key)
}

/// One container path a job mounts, for [`mount_clashes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mount {
    /// The container path, as compared ("/data/" is "/data").
    pub target: String,
    /// The list it comes from: "volumes", "tmpfs" or "secrets".
    pub list: &'static str,
    /// How messages name it: `volume "/a:/b"`, `tmpfs "/b"`, `secret "x"`.
    pub what: String,
    /// Whether it comes from `[defaults]`.
    pub inherited: bool,
}

/// Each container path can be mounted only once across volumes, tmpfs and secrets
/// (twice in one list is that list's own problem): the index of the mount to place
/// each clash at, and its message.
pub(super) fn mount_clashes(mounts: &[Mount]) -> Vec<(usize, String)> {
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (index, mount) in mounts.iter().enumerate() {
        let Some(&earlier) = first.get(mount.target.as_str()) else {
            first.insert(&mount.target, index);
            continue;
        };
        if mounts[earlier].list == mount.list {
            continue;
        }
        let (at, other) = match (mounts[earlier].inherited, mount.inherited) {
            (_, false) => (index, earlier),
            (false, true) => (earlier, index),
            (true, true) => continue,
        };
        let from = if mounts[other].inherited {
            " (set in [defaults])"
        } else {
            ""
        };
        let message = format!(
            "{} mounts container path {} that {}{from} also mounts; each container path can be mounted only once",
            mounts[at].what,
            quote(&mounts[at].target),
            mounts[other].what
        );
        clashes.push((at, message));
    }
    clashes
}

/// `random_delay` shifts each tick by up to its length: no longer than the
/// shortest gap between two ticks (`gap`, found by
/// [`crate::schedule::Schedule::gap_shorter_than`]), or a tick's run could start
/// after the next tick's. `from_defaults`: the value is inherited, and the problem
/// is placed at the job's schedule.
pub(super) fn random_delay(delay: Duration, gap: Duration, from_defaults: bool) -> String {
    let (delay, gap) = (
        humantime::format_duration(delay),
        humantime::format_duration(gap),
    );
    if from_defaults {
        format!(
            "the random_delay set in [defaults] ({delay}) is longer than the shortest gap between two ticks of this schedule ({gap}); set random_delay = \"{gap}\" or less in this job"
        )
    } else {
        format!(
            "random_delay ({delay}) is longer than the shortest gap between two ticks of the schedule ({gap}); make it at most {gap}"
        )
    }
}

impl Checker<'_> {
    /// Checks that a job's `random_delay` is no longer than the shortest gap
    /// between its ticks (see [`random_delay`]), reporting at the value the job
    /// sets itself: the delay, else its schedule.
    pub(super) fn random_delay_rule(
        &mut self,
        job: Option<&str>,
        values: &Values<'_>,
        schedule: &crate::schedule::Schedule,
        schedule_entry: Option<Entry<'_>>,
    ) {
        let Some((value, Some(entry))) = values.setting(job_key!("random_delay")) else {
            return;
        };
        let Some(delay) = value.as_duration() else {
            return;
        };
        let key = (schedule.expression().to_owned(), schedule.timezone(), delay);
        let gap = *self
            .gaps
            .entry(key)
            .or_insert_with(|| schedule.gap_shorter_than(delay));
        let Some(gap) = gap else {
            return;
        };
        if let Some(span) = super::overdue_rule::placed_at(entry, schedule_entry) {
            self.report(span, job, random_delay(delay, gap, entry.inherited));
        }
    }

    /// Checks the rules across the keys of a job (or `[defaults]`) whose values in
    /// `values` are all good, reporting at the value the table sets itself.
    pub(super) fn cross_key_rules(&mut self, job: Option<&str>, values: &Values<'_>) {
        let of = |key| {
            values
                .setting(key)
                .map(|(value, entry)| (value, Origin::of(entry)))
        };
        let durations = |key| of(key).and_then(|(v, from)| Some((v.as_duration()?, from)));
        let lists = |key| of(key).and_then(|(v, from)| Some((v.as_list()?, from)));
        let codes = |key| of(key).and_then(|(v, from)| Some((v.as_codes()?, from)));
        let findings = [
            durations(job_key!("backoff"))
                .zip(durations(job_key!("backoff_max")))
                .and_then(|(low, high)| backoff(low, high)),
            codes(job_key!("success_exit_codes"))
                .zip(codes(job_key!("fatal_exit_codes")))
                .and_then(|(success, fatal)| exit_codes(success, fatal)),
            lists(job_key!("cap_add"))
                .zip(lists(job_key!("cap_drop")))
                .and_then(|(add, drop)| capabilities(add, drop)),
        ];
        let int = |key| of(key).and_then(|(v, from)| Some((int_of(v)?, from)));
        let indexes = indexes_rule::indexes(
            int(job_key!("completions")),
            int(job_key!("parallelism")),
            int(job_key!("max_failed_indexes")),
        );
        for finding in findings.into_iter().flatten().chain(indexes) {
            let index = schema::index_of(Table::Job, finding.at);
            if let Some((_, Some(entry))) = index.and_then(|index| values.setting(index)) {
                self.report(entry.value.span(), job, finding.message);
            }
        }
        if [job_key!("volumes"), job_key!("tmpfs"), job_key!("secrets")]
            .into_iter()
            .all(|key| values.get(key).is_some())
        {
            let (mounts, spans) = mounts(values);
            for (at, message) in mount_clashes(&mounts) {
                self.report(spans[at].clone(), job, message);
            }
        }
    }
}

/// Every container path the job mounts, in the order volumes, tmpfs, secrets, with
/// the span of the item that mounts it.
fn mounts(values: &Values<'_>) -> (Vec<Mount>, Vec<Range<usize>>) {
    let mut mounts = Vec::new();
    let mut spans = Vec::new();
    let mut push = |mount: Mount, span: Range<usize>| {
        mounts.push(mount);
        spans.push(span);
    };
    if let Some((Parsed::Volumes(volumes), Some(entry))) = values.setting(job_key!("volumes"))
        && let DeValue::Array(items) = entry.value.get_ref()
    {
        for (item, volume) in items.iter().zip(volumes) {
            let mount = Mount {
                target: mount_target(&volume.container.to_string_lossy()).to_owned(),
                list: "volumes",
                what: format!("volume {}", quote(&volume.to_bind())),
                inherited: entry.inherited,
            };
            push(mount, item.span());
        }
    }
    if let Some((Parsed::List(tmpfs), Some(entry))) = values.setting(job_key!("tmpfs"))
        && let DeValue::Array(items) = entry.value.get_ref()
    {
        for (item, mount) in items.iter().zip(tmpfs) {
            let path = mount.split_once(':').map_or(mount.as_str(), |(p, _)| p);
            let mount = Mount {
                target: mount_target(path).to_owned(),
                list: "tmpfs",
                what: format!("tmpfs {}", quote(item.get_ref().as_str().unwrap_or(mount))),
                inherited: entry.inherited,
            };
            push(mount, item.span());
        }
    }
    if let Some((Parsed::Files(secrets), Some(entry))) = values.setting(job_key!("secrets"))
        && let DeValue::Table(table) = entry.value.get_ref()
    {
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if secrets.contains_key(name) {
                let mount = Mount {
                    target: format!("{SECRETS_DIR}/{name}"),
                    list: "secrets",
                    what: format!("secret {}", quote(name)),
                    inherited: entry.inherited,
                };
                push(mount, value.span());
            }
        }
    }
    (mounts, spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Origin::{BuiltIn, Defaults, Own};

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn backoff_max_must_be_at_least_backoff() {
        // (backoff, backoff_max) -> the key blamed and a fragment of the message.
        type Case = (
            (u64, Origin),
            (u64, Origin),
            Option<(&'static str, &'static str)>,
        );
        let cases: &[Case] = &[
            ((10, Own), (600, Own), None),
            ((60, Own), (60, Own), None),
            (
                (120, Own),
                (60, Own),
                Some((
                    "backoff_max",
                    "backoff_max (1m) is shorter than backoff (2m); ",
                )),
            ),
            (
                (60, Defaults),
                (30, Own),
                Some((
                    "backoff_max",
                    "shorter than backoff (1m, set in [defaults])",
                )),
            ),
            (
                (10, BuiltIn),
                (5, Own),
                Some(("backoff_max", "shorter than backoff (10s, the default)")),
            ),
            (
                (120, Own),
                (60, Defaults),
                Some((
                    "backoff",
                    "backoff (2m) is longer than the backoff_max set in [defaults] (1m)",
                )),
            ),
            (
                (1200, Own),
                (600, BuiltIn),
                Some((
                    "backoff",
                    "longer than the default backoff_max (10m); shorten backoff or set backoff_max to at least 20m",
                )),
            ),
            // Wholly in [defaults]: reported there, not at each job.
            ((120, Defaults), (60, Defaults), None),
            ((1200, Defaults), (600, BuiltIn), None),
        ];
        for &((low, low_from), (high, high_from), want) in cases {
            let got = backoff((secs(low), low_from), (secs(high), high_from));
            match (got, want) {
                (None, None) => {}
                (Some(f), Some((at, fragment))) => {
                    assert_eq!(f.at, at, "{low}/{high}");
                    assert!(f.message.contains(fragment), "{}", f.message);
                }
                (got, want) => panic!("{low}/{high}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn no_exit_code_is_both_a_success_and_fatal() {
        assert_eq!(exit_codes((&[0], BuiltIn), (&[2, 3], Own)), None);
        let f = exit_codes((&[0, 1], Defaults), (&[1, 2], Own)).expect("clash");
        assert_eq!(f.at, "fatal_exit_codes");
        assert!(f.message.contains(
            "exit code(s) 1 listed in both success_exit_codes (set in [defaults]) and fatal_exit_codes;"
        ));
        let f = exit_codes((&[0, 3], Own), (&[3], Defaults)).expect("clash");
        assert_eq!(f.at, "success_exit_codes");
        assert!(
            f.message
                .contains("and fatal_exit_codes (set in [defaults])")
        );
        let f = exit_codes((&[0], BuiltIn), (&[0], Own)).expect("clash");
        assert!(f.message.contains("success_exit_codes (by default)"));
        assert_eq!(exit_codes((&[0, 1], Defaults), (&[1], Defaults)), None);
    }

    #[test]
    fn no_capability_is_both_added_and_dropped() {
        let caps = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (all, raw, time) = (
            caps(&["ALL"]),
            caps(&["NET_RAW"]),
            caps(&["SYS_TIME", "NET_RAW"]),
        );
        assert_eq!(capabilities((&raw, Own), (&all, Own)), None);
        let f = capabilities((&time, Own), (&raw, Defaults)).expect("clash");
        assert_eq!(f.at, "cap_add");
        assert!(f.message.contains(
            "capability NET_RAW listed in both cap_add and cap_drop (set in [defaults])"
        ));
        let f = capabilities((&raw, Own), (&time, Own)).expect("clash");
        assert_eq!(f.at, "cap_drop");
        assert_eq!(capabilities((&raw, Defaults), (&raw, Defaults)), None);
    }

    #[test]
    fn each_container_path_is_mounted_once_across_lists() {
        let mount = |target: &str, list, inherited| Mount {
            target: target.to_owned(),
            list,
            what: format!("{list} {target:?}"),
            inherited,
        };
        // Twice in one list: that list's own check reports it, not this rule.
        assert!(
            mount_clashes(&[mount("/a", "tmpfs", false), mount("/a", "tmpfs", false)]).is_empty()
        );
        let clashes = mount_clashes(&[
            mount("/data", "volumes", false),
            mount("/data", "tmpfs", false),
            mount("/run/secrets/x", "secrets", false),
        ]);
        assert_eq!(clashes.len(), 1);
        assert_eq!(clashes[0].0, 1, "placed at the later mount");
        assert!(clashes[0].1.contains(
            "tmpfs \"/data\" mounts container path \"/data\" that volumes \"/data\" also mounts"
        ));
        // The job's own mount is blamed, whatever the order; [defaults] alone is not.
        let clashes = mount_clashes(&[mount("/d", "tmpfs", false), mount("/d", "volumes", true)]);
        assert_eq!(clashes[0].0, 0);
        assert!(clashes[0].1.contains("(set in [defaults]) also mounts"));
        assert!(
            mount_clashes(&[mount("/d", "tmpfs", true), mount("/d", "volumes", true)]).is_empty()
        );
    }
}
