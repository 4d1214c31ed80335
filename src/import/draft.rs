//! A job being imported: its settings, each with the source line it came
//! from, checked one by one with cronbox's own validation (so the result is a
//! file `cronbox check` accepts), then written as a `[jobs.NAME]` table.

use std::path::Path;

use chrono_tz::Tz;

use super::Skipped;
use crate::config::{self, Environment, ZoneSource};

/// A value of a setting.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Strs(Vec<String>),
    Bool(bool),
    Float(f64),
    /// One variable of `env`; the variables of a job are written together.
    Env(String, String),
    /// One entry of `volumes`; written together.
    Volume(String),
}

/// One setting and the line of the source it comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Setting {
    pub key: &'static str,
    pub value: Value,
    pub line: usize,
}

/// A job as the source describes it, before checking.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    /// The name wanted (made valid and unique when written).
    pub name: String,
    /// Where the job starts in the source (a section header, a crontab line).
    pub line: usize,
    /// Comment lines above the table: where it comes from, what changed.
    pub comments: Vec<String>,
    pub settings: Vec<Setting>,
}

impl Draft {
    pub(crate) fn new(name: &str, line: usize, origin: String) -> Draft {
        Draft {
            name: name.to_owned(),
            line,
            comments: vec![origin],
            settings: Vec::new(),
        }
    }

    /// Add a setting; one of a key already set replaces it (the later line
    /// wins), except the entries of `env` and `volumes`, which add up.
    pub(crate) fn set(&mut self, key: &'static str, value: Value, line: usize) {
        if !matches!(value, Value::Env(..) | Value::Volume(_)) {
            self.settings.retain(|s| s.key != key);
        }
        self.settings.push(Setting { key, value, line });
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.settings.iter().any(|s| s.key == key)
    }
}

/// Keep the settings cronbox accepts: each is checked alone (a setting
/// refused is reported at its line and left out), then the job as a whole (a
/// job refused is reported at its first line and left out). `None` when the
/// job is left out.
pub(crate) fn checked(mut draft: Draft, skipped: &mut Vec<Skipped>) -> Option<Draft> {
    let essential = ["schedule", "image"];
    let mut kept = Vec::new();
    for setting in std::mem::take(&mut draft.settings) {
        match problems(&table(std::slice::from_ref(&setting))) {
            None => kept.push(setting),
            Some(why) if essential.contains(&setting.key) => {
                skipped.push(Skipped::new(
                    draft.line,
                    format!("job {:?} not imported: {}: {why}", draft.name, setting.key),
                ));
                return None;
            }
            Some(why) => skipped.push(Skipped::new(
                setting.line,
                format!("{}: {why}", setting.key),
            )),
        }
    }
    draft.settings = kept;
    if let Some(why) = problems(&table(&draft.settings)) {
        skipped.push(Skipped::new(
            draft.line,
            format!("job {:?} not imported: {why}", draft.name),
        ));
        return None;
    }
    Some(draft)
}

/// What cronbox's validation says of a job with these settings (a daily
/// busybox job where they say nothing of schedule or image); `None`: valid.
fn problems(settings: &str) -> Option<String> {
    let mut text = String::from("[jobs.x]\n");
    if !settings.lines().any(|l| l.starts_with("schedule = ")) {
        text.push_str("schedule = \"@daily\"\n");
    }
    if !settings.lines().any(|l| l.starts_with("image = ")) {
        text.push_str("image = \"busybox\"\n");
    }
    text.push_str(settings);
    match config::parse(Path::new("imported.toml"), &text, &validation_env()) {
        Ok(_) => None,
        Err(error) => {
            let messages: Vec<String> = error.problems.iter().map(|p| p.message.clone()).collect();
            Some(messages.join("; "))
        }
    }
}

/// What the checks assume of the machine: UTC as the default zone (every
/// zone a job names is its own), one CPU.
pub(crate) fn validation_env() -> Environment {
    Environment {
        state_directory: None,
        local_timezone: Tz::UTC,
        local_timezone_source: ZoneSource::Tz("UTC".to_owned()),
        cpus: 1,
    }
}

/// Panics unless cronbox's validation accepts `toml` as a whole file.
#[cfg(test)]
pub(crate) fn assert_valid(toml: &str) {
    if let Err(e) = config::parse(Path::new("imported.toml"), toml, &validation_env()) {
        panic!("{e}\n{toml}");
    }
}

/// The settings as the body of a `[jobs.NAME]` table: one line each, `env`
/// and `volumes` gathered where their first entry is (a later variable of
/// the same name wins).
pub(crate) fn table(settings: &[Setting]) -> String {
    let mut out = String::new();
    let mut env_done = false;
    let mut volumes_done = false;
    for setting in settings {
        match &setting.value {
            Value::Env(..) if !env_done => {
                env_done = true;
                let mut vars: Vec<(&str, &str)> = Vec::new();
                for s in settings {
                    if let Value::Env(k, v) = &s.value {
                        vars.retain(|(name, _)| name != k);
                        vars.push((k, v));
                    }
                }
                let vars: Vec<String> = vars
                    .iter()
                    .map(|(k, v)| format!("{} = {}", key(k), string(v)))
                    .collect();
                out.push_str(&format!("env = {{ {} }}\n", vars.join(", ")));
            }
            Value::Volume(_) if !volumes_done => {
                volumes_done = true;
                let all: Vec<String> = settings
                    .iter()
                    .filter_map(|s| match &s.value {
                        Value::Volume(v) => Some(string(v)),
                        _ => None,
                    })
                    .collect();
                out.push_str(&format!("volumes = [{}]\n", all.join(", ")));
            }
            Value::Env(..) | Value::Volume(_) => {}
            Value::Str(text) => out.push_str(&format!("{} = {}\n", setting.key, string(text))),
            Value::Strs(items) => {
                let items: Vec<String> = items.iter().map(|i| string(i)).collect();
                out.push_str(&format!("{} = [{}]\n", setting.key, items.join(", ")));
            }
            Value::Bool(b) => out.push_str(&format!("{} = {b}\n", setting.key)),
            Value::Float(f) => {
                out.push_str(&format!("{} = {}\n", setting.key, toml::Value::Float(*f)))
            }
        }
    }
    out
}

/// A TOML string.
pub(crate) fn string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML key: bare when it can be, else a quoted single-line string.
pub(crate) fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        return name.to_owned();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `hint` as a cronbox job name (`[a-z0-9][a-z0-9_-]*`, at most 63
/// characters), different from every name in `taken` (`-2`, `-3`, ... added).
pub(crate) fn job_name(hint: &str, taken: &[String]) -> String {
    let mut base = String::new();
    for c in hint.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (base.is_empty() || base.ends_with('-'))) {
            base.push(c);
        }
    }
    let mut base: String = base
        .trim_start_matches(['-', '_'])
        .chars()
        .take(56)
        .collect();
    base = base.trim_end_matches('-').to_owned();
    if base.is_empty() {
        base = "job".to_owned();
    }
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let taken = vec!["backup".to_owned(), "backup-2".to_owned()];
        let cases = [
            ("Backup", "backup-3"),
            ("my job!", "my-job"),
            ("--x--", "x"),
            ("_x", "x"),
            ("!!!", "job"),
            ("a.b/c:d", "a-b-c-d"),
        ];
        for (hint, want) in cases {
            let got = job_name(hint, &taken);
            assert_eq!(got, want, "{hint}");
            assert!(config::is_valid_job_name(&got), "{got}");
        }
        assert_eq!(job_name(&"x".repeat(80), &[]).len(), 56);
    }

    #[test]
    fn settings_cronbox_refuses_are_left_out_at_their_line() {
        let mut draft = Draft::new("x", 1, "from test".to_owned());
        draft.set("schedule", Value::Str("30 4 * * *".to_owned()), 2);
        draft.set("image", Value::Str("alpine".to_owned()), 3);
        draft.set("memory", Value::Str("lots".to_owned()), 4);
        draft.set("env", Value::Env("A".to_owned(), "1".to_owned()), 5);
        draft.set("env", Value::Env("A".to_owned(), "2".to_owned()), 6);
        draft.set("volumes", Value::Volume("relative:/x".to_owned()), 7);
        let mut skipped = Vec::new();
        let kept = checked(draft, &mut skipped).expect("job kept");
        let lines: Vec<usize> = skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [4, 7], "{skipped:?}");
        assert!(skipped[0].reason.starts_with("memory: "), "{skipped:?}");
        assert_eq!(
            table(&kept.settings),
            "schedule = \"30 4 * * *\"\nimage = \"alpine\"\nenv = { A = \"2\" }\n"
        );
    }

    #[test]
    fn a_job_without_a_valid_schedule_is_left_out_at_its_first_line() {
        let mut draft = Draft::new("x", 9, "from test".to_owned());
        draft.set("schedule", Value::Str("61 * * * *".to_owned()), 10);
        draft.set("image", Value::Str("alpine".to_owned()), 11);
        let mut skipped = Vec::new();
        assert!(checked(draft, &mut skipped).is_none());
        assert_eq!(skipped[0].line, 9);
        assert!(
            skipped[0]
                .reason
                .contains("job \"x\" not imported: schedule: "),
            "{skipped:?}"
        );
    }

    #[test]
    fn keys_are_quoted_when_they_must_be() {
        assert_eq!(key("PGUSER"), "PGUSER");
        assert_eq!(key("A B"), "\"A B\"");
        assert_eq!(key("a\"\n"), "\"a\\\"\\u000A\"");
    }
}
