//! File arrival in the schedule file: `on_file = { dir, pattern, settle,
//! recursive, rescan }` and what happens to a file after its run
//! (`after_success`, `after_failure`). Pure: no IO (the directory is looked at
//! by the daemon, `crate::trigger::files`).

use std::path::PathBuf;
use std::time::Duration;

use toml::de::DeValue;

use super::checker::{Checker, Value, describe};
use super::inline::Fields;
use super::schema::{self, Kind};

/// How long a file must keep its size and mtime before it is taken, by default
/// (`on_file.settle`'s default in the description, `schema.rs`).
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5);
/// How often the directory is listed again without an inotify event, by default
/// (`on_file.rescan`'s default in the description).
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(300);

/// `on_file`: the directory watched and which files in it start a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnFile {
    /// Absolute.
    pub dir: PathBuf,
    /// A glob on the file's name: `*` any run of characters, `?` one character.
    pub pattern: String,
    /// A file is taken once its size and mtime stayed the same this long.
    pub settle: Duration,
    /// Whether files in subdirectories count too.
    pub recursive: bool,
    /// The directory is listed again this often (inotify misses events on
    /// network mounts); at least a second.
    pub rescan: Duration,
}

/// What happens to a file once its run ended (`after_success`, `after_failure`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FileAction {
    /// Left where it is (the default); never taken again unless it changes.
    #[default]
    Keep,
    /// Deleted (`after_success` only).
    Delete,
    /// Moved into this absolute directory, under its name.
    MoveTo(PathBuf),
}

const ON_FILE_SHAPE: &str = "on_file must be a table such as { dir = \"/srv/inbox\", pattern = \"*.csv\", settle = \"10s\" }";

impl Checker<'_> {
    /// `on_file`: its keys as `schema::sub_keys(Kind::OnFile)` describes them
    /// (`dir` and `pattern` required; `settle`, `recursive` and `rescan` with
    /// their defaults).
    pub(super) fn on_file(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<OnFile> {
        let DeValue::Table(table) = value.get_ref() else {
            let message = format!("{ON_FILE_SHAPE}, found {}", describe(value.get_ref()));
            self.report(value.span(), job, message);
            return None;
        };
        let before = self.reported;
        let keys = schema::sub_keys(Kind::OnFile);
        let mut fields = self.inline((value, table), "on_file", keys, ON_FILE_SHAPE, job);
        let duration = |fields: &mut Fields, name| fields.take(name)?.parsed.into_duration();
        let on = OnFile {
            dir: PathBuf::from(fields.text("dir")?.0),
            pattern: fields.text("pattern")?.0,
            settle: duration(&mut fields, "settle")?,
            recursive: fields.take("recursive")?.parsed.into_bool()?,
            rescan: duration(&mut fields, "rescan")?,
        };
        (self.reported == before).then_some(on)
    }

    /// `after_success` or `after_failure` (`key`): "keep", "delete" (success
    /// only; [`schema::FILE_ACTION_WORDS`]) or { move_to = "/absolute/dir" }.
    pub(super) fn file_action(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
    ) -> Option<FileAction> {
        let failure = key == "after_failure";
        let shape = if failure {
            "after_failure must be \"keep\" or { move_to = \"/srv/inbox/failed\" }"
        } else {
            "after_success must be \"keep\", \"delete\" or { move_to = \"/srv/inbox/done\" }"
        };
        let word = |text: &str| {
            schema::FILE_ACTION_WORDS
                .iter()
                .any(|&(word, on_failure)| word == text && (on_failure || !failure))
        };
        match value.get_ref() {
            DeValue::String(text) if word(text) && text == "keep" => return Some(FileAction::Keep),
            DeValue::String(text) if word(text) => return Some(FileAction::Delete),
            DeValue::Table(table) => {
                let before = self.reported;
                let keys = schema::sub_keys(Kind::FileAction);
                let mut fields = self.inline((value, table), key, keys, shape, job);
                let dir = fields.text("move_to").map(|(dir, _)| PathBuf::from(dir));
                return dir
                    .filter(|_| self.reported == before)
                    .map(FileAction::MoveTo);
            }
            _ => {}
        }
        let message = format!(
            "{shape} (an absolute directory), found {}",
            describe(value.get_ref())
        );
        self.report(value.span(), job, message);
        None
    }
}

/// Whether `name` matches `pattern`: `*` any run of characters (none
/// included), `?` exactly one, anything else itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with one backtrack point for the last `*`.
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a file named `name` is never taken: hidden, or a usual temporary
/// name (`.part`, `.tmp`, `.swp`, `~`, `.crdownload`).
pub fn ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".part", ".tmp", ".swp", ".crdownload"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_problems, parse_ok};
    use super::*;

    #[test]
    fn globs_match_file_names() {
        for (pattern, name, want) in [
            ("*.csv", "orders.csv", true),
            ("*.csv", "orders.csv.part", false),
            ("*.csv", ".csv", true),
            ("orders-??.csv", "orders-01.csv", true),
            ("orders-??.csv", "orders-1.csv", false),
            ("*", "x", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("data", "data", true),
            ("data", "datum", false),
        ] {
            assert_eq!(glob_matches(pattern, name), want, "{pattern} {name}");
        }
    }

    #[test]
    fn hidden_and_temporary_names_are_ignored() {
        for name in [
            ".x.csv",
            "a.csv.part",
            "a.tmp",
            ".a.swp",
            "a.csv~",
            "a.crdownload",
        ] {
            assert!(ignored_name(name), "{name}");
        }
        for name in ["a.csv", "part", "tmp.csv"] {
            assert!(!ignored_name(name), "{name}");
        }
    }

    const HEAD: &str = "[jobs.import]\nimage = \"x\"\n";

    #[test]
    fn on_file_and_its_actions_are_read_with_defaults() {
        let config = parse_ok(&format!(
            "{HEAD}on_file = {{ dir = \"/srv/in\", pattern = \"*.csv\" }}\nafter_success = \"delete\"\nafter_failure = {{ move_to = \"/srv/failed\" }}\n"
        ));
        let job = &config.jobs[0];
        let on = job.on_file.as_ref().expect("on_file");
        assert_eq!(on.dir, PathBuf::from("/srv/in"));
        assert_eq!(
            (on.settle, on.rescan, on.recursive),
            (DEFAULT_SETTLE, DEFAULT_RESCAN, false)
        );
        assert_eq!(job.after_success, FileAction::Delete);
        assert_eq!(
            job.after_failure,
            FileAction::MoveTo(PathBuf::from("/srv/failed"))
        );
        assert!(!job.schedule.has_ticks());
        assert_eq!(
            job.started_by().as_deref(),
            Some("a file matching *.csv in /srv/in")
        );
    }

    #[test]
    fn files_run_one_at_a_time_unless_allowed() {
        for (concurrency, want) in [
            ("", 1),
            ("concurrency = \"forbid\"\n", 1),
            ("concurrency = \"allow\"\n", 4),
        ] {
            let config = parse_ok(&format!(
                "[daemon]\nmax_concurrent = 4\n{HEAD}on_file = {{ dir = \"/in\", pattern = \"*\" }}\n{concurrency}"
            ));
            assert_eq!(
                crate::trigger::files::file_limit(&config.jobs[0], 4),
                want,
                "{concurrency}"
            );
        }
        // Inherited from [defaults], replace means one at a time.
        let config = parse_ok(&format!(
            "[defaults]\nconcurrency = \"replace\"\n{HEAD}on_file = {{ dir = \"/in\", pattern = \"*\" }}\n"
        ));
        assert_eq!(crate::trigger::files::file_limit(&config.jobs[0], 4), 1);
    }

    #[test]
    fn bad_on_file_values_are_placed_at_the_value() {
        check_problems(
            "relative dir",
            &format!("{HEAD}on_file = {{ dir = \"in\", pattern = \"*\" }}\n"),
            &[(
                3,
                19,
                Some("import"),
                &["on_file.dir must be an absolute path"],
            )],
        );
        check_problems(
            "schedule too",
            &format!(
                "{HEAD}schedule = \"@daily\"\non_file = {{ dir = \"/in\", pattern = \"*\" }}\n"
            ),
            &[(4, 11, Some("import"), &["one trigger"])],
        );
        check_problems(
            "delete after failure",
            &format!(
                "{HEAD}on_file = {{ dir = \"/in\", pattern = \"*\" }}\nafter_failure = \"delete\"\n"
            ),
            &[(
                4,
                17,
                Some("import"),
                &["after_failure must be \"keep\" or { move_to"],
            )],
        );
        check_problems(
            "replace",
            &format!(
                "{HEAD}on_file = {{ dir = \"/in\", pattern = \"*\" }}\nconcurrency = \"replace\"\n"
            ),
            &[(
                4,
                15,
                Some("import"),
                &["concurrency = \"replace\" would stop a file's run"],
            )],
        );
        check_problems(
            "an action without on_file",
            &format!("{HEAD}schedule = \"@daily\"\nafter_success = \"delete\"\n"),
            &[(
                4,
                17,
                Some("import"),
                &["after_success applies to files: add on_file"],
            )],
        );
    }
}
