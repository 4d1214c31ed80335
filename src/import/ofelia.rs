//! Ofelia's INI file as a cronbox schedule. Each `[job-run "NAME"]` section
//! that creates a container from an image becomes `[jobs.NAME]`; its
//! schedule is read as Ofelia reads it (robfig/cron: five fields, or six with
//! seconds first; see [`crate::schedule::robfig`]). The other job kinds run
//! in existing containers, on Ofelia's host or in a swarm, and are reported
//! as not importable, as are Ofelia's notification and logging settings (the
//! messages name the cronbox channel that does the same).
//!
//! Ofelia's defaults are kept: a job without `no-overlap = true` may overlap
//! (`concurrency = "allow"`), and images are pulled before every run unless
//! `pull = false` (`pull = "always"`, else `"missing"`). Ofelia reads its
//! schedules in its own zone, which is UTC in its image unless `TZ` was set:
//! the output's `[defaults]` says `timezone = "UTC"`.

use std::collections::BTreeMap;

use super::draft::{Draft, Value};
use super::ini::{self, Section, Variable};
use super::{Imported, Skipped, Translation, docker, finish, words};
use crate::schedule::robfig;

/// Why Ofelia's middleware setting `name` (mail, Slack, saved reports, ...;
/// see [`is_notification`]) does not come across, and what in cronbox does
/// the same: a `[notify.NAME]` channel the jobs name in `notify`. Not written
/// for the user: its password or webhook URL would be a secret in the output.
fn not_imported_notification(name: &str) -> String {
    let channel = if name.starts_with("slack") {
        "a [notify.NAME] channel with kind = \"webhook\", format = \"slack\" and the webhook URL in url_file"
    } else if ["mail", "email", "smtp"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        "a [notify.NAME] channel with kind = \"email\" (smtp, from, to, username, password_file)"
    } else if name.starts_with("save") {
        return "Ofelia's saved reports are not imported: cronbox keeps every run's output in its database (`cronbox history`, `cronbox logs RUN_ID`)".to_owned();
    } else {
        "a [notify.NAME] channel with kind = \"webhook\" (format = \"json\", \"slack\", \"discord\", \"ntfy\" or \"gotify\")"
    };
    let when = if name.ends_with("only-on-error") {
        "; a channel is told of the events the job's notify_on names (failures and recoveries by default)"
    } else {
        ""
    };
    format!(
        "Ofelia's notification settings are not imported (they hold credentials): in cronbox that is {channel}, which jobs name in notify = [\"NAME\"]{when}; write it by hand (README, \"Notifications\")"
    )
}

/// The schedule `text` (an Ofelia INI file, called `source` in comments).
pub fn import(text: &str, source: &str) -> Imported {
    let (sections, bad) = ini::parse(text);
    let mut t = Translation {
        preamble: "[defaults]\n# Ofelia read its schedules in its own zone: UTC in its image, unless TZ was set.\ntimezone = \"UTC\"\n".to_owned(),
        ..Translation::default()
    };
    for (line, why) in bad {
        t.skipped.push(Skipped::new(line, why));
    }
    for section in &sections {
        section_of(section, source, &mut t);
    }
    let header = format!(
        "# Imported by `cronbox import ofelia` from {source}.\n# Each job says where it came from."
    );
    finish(t, &header)
}

fn section_of(section: &Section, source: &str, t: &mut Translation) {
    let title = match &section.subsection {
        Some(name) => format!("[{} {name:?}]", section.name),
        None => format!("[{}]", section.name),
    };
    let not_importable = |why: &str| {
        Skipped::new(
            section.line,
            format!(
                "{title} (lines {}-{}): {why}",
                section.line, section.last_line
            ),
        )
    };
    match (section.name.as_str(), &section.subsection) {
        ("global", _) => {
            for var in &section.variables {
                let why = if is_notification(&var.name) {
                    not_imported_notification(&var.name)
                } else {
                    "an Ofelia setting cronbox has no use for".to_owned()
                };
                t.skipped
                    .push(Skipped::new(var.line, format!("[global] {}: {why}", var.name)));
            }
        }
        ("job-run", Some(name)) => match job_run(name, section, source, t) {
            Ok(draft) => t.drafts.push(draft),
            Err(why) => t.skipped.push(not_importable(&why)),
        },
        ("job-exec", _) => t.skipped.push(not_importable(
            "it runs a command in a running container (docker exec); cronbox starts a new container from an image for every run",
        )),
        ("job-local", _) => t.skipped.push(not_importable(
            "it runs a command on Ofelia's host; cronbox runs containers only",
        )),
        ("job-service-run", _) => t.skipped.push(not_importable(
            "it runs a Docker Swarm service; cronbox runs containers on its own engine",
        )),
        ("job-compose", _) => t.skipped.push(not_importable(
            "it runs docker compose; cronbox runs one container per run",
        )),
        _ => t.skipped.push(not_importable("not a section Ofelia's jobs are written in")),
    }
}

/// One `[job-run "NAME"]` as a draft job, or why the section cannot be one.
fn job_run(
    name: &str,
    section: &Section,
    source: &str,
    t: &mut Translation,
) -> Result<Draft, String> {
    let mut draft = Draft::new(
        name,
        section.line,
        format!(
            "From [job-run {name:?}], line {} of {source}.",
            section.line
        ),
    );
    for var in &section.variables {
        if let Err(why) = variable(var, &mut draft, t)? {
            t.skipped
                .push(Skipped::new(var.line, format!("{}: {why}", var.name)));
        }
    }
    for key in ["schedule", "image"] {
        if !draft.has(key) {
            return Err(format!("it has no (usable) {key}"));
        }
    }
    if !draft.has("concurrency") {
        draft.set("concurrency", Value::Str("allow".to_owned()), section.line);
    }
    if !draft.has("pull") {
        draft.set("pull", Value::Str("always".to_owned()), section.line);
    }
    Ok(draft)
}

/// One variable of a `job-run` into `draft`. Outer error: the whole section
/// cannot be imported; inner error: this line is skipped.
fn variable(
    var: &Variable,
    draft: &mut Draft,
    t: &mut Translation,
) -> Result<Result<(), String>, String> {
    let line = var.line;
    let value = var.value.as_str();
    let str_value = || Value::Str(value.to_owned());
    match var.name.as_str() {
        "schedule" => match robfig::from_robfig(value) {
            Ok(schedule) => {
                draft.set("schedule", Value::Str(schedule.expression), line);
                if let Some(zone) = schedule.timezone {
                    draft.set("timezone", Value::Str(zone.name().to_owned()), line);
                }
                if let Some(note) = schedule.note {
                    draft.comments.push(format!("{note}."));
                    t.notes.push(Skipped::new(line, note));
                }
            }
            Err(why) => return Err(format!("its schedule {value:?}: {why}")),
        },
        "image" => draft.set("image", str_value(), line),
        "container" => {
            return Err(format!(
                "it starts the existing container {value:?}; cronbox creates a container from an image for every run"
            ));
        }
        "command" | "entrypoint" => {
            let words = match words::split_args(value) {
                Ok(words) if !words.is_empty() => words,
                Ok(_) => return Ok(Err("empty".to_owned())),
                Err(why) => return Ok(Err(why)),
            };
            let key = if var.name == "command" {
                "command"
            } else {
                "entrypoint"
            };
            draft.set(key, Value::Strs(words), line);
        }
        "user" => draft.set("user", str_value(), line),
        "network" => draft.set("network", str_value(), line),
        "hostname" => draft.set("hostname", str_value(), line),
        "volume" => match docker::volume(value) {
            Ok(volume) => draft.set("volumes", Value::Volume(volume), line),
            Err(why) => return Ok(Err(why)),
        },
        "environment" | "env" => match docker::env_var(value, &BTreeMap::new()) {
            Ok((key, value)) => draft.set("env", Value::Env(key, value), line),
            Err(why) => return Ok(Err(why)),
        },
        "no-overlap" | "pull" | "delete" | "tty" => return Ok(switch(var, draft)),
        "max-runtime" => match robfig::go_duration(value) {
            Some(limit) => {
                let timeout = humantime::format_duration(limit).to_string();
                draft.set("timeout", Value::Str(timeout), line);
            }
            None => {
                return Ok(Err(format!(
                    "{value:?} is not a Go duration such as 30m or 1h30m"
                )));
            }
        },
        "history-limit" => {
            return Ok(Err("Ofelia keeps that many runs in memory; cronbox keeps every job's history in its database, bounded by [daemon] history_limit and history_max_age".to_owned()));
        }
        "volumes-from" => {
            return Ok(Err("cronbox mounts host paths only; mount the other container's volumes by their host paths".to_owned()));
        }
        other if is_notification(other) => return Ok(Err(not_imported_notification(other))),
        _ => return Ok(Err("not a job-run setting the import knows".to_owned())),
    }
    Ok(Ok(()))
}

/// The boolean settings: `no-overlap`, `pull`, `delete`, `tty`.
fn switch(var: &Variable, draft: &mut Draft) -> Result<(), String> {
    let on = match var.value.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" | "on" => true,
        "0" | "f" | "false" | "no" | "off" => false,
        _ => return Err(format!("{:?} is not true or false", var.value)),
    };
    let line = var.line;
    match (var.name.as_str(), on) {
        ("no-overlap", on) => {
            let concurrency = if on { "forbid" } else { "allow" };
            draft.set("concurrency", Value::Str(concurrency.to_owned()), line);
        }
        ("pull", on) => {
            let pull = if on { "always" } else { "missing" };
            draft.set("pull", Value::Str(pull.to_owned()), line);
        }
        ("delete", true) | ("tty", false) => {}
        ("delete", false) => {
            return Err(
                "cronbox always removes the container once its exit and output are recorded"
                    .to_owned(),
            );
        }
        _ => return Err("cronbox runs containers without a terminal".to_owned()),
    }
    Ok(())
}

/// Ofelia's middleware settings (mail, Slack, saved reports, ...).
fn is_notification(name: &str) -> bool {
    [
        "mail", "email", "smtp", "slack", "save", "ntfy", "pushover", "teams", "webhook", "gotify",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests;
