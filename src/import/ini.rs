//! The INI syntax Ofelia reads (Go's gcfg): `[section "subsection"]` headers,
//! `name = value` lines (a name alone means true), `;` and `#` comments
//! outside double quotes, double-quoted parts with `\"`, `\\`, `\n`, `\t`
//! escapes, and a `\` at the end of a line continuing the value on the next.
//! Names are case-insensitive; they are given lower case, `_` read as `-`.

/// One `[section "subsection"]` and its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    /// Lower case: `job-run`, `global`.
    pub name: String,
    /// The quoted part, as written (unescaped): the job's name.
    pub subsection: Option<String>,
    /// The header's line.
    pub line: usize,
    /// The last line that belongs to the section.
    pub last_line: usize,
    pub variables: Vec<Variable>,
}

/// `name = value` and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Variable {
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// The sections of `text`, and the lines that are neither a section, a
/// variable, a comment nor blank (with why).
pub(super) fn parse(text: &str) -> (Vec<Section>, Vec<(usize, String)>) {
    let mut sections: Vec<Section> = Vec::new();
    let mut bad = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((number, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            match header(line) {
                Ok((name, subsection)) => sections.push(Section {
                    name,
                    subsection,
                    line: number,
                    last_line: number,
                    variables: Vec::new(),
                }),
                Err(why) => bad.push((number, why)),
            }
            continue;
        }
        let Some(section) = sections.last_mut() else {
            bad.push((number, "a variable before any [section]".to_owned()));
            continue;
        };
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value)),
            None => (line, None),
        };
        let name = name.split([';', '#']).next().unwrap_or_default().trim();
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bad.push((number, format!("{name:?} is not a variable name")));
            continue;
        }
        let mut value = match value {
            None => Ok(("true".to_owned(), false)),
            Some(value) => unquote(value),
        };
        let mut last = number;
        // A trailing backslash continues the value on the next line.
        while let Ok((text, true)) = &value {
            let Some((next_number, next)) = lines.next() else {
                break;
            };
            last = next_number;
            let text = text.clone();
            value = unquote(next).map(|(more, cont)| (format!("{text}{more}"), cont));
        }
        match value {
            Ok((value, _)) => section.variables.push(Variable {
                name: name.to_ascii_lowercase().replace('_', "-"),
                value,
                line: number,
            }),
            Err(why) => bad.push((number, why)),
        }
        section.last_line = last;
    }
    (sections, bad)
}

/// `[name]` or `[name "subsection"]`.
fn header(line: &str) -> Result<(String, Option<String>), String> {
    let inner = line
        .strip_prefix('[')
        .and_then(|l| l.split([';', '#']).next())
        .map(str::trim_end)
        .and_then(|l| l.strip_suffix(']'))
        .ok_or_else(|| format!("{line:?} is not a [section] header"))?;
    match inner.split_once('"') {
        None => Ok((inner.trim().to_ascii_lowercase(), None)),
        Some((name, rest)) => {
            let (subsection, cont) = unquote(&format!("\"{rest}"))?;
            if cont {
                return Err(format!("{line:?} is not a [section] header"));
            }
            Ok((name.trim().to_ascii_lowercase(), Some(subsection)))
        }
    }
}

/// A value: outer whitespace trimmed, comments cut, quotes and escapes
/// resolved; `true` when it ends with a continuation backslash (then the
/// value is returned as it stands, to be joined with the next line).
fn unquote(text: &str) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut quoted = false;
    // The length of `out` up to its last quoted or non-blank character:
    // unquoted trailing whitespace is dropped.
    let mut kept = 0;
    let mut chars = text.trim_start().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                kept = out.len();
                continue;
            }
            '\\' => match chars.next() {
                None if !quoted => return Ok((out, true)),
                None => return Err("a quoted value is not closed".to_owned()),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => return Err(format!("unknown escape \\{c}")),
            },
            ';' | '#' if !quoted => break,
            c => out.push(c),
        }
        if quoted || !c.is_whitespace() {
            kept = out.len();
        }
    }
    if quoted {
        return Err("a quoted value is not closed".to_owned());
    }
    out.truncate(kept);
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_variables_quotes_comments_and_continuations() {
        let text = "; comment\n[global]\nsmtp-host = mail ; trailing\n\n[job-run \"my \\\"job\\\"\"]\nschedule = @every 10s\ncommand = sh -c \"echo '#1'; date\"  # note\nNo_Overlap\nenvironment = A=1 \\\n  B\n[Job-Exec \"x\"]\nbad line here\n";
        let (sections, bad) = parse(text);
        assert_eq!(sections.len(), 3);
        assert_eq!(sections[0].name, "global");
        assert_eq!(sections[0].variables[0].value, "mail");
        let job = &sections[1];
        assert_eq!(
            (job.name.as_str(), job.subsection.as_deref()),
            ("job-run", Some("my \"job\""))
        );
        assert_eq!(job.line, 5);
        assert_eq!(job.last_line, 10);
        let vars: Vec<(&str, &str, usize)> = job
            .variables
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str(), v.line))
            .collect();
        assert_eq!(
            vars,
            [
                ("schedule", "@every 10s", 6),
                ("command", "sh -c echo '#1'; date", 7),
                ("no-overlap", "true", 8),
                ("environment", "A=1 B", 9),
            ]
        );
        assert_eq!(sections[2].name, "job-exec");
        assert_eq!(
            bad,
            [(12, "\"bad line here\" is not a variable name".to_owned())]
        );
    }
}
