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
    problems_of(lines, errors, None)
}

/// More syntax errors than this in a file, and only the start of it (up to the
/// part holding its first [`MAX_SYNTAX_PROBLEMS`] errors) is parsed whole for
/// the messages shown; the rest are only counted. The toml crate keeps a few
/// hundred bytes for every error: a 4 MiB file of errors would take over a GiB,
/// enough to get the daemon killed on a Raspberry Pi when it reloads such a file.
pub(super) const ERROR_FLOOD: usize = 1_000;
/// A file this size or smaller is parsed whole however many errors it holds
/// (at worst a few tens of MiB).
const FLOOD_CHECK_ABOVE: usize = 256 * 1024;
/// The pieces a large file is counted in: memory stays that of one piece.
const FLOOD_PIECE: usize = 64 * 1024;

/// When `text` is large and holds more than [`ERROR_FLOOD`] syntax errors, its
/// problems (the first ones, then about how many more), found with memory
/// bounded by [`FLOOD_PIECE`]; `None` otherwise (the caller parses it whole).
/// The count parses the file in pieces cut at line ends, so a value spread over
/// a cut may count an error or two that is not one: hence "about".
pub(super) fn flood(text: &str) -> Option<Vec<Problem>> {
    if text.len() <= FLOOD_CHECK_ABOVE {
        return None;
    }
    let mut count = 0usize;
    let mut head_end = None;
    let mut start = 0;
    while start < text.len() {
        let end = piece_end(text, start);
        let (_, errors) = toml::de::DeTable::parse_recoverable(&text[start..end]);
        count += errors.len();
        if head_end.is_none() && count >= MAX_SYNTAX_PROBLEMS {
            head_end = Some(end);
        }
        start = end;
    }
    if count <= ERROR_FLOOD {
        return None;
    }
    let head = &text[..head_end.unwrap_or(text.len())];
    let (_, errors) = toml::de::DeTable::parse_recoverable(head);
    Some(problems_of(&Lines::new(head), &errors, Some(count)))
}

/// The end of the piece of `text` starting at `start`: the end of the line
/// after [`FLOOD_PIECE`] bytes, or that many bytes (at a character boundary)
/// when the line goes on much longer.
fn piece_end(text: &str, start: usize) -> usize {
    let mut end = (start + FLOOD_PIECE).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let line_end = text[end..]
        .find('\n')
        .filter(|i| *i < FLOOD_PIECE)
        .map(|i| end + i + 1);
    line_end.unwrap_or(end)
}

/// [`problems`], the summary counting `total` errors when the errors given are
/// only those of the start of the file.
fn problems_of(
    lines: &Lines<'_>,
    errors: &[toml::de::Error],
    total: Option<usize>,
) -> Vec<Problem> {
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
    let distinct = found.len();
    found.truncate(MAX_SYNTAX_PROBLEMS);
    let more = total.unwrap_or(distinct).saturating_sub(found.len());
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
        let about = if total.is_some() { "about " } else { "" };
        problems.push(Problem {
            location: None,
            job: None,
            message: format!(
                "{about}{more} more TOML syntax error(s) not shown; fix the ones above first"
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
        toml_parser::parser::parse_document(&tokens, &mut guard, &mut ());
    }
    walk.end_key();
    walk.end_of_line();
    let mut scan = walk.scan;
    // The parser may read a line as part of another value (an array left open
    // above it): what the text itself says of secret keys counts as well.
    scan.secrets.extend(lexical_secrets(text));
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

/// The values that, read as plain text whatever the parser makes of them, may
/// be values of secret keys ([`is_secret`]): on a line that names one of them as a key
/// (`env = {...}`, `secrets.NAME = ...`), on a line under a `[...env]` or
/// `[...secrets]` header, and on lines inside an inline table such a line
/// opened and did not close. Keys stay visible (`env = { API_KEY = *** }`), so
/// a message about a key still says which.
fn lexical_secrets(text: &str) -> Vec<Range<usize>> {
    let mut secrets = Vec::new();
    let (mut table, mut open_braces) = (String::new(), 0usize);
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let trimmed = body.trim_start();
        let (secret, from) = if trimmed.starts_with('[') && open_braces == 0 {
            let header = trimmed.split(']').next().unwrap_or_default();
            table = header.trim_start_matches('[').to_owned();
            (false, 0)
        } else if open_braces > 0 {
            (true, 0)
        } else {
            match body.find('=') {
                Some(eq) if names_secret_key(&table, &body[..eq]) => (true, eq),
                Some(_) => (names_secret_key(&table, ""), 0),
                None => (false, 0),
            }
        };
        if secret {
            secrets.extend(
                value_spans(&body[from..]).map(|r| start + from + r.start..start + from + r.end),
            );
            open_braces = (open_braces + body[from..].matches('{').count())
                .saturating_sub(body[from..].matches('}').count());
        }
        start += line.len();
    }
    secrets
}

/// The values in a piece of a TOML line, read lexically: quoted strings and
/// bare words, except those followed by `=` or `.` (keys).
fn value_spans(piece: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = piece.as_bytes();
    let mut tokens: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != c {
                j += if c == b'"' && bytes[j] == b'\\' { 2 } else { 1 };
            }
            tokens.push(i..(j + 1).min(bytes.len()));
            i = j + 1;
        } else if c.is_ascii_whitespace() || b"{}[],=.".contains(&c) || c == b'#' {
            if c == b'#' {
                tokens.push(i..bytes.len());
                break;
            }
            i += 1;
        } else {
            let j = (i..bytes.len())
                .find(|&j| bytes[j].is_ascii_whitespace() || b"{}[],=\"'#".contains(&bytes[j]))
                .unwrap_or(bytes.len());
            tokens.push(i..j);
            i = j;
        }
    }
    tokens.into_iter().filter(move |token| {
        let rest = piece[token.end.min(piece.len())..].trim_start();
        let comment = piece[token.start..].starts_with('#');
        comment || !(rest.starts_with('=') || rest.starts_with('.'))
    })
}

/// Whether the key path `key` in the table `table`, both as written (`jobs.a`,
/// `env.API_KEY`, `"secrets".X`), has a secret key ([`is_secret`]) among its parts,
/// a job's name aside (a job named "env", `[jobs.env]`, is not a secret table).
fn names_secret_key(table: &str, key: &str) -> bool {
    let parts: Vec<&str> = table
        .split('.')
        .chain(key.split('.'))
        .map(|part| part.trim().trim_matches(['"', '\'']))
        .filter(|part| !part.is_empty())
        .collect();
    parts
        .iter()
        .enumerate()
        .filter(|(i, _)| !(*i == 1 && parts.first() == Some(&"jobs")))
        .any(|(_, part)| is_secret(part))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_hidden_even_where_the_parser_reads_another_value() {
        let path = std::path::Path::new("/etc/cronbox/cronbox.toml");
        let env = crate::config::Environment {
            state_directory: None,
            local_timezone: chrono_tz::UTC,
            local_timezone_source: crate::config::ZoneSource::System,
            cpus: 1,
        };
        let head = "[jobs.a]\nschedule = \"@daily\"\nimage = \"busybox\"\n";
        // Each file has a syntax error near a secret value, "hunter2".
        let cases = [
            // An array left open above: the parser reads the env line as its elements.
            format!(
                "{head}command = [\"sh\", \"-c\", \"true\"\nenv = {{ API_KEY = \"hunter2\" }}\n"
            ),
            format!("{head}command = [\"true\"\nsecrets.token = \"/run/hunter2\"\n"),
            format!("{head}command = [\"true\"\nenv_file = \"/etc/hunter2.env\"\n"),
            // Under a secret table's header, after an open array.
            format!("{head}command = [\"true\"\n[jobs.a.env]\nAPI_KEY = \"hunter2\"\n"),
            // An inline table spread over lines (TOML 1.1), broken.
            format!("{head}env = {{\n  API_KEY = \"hunter2\",\n  B = }}\n"),
            // A quoted key and a stray brace.
            format!("{head}\"env\" = {{ A = \"hunter2\" }} }}\n"),
        ];
        for text in cases {
            let error = crate::config::parse(path, &text, &env)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!error.is_empty(), "a syntax error in:\n{text}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn a_flood_of_errors_in_a_large_file_is_counted_in_pieces() {
        let flood_of =
            |text: &str| flood(text).map(|problems| problems.last().map(|p| p.message.clone()));
        let jobs: String = (0..10_000)
            .map(|i| format!("[jobs.j{i}]\nschedule = \"@daily\"\nimage = \"busybox\"\n\n"))
            .collect();
        // (text, at least how many errors the summary counts; None: parsed whole by the caller)
        let cases: Vec<(String, Option<u64>)> = vec![
            // Small: parsed whole, however many errors.
            ("= \n".repeat(50_000), None),
            // Large and valid, or with a few errors: parsed whole.
            (jobs, None),
            (
                format!("{}= \n= \n", "# a comment line\n".repeat(30_000)),
                None,
            ),
            // Large and a flood: the first ten, then about how many more.
            ("= \n".repeat(400_000), Some(399_990)),
            ("a\n".repeat(400_000), Some(399_990)),
        ];
        for (text, want) in cases {
            let got = flood_of(&text);
            match want {
                None => assert_eq!(got, None, "{} bytes", text.len()),
                Some(least) => {
                    let last = got.flatten().unwrap_or_default();
                    let more: u64 = last
                        .strip_prefix("about ")
                        .and_then(|rest| rest.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    assert!(more >= least, "{} bytes: {last}", text.len());
                }
            }
        }
        let problems = flood(&"= \n".repeat(400_000)).unwrap_or_default();
        assert_eq!(
            problems.len(),
            MAX_SYNTAX_PROBLEMS + 1,
            "ten shown and the count"
        );
        assert_eq!(
            problems.first().and_then(|p| p.location).map(|l| l.line),
            Some(1),
            "placed from the start of the file"
        );
    }
}
