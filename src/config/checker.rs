//! [`Checker`]: what the walk over the file carries (the text's lines, the problems
//! found so far, whether they are being recorded), and the small helpers every
//! check shares: reporting at a span, the type of a value for "found ..." messages,
//! the "unknown key" message with its suggestion.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeString, DeValue};

use super::error::{Lines, Location, Problem, quote};
use super::schema;
use super::suggest::closest;

pub(super) type Key<'i> = Spanned<DeString<'i>>;
pub(super) type Value<'i> = Spanned<DeValue<'i>>;

pub(super) struct Checker<'t> {
    lines: Lines<'t>,
    /// The config file's directory, against which relative paths resolve.
    config_dir: PathBuf,
    pub(super) problems: Vec<Problem>,
    /// Every problem found, including those not recorded while `muted`.
    pub(super) reported: usize,
    /// While set, problems are counted but not recorded (inherited `[defaults]` values).
    pub(super) muted: bool,
    /// Why there is no default zone (`TZ` names none cronbox can use and
    /// `[daemon] timezone` is unset): a job without a zone of its own is refused.
    pub(super) no_default_zone: Option<String>,
    /// The answers of [`crate::schedule::Schedule::gap_shorter_than`] so far, by
    /// (expression, zone, limit): jobs sharing a schedule and a `random_delay`
    /// (from `[defaults]`) look at a year of its ticks once.
    pub(super) gaps: std::collections::HashMap<
        (String, chrono_tz::Tz, std::time::Duration),
        Option<std::time::Duration>,
    >,
    /// The names of the `[notify.NAME]` channels, read before the jobs that name them.
    pub(super) channels: Vec<String>,
    /// Those of kind `healthchecks` (for the jobs' `healthchecks`).
    pub(super) ping_channels: Vec<String>,
    /// The names of every `[jobs.NAME]` table, read before the jobs (for `after`).
    pub(super) job_names: Vec<String>,
    /// The same names, to look one up in constant time.
    pub(super) job_name_set: std::collections::HashSet<String>,
}

impl<'t> Checker<'t> {
    pub(super) fn new(lines: Lines<'t>, path: &Path) -> Checker<'t> {
        Checker {
            lines,
            config_dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            problems: Vec::new(),
            reported: 0,
            muted: false,
            no_default_zone: None,
            gaps: std::collections::HashMap::new(),
            channels: Vec::new(),
            ping_channels: Vec::new(),
            job_names: Vec::new(),
            job_name_set: std::collections::HashSet::new(),
        }
    }

    pub(super) fn locate(&self, offset: usize) -> Location {
        self.lines.locate(offset)
    }

    pub(super) fn report(
        &mut self,
        span: Range<usize>,
        job: Option<&str>,
        message: impl Into<String>,
    ) {
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
    pub(super) fn resolve(&self, text: &str) -> PathBuf {
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.config_dir.join(path)
        }
    }

    /// "`what` "NAME"`place` (did you mean ...?); expected one of: ...`hint`".
    pub(super) fn unknown_key(
        &mut self,
        key: &Key<'_>,
        job: Option<&str>,
        (what, place): (&str, &str),
        expected: &[&str],
        hint: &str,
    ) {
        let name: &str = key.get_ref();
        let suggestion = did_you_mean(closest(name, expected.iter().copied()));
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
    pub(super) fn string<'v>(
        &mut self,
        value: &'v Value<'_>,
        job: Option<&str>,
        key: &str,
        expected: &str,
    ) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                let found = if is_secret_setting(key) {
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

    /// Runs `check` with problems counted but not recorded when `muted` (a value
    /// inherited from `[defaults]`, reported once there), and then without the
    /// job's name: the value is not the job's.
    pub(super) fn muted_if<T>(
        &mut self,
        muted: bool,
        job: Option<&str>,
        check: impl FnOnce(&mut Self, Option<&str>) -> T,
    ) -> T {
        let was = self.muted;
        self.muted |= muted;
        let result = check(self, if muted { None } else { job });
        self.muted = was;
        result
    }
}

/// " (did you mean "NAME"?)" for a suggestion, else nothing.
pub(super) fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default()
}

/// The integer in `value`, if it is one (any radix).
pub(super) fn integer(value: &DeValue<'_>) -> Option<i128> {
    match value {
        DeValue::Integer(number) => i128::from_str_radix(number.as_str(), number.radix()).ok(),
        _ => None,
    }
}

/// A value's type, with the value itself when it is short, for "found ..." messages.
pub(super) fn describe(value: &DeValue<'_>) -> String {
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
pub(super) fn kind(value: &DeValue<'_>) -> &'static str {
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

/// A scalar as written (for "quote it" hints); empty for arrays and tables.
pub(super) fn scalar_text(value: &DeValue<'_>) -> String {
    match value {
        DeValue::Integer(n) => n.to_string(),
        DeValue::Float(n) => n.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => String::new(),
    }
}

/// Whether the setting `key` (such as "env_file" or "secrets.db") holds values that
/// may be secrets, which messages never show (see [`schema::Key::secret`]).
fn is_secret_setting(key: &str) -> bool {
    key.split('.').next().is_some_and(schema::is_secret)
}
