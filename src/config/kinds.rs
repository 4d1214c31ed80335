//! Checking one value by its key's [`Kind`]: [`Checker::value`] turns a TOML value
//! into a [`Parsed`] one, or reports why not, at the value, with what to write
//! instead. This file has the scalar kinds; `lists.rs` the arrays and tables.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use toml::de::DeValue;

use super::checker::{Checker, Value, describe, did_you_mean, integer};
use super::error::quote;
use super::schema::{self, Choice, Default, DurationRule, Integer, Key, Kind, SizeRule, TextRule};
use super::suggest::{closest, timezone_suggestion};
use super::values::{SIZE_UNITS, format_size, normalize_signal, parse_size, signal_names};
use super::{Volume, schema::Bound};
use crate::schedule::{Schedule, parse_duration};

const DURATION_EXAMPLES: &str = "\"10s\", \"5m\" or \"1h30m\"";
const SIGNAL_RULE: &str = "use a Linux signal name such as \"SIGTERM\", \"SIGINT\", \"SIGQUIT\", \"SIGHUP\", \"SIGUSR1\" or \"SIGRTMIN+3\" (with or without \"SIG\", in any case), or a number from 1 to 64 other than 32 and 33";

/// A checked value, of the shape its kind gives.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Parsed {
    Bool(bool),
    Int(i128),
    Float(f64),
    /// An image, a checked string, a normalised signal.
    Text(String),
    /// One of a [`Kind::Choice`]'s values.
    Choice(&'static str),
    Path(PathBuf),
    Zone(Tz),
    Duration(Duration),
    Size(u64),
    /// An argv, tmpfs mounts, capabilities (normalised).
    List(Vec<String>),
    Volumes(Vec<Volume>),
    Codes(Vec<i64>),
    /// `env`, `labels`.
    Map(BTreeMap<String, String>),
    /// `secrets`: name to resolved host path.
    Files(BTreeMap<String, PathBuf>),
    /// `after`: the parents and the ends that start the job.
    After(Vec<super::After>),
    /// `on_file`.
    OnFile(super::OnFile),
    /// `after_success`, `after_failure`.
    FileAction(super::FileAction),
}

impl Parsed {
    /// The value a key takes when nothing sets it, if it has one of its own.
    pub(super) fn default_of(key: &Key) -> Option<Parsed> {
        Some(match key.default {
            Default::Required { .. } | Default::Computed(_) | Default::Unset(_) => return None,
            Default::Bool(b) => Parsed::Bool(b),
            Default::Int(n) => Parsed::Int(n),
            Default::Duration(d) => Parsed::Duration(d),
            Default::Size(n) => Parsed::Size(n),
            Default::Str(s) if matches!(key.kind, Kind::Choice(_)) => Parsed::Choice(s),
            Default::Str(s) => Parsed::Text(s.to_owned()),
            Default::Ints(codes) => Parsed::Codes(codes.to_vec()),
            Default::Strs(items) => Parsed::List(items.iter().map(|s| (*s).to_owned()).collect()),
            Default::Empty => match key.kind {
                Kind::Volumes => Parsed::Volumes(Vec::new()),
                Kind::ExitCodes { .. } => Parsed::Codes(Vec::new()),
                Kind::Env | Kind::Labels => Parsed::Map(BTreeMap::new()),
                Kind::Secrets => Parsed::Files(BTreeMap::new()),
                // Argv-like lists, tmpfs, capabilities, params.
                _ => Parsed::List(Vec::new()),
            },
        })
    }
}

/// Takes the value out of a [`Parsed`] of the variant `$variant`.
macro_rules! into {
    ($($name:ident: $variant:ident -> $t:ty;)*) => {
        impl Parsed {
            $(
                pub(super) fn $name(self) -> Option<$t> {
                    match self {
                        Parsed::$variant(value) => Some(value),
                        _ => None,
                    }
                }
            )*
        }
    };
}

into! {
    into_bool: Bool -> bool;
    into_int: Int -> i128;
    into_float: Float -> f64;
    into_text: Text -> String;
    into_choice: Choice -> &'static str;
    into_path: Path -> PathBuf;
    into_zone: Zone -> Tz;
    into_duration: Duration -> Duration;
    into_size: Size -> u64;
    into_list: List -> Vec<String>;
    into_volumes: Volumes -> Vec<Volume>;
    into_codes: Codes -> Vec<i64>;
    into_map: Map -> BTreeMap<String, String>;
    into_files: Files -> BTreeMap<String, PathBuf>;
    into_after: After -> Vec<super::After>;
    into_on_file: OnFile -> super::OnFile;
    into_file_action: FileAction -> super::FileAction;
}

impl Parsed {
    pub(super) fn as_duration(&self) -> Option<Duration> {
        match self {
            Parsed::Duration(duration) => Some(*duration),
            _ => None,
        }
    }

    pub(super) fn as_list(&self) -> Option<&[String]> {
        match self {
            Parsed::List(list) => Some(list),
            _ => None,
        }
    }

    pub(super) fn as_codes(&self) -> Option<&[i64]> {
        match self {
            Parsed::Codes(codes) => Some(codes),
            _ => None,
        }
    }
}

impl Checker<'_> {
    /// Checks `value` as the value of `key` (not a schedule, which needs the job's
    /// zone: see [`Checker::schedule`]).
    pub(super) fn value(
        &mut self,
        key: &Key,
        value: &Value<'_>,
        job: Option<&str>,
    ) -> Option<Parsed> {
        self.value_named(key, key.name, value, job)
    }

    /// [`Checker::value`], with messages naming the key `name` (`on_file.dir`
    /// for a key of an inline table).
    pub(super) fn value_named(
        &mut self,
        key: &Key,
        name: &str,
        value: &Value<'_>,
        job: Option<&str>,
    ) -> Option<Parsed> {
        match key.kind {
            Kind::Path { example } => {
                let has_default = matches!(key.default, Default::Computed(_));
                self.host_file(value, job, name, example, has_default)
                    .map(Parsed::Path)
            }
            Kind::Zone => self.zone(value, job).map(Parsed::Zone),
            // The walk reads a schedule in the job's zone; alone, it is a string.
            Kind::Schedule => self
                .string(value, job, name, "a string")
                .map(|text| Parsed::Text(text.to_owned())),
            Kind::Image => self.image(value, job).map(Parsed::Text),
            Kind::Text(rule) => self.text(value, job, name, rule).map(Parsed::Text),
            Kind::Integer(rule) => self.integer(value, job, name, rule).map(Parsed::Int),
            Kind::Cpus { min, max } => self.cpus(value, job, (min, max)).map(Parsed::Float),
            Kind::Bool => self.boolean(value, job, name).map(Parsed::Bool),
            Kind::Choice(choice) => self.choice(value, job, key, choice).map(Parsed::Choice),
            Kind::Duration(rule) => self.duration(value, job, name, rule).map(Parsed::Duration),
            Kind::Size(rule) => self.size(value, job, name, rule).map(Parsed::Size),
            Kind::Signal => self.signal(value, job).map(Parsed::Text),
            _ => self.collection(key, value, job),
        }
    }

    /// A host file path (`database`, `env_file`, a secret), resolved against the
    /// config directory. Quoted in messages unless it may be a secret.
    pub(super) fn host_file(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        expected: &str,
        has_default: bool,
    ) -> Option<PathBuf> {
        let text = self.string(value, job, key, expected)?;
        // Not quoted when secret: an env_file or secret path may be a pasted secret.
        let shown = if schema::is_secret(key.split('.').next().unwrap_or(key)) {
            String::new()
        } else {
            format!(" {}", quote(text))
        };
        let problem = if text.trim().is_empty() {
            let default = if has_default {
                " to use the default"
            } else {
                ""
            };
            format!("{key} must not be empty; give a file path, or remove the line{default}")
        } else if text.starts_with('~') {
            format!(
                "{key} path{shown} starts with \"~\", which is not expanded; write the full path"
            )
        } else if text.contains('\0') {
            format!("{key} path contains a NUL character")
        } else {
            return Some(self.resolve(text));
        };
        self.report(value.span(), job, problem);
        None
    }

    pub(super) fn zone(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Tz> {
        let name = self.string(
            value,
            job,
            "timezone",
            "a string with an IANA time zone name such as \"Europe/Paris\"",
        )?;
        if let Ok(tz) = name.parse::<Tz>() {
            return Some(tz);
        }
        let suggestion = did_you_mean(timezone_suggestion(name));
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

    /// A schedule, read in `tz`; its syntax is `crate::schedule`'s.
    pub(super) fn schedule(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        tz: Tz,
    ) -> Option<Schedule> {
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

    /// A string that `rule` accepts; its error explains why not.
    fn text(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        rule: TextRule,
    ) -> Option<String> {
        let text = self.string(value, job, key, rule.expected)?;
        match (rule.check)(text) {
            Ok(()) => Some(text.to_owned()),
            Err(why) => {
                // A secret's value (a URL with a token) is not repeated.
                let shown = if schema::is_secret(key) {
                    String::new()
                } else {
                    format!(" {}", quote(text))
                };
                self.report(value.span(), job, format!("bad {key}{shown}: {why}"));
                None
            }
        }
    }

    fn integer(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        rule: Integer,
    ) -> Option<i128> {
        let problem = match value.get_ref() {
            DeValue::Integer(number) => match integer(value.get_ref()) {
                Some(n) if n < rule.min && rule.min == 0 => {
                    format!("{key} must be 0 or more, found {n}; {}", rule.below_min)
                }
                Some(n) if n < rule.min => format!(
                    "{key} must be at least {}, found {n}; {}",
                    rule.min, rule.below_min
                ),
                Some(n) if n <= rule.max => return Some(n),
                Some(n) => format!("{key} {n} is too large; the most is {}", rule.max),
                None => format!("{key} {number} is too large; the most is {}", rule.max),
            },
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => format!(
                "{key} must be an integer, found a string {}; remove the quotes: {key} = {}",
                quote(s),
                s.trim()
            ),
            other => format!(
                "{key} must be an integer of {} or more such as {}, found {}",
                rule.min,
                rule.example,
                describe(other)
            ),
        };
        self.report(value.span(), job, problem);
        None
    }

    fn cpus(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        (min, max): (f64, f64),
    ) -> Option<f64> {
        let (number, shown) = match value.get_ref() {
            DeValue::Integer(n) => (
                integer(value.get_ref()).map_or(f64::INFINITY, |n| n as f64),
                n.to_string(),
            ),
            DeValue::Float(f) => (f.as_str().parse().unwrap_or(f64::NAN), f.to_string()),
            DeValue::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                let message = format!(
                    "cpus must be a number, found a string {}; remove the quotes: cpus = {}",
                    quote(s),
                    s.trim()
                );
                self.report(value.span(), job, message);
                return None;
            }
            other => {
                let message = format!(
                    "cpus must be a number of CPUs such as 0.5 or 2, found {}",
                    describe(other)
                );
                self.report(value.span(), job, message);
                return None;
            }
        };
        let problem = if !number.is_finite() {
            format!("cpus must be a finite number of CPUs such as 0.5 or 2, found {shown}")
        } else if number <= 0.0 {
            format!("cpus must be greater than 0, found {shown}; remove the line for no limit")
        } else if number < min {
            format!("cpus {shown} is below the minimum of {min} (Docker's granularity)")
        } else if number > max {
            format!("cpus {shown} is above the maximum of {max}")
        } else {
            return Some(number);
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

    /// One of `choice`'s values; a message lists them all with their meanings.
    fn choice(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &Key,
        choice: Choice,
    ) -> Option<&'static str> {
        let name = self.string(value, job, key.name, &expected_choice(choice))?;
        if let Some(&(known, _)) = choice.values.iter().find(|&&(v, _)| v == name) {
            return Some(known);
        }
        let listed: Vec<String> = choice
            .values
            .iter()
            .map(|&(v, doc)| {
                let default = if key.default == Default::Str(v) {
                    ", the default"
                } else {
                    ""
                };
                match (doc, default) {
                    ("", "") => v.to_owned(),
                    ("", _) => format!("{v} (the default)"),
                    _ => format!("{v} ({doc}{default})"),
                }
            })
            .collect();
        self.report(
            value.span(),
            job,
            format!(
                "unknown {} {}; expected one of: {}",
                choice.noun,
                quote(name),
                listed.join(", ")
            ),
        );
        None
    }

    fn duration(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        rule: DurationRule,
    ) -> Option<Duration> {
        let text = match value.get_ref() {
            DeValue::String(text) => text,
            DeValue::Integer(number) => {
                let message = format!(
                    "{key} must be a duration string such as {DURATION_EXAMPLES}, found an integer {number}; add a unit: {key} = \"{number}s\""
                );
                self.report(value.span(), job, message);
                return None;
            }
            other => {
                let message = format!(
                    "{key} must be a duration string such as {DURATION_EXAMPLES}, found {}",
                    describe(other)
                );
                self.report(value.span(), job, message);
                return None;
            }
        };
        let problem = match parse_duration(text) {
            Ok(duration) => match duration_problem(duration, rule) {
                None => return Some(duration),
                Some(why) => format!("{key} {} {why}", quote(text)),
            },
            Err(err) => format!("bad duration {} for {key}: {err}", quote(text)),
        };
        self.report(value.span(), job, problem);
        None
    }

    /// A size string from `rule.min` to `rule.max` bytes.
    fn size(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        rule: SizeRule,
    ) -> Option<u64> {
        let example = rule.example;
        let problem = match value.get_ref() {
            DeValue::String(text) => match parse_size(text) {
                Ok(bytes) if bytes < rule.min.value => format!(
                    "{key} {} is below the minimum of {}{}",
                    quote(text),
                    rule.min.shown,
                    rule.min.why
                ),
                Ok(bytes) if bytes > rule.max => format!(
                    "{key} {} is above the maximum of {}",
                    quote(text),
                    format_size(rule.max)
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

    fn signal(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<String> {
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
}

/// "one of the strings "a", "b" or "c"".
fn expected_choice(choice: Choice) -> String {
    let quoted: Vec<String> = choice
        .values
        .iter()
        .map(|(v, _)| format!("\"{v}\""))
        .collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("one of the strings {} or {last}", rest.join(", "))
        }
        _ => format!("the string {}", quoted.join("")),
    }
}

/// Why `duration` breaks `rule` (after the key and the value in a message), if it does.
fn duration_problem(duration: Duration, rule: DurationRule) -> Option<String> {
    let beyond =
        |bound: Bound<Duration>, what: &str| format!("is {what} than {}{}", bound.shown, bound.why);
    if let Some(min) = rule.min.filter(|min| duration < min.value) {
        return Some(beyond(min, "shorter"));
    }
    if let Some(why) = rule.whole_seconds.filter(|_| duration.subsec_nanos() != 0) {
        return Some(format!(
            "is not a whole number of seconds{why}; write e.g. \"{}s\"",
            duration.as_secs() + 1
        ));
    }
    rule.max
        .filter(|max| duration > max.value)
        .map(|max| beyond(max, "longer"))
}
