//! [`ConfigError`]: every problem found in a config file, each with its position.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in the config file, both numbers 1-based; `column` counts characters,
/// not bytes, like the toml crate's own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`. Never panics: an offset past the end
    /// or inside a multi-byte character is clamped to the nearest valid position.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the problem is (the key or value concerned); `None` when the file
    /// could not be read at all.
    pub location: Option<Location>,
    /// The job concerned, if any (as written in the file, even if it is not a valid name).
    pub job: Option<String>,
    /// What is wrong and what to do about it; a single line.
    pub message: String,
    /// For TOML syntax errors: the offending source line with carets under the error,
    /// in the toml crate's style (several lines, no trailing newline).
    pub snippet: Option<String>,
}

impl Problem {
    /// A problem at `location`, about `job` if any: for callers (such as `check`) that
    /// find more problems with a valid config, e.g. a host path that does not exist.
    /// `message` should be a single line saying what is wrong and what to do.
    pub fn at(location: Location, job: Option<&str>, message: impl Into<String>) -> Problem {
        Problem {
            location: Some(location),
            job: job.map(str::to_owned),
            message: message.into(),
            snippet: None,
        }
    }
}

/// Why a config file was refused: its path and every problem found in it, in file order.
/// `problems` is never empty.
///
/// Display prints one line per problem, `PATH:LINE:COL: job "NAME": message`
/// (the job part only when the problem concerns a job; `PATH: message` when there is
/// no position). A TOML syntax error is followed by its caret snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// The error for the file at `path` with these problems, sorted by position (stable:
    /// problems at the same position keep their order; those without one come first).
    /// Give at least one problem: an error with none displays as an empty string.
    pub fn new(path: impl Into<PathBuf>, mut problems: Vec<Problem>) -> ConfigError {
        problems.sort_by_key(|problem| problem.location);
        ConfigError {
            path: path.into(),
            problems,
        }
    }

    pub(crate) fn single(path: &Path, location: Option<Location>, message: String) -> ConfigError {
        ConfigError {
            path: path.to_path_buf(),
            problems: vec![Problem {
                location,
                job: None,
                message,
                snippet: None,
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:", self.path.display())?;
            if let Some(location) = problem.location {
                write!(f, "{location}:")?;
            }
            if let Some(job) = &problem.job {
                write!(f, " job {job:?}:")?;
            }
            write!(f, " {}", problem.message)?;
            if let Some(snippet) = &problem.snippet {
                write!(f, "\n{snippet}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Characters of the source line shown in a snippet; longer lines are cut around the error.
const SNIPPET_MAX_CHARS: usize = 120;

/// Renders the line holding `span` with carets under it, like the toml crate does:
///
/// ```text
///   |
/// 3 | image = 'x
///   |           ^
/// ```
///
/// Tabs are shown as spaces so the carets line up; a long line is cut around the error
/// with `...`.
pub(crate) fn snippet(text: &str, span: std::ops::Range<usize>) -> String {
    let start = Location::of_offset(text, span.start);
    let end = Location::of_offset(text, span.end.max(span.start));
    let line = text.split('\n').nth(start.line - 1).unwrap_or("");
    let line: Vec<char> = line
        .strip_suffix('\r')
        .unwrap_or(line)
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let column = start.column - 1;
    let width = if end.line == start.line {
        end.column.saturating_sub(start.column)
    } else {
        line.len().saturating_sub(column)
    };
    let from = if line.len() > SNIPPET_MAX_CHARS {
        column.saturating_sub(SNIPPET_MAX_CHARS / 3).min(line.len())
    } else {
        0
    };
    let to = (from + SNIPPET_MAX_CHARS).min(line.len());
    let mut shown = String::new();
    let mut caret_at = column - from;
    if from > 0 {
        shown.push_str("...");
        caret_at += 3;
    }
    shown.extend(&line[from..to]);
    if to < line.len() {
        shown.push_str("...");
    }
    let width = width.min(to.saturating_sub(column)).max(1);
    let gutter = " ".repeat(start.line.to_string().len());
    format!(
        "{gutter} |\n{} | {shown}\n{gutter} | {}{}",
        start.line,
        " ".repeat(caret_at),
        "^".repeat(width)
    )
}
