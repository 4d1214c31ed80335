//! Pure translation of other schedulers' files into a cronbox schedule:
//! Ofelia INI files ([`ofelia`]) and crontabs of `docker run` lines
//! ([`crontab`]). Text comes in; a TOML schedule that `cronbox check` accepts
//! comes out, with a comment on each job saying where it came from, and the
//! lines that could not be imported with why. Schedules are translated with
//! their dialect's meaning (`crate::schedule::robfig` for Ofelia's); every
//! setting is checked with cronbox's own validation (`config::parse`). This
//! module must not touch the disk, the network or the clock; messages never
//! show a value of an environment variable.

pub mod crontab;
pub mod ofelia;

mod docker;
mod draft;
mod ini;
mod words;

use std::fmt;

use draft::Draft;

/// The imported schedule and what did not come across.
#[derive(Debug, Clone)]
pub struct Imported {
    /// A cronbox schedule file.
    pub toml: String,
    /// How many jobs it has.
    pub jobs: usize,
    /// The source lines not imported (all or part of what they say), in line order.
    pub skipped: Vec<Skipped>,
    /// Lines imported with something to know, or that needed nothing.
    pub notes: Vec<Skipped>,
}

/// A line of the source and what about it (Display: `line N: reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

impl Skipped {
    pub(crate) fn new(line: usize, reason: impl Into<String>) -> Skipped {
        Skipped {
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a translator found: the jobs, the lines it could not take, notes, and
/// text to put before the jobs (a `[defaults]` table, comments).
#[derive(Debug, Default)]
pub(crate) struct Translation {
    pub drafts: Vec<Draft>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<Skipped>,
    pub preamble: String,
}

/// Check every job (see [`draft::checked`]), name them, and write the file.
pub(crate) fn finish(translation: Translation, header: &str) -> Imported {
    let Translation {
        drafts,
        mut skipped,
        mut notes,
        preamble,
    } = translation;
    let mut toml = format!("{header}\n");
    if !preamble.is_empty() {
        toml.push('\n');
        toml.push_str(&preamble);
    }
    let mut names: Vec<String> = Vec::new();
    for draft in drafts {
        let Some(draft) = draft::checked(draft, &mut skipped) else {
            continue;
        };
        let name = draft::job_name(&draft.name, &names);
        if name != draft.name {
            notes.push(Skipped::new(
                draft.line,
                format!("job {:?} is called {name:?}", draft.name),
            ));
        }
        toml.push('\n');
        for comment in &draft.comments {
            toml.push_str(&format!("# {comment}\n"));
        }
        toml.push_str(&format!("[jobs.{name}]\n{}", draft::table(&draft.settings)));
        names.push(name);
    }
    skipped.sort_by_key(|s| s.line);
    notes.sort_by_key(|s| s.line);
    Imported {
        toml,
        jobs: names.len(),
        skipped,
        notes,
    }
}
