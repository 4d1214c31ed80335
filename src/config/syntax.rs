//! TOML syntax errors as [`Problem`]s: the first [`MAX_SYNTAX_PROBLEMS`] in file order,
//! each with its position and a caret snippet, then one line saying how many more.
//!
//! The cost stays linear in the size of the file whatever the number of errors: the
//! errors are sorted by byte offset, and only those shown are placed (through a line
//! index) and rendered. One pass over the file's TOML events (the same parser the
//! toml crate uses) finds what the toml crate's errors leave out: where a key nested
//! too deep is (its "recursion limit" error has no position), and which values are
//! written under `env`, `env_file` or `secrets`, which snippets show as `***`.

use std::ops::Range;

use toml_parser::parser::{Event, EventKind, RecursionGuard};

use super::error::{Lines, Problem, snippet};
use super::schema::is_secret;

/// Past this many TOML syntax errors the rest are summed up in one line: after a bad
/// one, the parser's recovery can report follow-on errors that are only noise.
pub(super) const MAX_SYNTAX_PROBLEMS: usize = 10;

/// The toml crate's limit on nesting: a key with more dotted parts than this, or
/// arrays and inline tables nested deeper, is a syntax error.
pub(super) const MAX_DEPTH: usize = 80;

/// The toml crate's message for a key nested deeper than [`MAX_DEPTH`]; the error
/// comes without a position.
const RECURSION_LIMIT: &str = "recursion limit";

/// The problems for `errors`, the syntax errors of the text of `lines`: sorted by
/// position, duplicates removed, at most [`MAX_SYNTAX_PROBLEMS`] and a summary line.
pub(super) fn problems(lines: &Lines<'_>, errors: &[toml::de::Error]) -> Vec<Problem> {
    let scan = scan(lines.text());
    let mut deep_keys = scan.deep_keys.iter();
    let mut found: Vec<(Option<Range<usize>>, String)> = errors
        .iter()
        .map(|error| match error.span() {
            None if error.message() == RECURSION_LIMIT => match deep_keys.next() {
                Some((span, parts)) => (Some(span.clone()), too_deep(*parts)),
                None => (None, message(error)),
            },
            span => (span, message(error)),
        })
        .collect();
    // Stable: errors at the same place keep the parser's order; those without a
    // place come first.
    found.sort_by_key(|(span, _)| span.as_ref().map(|s| s.start));
    found.dedup_by(|a, b| {
        a.0.as_ref().map(|s| s.start) == b.0.as_ref().map(|s| s.start) && a.1 == b.1
    });
    let more = found.len().saturating_sub(MAX_SYNTAX_PROBLEMS);
    found.truncate(MAX_SYNTAX_PROBLEMS);
    let mut problems: Vec<Problem> = found
        .into_iter()
        .map(|(span, message)| Problem {
            location: span.as_ref().map(|span| lines.locate(span.start)),
            job: None,
            message,
            snippet: span.map(|span| snippet(lines, span, &scan.secrets)),
        })
        .collect();
    if more > 0 {
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

fn message(error: &toml::de::Error) -> String {
    format!("TOML syntax error: {}", error.message().replace('\n', " "))
}

fn too_deep(parts: usize) -> String {
    format!(
        "TOML syntax error: a table header or dotted key nested {parts} levels deep, more than the {MAX_DEPTH} the TOML parser accepts; a schedule file needs at most 4, as in jobs.NAME.env.VAR"
    )
}

/// What one pass over the file's events finds.
#[derive(Debug, Default)]
struct Scan {
    /// The keys with more than [`MAX_DEPTH`] dotted parts (as the toml crate counts
    /// them: parts after the first), with their number of parts, in file order.
    deep_keys: Vec<(Range<usize>, usize)>,
    /// The bytes of values (and comments, and text the parser could not read) under
    /// a key whose values are secret (see [`is_secret`]); sorted and merged by [`scan`] (not overlapping).
    secrets: Vec<Range<usize>>,
}

/// Walks the TOML events of `text`, recovering from errors as the toml crate does.
fn scan(text: &str) -> Scan {
    let source = toml_parser::Source::new(text);
    let tokens = source.lex().into_vec();
    let mut walk = Walk::default();
    {
        let mut receiver = |event: Event| walk.event(text, &event);
        let mut guard = RecursionGuard::new(&mut receiver, MAX_DEPTH as u32);
        // The toml crate reports these errors; only the events matter here.
        let mut ignored: Vec<toml_parser::ParseError> = Vec::new();
        toml_parser::parser::parse_document(&tokens, &mut guard, &mut ignored);
    }
    walk.end_key();
    walk.end_of_line();
    let mut scan = walk.scan;
    scan.secrets.sort_by_key(|span| span.start);
    scan.secrets.dedup_by(|next, kept| {
        let overlaps = next.start <= kept.end;
        if overlaps {
            kept.end = kept.end.max(next.end);
        }
        overlaps
    });
    scan
}

/// Where a key or value is in the document: enough to tell whether it is under one of
/// a key whose values are secret (see [`is_secret`]; a job named "env", `[jobs.env]`, is not).
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    /// How many keys lead to it from the root.
    depth: usize,
    /// Whether the first of them is `jobs` (then the second is a job's name).
    in_jobs: bool,
    /// Whether one of them (other than a job's name) is a secret key (see [`is_secret`]).
    secret: bool,
}

impl Place {
    fn child(self, name: &str) -> Place {
        let job_name = self.depth == 1 && self.in_jobs;
        Place {
            depth: self.depth + 1,
            in_jobs: if self.depth == 0 {
                name == "jobs"
            } else {
                self.in_jobs
            },
            secret: self.secret || (!job_name && is_secret(name)),
        }
    }
}

/// The state of the pass over the events.
#[derive(Debug, Default)]
struct Walk {
    scan: Scan,
    /// The table the current line is in (set by the last `[header]`).
    table: Place,
    /// While reading a `[header]`: where its keys lead so far.
    header: Option<Place>,
    /// The key being read (before its `=`), and where it is written.
    key: Option<(Place, Range<usize>)>,
    /// The value being read (after its `=`).
    value: Option<Place>,
    /// The values holding each open inline table or array, innermost last.
    open: Vec<Place>,
    /// The dotted key being read: its span, its number of parts, whether a `.` ends it.
    dotted: Option<(Range<usize>, usize, bool)>,
}

impl Walk {
    fn event(&mut self, text: &str, event: &Event) {
        let span = event.span().start()..event.span().end();
        match event.kind() {
            EventKind::SimpleKey => self.simple_key(text, span),
            EventKind::KeySep => {
                if let Some(dotted) = &mut self.dotted {
                    dotted.2 = true;
                }
            }
            EventKind::Whitespace => {}
            kind => {
                self.end_key();
                self.other(text, kind, span);
            }
        }
    }

    fn other(&mut self, text: &str, kind: EventKind, span: Range<usize>) {
        match kind {
            EventKind::StdTableOpen | EventKind::ArrayTableOpen => {
                self.header = Some(Place::default());
                self.open.clear();
                (self.key, self.value) = (None, None);
            }
            EventKind::StdTableClose | EventKind::ArrayTableClose => {
                self.table = self.header.take().unwrap_or_default();
            }
            EventKind::KeyValSep => {
                let base = self.base();
                self.value = Some(self.key.take().map_or(base, |(place, _)| place));
            }
            EventKind::InlineTableOpen | EventKind::ArrayOpen => {
                let holder = self.current();
                self.open.push(holder);
            }
            EventKind::InlineTableClose | EventKind::ArrayClose => {
                self.value = self.open.pop().or(self.value);
            }
            EventKind::Newline => self.end_of_line(),
            EventKind::Scalar | EventKind::Comment => self.hide_if_secret(span),
            EventKind::Error => {
                let text = text.get(span.clone()).unwrap_or_default();
                if !text.chars().all(|c| "{}[],=.:".contains(c)) {
                    self.hide_if_secret(span);
                }
            }
            EventKind::ValueSep
            | EventKind::SimpleKey
            | EventKind::KeySep
            | EventKind::Whitespace => {}
        }
    }

    fn simple_key(&mut self, text: &str, span: Range<usize>) {
        let raw = text.get(span.clone()).unwrap_or_default();
        let name = raw.trim_matches(|c| c == '"' || c == '\'');
        match &mut self.dotted {
            Some((dotted, parts, true)) => {
                dotted.end = span.end;
                *parts += 1;
            }
            _ => {
                self.end_key();
                self.dotted = Some((span.clone(), 1, false));
            }
        }
        if let Some(place) = &mut self.header {
            *place = place.child(name);
            return;
        }
        let (place, start) = match &self.key {
            Some((place, written)) => (*place, written.start),
            None => (self.base(), span.start),
        };
        self.key = Some((place.child(name), start..span.end));
    }

    /// The end of a dotted key: a deep one is recorded.
    fn end_key(&mut self) {
        if let Some((span, parts, _)) = self.dotted.take()
            && parts > MAX_DEPTH
        {
            self.scan.deep_keys.push((span, parts));
        }
    }

    /// At a line's end, outside inline tables and arrays (which may span lines), the
    /// key-value pair ends: a key without `=` under a secret key may be a value written
    /// alone on its line, and is hidden too.
    fn end_of_line(&mut self) {
        if let Some(place) = self.header.take() {
            self.table = place;
        }
        if self.open.is_empty() {
            if let Some((place, span)) = self.key.take()
                && place.secret
            {
                self.hide(span);
            }
            self.value = None;
        }
    }

    /// Where a key starts from: the inline table it is in, else the current table.
    fn base(&self) -> Place {
        self.open.last().copied().unwrap_or(self.table)
    }

    /// Where the text being read is: the value, else the enclosing inline table or array.
    fn current(&self) -> Place {
        self.value.unwrap_or_else(|| self.base())
    }

    fn hide_if_secret(&mut self, span: Range<usize>) {
        if self.current().secret {
            self.hide(span);
        }
    }

    fn hide(&mut self, span: Range<usize>) {
        self.scan.secrets.push(span);
    }
}
