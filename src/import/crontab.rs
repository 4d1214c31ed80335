//! A crontab whose lines run `docker run ...` as a cronbox schedule. Its
//! schedules are cronie's, which are cronbox's: they are kept as written.
//! `CRON_TZ=` and `TZ=` lines set the `timezone` of the jobs below them; jobs
//! before any keep cronbox's default zone (the system's, as cron's).
//! `MAILTO` is reported and written as an email channel commented out (see
//! `mail.rs`). Other variables are the host
//! shell's, which a container sees only through `-e NAME` (then they give the
//! value). A system crontab's user column is read and left out.
//!
//! cron starts every tick whether the last run ended or not, so jobs get
//! `concurrency = "allow"`; with `--name` the second `docker run` fails while
//! the first container exists, so those get `"forbid"`.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::draft::{Draft, Value};
use super::{Imported, Skipped, Translation, docker, finish, words};
use mail::Mail;

/// The crontab `text` (called `source` in comments).
pub fn import(text: &str, source: &str) -> Imported {
    let mut t = Translation::default();
    let mut state = State::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some((name, value)) = assignment(trimmed) {
            state.assign(line, name, value, &mut t);
            continue;
        }
        match job(trimmed, line, source, &state) {
            Ok(mut draft) => {
                draft.comments.extend(state.mail.job_comment());
                t.drafts.push(draft);
            }
            Err(why) => t.skipped.push(Skipped::new(line, why)),
        }
    }
    t.preamble = state.mail.preamble();
    let header = format!(
        "# Imported by `cronbox import crontab` from {source}.\n# Each job says where it came from."
    );
    finish(t, &header)
}

/// What earlier lines set.
#[derive(Default)]
struct State {
    zone: Option<Tz>,
    vars: BTreeMap<String, String>,
    mail: Mail,
}

impl State {
    fn assign(&mut self, line: usize, name: &str, value: &str, t: &mut Translation) {
        match name {
            "CRON_TZ" | "TZ" => match value.parse::<Tz>() {
                Ok(zone) => self.zone = Some(zone),
                Err(_) => t.skipped.push(Skipped::new(
                    line,
                    format!("{name}: {value:?} is not a time zone cronbox knows; the jobs below keep the previous zone"),
                )),
            },
            "MAILTO" => self.mail.mailto(line, value, t),
            "MAILFROM" => self.mail.mailfrom(line, value, t),
            _ => {
                t.notes.push(Skipped::new(
                    line,
                    format!("{name} is set for the shell cron starts; a container sees it only through `-e {name}`"),
                ));
                self.vars.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}

/// `NAME = value` (cron's environment lines; quotes around the value are
/// removed), or `None` for any other line.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    let value = value.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)));
    Some((name, unquoted.unwrap_or(value)))
}

/// One job line as a draft job, or why it cannot be one.
fn job(text: &str, line: usize, source: &str, state: &State) -> Result<Draft, String> {
    let (schedule, command) = split_schedule(text)?;
    let command = percent_signs(command)?;
    let mut words = words::split(&command)
        .map_err(|why| format!("not a single `docker run` command: {why}"))?;
    // A system crontab (/etc/crontab, /etc/cron.d) has a user before the command.
    let mut host_user = None;
    if !is_docker(words.first()) && is_docker(words.get(1)) {
        host_user = Some(words.remove(0));
    }
    if !is_docker(words.first()) {
        return Err(format!(
            "it runs {:?}, not `docker run`; cronbox runs containers: put the command in an image",
            words.first().map_or("", String::as_str)
        ));
    }
    let after = match words.get(1).map(String::as_str) {
        Some("run") => 2,
        Some("container") if words.get(2).map(String::as_str) == Some("run") => 3,
        _ => return Err("it runs docker, but not `docker run`".to_owned()),
    };
    let run = docker::run(&words[after..], &state.vars)?;
    let hint = run.name.clone().unwrap_or_else(|| image_name(&run.image));
    let mut draft = Draft::new(&hint, line, format!("From line {line} of {source}."));
    if let Some(user) = host_user {
        draft
            .comments
            .push(format!("cron ran it as the host user {user:?}."));
    }
    draft.set("schedule", Value::Str(schedule), line);
    if let Some(zone) = state.zone {
        draft.set("timezone", Value::Str(zone.name().to_owned()), line);
    }
    draft.set("image", Value::Str(run.image.clone()), line);
    if !run.command.is_empty() {
        draft.set("command", Value::Strs(run.command.clone()), line);
    }
    let concurrency = if run.name.is_some() {
        "forbid"
    } else {
        "allow"
    };
    draft.set("concurrency", Value::Str(concurrency.to_owned()), line);
    for (key, value) in run.settings {
        draft.set(key, value, line);
    }
    Ok(draft)
}

/// The schedule (five fields, or a nickname) and the rest of the line.
fn split_schedule(text: &str) -> Result<(String, &str), String> {
    let fields = if text.starts_with('@') { 1 } else { 5 };
    let mut rest = text;
    let mut schedule = Vec::new();
    for _ in 0..fields {
        let (field, after) = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .ok_or("a schedule without a command")?;
        schedule.push(field);
        rest = after;
    }
    if schedule == ["@reboot"] {
        return Err(
            "@reboot runs once when cron starts; cronbox runs recurring schedules only".to_owned(),
        );
    }
    Ok((schedule.join(" "), rest.trim()))
}

/// cron's `%`: unescaped, it ends the command (the rest is its input);
/// escaped (`\%`), it is a `%`.
fn percent_signs(command: &str) -> Result<String, String> {
    let mut out = String::with_capacity(command.len());
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => {
                return Err("an unescaped % sends the rest of the line to the command's input, which cronbox cannot; write \\% for a %".to_owned());
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Whether a word runs docker (`docker`, `/usr/bin/docker`, ...).
fn is_docker(word: Option<&String>) -> bool {
    word.is_some_and(|w| w.rsplit('/').next() == Some("docker"))
}

/// A job name from an image: `ghcr.io/acme/backup:2` gives `backup`.
fn image_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split([':', '@']).next().unwrap_or(last).to_owned()
}

mod mail;
#[cfg(test)]
mod tests;
