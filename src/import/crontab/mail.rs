//! cron's `MAILTO` and `MAILFROM`. cron mailed each job's output through the
//! host's mail system; cronbox mails through an SMTP server, on the events a
//! job's `notify_on` names (failures and recoveries by default), not on every
//! output. That needs a server cron never named, so it is not imported as a
//! working setting: each list of addresses becomes an email channel
//! (`[notify.mail]`, `[notify.mail-2]`, ...) written commented out above the
//! jobs, with the host's own mail server as the guess for `smtp`, and each
//! job below a `MAILTO` says which channel to name in its `notify`. The
//! addresses appear in that comment only, never in a message.

use super::super::draft::string;
use super::super::{Skipped, Translation};

/// The `MAILTO`s met so far, and the one in force.
#[derive(Default)]
pub(super) struct Mail {
    channels: Vec<Channel>,
    current: Option<usize>,
    from: Option<String>,
}

/// One list of addresses: the channel it becomes.
struct Channel {
    name: String,
    line: usize,
    to: Vec<String>,
}

impl Mail {
    /// `MAILTO=value` on `line`: the jobs below are mailed to `value` (a
    /// comma-separated list; empty: no mail).
    pub(super) fn mailto(&mut self, line: usize, value: &str, t: &mut Translation) {
        let to: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if to.is_empty() {
            self.current = None;
            t.notes.push(Skipped::new(
                line,
                "MAILTO is empty: cron mailed nothing for the jobs below; nothing to import",
            ));
            return;
        }
        let index = match self.channels.iter().position(|c| c.to == to) {
            Some(index) => index,
            None => {
                let name = match self.channels.len() {
                    0 => "mail".to_owned(),
                    n => format!("mail-{}", n + 1),
                };
                self.channels.push(Channel { name, line, to });
                self.channels.len() - 1
            }
        };
        self.current = Some(index);
        let name = &self.channels[index].name;
        t.skipped.push(Skipped::new(
            line,
            format!("MAILTO: cron mailed each job's output through this host's mail system; cronbox mails through an SMTP server, on the events a job's notify_on names (failures and recoveries by default): the channel [notify.{name}] is written commented out above the jobs; check its smtp and from, uncomment it and add notify = [\"{name}\"] to the jobs below (README, \"Notifications\")"),
        ));
    }

    /// `MAILFROM=value` on `line`: the sender of the channels.
    pub(super) fn mailfrom(&mut self, line: usize, value: &str, t: &mut Translation) {
        self.from = Some(value.to_owned());
        t.notes.push(Skipped::new(
            line,
            "MAILFROM: the from of the mail channels written commented out (with MAILTO)",
        ));
    }

    /// What a job below the `MAILTO` in force should know, if any.
    pub(super) fn job_comment(&self) -> Option<String> {
        let channel = &self.channels[self.current?];
        Some(format!(
            "cron mailed its output (MAILTO, line {}): add notify = [\"{}\"] to be told of its failures by mail.",
            channel.line, channel.name
        ))
    }

    /// The channels, commented out, for the top of the file.
    pub(super) fn preamble(&self) -> String {
        let from = self.from.as_deref().unwrap_or("cron@localhost");
        let mut out = String::new();
        for channel in &self.channels {
            let to: Vec<String> = channel.to.iter().map(|a| string(a)).collect();
            out.push_str(&format!(
                "# MAILTO (line {line}): cron mailed each job's output to these addresses.\n\
                 # To be told of failures by mail: check smtp and from, uncomment the\n\
                 # channel, and add notify = [\"{name}\"] to the jobs that say so.\n\
                 # [notify.{name}]\n\
                 # kind = \"email\"\n\
                 # smtp = \"smtp://127.0.0.1:25\"   # this host's mail server, where cron's mail went\n\
                 # starttls = false\n\
                 # from = {from}\n\
                 # to = [{to}]\n",
                line = channel.line,
                name = channel.name,
                from = string(from),
                to = to.join(", "),
            ));
        }
        out
    }
}
