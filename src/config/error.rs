//! [`ConfigError`]: every problem found in a config file, each with its position.

use std::fmt;
use std::ops::Range;
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

/// The start of every line of a text, to turn byte offsets into [`Location`]s in
/// logarithmic time (instead of counting lines from the start of the text each time,
/// which makes a report on many problems quadratic in the size of the file).
pub(crate) struct Lines<'t> {
    text: &'t str,
    /// Byte offset of the start of each line; the first is 0.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub(crate) fn new(text: &'t str) -> Lines<'t> {
        Lines {
            text,
            starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        }
    }

    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    /// [`Location::of_offset`], in logarithmic time (plus the characters before
    /// `offset` on its line).
    pub(crate) fn locate(&self, offset: usize) -> Location {
        let offset = self.clamp(offset);
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        Location {
            line,
            column: self.text[start..offset].chars().count() + 1,
        }
    }

    /// The byte range of line `line` (1-based), without its `\n` nor a `\r` before it.
    fn line(&self, line: usize) -> Range<usize> {
        let start = self.starts[line.clamp(1, self.starts.len()) - 1];
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let end = if self.text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        start..end
    }

    /// `offset`, at most the text's length, moved back to a character boundary.
    fn clamp(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
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
    /// in the toml crate's style (several lines, no trailing newline); values under
    /// `env`, `env_file` or `secrets` on it are shown as `***`.
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
/// no position). A TOML syntax error is followed by its caret snippet. The job's name
/// is quoted with escapes and control characters in a message are escaped, so nothing
/// from the file starts a line of its own.
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
                write!(f, " job {}:", quote(job))?;
            }
            write!(f, " {}", single_line(&problem.message))?;
            if let Some(snippet) = &problem.snippet {
                write!(f, "\n{snippet}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// `message` with any control character escaped (`\n` as the two characters `\` `n`):
/// messages are single lines, and a control character from the file that slipped into
/// one must not start a line of its own that could pass for another problem.
fn single_line(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.contains(char::is_control) {
        return message.into();
    }
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// User text quoted in a message is cut to this many characters.
const QUOTE_MAX_CHARS: usize = 60;

/// `text` in double quotes with Rust's escapes (so a newline or another control
/// character shows as `\n`, `\u{1b}`, never raw), cut to [`QUOTE_MAX_CHARS`]
/// characters with `...` after the closing quote.
pub(crate) fn quote(text: &str) -> String {
    if text.chars().count() > QUOTE_MAX_CHARS {
        let cut: String = text.chars().take(QUOTE_MAX_CHARS).collect();
        format!("{cut:?}...")
    } else {
        format!("{text:?}")
    }
}

/// A name from the file (a key, a job's or a table's name) as messages show it, the
/// way TOML writes a key: bare when it is a TOML bare key (`[A-Za-z0-9_-]+`) of at
/// most [`QUOTE_MAX_CHARS`] characters, else [`quote`]d. So `env.PGUSER`, but
/// `labels."com.example.team"` and `env."A\nB"`.
pub(crate) fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name.len() <= QUOTE_MAX_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_owned() } else { quote(name) }
}

/// Characters of the source line shown in a snippet; longer lines are cut around the error.
const SNIPPET_MAX_CHARS: usize = 120;

/// What a masked part of a snippet shows.
const MASK: &str = "***";

/// Renders the line holding `span` with carets under it, like the toml crate does:
///
/// ```text
///   |
/// 3 | image = 'x
///   |           ^
/// ```
///
/// The bytes in `masks` (sorted by start, not overlapping: values that must not be
/// shown) appear as `***`. Tabs are shown as spaces so the carets line up, other
/// control characters as `\u{fffd}`; a long line is cut around the error with `...`.
pub(crate) fn snippet(lines: &Lines<'_>, span: Range<usize>, masks: &[Range<usize>]) -> String {
    let (start, end) = (
        lines.clamp(span.start),
        lines.clamp(span.end.max(span.start)),
    );
    let number = lines.locate(start).line;
    let (line, column, end_column) = shown_line(lines, number, (start, end), masks);
    let width = end_column.saturating_sub(column);
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
    let gutter = " ".repeat(number.to_string().len());
    format!(
        "{gutter} |\n{number} | {shown}\n{gutter} | {}{}",
        " ".repeat(caret_at),
        "^".repeat(width)
    )
}

/// Line `number` as a snippet shows it (masked parts as [`MASK`], tabs as spaces,
/// control characters replaced), with the columns (0-based, in shown characters)
/// where the error `start..end` begins and ends on it; an end past the line is its end.
fn shown_line(
    lines: &Lines<'_>,
    number: usize,
    (start, end): (usize, usize),
    masks: &[Range<usize>],
) -> (Vec<char>, usize, usize) {
    let range = lines.line(number);
    let mut masks = masks[masks.partition_point(|m| m.end <= range.start)..].iter();
    let mut mask = masks.next();
    let mut shown = Vec::new();
    // The start of the mask being shown, and the column of its `***`.
    let mut showing: Option<(usize, usize)> = None;
    let (mut column, mut end_column) = (None, None);
    for (i, c) in lines.text()[range.clone()].char_indices() {
        let at = range.start + i;
        while mask.is_some_and(|m| m.end <= at) {
            mask = masks.next();
        }
        let inside = mask.filter(|m| m.start <= at);
        let here = match (inside, showing) {
            (Some(m), Some((from, here))) if from == m.start => here,
            (Some(m), _) => {
                showing = Some((m.start, shown.len()));
                shown.extend(MASK.chars());
                shown.len() - MASK.len()
            }
            (None, _) => {
                shown.push(match c {
                    '\t' => ' ',
                    c if c.is_control() => '\u{fffd}',
                    c => c,
                });
                shown.len() - 1
            }
        };
        if column.is_none() && at >= start {
            column = Some(here);
        }
        if end_column.is_none() && at >= end {
            // An error that ends inside a masked value ends after its `***`.
            let within = inside.is_some_and(|m| m.start < end);
            end_column = Some(if within { here + MASK.len() } else { here });
        }
    }
    let column = column.unwrap_or(shown.len());
    let end_column = end_column.unwrap_or(shown.len()).max(column);
    (shown, column, end_column)
}
