//! Walks the spanned TOML tree key by key and collects every problem, each placed at
//! the key or value it concerns.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::error::{Location, Problem, snippet};
use super::{
    Config, DEFAULT_BACKOFF, DEFAULT_BACKOFF_MAX, DEFAULT_DATABASE_NAME, DEFAULT_RETRIES,
    DaemonConfig, Environment, Job, MAX_JOB_NAME_LEN, PullPolicy, Volume, is_valid_job_name,
};
use crate::schedule::{Schedule, parse_duration};

const TOP_KEYS: &[&str] = &["daemon", "jobs"];
const DAEMON_KEYS: &[&str] = &["database", "timezone"];
const JOB_KEYS: &[&str] = &[
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
];
/// Past this many TOML syntax errors the rest are summed up in one line: after a bad
/// one, the parser's recovery can report follow-on errors that are only noise.
const MAX_SYNTAX_PROBLEMS: usize = 10;
/// User text quoted in a message is cut to this many characters.
const QUOTE_MAX_CHARS: usize = 60;

const SCHEDULE_EXAMPLES: &str =
    "5 cron fields such as \"30 2 * * *\", a nickname such as \"@daily\", or \"@every 10m\"";
const DURATION_EXAMPLES: &str = "\"10s\", \"5m\" or \"1h30m\"";
const VOLUME_EXAMPLES: &str = "use \"HOST:CONTAINER\" or \"HOST:CONTAINER:ro\" with absolute paths, e.g. \"/srv/backup:/backup:ro\"";

type Key<'i> = Spanned<DeString<'i>>;
type Value<'i> = Spanned<DeValue<'i>>;

/// Parses and checks `text`; the problems come back sorted by position.
pub(super) fn validate(path: &Path, text: &str, env: &Environment) -> Result<Config, Vec<Problem>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(syntax_problems(text, &errors));
    }
    let mut checker = Checker {
        text,
        problems: Vec::new(),
    };
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

fn syntax_problems(text: &str, errors: &[toml::de::Error]) -> Vec<Problem> {
    let mut problems: Vec<Problem> = errors
        .iter()
        .map(|error| {
            let span = error.span();
            Problem {
                location: span
                    .as_ref()
                    .map(|span| Location::of_offset(text, span.start)),
                job: None,
                message: format!("TOML syntax error: {}", error.message().replace('\n', " ")),
                snippet: span.map(|span| snippet(text, span)),
            }
        })
        .collect();
    problems.sort_by_key(|problem| problem.location);
    problems.dedup_by(|a, b| a.location == b.location && a.message == b.message);
    if problems.len() > MAX_SYNTAX_PROBLEMS {
        let more = problems.len() - MAX_SYNTAX_PROBLEMS;
        problems.truncate(MAX_SYNTAX_PROBLEMS);
        problems.push(Problem {
            location: None,
            job: None,
            message: format!(
                "{more} more TOML syntax error(s) not shown; fix the ones above first"
            ),
            snippet: None,
        });
    }
    problems
}

struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, span: Range<usize>, job: Option<&str>, message: impl Into<String>) {
        self.problems.push(Problem {
            location: Some(Location::of_offset(self.text, span.start)),
            job: job.map(str::to_owned),
            message: message.into(),
            snippet: None,
        });
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
                self.report(
                    value.span(),
                    job,
                    format!("{key} must be {expected}, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn document(
        &mut self,
        path: &Path,
        root: &DeTable<'_>,
        env: &Environment,
    ) -> (DaemonConfig, Vec<Job>) {
        let mut daemon = None;
        let mut jobs = None;
        for (key, value) in root.iter() {
            match key.get_ref().as_ref() {
                "daemon" => daemon = Some((key, value)),
                "jobs" => jobs = Some((key, value)),
                other => {
                    let looks_like_job = value
                        .get_ref()
                        .as_table()
                        .is_some_and(|t| t.contains_key("image") || t.contains_key("schedule"));
                    let hint = if looks_like_job {
                        format!("; to define a job, write [jobs.{other}]")
                    } else {
                        String::new()
                    };
                    self.unknown_key(key, None, ("unknown top-level key", ""), TOP_KEYS, &hint);
                }
            }
        }
        let daemon = self.daemon(path, daemon, env);
        let jobs = self.jobs(jobs, daemon.timezone);
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
        if let Some((key, value)) = entry {
            match value.get_ref() {
                DeValue::Table(table) => {
                    for (key, value) in table.iter() {
                        match key.get_ref().as_ref() {
                            "database" => database = self.database(path, value),
                            "timezone" => timezone = self.timezone(value, None),
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
        }
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

    fn jobs(&mut self, entry: Option<(&Key<'_>, &Value<'_>)>, default_tz: Tz) -> Vec<Job> {
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
            .filter_map(|(key, value)| self.job(key, value, default_tz))
            .collect()
    }

    /// Checks one job; `None` exactly when it reported at least one problem.
    fn job(&mut self, key: &Key<'_>, value: &Value<'_>, default_tz: Tz) -> Option<Job> {
        let name: &str = key.get_ref();
        let job = Some(name);
        let before = self.problems.len();
        if !is_valid_job_name(name) {
            self.report(key.span(), job, bad_name_message(name));
        }
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                key.span(),
                job,
                format!(
                    "a job must be a table, written [jobs.{name}], found {}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };

        let mut schedule = None;
        let mut timezone = None;
        let mut image = None;
        let mut command = None;
        let mut env = None;
        let mut volumes = None;
        let mut pull = None;
        let mut retries = None;
        let mut backoff = None;
        let mut backoff_max = None;
        for (key, value) in table.iter() {
            let slot = match key.get_ref().as_ref() {
                "schedule" => &mut schedule,
                "timezone" => &mut timezone,
                "image" => &mut image,
                "command" => &mut command,
                "env" => &mut env,
                "volumes" => &mut volumes,
                "pull" => &mut pull,
                "retries" => &mut retries,
                "backoff" => &mut backoff,
                "backoff_max" => &mut backoff_max,
                _ => {
                    self.unknown_key(key, job, ("unknown key", ""), JOB_KEYS, "");
                    continue;
                }
            };
            *slot = Some(value);
        }

        let timezone = match timezone {
            Some(value) => self.timezone(value, job),
            None => Some(default_tz),
        };
        let schedule = match schedule {
            Some(value) => self.schedule(value, job, timezone.unwrap_or(default_tz)),
            None => {
                self.report(
                    key.span(),
                    job,
                    format!("missing required key \"schedule\"; add one with {SCHEDULE_EXAMPLES}"),
                );
                None
            }
        };
        let image = match image {
            Some(value) => self.image(value, job),
            None => {
                self.report(
                    key.span(),
                    job,
                    "missing required key \"image\"; add the Docker image to run, e.g. image = \"alpine:3.20\"",
                );
                None
            }
        };
        let command = match command {
            Some(value) => self.command(value, job).map(Some),
            None => Some(None),
        };
        let env = env.map_or(Some(BTreeMap::new()), |value| self.env(value, job));
        let volumes = volumes.map_or(Some(Vec::new()), |value| self.volumes(value, job));
        let pull = pull.map_or(Some(PullPolicy::default()), |value| self.pull(value, job));
        let retries = retries.map_or(Some(DEFAULT_RETRIES), |value| self.retries(value, job));
        let backoff_value = backoff;
        let backoff = backoff.map_or(Some(DEFAULT_BACKOFF), |value| {
            self.duration(value, job, "backoff")
        });
        let backoff_max_value = backoff_max;
        let backoff_max = backoff_max.map_or(Some(DEFAULT_BACKOFF_MAX), |value| {
            self.duration(value, job, "backoff_max")
        });
        if let (Some(low), Some(high)) = (backoff, backoff_max)
            && high < low
        {
            let (low_text, high_text) = (
                humantime::format_duration(low),
                humantime::format_duration(high),
            );
            if let Some(value) = backoff_max_value {
                self.report(
                    value.span(),
                    job,
                    format!(
                        "backoff_max ({high_text}) is shorter than backoff ({low_text}); backoff_max caps the retry delay and must be at least backoff"
                    ),
                );
            } else if let Some(value) = backoff_value {
                self.report(
                    value.span(),
                    job,
                    format!(
                        "backoff ({low_text}) is longer than the default backoff_max ({high_text}); shorten backoff or set backoff_max to at least {low_text}"
                    ),
                );
            }
        }

        if self.problems.len() != before {
            return None;
        }
        let job = Job {
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
        };
        Some(job)
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

    fn command(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref() {
                DeValue::String(s) if s.contains(char::is_whitespace) => format!(
                    "; no shell is involved: to run it through one write command = [\"sh\", \"-c\", {}]",
                    quote(s)
                ),
                DeValue::String(s) => format!("; write command = [{}]", quote(s)),
                _ => String::new(),
            };
            self.report(
                value.span(),
                job,
                format!(
                    "command must be an array of strings such as [\"sh\", \"-c\", \"echo hello\"], found {}{hint}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.report(
                value.span(),
                job,
                "command must not be empty; give the program and its arguments such as [\"pg_dump\", \"app\"], or remove the line to use the image's default command",
            );
            return None;
        }
        let before = self.problems.len();
        let mut command = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) if s.contains('\0') => self.report(
                    item.span(),
                    job,
                    format!("command[{index}] contains a NUL character, which cannot be passed to a program"),
                ),
                DeValue::String(s) if index == 0 && s.is_empty() => self.report(
                    item.span(),
                    job,
                    "command[0], the program to run, must not be empty",
                ),
                DeValue::String(s) => command.push(s.to_string()),
                other => self.report(
                    item.span(),
                    job,
                    format!(
                        "command[{index}] must be a string, found {}; every argument must be quoted",
                        describe(other)
                    ),
                ),
            }
        }
        (self.problems.len() == before).then_some(command)
    }

    fn env(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<BTreeMap<String, String>> {
        let DeValue::Table(table) = value.get_ref() else {
            self.report(
                value.span(),
                job,
                format!(
                    "env must be a table of strings such as {{ PGUSER = \"app\" }}, found {}",
                    describe(value.get_ref())
                ),
            );
            return None;
        };
        let before = self.problems.len();
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
                        "env.{name} contains a NUL character, which cannot be passed to a program"
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
                            let shown = other_to_text(other);
                            format!("; quote it: {name} = \"{shown}\"")
                        }
                        _ => String::new(),
                    };
                    self.report(
                        value.span(),
                        job,
                        format!(
                            "env.{name} must be a string, found {}{hint}",
                            describe(other)
                        ),
                    );
                }
            }
        }
        (self.problems.len() == before).then_some(env)
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
        let before = self.problems.len();
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
        (self.problems.len() == before).then_some(volumes)
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
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
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

/// `text` in double quotes with escapes, cut to [`QUOTE_MAX_CHARS`] characters.
fn quote(text: &str) -> String {
    if text.chars().count() > QUOTE_MAX_CHARS {
        let cut: String = text.chars().take(QUOTE_MAX_CHARS).collect();
        format!("{cut:?}...")
    } else {
        format!("{text:?}")
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

fn timezone_suggestion(name: &str) -> Option<&'static str> {
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
