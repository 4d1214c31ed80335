//! The dotenv syntax of a job's `env_file`: a pure parser from text to variables.
//!
//! The config module never reads the file (the engine does, at each run); this module
//! only owns the syntax, so that `check`, the engine and the tests agree on it. Values
//! are often secrets: a [`DotenvProblem`] says where and what is wrong with a line
//! (its number, the variable's name when the name is valid) and never contains any
//! part of a value, nor the text of a line.
//!
//! Syntax, one variable per line (values cannot span lines):
//!
//! ```text
//! # a comment line; blank lines are ignored
//! KEY=value                   unquoted: surrounding spaces trimmed
//! export KEY=value            "export " is allowed and ignored
//! KEY=value # comment         " #" (a "#" after whitespace) starts a comment
//! KEY=a#b                     "#" not after whitespace is part of the value
//! KEY='literal $ \n # text'   single quotes: taken literally
//! KEY="line 1\nline 2"        double quotes: \n (newline), \" and \\ are the escapes
//! KEY=                        an empty value
//! ```
//!
//! Names match `[A-Za-z_][A-Za-z0-9_]*`; spaces around `=` are allowed. After a
//! closing quote only spaces and a `#` comment may follow. A name may appear more than
//! once: every occurrence is returned, in file order, and the last one wins when they
//! are collected into a map. A UTF-8 byte-order mark and CRLF line ends are accepted.

use std::fmt;

/// One thing wrong with a dotenv file. Never contains value text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvProblem {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong and how to fix it; a single line, with at most the variable name.
    pub message: String,
}

impl fmt::Display for DotenvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses dotenv `text` into `(NAME, value)` pairs in file order, or returns every
/// problem found (each line is checked, not only up to the first bad one).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, Vec<DotenvProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut variables = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match parse_line(line) {
            Ok(Some(pair)) => variables.push(pair),
            Ok(None) => {}
            Err(message) => problems.push(DotenvProblem {
                line: index + 1,
                message,
            }),
        }
    }
    if problems.is_empty() {
        Ok(variables)
    } else {
        Err(problems)
    }
}

/// Whether `name` is an acceptable variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const NAME_RULE: &str =
    "names match [A-Za-z_][A-Za-z0-9_]* (letters, digits and \"_\", not starting with a digit)";

/// One line: `None` for a blank or comment line. The error never quotes the line.
fn parse_line(line: &str) -> Result<Option<(String, String)>, String> {
    let rest = line.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let rest = match rest.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t']) && !after.trim_start().starts_with('=') => {
            after.trim_start()
        }
        _ => rest,
    };
    let Some(equals) = rest.find('=') else {
        // Not even the name is quoted: a line without "=" may be a stray value.
        return Err(format!(
            "no \"=\" on the line: expected NAME=value, a # comment or a blank line (a bare NAME is not supported: cronbox does not copy variables from its own environment; write NAME= for an empty value); {NAME_RULE}"
        ));
    };
    let name = rest[..equals].trim_end();
    if !is_valid_name(name) {
        let why = if name.is_empty() {
            "the variable name before \"=\" is missing"
        } else {
            "invalid variable name"
        };
        return Err(format!("{why}; {NAME_RULE}"));
    }
    let raw = &rest[equals + 1..];
    let value = parse_value(raw).map_err(|why| format!("{name}: {why}"))?;
    if value.contains('\0') {
        return Err(format!(
            "{name}: the value contains a NUL character, which cannot be passed to a program"
        ));
    }
    Ok(Some((name.to_owned(), value)))
}

/// The value after `=`; the error names what is wrong, never the value.
fn parse_value(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim_start();
    let (value, after) = if let Some(inner) = trimmed.strip_prefix('\'') {
        let close = inner
            .find('\'')
            .ok_or("missing closing single quote (a value must fit on one line)")?;
        (inner[..close].to_owned(), &inner[close + 1..])
    } else if let Some(inner) = trimmed.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = inner.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some(_) => {
                        return Err(
                            "unsupported escape sequence in a double-quoted value; only \\n, \\\" and \\\\ are supported (use single quotes for literal text)",
                        );
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        let end = end.ok_or("missing closing double quote (a value must fit on one line)")?;
        (value, &inner[end..])
    } else {
        let mut cut = raw.len();
        let mut previous_is_space = false;
        for (i, c) in raw.char_indices() {
            if c == '#' && previous_is_space {
                cut = i;
                break;
            }
            previous_is_space = c.is_whitespace();
        }
        return Ok(raw[..cut].trim().to_owned());
    };
    let after = after.trim_start();
    if after.is_empty() || after.starts_with('#') {
        Ok(value)
    } else {
        Err("unexpected text after the closing quote; only a # comment may follow a quoted value")
    }
}
