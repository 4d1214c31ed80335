//! Walks the spanned TOML tree table by table and collects every problem, each placed
//! at the key or value it concerns. Which keys a table accepts, how each value is
//! checked, what it defaults to and how `[defaults]` applies all come from the
//! description (`schema.rs`); the rules across keys are `rules.rs`'s.
//!
//! `[defaults]` is checked once on its own: its problems carry no job name. Each job
//! then uses, for every key it does not set, the `[defaults]` value; that value is
//! checked again for the job but silently (a bad default was reported once already and
//! only makes the job unusable). Problems that involve several keys are reported at a
//! value the job sets itself, and left to the `[defaults]` check when it sets none of
//! them.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};

use super::build::{daemon_config, http_config, job_config};
use super::checker::{Checker, Key, Value, describe};
use super::error::{Lines, Problem, quote, toml_key};
use super::kinds::Parsed;
use super::schema::{self, Default, Inherit, Kind, Table, daemon_key, http_key, job_key};
use super::suggest::bad_job_name_message;
use super::{
    Channel, Config, DaemonConfig, Environment, HostPathEntry, HttpConfig, Job, Locations,
    ZoneSource,
};
use super::{is_valid_job_name, schema::Key as Spec};
use crate::schedule::Schedule;

const TOP_KEYS: &[&str] = &["daemon", "notify", "defaults", "jobs"];

/// The values set in one table (a job's or `[defaults]`), by the index of their key
/// in [`schema::KEYS`] (looked up by name once, when the table is read).
type Settings<'a> = Vec<Option<&'a Value<'a>>>;

fn no_settings<'a>() -> Settings<'a> {
    vec![None; schema::KEYS.len()]
}

/// Parses and checks `text`; the problems come back sorted by position.
pub(super) fn validate(path: &Path, text: &str, env: &Environment) -> Result<Config, Vec<Problem>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    let lines = Lines::new(text);
    if !errors.is_empty() {
        return Err(super::syntax::problems(&lines, &errors));
    }
    let mut checker = Checker::new(lines, path);
    let (daemon, channels, mut jobs) = checker.document(root.get_ref(), env);
    let mut problems = checker.problems;
    problems.extend(super::cycles::cycle_problems(&jobs));
    if problems.is_empty() {
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Config {
            path: path.to_path_buf(),
            daemon,
            channels,
            jobs: jobs.into_iter().map(std::sync::Arc::new).collect(),
        })
    } else {
        problems.sort_by_key(|problem| problem.location);
        Err(problems)
    }
}

/// A value a job uses, and whether it comes from `[defaults]`.
#[derive(Clone, Copy)]
pub(super) struct Entry<'a> {
    pub value: &'a Value<'a>,
    pub inherited: bool,
}

/// Where a job's values come from: its own table, else `[defaults]` (`None` while
/// checking `[defaults]` itself).
pub(super) struct Sources<'a> {
    own: Settings<'a>,
    defaults: Option<&'a Settings<'a>>,
}

impl<'a> Sources<'a> {
    fn own(&self, index: usize) -> Option<Entry<'a>> {
        self.own.get(index).copied().flatten().map(|value| Entry {
            value,
            inherited: false,
        })
    }

    fn inherited(&self, index: usize) -> Option<Entry<'a>> {
        self.defaults?
            .get(index)
            .copied()
            .flatten()
            .map(|value| Entry {
                value,
                inherited: true,
            })
    }

    /// The job's own value of the key at `index` in [`schema::KEYS`], else the one
    /// in `[defaults]`.
    fn at(&self, index: usize) -> Option<Entry<'a>> {
        self.own(index).or_else(|| self.inherited(index))
    }
}

/// The checked values of a table, by the index of their key in [`schema::KEYS`]
/// (see [`schema::job_key`]), each with where it is written (`None`: its default).
/// A key that is set with a good value, or unset with a default of its own
/// ([`Parsed::default_of`]), is here; a bad value or an unset key without a value
/// of its own is not.
pub(super) struct Values<'a>(Vec<Option<(Parsed, Option<Entry<'a>>)>>);

impl<'a> Values<'a> {
    fn new() -> Values<'a> {
        Values(
            std::iter::repeat_with(|| None)
                .take(schema::KEYS.len())
                .collect(),
        )
    }

    pub(super) fn get(&self, key: usize) -> Option<&Parsed> {
        self.setting(key).map(|(value, _)| value)
    }

    /// The value of `key` and where it is written (`None`: its default).
    pub(super) fn setting(&self, key: usize) -> Option<(&Parsed, Option<Entry<'a>>)> {
        let (value, entry) = self.0.get(key)?.as_ref()?;
        Some((value, *entry))
    }

    fn insert(&mut self, key: usize, value: Option<Parsed>, entry: Option<Entry<'a>>) {
        if let Some(slot) = self.0.get_mut(key) {
            *slot = value.map(|value| (value, entry));
        }
    }

    fn take_value(&mut self, key: usize) -> Option<Parsed> {
        self.0.get_mut(key)?.take().map(|(value, _)| value)
    }

    /// The value of `key` as `into` gives it.
    pub(super) fn take<T>(&mut self, key: usize, into: fn(Parsed) -> Option<T>) -> Option<T> {
        self.take_value(key).and_then(into)
    }

    /// The value of the optional `key` as `into` gives it: `Some(None)` when unset.
    pub(super) fn take_opt<T>(
        &mut self,
        key: usize,
        into: fn(Parsed) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.take_value(key) {
            None => Some(None),
            Some(value) => into(value).map(Some),
        }
    }
}

impl Checker<'_> {
    fn document<'a>(
        &mut self,
        root: &'a DeTable<'a>,
        env: &Environment,
    ) -> (DaemonConfig, Vec<Channel>, Vec<Job>) {
        let mut tables: [Option<(&Key<'_>, &Value<'_>)>; 4] = [None; 4];
        for (key, value) in root.iter() {
            match TOP_KEYS
                .iter()
                .position(|&top| top == key.get_ref().as_ref())
            {
                Some(index) => tables[index] = Some((key, value)),
                None => self.unknown_top_level_key(key, value),
            }
        }
        let [daemon, notify, defaults, jobs] = tables;
        // The channels first: the daemon's heartbeat names one.
        let channels = self.channels(notify);
        let daemon = self.daemon(daemon, env);
        if let ZoneSource::Unusable(why) = &daemon.timezone_source {
            self.no_default_zone = Some(why.clone());
        }
        let defaults = self.defaults(defaults, daemon.timezone);
        let jobs = self.jobs(jobs, &defaults, daemon.timezone);
        (daemon, channels, jobs)
    }

    fn unknown_top_level_key(&mut self, key: &Key<'_>, value: &Value<'_>) {
        let looks_like_job = value
            .get_ref()
            .as_table()
            .is_some_and(|t| t.contains_key("image") || t.contains_key("schedule"));
        let hint = if looks_like_job {
            format!(
                "; to define a job, write [jobs.{}]",
                toml_key(key.get_ref())
            )
        } else {
            String::new()
        };
        self.unknown_key(key, None, ("unknown top-level key", ""), TOP_KEYS, &hint);
    }

    /// The table `name` (`[daemon]`, `[defaults]`), or a problem at its key.
    pub(super) fn table<'a>(
        &mut self,
        (key, value): (&Key<'_>, &'a Value<'a>),
        name: &str,
    ) -> Option<&'a DeTable<'a>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                let message = format!(
                    "{name} must be a table, written [{name}], found {}",
                    describe(other)
                );
                self.report(key.span(), None, message);
                None
            }
        }
    }

    fn daemon(&mut self, entry: Option<(&Key<'_>, &Value<'_>)>, env: &Environment) -> DaemonConfig {
        let table = entry.and_then(|entry| self.table(entry, "daemon"));
        let mut http = None;
        let (mut values, _) = self.plain_table(table, Table::Daemon, "[daemon]", |key, value| {
            (key.get_ref().as_ref() == "http").then(|| http = Some((key, value)))
        });
        let set_zone = values.get(daemon_key!("timezone")).is_some();
        fill_defaults(&mut values, Table::Daemon);
        let http = self.http(http);
        daemon_config(values, set_zone, env, http)
    }

    /// `[daemon.http]`, with the rule across its keys: a `listen` address other
    /// than a loopback one needs a `token_file`.
    fn http(&mut self, entry: Option<(&Key<'_>, &Value<'_>)>) -> HttpConfig {
        let table = entry.and_then(|entry| self.table(entry, "daemon.http"));
        let (mut values, spans) =
            self.plain_table(table, Table::Http, "[daemon.http]", |_, _| None);
        fill_defaults(&mut values, Table::Http);
        let token_at = spans[http_key!("token_file")]
            .as_ref()
            .map(|span| self.locate(span.start));
        let http = http_config(values, token_at, spans[http_key!("listen")].is_some());
        if let (Some(listen), None, Some(span)) = (
            http.listen,
            &http.token_file,
            spans[http_key!("listen")].clone(),
        ) && !listen.ip().is_loopback()
        {
            let message = format!(
                "listen {} is not a loopback address, so the API would be open to the network without a token; set token_file to a file holding a bearer token, or listen on \"127.0.0.1:{}\"",
                quote(&listen.to_string()),
                listen.port()
            );
            self.report(span, None, message);
        }
        http
    }

    /// The values of a table of `[daemon]` settings (no job, no inheritance), by
    /// key index, and the span of each value written. `other` may take a key the
    /// table does not describe (a subtable), returning `Some(())` when it did.
    pub(super) fn plain_table<'a>(
        &mut self,
        table: Option<&'a DeTable<'a>>,
        which: Table,
        shown: &str,
        mut other: impl FnMut(&'a Key<'a>, &'a Value<'a>) -> Option<()>,
    ) -> (Values<'a>, Vec<Option<Range<usize>>>) {
        let mut values = Values::new();
        let mut spans = vec![None; schema::KEYS.len()];
        for (key, value) in table.iter().flat_map(|table| table.iter()) {
            match schema::index_of(which, key.get_ref()) {
                Some(index) => {
                    let checked = self.value(&schema::KEYS[index], value, None);
                    values.insert(index, checked, None);
                    spans[index] = Some(value.span());
                }
                None if other(key, value).is_some() => {}
                None => {
                    let mut expected = schema::names_of(which);
                    if which == Table::Daemon {
                        expected.push("http");
                    }
                    let place = format!(" in {shown}");
                    self.unknown_key(key, None, ("unknown key", &place), &expected, "");
                }
            }
        }
        (values, spans)
    }

    /// Reads `[defaults]` and checks its values once, without a job name.
    fn defaults<'a>(
        &mut self,
        entry: Option<(&Key<'_>, &'a Value<'a>)>,
        daemon_tz: Tz,
    ) -> Settings<'a> {
        let mut defaults = no_settings();
        let Some(table) = entry.and_then(|entry| self.table(entry, "defaults")) else {
            return defaults;
        };
        for (key, value) in table.iter() {
            let index = schema::index_of(Table::Job, key.get_ref());
            match index.map(|index| (index, &schema::KEYS[index])) {
                Some((index, spec)) if spec.allowed_in(Table::Defaults) => {
                    defaults[index] = Some(value);
                }
                Some((_, spec)) => self.report(
                    key.span(),
                    None,
                    format!(
                        "{} cannot be set in [defaults]: every job needs its own; move it to each [jobs.NAME] table",
                        spec.name
                    ),
                ),
                None => self.unknown_key(
                    key,
                    None,
                    ("unknown key", " in [defaults]"),
                    &schema::names_of(Table::Defaults),
                    "",
                ),
            }
        }
        let sources = Sources {
            own: defaults.clone(),
            defaults: None,
        };
        self.settings(&sources, None, daemon_tz);
        defaults
    }

    fn jobs<'a>(
        &mut self,
        entry: Option<(&Key<'_>, &'a Value<'a>)>,
        defaults: &Settings<'a>,
        default_tz: Tz,
    ) -> Vec<Job> {
        let Some((key, value)) = entry else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            let hint = if value.get_ref().is_array() {
                " (write each job as [jobs.NAME], not [[jobs]])"
            } else {
                ""
            };
            let message = format!(
                "jobs must be a table of named jobs such as [jobs.backup-db], found {}{hint}",
                describe(value.get_ref())
            );
            self.report(key.span(), None, message);
            return Vec::new();
        };
        self.job_names = table
            .iter()
            .map(|(key, _)| key.get_ref().to_string())
            .collect();
        self.job_name_set = self.job_names.iter().cloned().collect();
        table
            .iter()
            .filter_map(|(key, value)| self.job(key, value, defaults, default_tz))
            .collect()
    }

    /// Checks one job; `None` exactly when it reported at least one problem or uses
    /// a bad value from `[defaults]`.
    fn job<'a>(
        &mut self,
        key: &Key<'_>,
        value: &'a Value<'a>,
        defaults: &Settings<'a>,
        default_tz: Tz,
    ) -> Option<Job> {
        let name: &str = key.get_ref();
        let job = Some(name);
        let before = self.reported;
        if !is_valid_job_name(name) {
            self.report(key.span(), job, bad_job_name_message(name));
        }
        let DeValue::Table(table) = value.get_ref() else {
            let message = format!(
                "a job must be a table, written [jobs.{}], found {}",
                toml_key(name),
                describe(value.get_ref())
            );
            self.report(key.span(), job, message);
            return None;
        };
        let mut own = no_settings();
        for (key, value) in table.iter() {
            match schema::index_of(Table::Job, key.get_ref()) {
                Some(index) => own[index] = Some(value),
                None => {
                    let expected = schema::names_of(Table::Job);
                    self.unknown_key(key, job, ("unknown key", ""), &expected, "");
                }
            }
        }
        let sources = Sources {
            own,
            defaults: Some(defaults),
        };
        let built = self.settings(&sources, Some((name, key.span())), default_tz);
        if self.reported != before {
            return None;
        }
        built
    }

    /// Checks every setting of the job `job` (its name and the span of its key) or,
    /// when `job` is `None`, of `[defaults]`; returns the job when all is well (never
    /// for `[defaults]`).
    fn settings(
        &mut self,
        src: &Sources<'_>,
        job: Option<(&str, Range<usize>)>,
        default_tz: Tz,
    ) -> Option<Job> {
        let name = job.as_ref().map(|(name, _)| *name);
        let key_span = job.as_ref().map(|(_, span)| span.clone());
        let mut loc = Locations {
            job: key_span.as_ref().map(|span| self.locate(span.start)),
            ..Locations::default()
        };
        let table = if job.is_some() {
            Table::Job
        } else {
            Table::Defaults
        };
        let mut values = Values::new();
        let timezone = self.job_zone(src, (name, key_span.clone()), &mut loc, default_tz);
        let mut schedule = None;
        for (index, spec) in schema::indexed(table) {
            let entry = src.at(index);
            match (spec.kind, spec.inherit) {
                (Kind::Zone, _) => {}
                (Kind::Schedule, _) => {
                    let tz = timezone.unwrap_or(default_tz);
                    schedule = self.schedule_setting(entry, spec, name, &mut loc, tz);
                }
                (_, Inherit::Merge) => {
                    let merged = self.merged(src, (index, spec), name, &mut loc);
                    values.insert(index, merged, entry);
                }
                _ => {
                    let value = self.setting(entry, spec, name, &mut loc);
                    values.insert(index, value, entry);
                }
            }
            let started_otherwise =
                src.at(job_key!("after")).is_some() || src.at(job_key!("on_file")).is_some();
            if entry.is_none() && !(matches!(spec.kind, Kind::Schedule) && started_otherwise) {
                self.missing(spec, name, key_span.clone());
            }
        }
        let schedule = self.one_trigger_kind(src, name, schedule, timezone.unwrap_or(default_tz));
        self.cross_key_rules(name, &values);
        if let Some(schedule) = &schedule {
            let schedule_entry = src.at(job_key!("schedule"));
            self.random_delay_rule(name, &values, schedule, schedule_entry);
            self.expect_success_rule(name, &values, schedule, schedule_entry);
        }
        record_host_paths(self, &mut loc, &values);
        let (name, _) = job?;
        job_config(name, schedule?, timezone?, values, loc)
    }

    /// A job has one trigger kind: `schedule` or `after`. With `after` (and no
    /// `schedule`) its schedule is [`Schedule::none`]; with both, a problem at
    /// `after`.
    fn one_trigger_kind(
        &mut self,
        src: &Sources<'_>,
        job: Option<&str>,
        schedule: Option<Schedule>,
        tz: Tz,
    ) -> Option<Schedule> {
        self.file_actions_need_on_file(src, job);
        self.files_are_not_replaced(src, job);
        let after = src.at(job_key!("after"));
        let on_file = src.at(job_key!("on_file"));
        let Some(other) = on_file.or(after) else {
            return schedule;
        };
        if src.at(job_key!("schedule")).is_some() || (after.is_some() && on_file.is_some()) {
            let message = "a job has one trigger: schedule, after or on_file; keep one of them";
            self.report(other.value.span(), job, message);
            return None;
        }
        Some(Schedule::none(tz))
    }

    /// `after_success` and `after_failure` say what becomes of a file: refused
    /// on a job without `on_file`.
    fn file_actions_need_on_file(&mut self, src: &Sources<'_>, job: Option<&str>) {
        if src.at(job_key!("on_file")).is_some() {
            return;
        }
        for (key, index) in [
            ("after_success", job_key!("after_success")),
            ("after_failure", job_key!("after_failure")),
        ] {
            if let Some(entry) = src.at(index) {
                let message = format!("{key} applies to files: add on_file, or remove {key}");
                self.report(entry.value.span(), job, message);
            }
        }
    }

    /// `concurrency = "replace"` written on an `on_file` job is refused: a
    /// file's run is never stopped for the next file's (files are never
    /// skipped). Inherited from `[defaults]`, it means one file at a time, as
    /// `forbid` does.
    fn files_are_not_replaced(&mut self, src: &Sources<'_>, job: Option<&str>) {
        if src.at(job_key!("on_file")).is_none() {
            return;
        }
        if let Some(entry) = src.at(job_key!("concurrency"))
            && !entry.inherited
            && matches!(entry.value.get_ref(), DeValue::String(s) if s == "replace")
        {
            let message = "concurrency = \"replace\" would stop a file's run for the next file; an on_file job runs its files one at a time (\"forbid\", the default) or overlapping up to max_concurrent (\"allow\")";
            self.report(entry.value.span(), job, message);
        }
    }

    /// Where the value of `key` the job uses is written, for later messages.
    fn record(&self, loc: &mut Locations, key: &'static str, entry: Entry<'_>) {
        let at = self.locate(entry.value.span().start);
        loc.values.insert(key, (at, entry.inherited));
    }

    /// The zone the job's schedule is read in: its own, else `[defaults]`', else the
    /// daemon's (or a problem at the job when there is no default zone).
    fn job_zone(
        &mut self,
        src: &Sources<'_>,
        (job, key_span): (Option<&str>, Option<Range<usize>>),
        loc: &mut Locations,
        default_tz: Tz,
    ) -> Option<Tz> {
        let Some(entry) = src.at(job_key!("timezone")) else {
            return self.default_zone(key_span, job, default_tz);
        };
        self.record(loc, "timezone", entry);
        self.muted_if(entry.inherited, job, |c, job| c.zone(entry.value, job))
    }

    /// The zone of a job that sets none (nor does `[defaults]`): `default_tz`,
    /// unless there is no default zone, which is then reported at the job.
    fn default_zone(
        &mut self,
        job_span: Option<Range<usize>>,
        job: Option<&str>,
        default_tz: Tz,
    ) -> Option<Tz> {
        let (Some(why), Some(span)) = (self.no_default_zone.clone(), job_span) else {
            return Some(default_tz);
        };
        let message = format!("the job sets no timezone and there is no default zone: {why}");
        self.report(span, job, message);
        None
    }

    /// Reports a required key that neither the job nor `[defaults]` sets, at the
    /// job's name (not while checking `[defaults]`, which has no `job_span`).
    fn missing(&mut self, spec: &Spec, job: Option<&str>, job_span: Option<Range<usize>>) {
        if let (Default::Required { hint, .. }, Some(span)) = (spec.default, job_span) {
            let message = format!("missing required key \"{}\"; {hint}", spec.name);
            self.report(span, job, message);
        }
    }

    fn schedule_setting(
        &mut self,
        entry: Option<Entry<'_>>,
        spec: &Spec,
        job: Option<&str>,
        loc: &mut Locations,
        tz: Tz,
    ) -> Option<Schedule> {
        let entry = entry?;
        self.record(loc, spec.name, entry);
        self.muted_if(entry.inherited, job, |c, job| {
            c.schedule(entry.value, job, tz)
        })
    }

    /// The checked value the job uses for `spec`: `entry` (its own, else the one in
    /// `[defaults]`), else its default; records where it is written.
    fn setting(
        &mut self,
        entry: Option<Entry<'_>>,
        spec: &Spec,
        job: Option<&str>,
        loc: &mut Locations,
    ) -> Option<Parsed> {
        let Some(entry) = entry else {
            return Parsed::default_of(spec);
        };
        self.record(loc, spec.name, entry);
        self.muted_if(entry.inherited, job, |c, job| {
            c.value(spec, entry.value, job)
        })
    }

    /// For tables that merge (`env`, `labels`): the `[defaults]` table with the job's
    /// own merged over it.
    fn merged(
        &mut self,
        src: &Sources<'_>,
        (index, spec): (usize, &Spec),
        job: Option<&str>,
        loc: &mut Locations,
    ) -> Option<Parsed> {
        let (own, inherited) = (src.own(index), src.inherited(index));
        if let Some(entry) = own.or(inherited) {
            self.record(loc, spec.name, entry);
        }
        let mut check = |entry: Option<Entry<'_>>| match entry {
            Some(entry) => self.muted_if(entry.inherited, job, |c, job| {
                c.value(spec, entry.value, job).and_then(Parsed::into_map)
            }),
            None => Some(BTreeMap::new()),
        };
        let base = check(inherited);
        let over = check(own);
        let mut merged = base?;
        merged.extend(over?);
        Some(Parsed::Map(merged))
    }
}

/// Gives every key of `table` that is not set the default it has of its own.
pub(super) fn fill_defaults(values: &mut Values<'_>, table: Table) {
    for (index, spec) in schema::indexed(table) {
        if values.get(index).is_none() {
            values.insert(index, Parsed::default_of(spec), None);
        }
    }
}

/// Records every host path with where it is written, for [`super::Config::host_paths`].
fn record_host_paths(checker: &Checker<'_>, loc: &mut Locations, values: &Values<'_>) {
    let mut push = |key, path: &Path, span: Range<usize>, from_defaults| {
        loc.host_paths.push(HostPathEntry {
            key,
            path: path.to_path_buf(),
            location: checker.locate(span.start),
            from_defaults,
        });
    };
    let (Some((Parsed::Volumes(volumes), volumes_at)), Some((Parsed::Files(secrets), secrets_at))) = (
        values.setting(job_key!("volumes")),
        values.setting(job_key!("secrets")),
    ) else {
        return;
    };
    if let Some(entry) = volumes_at
        && let DeValue::Array(items) = entry.value.get_ref()
    {
        for (item, volume) in items.iter().zip(volumes) {
            push("volumes", &volume.host, item.span(), entry.inherited);
        }
    }
    if let Some((Parsed::Path(path), Some(entry))) = values.setting(job_key!("env_file")) {
        push("env_file", path, entry.value.span(), entry.inherited);
    }
    if let Some(entry) = secrets_at
        && let DeValue::Table(table) = entry.value.get_ref()
    {
        let spans: BTreeMap<&str, Range<usize>> = table
            .iter()
            .map(|(key, value)| (key.get_ref().as_ref(), value.span()))
            .collect();
        for (name, path) in secrets {
            if let Some(span) = spans.get(name.as_str()) {
                push("secrets", path, span.clone(), entry.inherited);
            }
        }
    }
}
