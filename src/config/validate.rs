//! Walks the spanned TOML tree key by key and collects every problem, each placed at
//! the key or value it concerns.
//!
//! `[defaults]` is checked once on its own: its problems carry no job name. Each job
//! then uses, for every key it does not set, the `[defaults]` value; that value is
//! checked again for the job but silently (a bad default was reported once already and
//! only makes the job unusable). Problems that involve several keys (`backoff` and
//! `backoff_max`, exit codes, capabilities, mount paths) are reported at a value the
//! job sets itself, and left to the `[defaults]` check when it sets none of them.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::error::{Lines, Location, Problem, quote, toml_key};
use super::values::{
    CAPABILITIES, SIZE_UNITS, check_container_path, check_hostname, check_network,
    check_secret_name, check_user, format_size, mount_target, normalize_capability,
    normalize_signal, parse_size, parse_tmpfs, signal_names,
};
use super::{
    CatchUp, Concurrency, Config, DEFAULT_BACKOFF, DEFAULT_BACKOFF_MAX, DEFAULT_DATABASE_NAME,
    DEFAULT_HISTORY_LIMIT, DEFAULT_HISTORY_MAX_AGE, DEFAULT_MAX_OUTPUT, DEFAULT_RETRIES,
    DEFAULT_STOP_GRACE, DEFAULT_STOP_SIGNAL, DEFAULT_SUCCESS_EXIT_CODES, DaemonConfig, Environment,
    HostPathEntry, Job, Locations, MAX_CPUS, MAX_JOB_NAME_LEN, MAX_MAX_OUTPUT, MAX_STOP_GRACE,
    MAX_TIME_LIMIT, MIN_CPUS, MIN_HISTORY_MAX_AGE, MIN_MAX_OUTPUT, MIN_MEMORY, MIN_STOP_GRACE,
    OnShutdown, PullPolicy, RESERVED_LABEL_PREFIX, SECRETS_DIR, Volume, ZoneSource,
    is_valid_job_name,
};
use crate::schedule::{Schedule, parse_duration};

const TOP_KEYS: &[&str] = &["daemon", "defaults", "jobs"];
pub(super) const DAEMON_KEYS: &[&str] = &[
    "database",
    "timezone",
    "max_concurrent",
    "require_limits",
    "on_shutdown",
    "history_max_age",
    "history_limit",
];
/// Every key of a job, in the documented order. `schedule` comes first: `[defaults]`
/// accepts all the others (`JOB_KEYS[1..]`).
pub(super) const JOB_KEYS: &[&str] = &[
    "schedule",
    "timezone",
    "image",
    "command",
    "env",
    "volumes",
    "pull",
    "retries",
    "backoff",
    "backoff_max",
    "timeout",
    "deadline",
    "stop_signal",
    "stop_grace",
    "concurrency",
    "catch_up",
    "starting_deadline",
    "success_exit_codes",
    "fatal_exit_codes",
    "memory",
    "cpus",
    "pids_limit",
    "read_only",
    "tmpfs",
    "network",
    "user",
    "workdir",
    "entrypoint",
    "hostname",
    "cap_add",
    "cap_drop",
    "labels",
    "privileged",
    "env_file",
    "secrets",
    "max_output",
];
const SCHEDULE_EXAMPLES: &str =
    "5 cron fields such as \"30 2 * * *\", a nickname such as \"@daily\", or \"@every 10m\"";
const DURATION_EXAMPLES: &str = "\"10s\", \"5m\" or \"1h30m\"";
const VOLUME_EXAMPLES: &str = "use \"HOST:CONTAINER\" or \"HOST:CONTAINER:ro\" with absolute paths, e.g. \"/srv/backup:/backup:ro\"";
const SIGNAL_RULE: &str = "use a Linux signal name such as \"SIGTERM\", \"SIGINT\", \"SIGQUIT\", \"SIGHUP\", \"SIGUSR1\" or \"SIGRTMIN+3\" (with or without \"SIG\", in any case), or a number from 1 to 64 other than 32 and 33";

type Key<'i> = Spanned<DeString<'i>>;
type Value<'i> = Spanned<DeValue<'i>>;
/// The keys set in one table (a job's or `[defaults]`), by name.
type Table<'a> = BTreeMap<&'static str, &'a Value<'a>>;
/// A validator of one value: `(checker, value, job)` to the checked value, or `None`
/// after reporting why not.
type Check<'c, 't, T> = &'c dyn Fn(&mut Checker<'t>, &Value<'_>, Option<&str>) -> Option<T>;

/// Parses and checks `text`; the problems come back sorted by position.
pub(super) fn validate(path: &Path, text: &str, env: &Environment) -> Result<Config, Vec<Problem>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    let lines = Lines::new(text);
    if !errors.is_empty() {
        return Err(super::syntax::problems(&lines, &errors));
    }
    let mut checker = Checker::new(lines, path);
    let (daemon, mut jobs) = checker.document(path, root.get_ref(), env);
    let mut problems = checker.problems;
    if problems.is_empty() {
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Config {
            path: path.to_path_buf(),
            daemon,
            jobs,
        })
    } else {
        problems.sort_by_key(|problem| problem.location);
        Err(problems)
    }
}

/// A value a job uses, and whether it comes from `[defaults]`.
#[derive(Clone, Copy)]
struct Entry<'a> {
    value: &'a Value<'a>,
    inherited: bool,
}

/// Where a job's values come from: its own table, else `[defaults]` (`None` while
/// checking `[defaults]` itself).
struct Sources<'a> {
    own: Table<'a>,
    defaults: Option<&'a Table<'a>>,
}

impl<'a> Sources<'a> {
    fn own(&self, key: &str) -> Option<Entry<'a>> {
        self.own.get(key).map(|&value| Entry {
            value,
            inherited: false,
        })
    }

    fn inherited(&self, key: &str) -> Option<Entry<'a>> {
        self.defaults?.get(key).map(|&value| Entry {
            value,
            inherited: true,
        })
    }

    /// The job's own value, else the one in `[defaults]`.
    fn get(&self, key: &str) -> Option<Entry<'a>> {
        self.own(key).or_else(|| self.inherited(key))
    }
}

/// `key`, saying where its value comes from when not from the table being checked.
fn described(key: &str, entry: Option<Entry<'_>>) -> String {
    match entry {
        Some(entry) if entry.inherited => format!("{key} (set in [defaults])"),
        Some(_) => key.to_owned(),
        None => format!("{key} (by default)"),
    }
}

fn job_key(name: &str) -> Option<&'static str> {
    JOB_KEYS.iter().copied().find(|&key| key == name)
}

struct Checker<'t> {
    lines: Lines<'t>,
    /// The config file's directory, against which relative paths resolve.
    config_dir: PathBuf,
    problems: Vec<Problem>,
    /// Every problem found, including those not recorded while `muted`.
    reported: usize,
    /// While set, problems are counted but not recorded (inherited `[defaults]` values).
    muted: bool,
    /// Why there is no default zone (`TZ` names none cronbox can use and
    /// `[daemon] timezone` is unset): a job without a zone of its own is refused.
    no_default_zone: Option<String>,
}

impl<'t> Checker<'t> {
    fn new(lines: Lines<'t>, path: &Path) -> Checker<'t> {
        Checker {
            lines,
            config_dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            problems: Vec::new(),
            reported: 0,
            muted: false,
            no_default_zone: None,
        }
    }

    fn locate(&self, offset: usize) -> Location {
        self.lines.locate(offset)
    }

    fn report(&mut self, span: Range<usize>, job: Option<&str>, message: impl Into<String>) {
        self.reported += 1;
        if self.muted {
            return;
        }
        let location = Some(self.locate(span.start));
        self.problems.push(Problem {
            location,
            job: job.map(str::to_owned),
            message: message.into(),
            snippet: None,
        });
    }

    /// Resolves a path written in the file against the config file's directory.
    fn resolve(&self, text: &str) -> PathBuf {
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.config_dir.join(path)
        }
    }

    /// "`what` "NAME"`place` (did you mean ...?); expected one of: ...`hint`".
    fn unknown_key(
        &mut self,
        key: &Key<'_>,
        job: Option<&str>,
        (what, place): (&str, &str),
        expected: &[&str],
        hint: &str,
    ) {
        let name: &str = key.get_ref();
        let suggestion = closest(name, expected.iter().copied())
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        self.report(
            key.span(),
            job,
            format!(
                "{what} {}{place}{suggestion}; expected one of: {}{hint}",
                quote(name),
                expected.join(", ")
            ),
        );
    }

    /// The string in `value`, or a type problem "`key` must be `expected`".
    fn string<'v>(
        &mut self,
        value: &'v Value<'_>,
        job: Option<&str>,
        key: &str,
        expected: &str,
    ) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                let found = if is_secret_key(key) {
                    kind(other).to_owned()
                } else {
                    describe(other)
                };
                self.report(
                    value.span(),
                    job,
                    format!("{key} must be {expected}, found {found}"),
                );
                None
            }
        }
    }

    /// Runs `check` on `entry`, silently when the value is inherited from `[defaults]`
    /// (then without the job's name: the value is not the job's).
    fn check<T>(
        &mut self,
        entry: Entry<'_>,
        job: Option<&str>,
        check: Check<'_, 't, T>,
    ) -> Option<T> {
        let muted = self.muted;
        self.muted |= entry.inherited;
        let result = check(self, entry.value, if entry.inherited { None } else { job });
        self.muted = muted;
        result
    }

    /// The checked value the job uses for `key` (its own, else the one in
    /// `[defaults]`), recording where it is: `Some(None)` when set in neither, `None`
    /// when the value is bad.
    fn setting<T>(
        &mut self,
        sources: &Sources<'_>,
        key: &'static str,
        job: Option<&str>,
        locations: &mut Locations,
        check: Check<'_, 't, T>,
    ) -> Option<Option<T>> {
        let Some(entry) = sources.get(key) else {
            return Some(None);
        };
        locations.values.insert(
            key,
            (self.locate(entry.value.span().start), entry.inherited),
        );
        self.check(entry, job, check).map(Some)
    }

    /// For `env` and `labels`: the `[defaults]` table with the job's own merged over it.
    fn merged(
        &mut self,
        sources: &Sources<'_>,
        key: &'static str,
        job: Option<&str>,
        locations: &mut Locations,
        check: Check<'_, 't, BTreeMap<String, String>>,
    ) -> Option<BTreeMap<String, String>> {
        let own = sources.own(key);
        let inherited = sources.inherited(key);
        if let Some(entry) = own.or(inherited) {
            locations.values.insert(
                key,
                (self.locate(entry.value.span().start), entry.inherited),
            );
        }
        let base = match inherited {
            Some(entry) => self.check(entry, job, check),
            None => Some(BTreeMap::new()),
        };
        let over = match own {
            Some(entry) => self.check(entry, job, check),
            None => Some(BTreeMap::new()),
        };
        let mut merged = base?;
        merged.extend(over?);
        Some(merged)
    }

    fn document<'a>(
        &mut self,
        path: &Path,
        root: &'a DeTable<'a>,
        env: &Environment,
    ) -> (DaemonConfig, Vec<Job>) {
        let mut daemon = None;
        let mut defaults = None;
        let mut jobs = None;
        for (key, value) in root.iter() {
            match key.get_ref().as_ref() {
                "daemon" => daemon = Some((key, value)),
                "defaults" => defaults = Some((key, value)),
                "jobs" => jobs = Some((key, value)),
                other => {
                    let looks_like_job = value
                        .get_ref()
                        .as_table()
                        .is_some_and(|t| t.contains_key("image") || t.contains_key("schedule"));
                    let hint = if looks_like_job {
                        format!("; to define a job, write [jobs.{}]", toml_key(other))
                    } else {
                        String::new()
                    };
                    self.unknown_key(key, None, ("unknown top-level key", ""), TOP_KEYS, &hint);
                }
            }
        }
        let daemon = self.daemon(path, daemon, env);
        if let ZoneSource::Unusable(why) = &daemon.timezone_source {
            self.no_default_zone = Some(why.clone());
        }
        let defaults = self.defaults(defaults, daemon.timezone);
        let jobs = self.jobs(jobs, &defaults, daemon.timezone);
        (daemon, jobs)
    }

    fn daemon(
        &mut self,
        path: &Path,
        entry: Option<(&Key<'_>, &Value<'_>)>,
        env: &Environment,
    ) -> DaemonConfig {
        let mut database = None;
        let mut timezone = None;
        let mut max_concurrent = None;
        let mut require_limits = None;
        let mut on_shutdown = None;
        let mut history_max_age = None;
        let mut history_limit = None;
        if let Some((key, value)) = entry {
            match value.get_ref() {
                DeValue::Table(table) => {
                    for (key, value) in table.iter() {
                        match key.get_ref().as_ref() {
                            "database" => database = self.database(path, value),
                            "timezone" => timezone = self.timezone(value, None),
                            "max_concurrent" => max_concurrent = self.max_concurrent(value),
                            "require_limits" => {
                                require_limits = self.boolean(value, None, "require_limits");
                            }
                            "on_shutdown" => on_shutdown = self.on_shutdown(value),
                            "history_max_age" => history_max_age = self.history_max_age(value),
                            "history_limit" => history_limit = self.history_limit(value),
                            _ => self.unknown_key(
                                key,
                                None,
                                ("unknown key", " in [daemon]"),
                                DAEMON_KEYS,
                                "",
                            ),
                        }
                    }
                }
                other => self.report(
                    key.span(),
                    None,
                    format!(
                        "daemon must be a table, written [daemon], found {}",
                        describe(other)
                    ),
                ),
            }
        }
        DaemonConfig {
            database: database.unwrap_or_else(|| match &env.state_directory {
                Some(dir) => dir.join(DEFAULT_DATABASE_NAME),
                None => Path::new(".").join(DEFAULT_DATABASE_NAME),
            }),
            timezone: timezone.unwrap_or(env.local_timezone),
            timezone_source: if timezone.is_some() {
                ZoneSource::DaemonKey
            } else {
                env.local_timezone_source.clone()
            },
            max_concurrent: max_concurrent.unwrap_or(env.cpus.max(1)),
            require_limits: require_limits.unwrap_or(false),
            on_shutdown: on_shutdown.unwrap_or_default(),
            history_max_age: history_max_age.unwrap_or(DEFAULT_HISTORY_MAX_AGE),
            history_limit: history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT),
        }
    }

    fn on_shutdown(&mut self, value: &Value<'_>) -> Option<OnShutdown> {
        let name = self.string(
            value,
            None,
            "on_shutdown",
            "one of the strings \"detach\" or \"stop\"",
        )?;
        let on_shutdown = OnShutdown::from_name(name);
        if on_shutdown.is_none() {
            self.report(
                value.span(),
                None,
                format!(
                    "unknown on_shutdown {}; expected one of: detach (leave running containers alone, the next start adopts them, the default), stop (stop them and record them interrupted)",
                    quote(name)
                ),
            );
        }
        on_shutdown
    }

    fn history_max_age(&mut self, value: &Value<'_>) -> Option<Duration> {
        let age = self.duration(value, None, "history_max_age")?;
        if age < MIN_HISTORY_MAX_AGE {
            self.report(
                value.span(),
                None,
                format!(
                    "history_max_age {} is shorter than {}, the least accepted; runs that finished longer ago than this are deleted",
                    quote(value.get_ref().as_str().unwrap_or_default()),
                    humantime::format_duration(MIN_HISTORY_MAX_AGE)
                ),
            );
            return None;
        }
        Some(age)
    }

    fn history_limit(&mut self, value: &Value<'_>) -> Option<u32> {
        let problem = match value.get_ref() {
            DeValue::Integer(_) => match integer(value.get_ref()) {
                Some(n) if n < 1 => format!(
                    "history_limit must be at least 1, found {n}; it is how many finished runs are kept per job"
                ),
                Some(n) => match u32::try_from(n) {
                    Ok(n) => return Some(n),
                    Err(_) => format!("history_limit {n} is too large; the most is {}", u32::MAX),
                },
                None => format!("history_limit is too large; the most is {}", u32::MAX),
            },
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => format!(
                "history_limit must be an integer, found a string {}; remove the quotes: history_limit = {}",
                quote(s),
                s.trim()
            ),
            other => format!(
                "history_limit must be an integer of 1 or more such as 10000, found {}",
                describe(other)
            ),
        };
        self.report(value.span(), None, problem);
        None
    }

    fn database(&mut self, config_path: &Path, value: &Value<'_>) -> Option<PathBuf> {
        let text = self.string(
            value,
            None,
            "database",
            "a string with a file path such as \"/var/lib/cronbox/cronbox.db\"",
        )?;
        if text.trim().is_empty() {
            self.report(
                value.span(),
                None,
                "database must not be empty; give a file path, or remove the line to use the default",
            );
            return None;
        }
        if text.starts_with('~') {
            self.report(
                value.span(),
                None,
                format!(
                    "database path {} starts with \"~\", which is not expanded; write the full path",
                    quote(text)
                ),
            );
            return None;
        }
        let database = Path::new(text);
        Some(if database.is_absolute() {
            database.to_path_buf()
        } else {
            config_path.parent().unwrap_or(Path::new("")).join(database)
        })
    }

    fn max_concurrent(&mut self, value: &Value<'_>) -> Option<usize> {
        let problem = match value.get_ref() {
            DeValue::Integer(_) => match integer(value.get_ref()) {
                Some(n) if n < 1 => format!(
                    "max_concurrent must be at least 1, found {n}; it is how many containers may run at once"
                ),
                Some(n) => match usize::try_from(n) {
                    Ok(n) => return Some(n),
                    Err(_) => format!("max_concurrent {n} is too large"),
                },
                None => "max_concurrent is too large".to_owned(),
            },
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => format!(
                "max_concurrent must be an integer, found a string {}; remove the quotes: max_concurrent = {}",
                quote(s),
                s.trim()
            ),
            other => format!(
                "max_concurrent must be an integer of 1 or more such as 4, found {}",
                describe(other)
            ),
        };
        self.report(value.span(), None, problem);
        None
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
        self.report(
            span,
            job,
            format!("the job sets no timezone and there is no default zone: {why}"),
        );
        None
    }

    fn timezone(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Tz> {
        let name = self.string(
            value,
            job,
            "timezone",
            "a string with an IANA time zone name such as \"Europe/Paris\"",
        )?;
        match name.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                let suggestion = timezone_suggestion(name)
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                self.report(
                    value.span(),
                    job,
                    format!(
                        "unknown time zone {}{suggestion}; use an IANA name such as \"Europe/Paris\", \"America/New_York\" or \"UTC\"",
                        quote(name)
                    ),
                );
                None
            }
        }
    }

    /// Reads `[defaults]` and checks its values once, without a job name.
    fn defaults<'a>(
        &mut self,
        entry: Option<(&Key<'_>, &'a Value<'a>)>,
        daemon_tz: Tz,
    ) -> Table<'a> {
        let mut defaults = Table::new();
        let Some((key, value)) = entry else {
            return defaults;
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                key.span(),
                None,
                format!(
                    "defaults must be a table, written [defaults], found {}",
                    describe(value.get_ref())
                ),
            );
            return defaults;
        };
        for (key, value) in table.iter() {
            match job_key(key.get_ref()) {
                Some("schedule") => self.report(
                    key.span(),
                    None,
                    "schedule cannot be set in [defaults]: every job needs its own; move it to each [jobs.NAME] table",
                ),
                Some(name) => {
                    defaults.insert(name, value);
                }
                None => self.unknown_key(
                    key,
                    None,
                    ("unknown key", " in [defaults]"),
                    &JOB_KEYS[1..],
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
        defaults: &Table<'a>,
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
            self.report(
                key.span(),
                None,
                format!(
                    "jobs must be a table of named jobs such as [jobs.backup-db], found {}{hint}",
                    describe(value.get_ref())
                ),
            );
            return Vec::new();
        };
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
        defaults: &Table<'a>,
        default_tz: Tz,
    ) -> Option<Job> {
        let name: &str = key.get_ref();
        let job = Some(name);
        let before = self.reported;
        if !is_valid_job_name(name) {
            self.report(key.span(), job, bad_name_message(name));
        }
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                key.span(),
                job,
                format!(
                    "a job must be a table, written [jobs.{}], found {}",
                    toml_key(name),
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let mut own = Table::new();
        for (key, value) in table.iter() {
            match job_key(key.get_ref()) {
                Some(name) => {
                    own.insert(name, value);
                }
                None => self.unknown_key(key, job, ("unknown key", ""), JOB_KEYS, ""),
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
        let loc = &mut loc;

        let timezone = match self.setting(src, "timezone", name, loc, &Self::timezone) {
            Some(None) => self.default_zone(key_span.clone(), name, default_tz),
            set => set.flatten(),
        };
        let schedule = match (src.get("schedule"), &key_span) {
            (Some(entry), _) => {
                loc.values
                    .insert("schedule", (self.locate(entry.value.span().start), false));
                let tz = timezone.unwrap_or(default_tz);
                self.check(entry, name, &|c, v, j| c.schedule(v, j, tz))
            }
            (None, Some(span)) => {
                self.report(
                    span.clone(),
                    name,
                    format!("missing required key \"schedule\"; add one with {SCHEDULE_EXAMPLES}"),
                );
                None
            }
            (None, None) => None,
        };
        let image = match self.setting(src, "image", name, loc, &Self::image) {
            Some(None) => {
                if let Some(span) = &key_span {
                    self.report(
                        span.clone(),
                        name,
                        "missing required key \"image\"; add the Docker image to run, e.g. image = \"alpine:3.20\" (in the job or in [defaults])",
                    );
                }
                None
            }
            image => image.flatten(),
        };
        let command = self.setting(src, "command", name, loc, &|c, v, j| {
            c.argv(v, j, "command")
        });
        let env = self.merged(src, "env", name, loc, &Self::env);
        let volumes = self
            .setting(src, "volumes", name, loc, &Self::volumes)
            .map(Option::unwrap_or_default);
        let pull = self
            .setting(src, "pull", name, loc, &Self::pull)
            .map(Option::unwrap_or_default);
        let retries = self
            .setting(src, "retries", name, loc, &Self::retries)
            .map(|n| n.unwrap_or(DEFAULT_RETRIES));
        let backoff = self
            .setting(src, "backoff", name, loc, &|c, v, j| {
                c.duration(v, j, "backoff")
            })
            .map(|d| d.unwrap_or(DEFAULT_BACKOFF));
        let backoff_max = self
            .setting(src, "backoff_max", name, loc, &|c, v, j| {
                c.duration(v, j, "backoff_max")
            })
            .map(|d| d.unwrap_or(DEFAULT_BACKOFF_MAX));
        let timeout = self.setting(src, "timeout", name, loc, &|c, v, j| {
            c.time_limit(v, j, "timeout")
        });
        let deadline = self.setting(src, "deadline", name, loc, &|c, v, j| {
            c.time_limit(v, j, "deadline")
        });
        let stop_signal = self
            .setting(src, "stop_signal", name, loc, &Self::stop_signal)
            .map(|s| s.unwrap_or_else(|| DEFAULT_STOP_SIGNAL.to_owned()));
        let stop_grace = self
            .setting(src, "stop_grace", name, loc, &Self::stop_grace)
            .map(|d| d.unwrap_or(DEFAULT_STOP_GRACE));
        let concurrency = self
            .setting(src, "concurrency", name, loc, &Self::concurrency)
            .map(Option::unwrap_or_default);
        let catch_up = self
            .setting(src, "catch_up", name, loc, &Self::catch_up)
            .map(Option::unwrap_or_default);
        let starting_deadline = self.setting(src, "starting_deadline", name, loc, &|c, v, j| {
            c.time_limit(v, j, "starting_deadline")
        });
        let success_exit_codes = self
            .setting(src, "success_exit_codes", name, loc, &|c, v, j| {
                c.exit_codes(v, j, "success_exit_codes")
            })
            .map(|codes| codes.unwrap_or_else(|| DEFAULT_SUCCESS_EXIT_CODES.to_vec()));
        let fatal_exit_codes = self
            .setting(src, "fatal_exit_codes", name, loc, &|c, v, j| {
                c.exit_codes(v, j, "fatal_exit_codes")
            })
            .map(Option::unwrap_or_default);
        let memory = self.setting(src, "memory", name, loc, &|c, v, j| {
            c.size(
                v,
                j,
                "memory",
                (MIN_MEMORY, " (Docker refuses less)"),
                u64::MAX,
                "\"256MiB\" or \"1GiB\"",
            )
        });
        let cpus = self.setting(src, "cpus", name, loc, &Self::cpus);
        let pids_limit = self.setting(src, "pids_limit", name, loc, &Self::pids_limit);
        let read_only = self
            .setting(src, "read_only", name, loc, &|c, v, j| {
                c.boolean(v, j, "read_only")
            })
            .map(Option::unwrap_or_default);
        let tmpfs = self
            .setting(src, "tmpfs", name, loc, &Self::tmpfs)
            .map(Option::unwrap_or_default);
        let network = self.setting(src, "network", name, loc, &|c, v, j| {
            c.checked_string(
                v,
                j,
                "network",
                "a string such as \"none\", \"bridge\", \"host\" or a network name",
                check_network,
            )
        });
        let user = self.setting(src, "user", name, loc, &|c, v, j| {
            c.checked_string(
                v,
                j,
                "user",
                "a string such as \"1000\", \"1000:1000\" or \"nobody\"",
                check_user,
            )
        });
        let workdir = self.setting(src, "workdir", name, loc, &|c, v, j| {
            c.checked_string(
                v,
                j,
                "workdir",
                "a string with an absolute path such as \"/work\"",
                check_container_path,
            )
        });
        let entrypoint = self.setting(src, "entrypoint", name, loc, &|c, v, j| {
            c.argv(v, j, "entrypoint")
        });
        let hostname = self.setting(src, "hostname", name, loc, &|c, v, j| {
            c.checked_string(
                v,
                j,
                "hostname",
                "a string such as \"backup-1\"",
                check_hostname,
            )
        });
        let cap_add = self
            .setting(src, "cap_add", name, loc, &|c, v, j| {
                c.capabilities(v, j, "cap_add")
            })
            .map(Option::unwrap_or_default);
        let cap_drop = self
            .setting(src, "cap_drop", name, loc, &|c, v, j| {
                c.capabilities(v, j, "cap_drop")
            })
            .map(Option::unwrap_or_default);
        let labels = self.merged(src, "labels", name, loc, &Self::labels);
        let privileged = self
            .setting(src, "privileged", name, loc, &|c, v, j| {
                c.boolean(v, j, "privileged")
            })
            .map(Option::unwrap_or_default);
        let env_file = self.setting(src, "env_file", name, loc, &|c, v, j| {
            c.host_file(
                v,
                j,
                "env_file",
                "a string with a file path such as \"backup.env\"",
            )
        });
        let secrets = self
            .setting(src, "secrets", name, loc, &Self::secrets)
            .map(Option::unwrap_or_default);
        let max_output = self
            .setting(src, "max_output", name, loc, &|c, v, j| {
                c.size(
                    v,
                    j,
                    "max_output",
                    (
                        MIN_MAX_OUTPUT,
                        " (less would keep too little output to see why an attempt failed)",
                    ),
                    MAX_MAX_OUTPUT,
                    "\"1MiB\" or \"256KiB\"",
                )
            })
            .map(|size| size.unwrap_or(DEFAULT_MAX_OUTPUT));

        // Rules across keys, once each value is known to be good.
        if let (Some(low), Some(high)) = (backoff, backoff_max) {
            self.check_backoff(src, name, low, high);
        }
        if let (Some(success), Some(fatal)) = (&success_exit_codes, &fatal_exit_codes) {
            self.check_exit_codes(src, name, success, fatal);
        }
        if let (Some(add), Some(drop)) = (&cap_add, &cap_drop) {
            self.check_capabilities(src, name, add, drop);
        }
        if let (Some(volumes), Some(tmpfs), Some(secrets)) = (&volumes, &tmpfs, &secrets) {
            self.check_mounts(src, name, volumes, tmpfs, secrets);
        }
        if let (Some(volumes), Some(env_file), Some(secrets)) = (&volumes, &env_file, &secrets) {
            self.record_host_paths(src, loc, volumes, env_file.as_deref(), secrets);
        }

        let (name, _) = job?;
        Some(Job {
            name: name.to_owned(),
            schedule: schedule?,
            timezone: timezone?,
            image: image?,
            command: command?,
            env: env?,
            volumes: volumes?,
            pull: pull?,
            retries: retries?,
            backoff: backoff?,
            backoff_max: backoff_max?,
            timeout: timeout?,
            deadline: deadline?,
            stop_signal: stop_signal?,
            stop_grace: stop_grace?,
            concurrency: concurrency?,
            catch_up: catch_up?,
            starting_deadline: starting_deadline?,
            success_exit_codes: success_exit_codes?,
            fatal_exit_codes: fatal_exit_codes?,
            memory: memory?,
            cpus: cpus?,
            pids_limit: pids_limit?,
            read_only: read_only?,
            tmpfs: tmpfs?,
            network: network?,
            user: user?,
            workdir: workdir?,
            entrypoint: entrypoint?,
            hostname: hostname?,
            cap_add: cap_add?,
            cap_drop: cap_drop?,
            labels: labels?,
            privileged: privileged?,
            env_file: env_file?,
            secrets: secrets?,
            max_output: max_output?,
            locations: std::mem::take(loc),
        })
    }

    fn check_backoff(
        &mut self,
        src: &Sources<'_>,
        job: Option<&str>,
        low: Duration,
        high: Duration,
    ) {
        if high >= low {
            return;
        }
        let (low_text, high_text) = (
            humantime::format_duration(low),
            humantime::format_duration(high),
        );
        let (backoff, backoff_max) = (src.get("backoff"), src.get("backoff_max"));
        if let Some(entry) = backoff_max.filter(|e| !e.inherited) {
            let from = match backoff {
                Some(entry) if entry.inherited => ", set in [defaults]",
                Some(_) => "",
                None => ", the default",
            };
            self.report(
                entry.value.span(),
                job,
                format!(
                    "backoff_max ({high_text}) is shorter than backoff ({low_text}{from}); backoff_max caps the retry delay and must be at least backoff"
                ),
            );
        } else if let Some(entry) = backoff.filter(|e| !e.inherited) {
            let which = if backoff_max.is_some() {
                "the backoff_max set in [defaults]"
            } else {
                "the default backoff_max"
            };
            self.report(
                entry.value.span(),
                job,
                format!(
                    "backoff ({low_text}) is longer than {which} ({high_text}); shorten backoff or set backoff_max to at least {low_text}"
                ),
            );
        }
    }

    fn check_exit_codes(
        &mut self,
        src: &Sources<'_>,
        job: Option<&str>,
        success: &[i64],
        fatal: &[i64],
    ) {
        let both: Vec<String> = fatal
            .iter()
            .filter(|code| success.contains(code))
            .map(i64::to_string)
            .collect();
        if both.is_empty() {
            return;
        }
        let (s, f) = (src.get("success_exit_codes"), src.get("fatal_exit_codes"));
        let Some(at) = [f, s].into_iter().flatten().find(|e| !e.inherited) else {
            return;
        };
        self.report(
            at.value.span(),
            job,
            format!(
                "exit code(s) {} listed in both {} and {}; a code cannot both mean success and fail the run without retries",
                both.join(", "),
                described("success_exit_codes", s),
                described("fatal_exit_codes", f),
            ),
        );
    }

    fn check_capabilities(
        &mut self,
        src: &Sources<'_>,
        job: Option<&str>,
        add: &[String],
        drop: &[String],
    ) {
        let both: Vec<&str> = drop
            .iter()
            .filter(|cap| add.contains(cap))
            .map(String::as_str)
            .collect();
        if both.is_empty() {
            return;
        }
        let (a, d) = (src.get("cap_add"), src.get("cap_drop"));
        let Some(at) = [d, a].into_iter().flatten().find(|e| !e.inherited) else {
            return;
        };
        self.report(
            at.value.span(),
            job,
            format!(
                "capability {} listed in both {} and {}; keep it in one list only (cap_drop = [\"ALL\"] with cap_add = [\"NAME\"] keeps just NAME)",
                both.join(", "),
                described("cap_add", a),
                described("cap_drop", d),
            ),
        );
    }

    /// Volumes, tmpfs mounts and secrets must not mount the same container path.
    fn check_mounts(
        &mut self,
        src: &Sources<'_>,
        job: Option<&str>,
        volumes: &[Volume],
        tmpfs: &[String],
        secrets: &BTreeMap<String, PathBuf>,
    ) {
        struct Mount {
            target: String,
            kind: &'static str,
            what: String,
            span: Range<usize>,
            inherited: bool,
        }
        let mut mounts: Vec<Mount> = Vec::new();
        if let Some(entry) = src.get("volumes")
            && let DeValue::Array(items) = entry.value.get_ref()
        {
            for (item, volume) in items.iter().zip(volumes) {
                mounts.push(Mount {
                    target: mount_target(&volume.container.to_string_lossy()).to_owned(),
                    kind: "volumes",
                    what: format!("volume {}", quote(&volume.to_bind())),
                    span: item.span(),
                    inherited: entry.inherited,
                });
            }
        }
        if let Some(entry) = src.get("tmpfs")
            && let DeValue::Array(items) = entry.value.get_ref()
        {
            for (item, mount) in items.iter().zip(tmpfs) {
                let path = mount.split_once(':').map_or(mount.as_str(), |(p, _)| p);
                mounts.push(Mount {
                    target: mount_target(path).to_owned(),
                    kind: "tmpfs",
                    what: format!("tmpfs {}", quote(item.get_ref().as_str().unwrap_or(mount))),
                    span: item.span(),
                    inherited: entry.inherited,
                });
            }
        }
        if let Some(entry) = src.get("secrets")
            && let DeValue::Table(table) = entry.value.get_ref()
        {
            for (key, value) in table.iter() {
                let name: &str = key.get_ref();
                if secrets.contains_key(name) {
                    mounts.push(Mount {
                        target: format!("{SECRETS_DIR}/{name}"),
                        kind: "secrets",
                        what: format!("secret {}", quote(name)),
                        span: value.span(),
                        inherited: entry.inherited,
                    });
                }
            }
        }
        // The first mount of each container path; a second one in the same list is
        // reported by that list's own check.
        let mut first: BTreeMap<&str, &Mount> = BTreeMap::new();
        let mut clashes = Vec::new();
        for mount in &mounts {
            match first.get(mount.target.as_str()) {
                Some(earlier) if earlier.kind != mount.kind => clashes.push((*earlier, mount)),
                Some(_) => {}
                None => {
                    first.insert(&mount.target, mount);
                }
            }
        }
        for (earlier, later) in clashes {
            let (at, other) = match (earlier.inherited, later.inherited) {
                (_, false) => (later, earlier),
                (false, true) => (earlier, later),
                (true, true) => continue,
            };
            let from = if other.inherited {
                " (set in [defaults])"
            } else {
                ""
            };
            let message = format!(
                "{} mounts container path {} that {}{from} also mounts; each container path can be mounted only once",
                at.what,
                quote(&at.target),
                other.what
            );
            self.report(at.span.clone(), job, message);
        }
    }

    /// Records every host path with where it is written, for [`Config::host_paths`].
    fn record_host_paths(
        &self,
        src: &Sources<'_>,
        loc: &mut Locations,
        volumes: &[Volume],
        env_file: Option<&Path>,
        secrets: &BTreeMap<String, PathBuf>,
    ) {
        let mut push = |key, path: &Path, span: Range<usize>, from_defaults| {
            loc.host_paths.push(HostPathEntry {
                key,
                path: path.to_path_buf(),
                location: self.locate(span.start),
                from_defaults,
            });
        };
        if let Some(entry) = src.get("volumes")
            && let DeValue::Array(items) = entry.value.get_ref()
        {
            for (item, volume) in items.iter().zip(volumes) {
                push("volumes", &volume.host, item.span(), entry.inherited);
            }
        }
        if let (Some(entry), Some(path)) = (src.get("env_file"), env_file) {
            push("env_file", path, entry.value.span(), entry.inherited);
        }
        if let Some(entry) = src.get("secrets")
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

    fn schedule(&mut self, value: &Value<'_>, job: Option<&str>, tz: Tz) -> Option<Schedule> {
        let text = self.string(
            value,
            job,
            "schedule",
            "a string such as \"30 2 * * *\", \"@daily\" or \"@every 10m\"",
        )?;
        match Schedule::parse(text, tz) {
            Ok(schedule) => Some(schedule),
            Err(err) => {
                self.report(
                    value.span(),
                    job,
                    format!("bad schedule {}: {err}", quote(text)),
                );
                None
            }
        }
    }

    fn image(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<String> {
        let image = self.string(
            value,
            job,
            "image",
            "a string naming a Docker image such as \"alpine:3.20\"",
        )?;
        let problem = if image.is_empty() {
            "image must not be empty; give a Docker image such as \"alpine:3.20\"".to_owned()
        } else if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            format!(
                "image {} contains spaces or control characters; give a single image reference such as \"alpine:3.20\" (put arguments in command)",
                quote(image)
            )
        } else {
            return Some(image.to_owned());
        };
        self.report(value.span(), job, problem);
        None
    }

    /// `command` or `entrypoint`: a non-empty array of strings, the first non-empty.
    fn argv(&mut self, value: &Value<'_>, job: Option<&str>, key: &str) -> Option<Vec<String>> {
        let (example, empty_hint) = if key == "command" {
            (
                "[\"sh\", \"-c\", \"echo hello\"]",
                "give the program and its arguments such as [\"pg_dump\", \"app\"], or remove the line to use the image's default command",
            )
        } else {
            (
                "[\"/bin/sh\", \"-c\"]",
                "give the program such as [\"/bin/sh\", \"-c\"], or remove the line to keep the image's entrypoint",
            )
        };
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref() {
                DeValue::String(s) if key == "command" && s.contains(char::is_whitespace) => {
                    format!(
                        "; no shell is involved: to run it through one write command = [\"sh\", \"-c\", {}]",
                        quote(s)
                    )
                }
                DeValue::String(s) if s.contains(char::is_whitespace) => {
                    format!("; write each argument as its own string, e.g. {key} = {example}")
                }
                DeValue::String(s) => format!("; write {key} = [{}]", quote(s)),
                _ => String::new(),
            };
            self.report(
                value.span(),
                job,
                format!(
                    "{key} must be an array of strings such as {example}, found {}{hint}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.report(
                value.span(),
                job,
                format!("{key} must not be empty; {empty_hint}"),
            );
            return None;
        }
        let before = self.reported;
        let mut argv = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) if s.contains('\0') => self.report(
                    item.span(),
                    job,
                    format!("{key}[{index}] contains a NUL character, which cannot be passed to a program"),
                ),
                DeValue::String(s) if index == 0 && s.is_empty() => self.report(
                    item.span(),
                    job,
                    format!("{key}[0], the program to run, must not be empty"),
                ),
                DeValue::String(s) => argv.push(s.to_string()),
                other => self.report(
                    item.span(),
                    job,
                    format!(
                        "{key}[{index}] must be a string, found {}; every argument must be quoted",
                        describe(other)
                    ),
                ),
            }
        }
        (self.reported == before).then_some(argv)
    }

    fn env(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<BTreeMap<String, String>> {
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                value.span(),
                job,
                format!(
                    "env must be a table of strings such as {{ PGUSER = \"app\" }}, found {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut env = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if name.is_empty() || name.contains(['=', '\0']) {
                self.report(
                    key.span(),
                    job,
                    format!(
                        "invalid environment variable name {}: it must be non-empty and contain no \"=\" or NUL",
                        quote(name)
                    ),
                );
            }
            match value.get_ref() {
                DeValue::String(s) if s.contains('\0') => self.report(
                    value.span(),
                    job,
                    format!(
                        "env.{} contains a NUL character, which cannot be passed to a program",
                        toml_key(name)
                    ),
                ),
                DeValue::String(s) => {
                    env.insert(name.to_owned(), s.to_string());
                }
                other => {
                    let hint = match other {
                        DeValue::Integer(_)
                        | DeValue::Float(_)
                        | DeValue::Boolean(_)
                        | DeValue::Datetime(_) => {
                            format!("; quote the value: {} = \"...\"", toml_key(name))
                        }
                        _ => String::new(),
                    };
                    self.report(
                        value.span(),
                        job,
                        format!(
                            "env.{} must be a string, found {} (env values are never shown){hint}",
                            toml_key(name),
                            kind(other)
                        ),
                    );
                }
            }
        }
        (self.reported == before).then_some(env)
    }

    fn volumes(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Vec<Volume>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.report(
                value.span(),
                job,
                format!(
                    "volumes must be an array of strings such as [\"/srv/backup:/backup:ro\"], found {}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut volumes = Vec::with_capacity(items.len());
        let mut targets = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let DeValue::String(text) = item.get_ref() else {
                self.report(
                    item.span(),
                    job,
                    format!(
                        "volumes[{index}] must be a string such as \"/srv/backup:/backup:ro\", found {}",
                        describe(item.get_ref())
                    ),
                );
                continue;
            };
            match parse_volume(text) {
                Ok(volume) if !targets.insert(volume.container.clone()) => self.report(
                    item.span(),
                    job,
                    format!(
                        "volume {} mounts container path {} a second time; each container path can be mounted only once",
                        quote(text),
                        quote(&volume.container.to_string_lossy())
                    ),
                ),
                Ok(volume) => volumes.push(volume),
                Err(message) => self.report(item.span(), job, message),
            }
        }
        (self.reported == before).then_some(volumes)
    }

    fn pull(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<PullPolicy> {
        let name = self.string(
            value,
            job,
            "pull",
            "one of the strings \"missing\", \"always\" or \"never\"",
        )?;
        let policy = PullPolicy::from_name(name);
        if policy.is_none() {
            self.report(
                value.span(),
                job,
                format!(
                    "unknown pull policy {}; expected one of: missing (pull if not present, the default), always, never",
                    quote(name)
                ),
            );
        }
        policy
    }

    fn retries(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<u32> {
        let problem = match value.get_ref() {
            DeValue::Integer(number) => match i128::from_str_radix(number.as_str(), number.radix())
            {
                Ok(n) if n < 0 => format!(
                    "retries must be 0 or more, found {n}; it counts the extra attempts after the first"
                ),
                Ok(n) => match u32::try_from(n) {
                    Ok(n) => return Some(n),
                    Err(_) => format!("retries {n} is too large; the most is {}", u32::MAX),
                },
                Err(_) => format!("retries {number} is too large; the most is {}", u32::MAX),
            },
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => format!(
                "retries must be an integer, found a string {}; remove the quotes: retries = {}",
                quote(s),
                s.trim()
            ),
            other => format!(
                "retries must be an integer of 0 or more such as 3, found {}",
                describe(other)
            ),
        };
        self.report(value.span(), job, problem);
        None
    }

    fn duration(&mut self, value: &Value<'_>, job: Option<&str>, key: &str) -> Option<Duration> {
        let problem = match value.get_ref() {
            DeValue::String(text) => match parse_duration(text) {
                Ok(duration) => return Some(duration),
                Err(err) => format!("bad duration {} for {key}: {err}", quote(text)),
            },
            DeValue::Integer(number) => format!(
                "{key} must be a duration string such as {DURATION_EXAMPLES}, found an integer {number}; add a unit: {key} = \"{number}s\""
            ),
            other => format!(
                "{key} must be a duration string such as {DURATION_EXAMPLES}, found {}",
                describe(other)
            ),
        };
        self.report(value.span(), job, problem);
        None
    }

    /// `timeout` or `deadline`: a duration of at most [`MAX_TIME_LIMIT`].
    fn time_limit(&mut self, value: &Value<'_>, job: Option<&str>, key: &str) -> Option<Duration> {
        let duration = self.duration(value, job, key)?;
        if duration > MAX_TIME_LIMIT {
            self.report(
                value.span(),
                job,
                format!(
                    "{key} {} is longer than {} days, the most accepted; remove the line for no limit",
                    quote(value.get_ref().as_str().unwrap_or_default()),
                    MAX_TIME_LIMIT.as_secs() / 86_400
                ),
            );
            return None;
        }
        Some(duration)
    }

    fn stop_grace(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Duration> {
        let grace = self.duration(value, job, "stop_grace")?;
        let shown = quote(value.get_ref().as_str().unwrap_or_default());
        let problem = if grace < MIN_STOP_GRACE {
            format!(
                "stop_grace {shown} is shorter than {}s; Docker counts the stop timeout in whole seconds",
                MIN_STOP_GRACE.as_secs()
            )
        } else if grace.subsec_nanos() != 0 {
            format!(
                "stop_grace {shown} is not a whole number of seconds, which Docker's stop timeout counts; write e.g. \"{}s\"",
                grace.as_secs() + 1
            )
        } else if grace > MAX_STOP_GRACE {
            format!(
                "stop_grace {shown} is longer than {}, the most accepted (the daemon's own shutdown waits for it)",
                humantime::format_duration(MAX_STOP_GRACE)
            )
        } else {
            return Some(grace);
        };
        self.report(value.span(), job, problem);
        None
    }

    fn stop_signal(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<String> {
        let problem = match value.get_ref() {
            DeValue::String(text) => match normalize_signal(text) {
                Some(signal) => return Some(signal),
                None => {
                    let upper = text.trim().to_ascii_uppercase();
                    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
                    let suggestion = closest(bare, signal_names())
                        .map(|s| format!(" (did you mean \"SIG{s}\"?)"))
                        .unwrap_or_default();
                    format!("unknown signal {}{suggestion}; {SIGNAL_RULE}", quote(text))
                }
            },
            DeValue::Integer(number) => format!(
                "stop_signal must be a string, found an integer {number}; quote it: stop_signal = \"{number}\", or write its name such as \"SIGTERM\""
            ),
            other => format!(
                "stop_signal must be a string with a signal name such as \"SIGTERM\", found {}",
                describe(other)
            ),
        };
        self.report(value.span(), job, problem);
        None
    }

    fn concurrency(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Concurrency> {
        let name = self.string(
            value,
            job,
            "concurrency",
            "one of the strings \"forbid\", \"allow\" or \"replace\"",
        )?;
        let concurrency = Concurrency::from_name(name);
        if concurrency.is_none() {
            self.report(
                value.span(),
                job,
                format!(
                    "unknown concurrency {}; expected one of: forbid (skip a tick while the previous run goes on, the default), allow (let runs overlap), replace (stop the previous run, start the new one)",
                    quote(name)
                ),
            );
        }
        concurrency
    }

    fn catch_up(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<CatchUp> {
        let name = self.string(
            value,
            job,
            "catch_up",
            "one of the strings \"latest\" or \"none\"",
        )?;
        let catch_up = CatchUp::from_name(name);
        if catch_up.is_none() {
            self.report(
                value.span(),
                job,
                format!(
                    "unknown catch_up {}; expected one of: latest (run the most recent missed tick once, the default), none (run no missed tick)",
                    quote(name)
                ),
            );
        }
        catch_up
    }

    fn exit_codes(&mut self, value: &Value<'_>, job: Option<&str>, key: &str) -> Option<Vec<i64>> {
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref() {
                DeValue::Integer(n) => format!("; write {key} = [{n}]"),
                _ => String::new(),
            };
            self.report(
                value.span(),
                job,
                format!(
                    "{key} must be an array of exit codes from 0 to 255 such as [0, 3], found {}{hint}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut codes = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match integer(item.get_ref()) {
                Some(code @ 0..=255) => codes.push(code as i64),
                _ => self.report(
                    item.span(),
                    job,
                    format!(
                        "{key}[{index}] must be an exit code from 0 to 255, found {}",
                        describe(item.get_ref())
                    ),
                ),
            }
        }
        if self.reported != before {
            return None;
        }
        if codes.is_empty() && key == "success_exit_codes" {
            self.report(
                value.span(),
                job,
                "success_exit_codes must not be empty: some exit code must mean success, such as [0]",
            );
            return None;
        }
        codes.sort_unstable();
        codes.dedup();
        Some(codes)
    }

    /// `memory` or `max_output`: a size string from `min` (with why) to `max` bytes.
    fn size(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        (min, why_min): (u64, &str),
        max: u64,
        example: &str,
    ) -> Option<u64> {
        let problem = match value.get_ref() {
            DeValue::String(text) => match parse_size(text) {
                Ok(bytes) if bytes < min => format!(
                    "{key} {} is below the minimum of {}{why_min}",
                    quote(text),
                    format_size(min)
                ),
                Ok(bytes) if bytes > max => format!(
                    "{key} {} is above the maximum of {}",
                    quote(text),
                    format_size(max)
                ),
                Ok(bytes) => return Some(bytes),
                Err(why) => format!("bad size {} for {key}: {why}", quote(text)),
            },
            DeValue::Integer(number) => format!(
                "{key} must be a size string with a unit such as {example}, found an integer {number}; add the unit, e.g. {key} = \"{number}MiB\" or \"{number}B\""
            ),
            other => format!(
                "{key} must be a size string such as {example} ({SIZE_UNITS}), found {}",
                describe(other)
            ),
        };
        self.report(value.span(), job, problem);
        None
    }

    fn cpus(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<f64> {
        let (number, shown) = match value.get_ref() {
            DeValue::Integer(n) => (
                integer(value.get_ref()).map_or(f64::INFINITY, |n| n as f64),
                n.to_string(),
            ),
            DeValue::Float(f) => (f.as_str().parse().unwrap_or(f64::NAN), f.to_string()),
            DeValue::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                self.report(
                    value.span(),
                    job,
                    format!(
                        "cpus must be a number, found a string {}; remove the quotes: cpus = {}",
                        quote(s),
                        s.trim()
                    ),
                );
                return None;
            }
            other => {
                self.report(
                    value.span(),
                    job,
                    format!(
                        "cpus must be a number of CPUs such as 0.5 or 2, found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let problem = if !number.is_finite() {
            format!("cpus must be a finite number of CPUs such as 0.5 or 2, found {shown}")
        } else if number <= 0.0 {
            format!("cpus must be greater than 0, found {shown}; remove the line for no limit")
        } else if number < MIN_CPUS {
            format!("cpus {shown} is below the minimum of {MIN_CPUS} (Docker's granularity)")
        } else if number > MAX_CPUS {
            format!("cpus {shown} is above the maximum of {MAX_CPUS}")
        } else {
            return Some(number);
        };
        self.report(value.span(), job, problem);
        None
    }

    fn pids_limit(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<i64> {
        let problem = match value.get_ref() {
            DeValue::Integer(number) => match integer(value.get_ref()) {
                Some(n) if n < 1 => format!(
                    "pids_limit must be at least 1, found {n}; remove the line for no limit"
                ),
                Some(n) => match i64::try_from(n) {
                    Ok(n) => return Some(n),
                    Err(_) => format!("pids_limit {n} is too large"),
                },
                None => format!("pids_limit {number} is too large"),
            },
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => format!(
                "pids_limit must be an integer, found a string {}; remove the quotes: pids_limit = {}",
                quote(s),
                s.trim()
            ),
            other => format!(
                "pids_limit must be an integer of 1 or more such as 100, found {}",
                describe(other)
            ),
        };
        self.report(value.span(), job, problem);
        None
    }

    fn boolean(&mut self, value: &Value<'_>, job: Option<&str>, key: &str) -> Option<bool> {
        let problem = match value.get_ref() {
            DeValue::Boolean(b) => return Some(*b),
            DeValue::String(s) if matches!(s.trim(), "true" | "false") => format!(
                "{key} must be a boolean, found a string {}; remove the quotes: {key} = {}",
                quote(s),
                s.trim()
            ),
            other => format!("{key} must be true or false, found {}", describe(other)),
        };
        self.report(value.span(), job, problem);
        None
    }

    /// A string that `rule` accepts; its error explains why not.
    fn checked_string(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        expected: &str,
        rule: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        let text = self.string(value, job, key, expected)?;
        match rule(text) {
            Ok(()) => Some(text.to_owned()),
            Err(why) => {
                self.report(
                    value.span(),
                    job,
                    format!("bad {key} {}: {why}", quote(text)),
                );
                None
            }
        }
    }

    fn tmpfs(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref() {
                DeValue::String(s) => format!("; write tmpfs = [{}]", quote(s)),
                _ => String::new(),
            };
            self.report(
                value.span(),
                job,
                format!(
                    "tmpfs must be an array of strings such as [\"/cache:size=64m\"], found {}{hint}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut mounts = Vec::with_capacity(items.len());
        let mut targets = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let DeValue::String(text) = item.get_ref() else {
                self.report(
                    item.span(),
                    job,
                    format!(
                        "tmpfs[{index}] must be a string such as \"/cache\", found {}",
                        describe(item.get_ref())
                    ),
                );
                continue;
            };
            match parse_tmpfs(text) {
                Ok(path) if !targets.insert(mount_target(path).to_owned()) => self.report(
                    item.span(),
                    job,
                    format!(
                        "tmpfs {} mounts container path {} a second time; each container path can be mounted only once",
                        quote(text),
                        quote(path)
                    ),
                ),
                // Stored with the path as compared ("/tmp/" is "/tmp"), options kept.
                Ok(path) => mounts.push(match text.split_once(':') {
                    Some((_, options)) => format!("{}:{options}", mount_target(path)),
                    None => mount_target(path).to_owned(),
                }),
                Err(why) => self.report(item.span(), job, format!("bad tmpfs {}: {why}", quote(text))),
            }
        }
        (self.reported == before).then_some(mounts)
    }

    fn capabilities(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
    ) -> Option<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref() {
                DeValue::String(s) => format!("; write {key} = [{}]", quote(s)),
                _ => String::new(),
            };
            self.report(
                value.span(),
                job,
                format!(
                    "{key} must be an array of capability names such as [\"NET_ADMIN\"], found {}{hint}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut caps: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let DeValue::String(text) = item.get_ref() else {
                self.report(
                    item.span(),
                    job,
                    format!(
                        "{key}[{index}] must be a string such as \"NET_ADMIN\", found {}",
                        describe(item.get_ref())
                    ),
                );
                continue;
            };
            match normalize_capability(text) {
                Some(cap) => {
                    if !caps.contains(&cap) {
                        caps.push(cap);
                    }
                }
                None => {
                    let upper = text.trim().to_ascii_uppercase();
                    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
                    let suggestion = closest(bare, CAPABILITIES.iter().copied())
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    self.report(
                        item.span(),
                        job,
                        format!(
                            "unknown capability {} in {key}{suggestion}; use a Linux capability name such as \"NET_ADMIN\" or \"SYS_TIME\" (with or without \"CAP_\", in any case), or \"ALL\"",
                            quote(text)
                        ),
                    );
                }
            }
        }
        (self.reported == before).then_some(caps)
    }

    fn labels(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<BTreeMap<String, String>> {
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                value.span(),
                job,
                format!(
                    "labels must be a table of strings such as {{ \"com.example.team\" = \"ops\" }}, found {}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut labels = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if name.is_empty() || name.chars().any(char::is_control) {
                self.report(
                    key.span(),
                    job,
                    format!(
                        "invalid label name {}: it must be non-empty, without control characters",
                        quote(name)
                    ),
                );
            } else if name.to_ascii_lowercase().starts_with(RESERVED_LABEL_PREFIX) {
                self.report(
                    key.span(),
                    job,
                    format!(
                        "label {} starts with \"{RESERVED_LABEL_PREFIX}\", which is reserved for cronbox's own labels; use another prefix such as \"com.example.\"",
                        quote(name)
                    ),
                );
            }
            match value.get_ref() {
                DeValue::String(s) if s.contains('\0') => self.report(
                    value.span(),
                    job,
                    format!("labels.{} contains a NUL character", toml_key(name)),
                ),
                DeValue::String(s) => {
                    labels.insert(name.to_owned(), s.to_string());
                }
                DeValue::Table(_) => self.report(
                    value.span(),
                    job,
                    format!(
                        "labels.{} must be a string, found a table; a label name with dots must be quoted: labels = {{ {} = \"...\" }}",
                        toml_key(name),
                        quote(&format!("{name}.x"))
                    ),
                ),
                other => {
                    let hint = match other {
                        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {
                            format!("; quote it: \"{}\"", other_to_text(other))
                        }
                        _ => String::new(),
                    };
                    self.report(
                        value.span(),
                        job,
                        format!(
                            "labels.{} must be a string, found {}{hint}",
                            toml_key(name),
                            describe(other)
                        ),
                    );
                }
            }
        }
        (self.reported == before).then_some(labels)
    }

    /// A host file path (`env_file`, a secret), resolved against the config directory.
    fn host_file(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        expected: &str,
    ) -> Option<PathBuf> {
        let text = self.string(value, job, key, expected)?;
        let problem = if text.trim().is_empty() {
            format!("{key} must not be empty; give a file path, or remove the line")
        } else if text.starts_with('~') {
            // Not quoted: an env_file or secret path may be a pasted secret.
            format!("{key} path starts with \"~\", which is not expanded; write the full path")
        } else if text.contains('\0') {
            format!("{key} path contains a NUL character")
        } else {
            return Some(self.resolve(text));
        };
        self.report(value.span(), job, problem);
        None
    }

    fn secrets(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
    ) -> Option<BTreeMap<String, PathBuf>> {
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                value.span(),
                job,
                format!(
                    "secrets must be a table of NAME = \"host file\" such as {{ db_password = \"/etc/cronbox/db_password\" }}, found {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.reported;
        let mut secrets = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if let Err(why) = check_secret_name(name) {
                self.report(
                    key.span(),
                    job,
                    format!("invalid secret name {}: {why}", quote(name)),
                );
            }
            let setting = format!("secrets.{}", toml_key(name));
            if let Some(path) = self.host_file(
                value,
                job,
                &setting,
                "a string with the path of a file on the host such as \"/etc/cronbox/db_password\"",
            ) {
                secrets.insert(name.to_owned(), path);
            }
        }
        (self.reported == before).then_some(secrets)
    }
}

/// The integer in `value`, if it is one (any radix).
fn integer(value: &DeValue<'_>) -> Option<i128> {
    match value {
        DeValue::Integer(number) => i128::from_str_radix(number.as_str(), number.radix()).ok(),
        _ => None,
    }
}
/// Parses a `HOST:CONTAINER[:ro|:rw]` bind; the error is the whole message.
fn parse_volume(text: &str) -> Result<Volume, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, mode) = match parts[..] {
        [host, container] => (host, container, None),
        [host, container, mode] => (host, container, Some(mode)),
        [_] => {
            return Err(format!(
                "bad volume {}: missing \":\" between the host and container paths; {VOLUME_EXAMPLES}",
                quote(text)
            ));
        }
        _ => {
            return Err(format!(
                "bad volume {}: too many \":\"; {VOLUME_EXAMPLES}",
                quote(text)
            ));
        }
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(mode) => {
            return Err(format!(
                "bad volume {}: unknown mode {}; the mode must be \"ro\" (read-only) or \"rw\" (read-write, the default)",
                quote(text),
                quote(mode)
            ));
        }
    };
    for (which, path) in [("host", host), ("container", container)] {
        if path.is_empty() {
            return Err(format!(
                "bad volume {}: the {which} path is empty; {VOLUME_EXAMPLES}",
                quote(text)
            ));
        }
        if !path.starts_with('/') {
            let extra = if which == "host" {
                " (named Docker volumes are not supported: give a host directory)"
            } else {
                ""
            };
            return Err(format!(
                "bad volume {}: the {which} path {} is not absolute; it must start with \"/\"{extra}",
                quote(text),
                quote(path)
            ));
        }
    }
    if container.trim_end_matches('/').is_empty() {
        return Err(format!(
            "bad volume {}: cannot mount over the container's root \"/\"; choose a directory such as \"/data\"",
            quote(text)
        ));
    }
    Ok(Volume {
        host: PathBuf::from(host),
        container: PathBuf::from(container),
        read_only,
    })
}

fn bad_name_message(name: &str) -> String {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let why = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.chars().count() > MAX_JOB_NAME_LEN {
        format!("it is longer than {MAX_JOB_NAME_LEN} characters")
    } else if !name.chars().all(allowed) {
        "it may only contain lowercase letters, digits, \"-\" and \"_\"".to_owned()
    } else {
        "it must start with a lowercase letter or a digit".to_owned()
    };
    let suggestion = suggest_job_name(name)
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default();
    format!(
        "invalid job name: {why}{suggestion}; job names match [a-z0-9][a-z0-9_-]* and have at most {MAX_JOB_NAME_LEN} characters"
    )
}

fn suggest_job_name(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let mut suggestion: String = mapped
        .trim_start_matches(['-', '_'])
        .chars()
        .take(MAX_JOB_NAME_LEN)
        .collect();
    while suggestion.ends_with('-') {
        suggestion.pop();
    }
    (is_valid_job_name(&suggestion) && suggestion != name).then_some(suggestion)
}

/// A value's type, with the value itself when it is short, for "found ..." messages.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("a string {}", quote(s)),
        DeValue::Integer(n) => format!("an integer {n}"),
        DeValue::Float(n) => format!("a float {n}"),
        DeValue::Boolean(b) => format!("a boolean {b}"),
        DeValue::Datetime(d) => format!("a datetime {d}"),
        DeValue::Array(_) | DeValue::Table(_) => kind(value).to_owned(),
    }
}

/// A value's type alone, for "found ..." messages about a value that may be a secret.
fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Whether the setting `key` (such as "env_file" or "secrets.db") holds values that
/// may be secrets, which messages never show: `env`, `env_file`, `secrets`.
fn is_secret_key(key: &str) -> bool {
    matches!(key.split('.').next(), Some("env" | "env_file" | "secrets"))
}

fn other_to_text(value: &DeValue<'_>) -> String {
    match value {
        DeValue::Integer(n) => n.to_string(),
        DeValue::Float(n) => n.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => String::new(),
    }
}

/// The candidate closest to `word` (case-insensitive), if it is a plausible typo.
fn closest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    if word.len() > 64 {
        return None;
    }
    let word = word.to_ascii_lowercase();
    candidates
        .map(|candidate| {
            (
                edit_distance(&word, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|&(distance, candidate)| distance <= 2 && distance < candidate.len())
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// The zone name `name` was probably meant to be (case, a bare city, a typo).
pub(super) fn timezone_suggestion(name: &str) -> Option<&'static str> {
    let wanted = name.trim().replace(' ', "_");
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    names()
        .find(|n| n.eq_ignore_ascii_case(&wanted))
        .or_else(|| {
            names().find(|n| {
                !wanted.contains('/')
                    && n.rsplit('/')
                        .next()
                        .is_some_and(|city| city.eq_ignore_ascii_case(&wanted))
            })
        })
        .or_else(|| closest(&wanted, names()))
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}
