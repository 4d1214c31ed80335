//! Checking the array and table kinds of [`Kind`]: command lines, environment
//! variables, labels, secrets, volumes, tmpfs mounts, capabilities and exit codes.
//! Each item is checked and placed on its own; a list with a bad item is refused
//! whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use toml::de::DeValue;

use super::checker::{Checker, Value, describe, integer, kind, scalar_text};
use super::error::{quote, toml_key};
use super::kinds::Parsed;
use super::schema::NOTIFY_EVENTS;
use super::schema::{self, Argv, Key, Kind};
use super::suggest::closest;
use super::values::{
    CAPABILITIES, check_mailbox, check_secret_name, is_env_name, mount_target,
    normalize_capability, parse_tmpfs,
};
use super::{RESERVED_LABEL_PREFIX, Volume};

const VOLUME_EXAMPLES: &str = "use \"HOST:CONTAINER\" or \"HOST:CONTAINER:ro\" with absolute paths, e.g. \"/srv/backup:/backup:ro\"";

impl Checker<'_> {
    /// Checks `value` as the value of `key`, an array or table kind.
    pub(super) fn collection(
        &mut self,
        key: &Key,
        value: &Value<'_>,
        job: Option<&str>,
    ) -> Option<Parsed> {
        match key.kind {
            Kind::Argv(argv) => self.argv(value, job, key.name, argv).map(Parsed::List),
            Kind::Env => self.env(value, job, key.name).map(Parsed::Map),
            Kind::Labels => self.labels(value, job).map(Parsed::Map),
            Kind::Secrets => self.secrets(value, job).map(Parsed::Files),
            Kind::Volumes => self.volumes(value, job).map(Parsed::Volumes),
            Kind::Tmpfs => self.tmpfs(value, job).map(Parsed::List),
            Kind::Capabilities => self.capabilities(value, job, key.name).map(Parsed::List),
            Kind::ExitCodes { non_empty } => self
                .exit_codes(value, job, key.name, non_empty)
                .map(Parsed::Codes),
            Kind::Params => self.params(value, job, key.name).map(Parsed::List),
            Kind::Channels => self.names(value, job, key.name, NameList::Channels),
            Kind::Events => self.names(value, job, key.name, NameList::Events),
            Kind::Ping | Kind::Heartbeat => self.ping(value, job, key.name).map(Parsed::Map),
            Kind::Addresses => self.addresses(value, job, key.name).map(Parsed::List),
            Kind::After => self.after(value, job).map(Parsed::After),
            Kind::OnFile => self.on_file(value, job).map(Parsed::OnFile),
            Kind::FileAction => self
                .file_action(value, job, key.name)
                .map(Parsed::FileAction),
            _ => self.value(key, value, job),
        }
    }

    /// The items of the array `value`, or a type problem naming what is expected
    /// (with `hint` built from the value found).
    fn array<'v, 'i>(
        &mut self,
        value: &'v Value<'i>,
        job: Option<&str>,
        expected: &str,
        hint: impl FnOnce(&DeValue<'_>) -> String,
    ) -> Option<&'v [Value<'i>]> {
        if let DeValue::Array(items) = value.get_ref() {
            return Some(items.as_ref());
        }
        let message = format!(
            "{expected}, found {}{}",
            describe(value.get_ref()),
            hint(value.get_ref())
        );
        self.report(value.span(), job, message);
        None
    }

    /// `command` or `entrypoint`: a non-empty array of strings, the first non-empty.
    fn argv(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        rule: Argv,
    ) -> Option<Vec<String>> {
        let expected = format!("{key} must be an array of strings such as {}", rule.example);
        let items = self.array(value, job, &expected, |found| argv_hint(found, key, rule))?;
        if items.is_empty() {
            let message = format!("{key} must not be empty; {}", rule.empty_hint);
            self.report(value.span(), job, message);
            return None;
        }
        let before = self.reported;
        let mut argv = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let problem = match item.get_ref() {
                DeValue::String(s) if s.contains('\0') => format!(
                    "{key}[{index}] contains a NUL character, which cannot be passed to a program"
                ),
                DeValue::String(s) if index == 0 && s.is_empty() => {
                    format!("{key}[0], the program to run, must not be empty")
                }
                DeValue::String(s) => {
                    argv.push(s.to_string());
                    continue;
                }
                other => format!(
                    "{key}[{index}] must be a string, found {}; every argument must be quoted",
                    describe(other)
                ),
            };
            self.report(item.span(), job, problem);
        }
        (self.reported == before).then_some(argv)
    }

    /// `env`, or a channel's `headers` (`setting`): a table of strings, whose values
    /// no message shows.
    fn env(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        setting: &str,
    ) -> Option<BTreeMap<String, String>> {
        let (noun, example, nul) = if setting == "headers" {
            ("header name", "{ Authorization = \"Bearer ...\" }", "sent")
        } else {
            (
                "environment variable name",
                "{ PGUSER = \"app\" }",
                "passed to a program",
            )
        };
        let name_problem = |name: &str| {
            (name.is_empty() || name.contains(['=', '\0'])).then(|| {
                format!(
                    "invalid {noun} {} in {setting}: it must be non-empty and contain no \"=\" or NUL",
                    quote(name)
                )
            })
        };
        let value_problem = |name: &str, found: &DeValue<'_>| match found {
            DeValue::String(_) => format!(
                "{setting}.{} contains a NUL character, which cannot be {nul}",
                toml_key(name)
            ),
            other => {
                let hint = match other {
                    DeValue::Array(_) | DeValue::Table(_) => String::new(),
                    _ => format!("; quote the value: {} = \"...\"", toml_key(name)),
                };
                format!(
                    "{setting}.{} must be a string, found {} ({setting} values are never shown){hint}",
                    toml_key(name),
                    kind(other)
                )
            }
        };
        let not_table = |found: &DeValue<'_>| {
            format!(
                "{setting} must be a table of strings such as {example}, found {}",
                kind(found)
            )
        };
        self.string_table(value, job, &not_table, &name_problem, &value_problem)
    }

    fn labels(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<BTreeMap<String, String>> {
        let value_problem = |name: &str, found: &DeValue<'_>| match found {
            DeValue::String(_) => format!("labels.{} contains a NUL character", toml_key(name)),
            DeValue::Table(_) => format!(
                "labels.{} must be a string, found a table; a label name with dots must be quoted: labels = {{ {} = \"...\" }}",
                toml_key(name),
                quote(&format!("{name}.x"))
            ),
            other => {
                let hint = match other {
                    DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {
                        format!("; quote it: \"{}\"", scalar_text(other))
                    }
                    _ => String::new(),
                };
                format!(
                    "labels.{} must be a string, found {}{hint}",
                    toml_key(name),
                    describe(other)
                )
            }
        };
        let not_table = |found: &DeValue<'_>| {
            format!(
                "labels must be a table of strings such as {{ \"com.example.team\" = \"ops\" }}, found {}",
                describe(found)
            )
        };
        self.string_table(value, job, &not_table, &label_name_problem, &value_problem)
    }

    /// A table of strings (`env`, `headers`, `labels`): each name checked by
    /// `name_problem`; each value a string with no NUL, else `value_problem`
    /// says what is wrong with it (given the value found: a string has a NUL).
    /// `not_table` says what is wrong with a value that is not a table.
    fn string_table(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        not_table: &dyn Fn(&DeValue<'_>) -> String,
        name_problem: &dyn Fn(&str) -> Option<String>,
        value_problem: &dyn Fn(&str, &DeValue<'_>) -> String,
    ) -> Option<BTreeMap<String, String>> {
        let DeValue::Table(table) = value.get_ref() else {
            self.report(value.span(), job, not_table(value.get_ref()));
            return None;
        };
        let before = self.reported;
        let mut strings = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if let Some(problem) = name_problem(name) {
                self.report(key.span(), job, problem);
            }
            match value.get_ref() {
                DeValue::String(s) if !s.contains('\0') => {
                    strings.insert(name.to_owned(), s.to_string());
                }
                other => self.report(value.span(), job, value_problem(name, other)),
            }
        }
        (self.reported == before).then_some(strings)
    }

    fn secrets(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
    ) -> Option<BTreeMap<String, PathBuf>> {
        let DeValue::Table(table) = value.get_ref() else {
            let message = format!(
                "secrets must be a table of NAME = \"host file\" such as {{ db_password = \"/etc/cronbox/db_password\" }}, found {}",
                kind(value.get_ref())
            );
            self.report(value.span(), job, message);
            return None;
        };
        let before = self.reported;
        let mut secrets = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if let Err(why) = check_secret_name(name) {
                let message = format!("invalid secret name {}: {why}", quote(name));
                self.report(key.span(), job, message);
            }
            let setting = format!("secrets.{}", toml_key(name));
            let expected =
                "a string with the path of a file on the host such as \"/etc/cronbox/db_password\"";
            if let Some(path) = self.host_file(value, job, &setting, expected, false) {
                secrets.insert(name.to_owned(), path);
            }
        }
        (self.reported == before).then_some(secrets)
    }

    fn volumes(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Vec<Volume>> {
        let expected = "volumes must be an array of strings such as [\"/srv/backup:/backup:ro\"]";
        let items = self.array(value, job, expected, |_| String::new())?;
        let before = self.reported;
        let mut volumes = Vec::with_capacity(items.len());
        let mut targets = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let DeValue::String(text) = item.get_ref() else {
                let message = format!(
                    "volumes[{index}] must be a string such as \"/srv/backup:/backup:ro\", found {}",
                    describe(item.get_ref())
                );
                self.report(item.span(), job, message);
                continue;
            };
            match parse_volume(text) {
                Ok(volume) if !targets.insert(volume.container.clone()) => {
                    let message = format!(
                        "volume {} mounts container path {} a second time; each container path can be mounted only once",
                        quote(text),
                        quote(&volume.container.to_string_lossy())
                    );
                    self.report(item.span(), job, message);
                }
                Ok(volume) => volumes.push(volume),
                Err(message) => self.report(item.span(), job, message),
            }
        }
        (self.reported == before).then_some(volumes)
    }

    fn tmpfs(&mut self, value: &Value<'_>, job: Option<&str>) -> Option<Vec<String>> {
        let expected = "tmpfs must be an array of strings such as [\"/cache:size=64m\"]";
        let items = self.array(value, job, expected, |found| write_as_array(found, "tmpfs"))?;
        let before = self.reported;
        let mut mounts = Vec::with_capacity(items.len());
        let mut targets = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let DeValue::String(text) = item.get_ref() else {
                let message = format!(
                    "tmpfs[{index}] must be a string such as \"/cache\", found {}",
                    describe(item.get_ref())
                );
                self.report(item.span(), job, message);
                continue;
            };
            let problem = match parse_tmpfs(text) {
                Ok(path) if !targets.insert(mount_target(path).to_owned()) => format!(
                    "tmpfs {} mounts container path {} a second time; each container path can be mounted only once",
                    quote(text),
                    quote(path)
                ),
                // Stored with the path as compared ("/tmp/" is "/tmp"), options kept.
                Ok(path) => {
                    mounts.push(match text.split_once(':') {
                        Some((_, options)) => format!("{}:{options}", mount_target(path)),
                        None => mount_target(path).to_owned(),
                    });
                    continue;
                }
                Err(why) => format!("bad tmpfs {}: {why}", quote(text)),
            };
            self.report(item.span(), job, problem);
        }
        (self.reported == before).then_some(mounts)
    }

    fn capabilities(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
    ) -> Option<Vec<String>> {
        let expected =
            format!("{key} must be an array of capability names such as [\"NET_ADMIN\"]");
        let items = self.array(value, job, &expected, |found| write_as_array(found, key))?;
        let before = self.reported;
        let mut caps: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let DeValue::String(text) = item.get_ref() else {
                let message = format!(
                    "{key}[{index}] must be a string such as \"NET_ADMIN\", found {}",
                    describe(item.get_ref())
                );
                self.report(item.span(), job, message);
                continue;
            };
            match normalize_capability(text) {
                Some(cap) if caps.contains(&cap) => {}
                Some(cap) => caps.push(cap),
                None => self.report(item.span(), job, unknown_capability(text, key)),
            }
        }
        (self.reported == before).then_some(caps)
    }

    fn exit_codes(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        non_empty: bool,
    ) -> Option<Vec<i64>> {
        let expected = format!("{key} must be an array of exit codes from 0 to 255 such as [0, 3]");
        let items = self.array(value, job, &expected, |found| match found {
            DeValue::Integer(n) => format!("; write {key} = [{n}]"),
            _ => String::new(),
        })?;
        let before = self.reported;
        let mut codes = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match integer(item.get_ref()) {
                Some(code @ 0..=255) => codes.push(code as i64),
                _ => {
                    let message = format!(
                        "{key}[{index}] must be an exit code from 0 to 255, found {}",
                        describe(item.get_ref())
                    );
                    self.report(item.span(), job, message);
                }
            }
        }
        if self.reported != before {
            return None;
        }
        if codes.is_empty() && non_empty {
            let message =
                format!("{key} must not be empty: some exit code must mean success, such as [0]");
            self.report(value.span(), job, message);
            return None;
        }
        codes.sort_unstable();
        codes.dedup();
        Some(codes)
    }
}

impl Checker<'_> {
    /// `params`: environment variable names, each once.
    fn params(&mut self, value: &Value<'_>, job: Option<&str>, key: &str) -> Option<Vec<String>> {
        let expected =
            format!("{key} must be an array of environment variable names such as [\"TARGET\"]");
        let items = self.array(value, job, &expected, |found| write_as_array(found, key))?;
        let before = self.reported;
        let mut names: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let problem = match item.get_ref() {
                DeValue::String(name) if names.iter().any(|n| n == name.as_ref()) => {
                    format!("{key} lists {} twice; list each variable once", quote(name))
                }
                DeValue::String(name) if is_env_name(name) => {
                    names.push(name.to_string());
                    continue;
                }
                DeValue::String(name) => format!(
                    "{key}[{index}] {} is not an environment variable name: use letters, digits and \"_\", not starting with a digit, such as \"TARGET_DATE\"",
                    quote(name)
                ),
                other => format!(
                    "{key}[{index}] must be a string such as \"TARGET\", found {}",
                    describe(other)
                ),
            };
            self.report(item.span(), job, problem);
        }
        (self.reported == before).then_some(names)
    }
}

/// Which names a list of names ([`Kind::Channels`], [`Kind::Events`]) accepts.
#[derive(Clone, Copy)]
enum NameList {
    Channels,
    Events,
}

impl Checker<'_> {
    /// `notify` or `notify_on`: an array of names, each once, each known (a
    /// `[notify.NAME]` channel, or one of [`NOTIFY_EVENTS`]).
    fn names(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
        list: NameList,
    ) -> Option<Parsed> {
        let (example, noun) = match list {
            NameList::Channels => ("[\"ops\"]", "notification channel"),
            NameList::Events => ("[\"failure\", \"recovery\"]", "event"),
        };
        let known: Vec<String> = match list {
            NameList::Channels => self
                .channels
                .iter()
                .filter(|c| !self.ping_channels.contains(c))
                .cloned()
                .collect(),
            NameList::Events => NOTIFY_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
        };
        let expected = format!("{key} must be an array of names such as {example}");
        let items = self.array(value, job, &expected, |found| write_as_array(found, key))?;
        let before = self.reported;
        let mut names: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let problem = match item.get_ref() {
                DeValue::String(name) if names.iter().any(|n| n == name.as_ref()) => {
                    format!("{key} lists {} twice; list each {noun} once", quote(name))
                }
                DeValue::String(name) if known.iter().any(|k| k == name.as_ref()) => {
                    names.push(name.to_string());
                    continue;
                }
                DeValue::String(name) if self.ping_channels.iter().any(|c| c == name.as_ref()) => {
                    format!(
                        "{} is a healthchecks channel, which takes pings, not messages; write healthchecks = {{ channel = {}, check = \"UUID\" }}",
                        quote(name),
                        quote(name)
                    )
                }
                DeValue::String(name) => unknown_name(name, &known, noun, list),
                other => format!(
                    "{key}[{index}] must be a string such as {}, found {}",
                    example.trim_matches(['[', ']']),
                    describe(other)
                ),
            };
            self.report(item.span(), job, problem);
        }
        (self.reported == before).then_some(Parsed::List(names))
    }
}

impl Checker<'_> {
    /// `healthchecks = { channel = "hc", check = "UUID" }` (a job's) or
    /// `heartbeat = { channel = "hc", check = "UUID", every = "5m" }` (the
    /// daemon's, `key`), as `schema::sub_keys` describes them, the channel a known
    /// one of kind healthchecks. The values as written, by name.
    fn ping(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
    ) -> Option<BTreeMap<String, String>> {
        let heartbeat = key == "heartbeat";
        let shape = if heartbeat {
            "heartbeat must be a table such as { channel = \"hc\", check = \"5f1c9a3e-...\", every = \"5m\" }"
        } else {
            "healthchecks must be a table such as { channel = \"hc\", check = \"5f1c9a3e-...\" }"
        };
        let DeValue::Table(table) = value.get_ref() else {
            let message = format!("{shape}, found {}", describe(value.get_ref()));
            self.report(value.span(), job, message);
            return None;
        };
        let before = self.reported;
        let keys = schema::sub_keys(if heartbeat {
            Kind::Heartbeat
        } else {
            Kind::Ping
        });
        let mut fields = self.inline((value, table), key, keys, shape, job);
        let mut found = BTreeMap::new();
        if let Some((channel, span)) = fields.text("channel") {
            if !self.ping_channels.contains(&channel) {
                let message = format!(
                    "{key}.channel {} is not a channel of kind \"healthchecks\"; define it as [notify.{}] with kind = \"healthchecks\" and its ping URL",
                    quote(&channel),
                    toml_key(&channel)
                );
                self.report(span.unwrap_or(value.span()), job, message);
            }
            found.insert("channel".to_owned(), channel);
        }
        if let Some((check, _)) = fields.text("check") {
            found.insert("check".to_owned(), check);
        }
        if let Some(DeValue::String(every)) = table.get("every").map(|v| v.get_ref()) {
            found.insert("every".to_owned(), every.to_string());
        }
        (self.reported == before).then_some(found)
    }
}

impl Checker<'_> {
    /// `to`: a non-empty array of mail addresses, each once.
    fn addresses(
        &mut self,
        value: &Value<'_>,
        job: Option<&str>,
        key: &str,
    ) -> Option<Vec<String>> {
        let expected =
            format!("{key} must be an array of mail addresses such as [\"ops@example.org\"]");
        let items = self.array(value, job, &expected, |found| write_as_array(found, key))?;
        if items.is_empty() {
            let message = format!(
                "{key} must not be empty; list who gets the mail, such as [\"ops@example.org\"]"
            );
            self.report(value.span(), job, message);
            return None;
        }
        let before = self.reported;
        let mut addresses: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let problem = match item.get_ref() {
                DeValue::String(text) if addresses.iter().any(|a| a == text.as_ref()) => {
                    format!("{key} lists {} twice; list each address once", quote(text))
                }
                DeValue::String(text) => match check_mailbox(text) {
                    Ok(()) => {
                        addresses.push(text.to_string());
                        continue;
                    }
                    Err(why) => format!("bad {key}[{index}] {}: {why}", quote(text)),
                },
                other => format!(
                    "{key}[{index}] must be a string such as \"ops@example.org\", found {}",
                    describe(other)
                ),
            };
            self.report(item.span(), job, problem);
        }
        (self.reported == before).then_some(addresses)
    }
}

/// The message for a name a list of names does not know, with a suggestion.
fn unknown_name(name: &str, known: &[String], noun: &str, list: NameList) -> String {
    let candidates: Vec<&str> = known.iter().map(String::as_str).collect();
    let hint = match (closest(name, candidates.iter().copied()), list) {
        (Some(near), _) => format!("; did you mean {}?", quote(near)),
        (None, NameList::Channels) if known.is_empty() => format!(
            "; define it as [notify.{}] with kind = \"webhook\" and its url",
            toml_key(name)
        ),
        (None, _) => format!("; known: {}", candidates.join(", ")),
    };
    format!("unknown {noun} {}{hint}", quote(name))
}

/// For a string where a command line was expected: how to write it as an array.
fn argv_hint(found: &DeValue<'_>, key: &str, rule: Argv) -> String {
    match found {
        DeValue::String(s) if rule.shell_hint && s.contains(char::is_whitespace) => format!(
            "; no shell is involved: to run it through one write {key} = [\"sh\", \"-c\", {}]",
            quote(s)
        ),
        DeValue::String(s) if s.contains(char::is_whitespace) => format!(
            "; write each argument as its own string, e.g. {key} = {}",
            rule.example
        ),
        other => write_as_array(other, key),
    }
}

/// For a string where an array was expected: "; write KEY = ["..."]".
fn write_as_array(found: &DeValue<'_>, key: &str) -> String {
    match found {
        DeValue::String(s) => format!("; write {key} = [{}]", quote(s)),
        _ => String::new(),
    }
}

/// Why a label name is refused, if it is.
fn label_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().any(char::is_control) {
        Some(format!(
            "invalid label name {}: it must be non-empty, without control characters",
            quote(name)
        ))
    } else if name.to_ascii_lowercase().starts_with(RESERVED_LABEL_PREFIX) {
        Some(format!(
            "label {} starts with \"{RESERVED_LABEL_PREFIX}\", which is reserved for cronbox's own labels; use another prefix such as \"com.example.\"",
            quote(name)
        ))
    } else {
        None
    }
}

fn unknown_capability(text: &str, key: &str) -> String {
    let upper = text.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    let suggestion = closest(bare, CAPABILITIES.iter().copied())
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default();
    format!(
        "unknown capability {} in {key}{suggestion}; use a Linux capability name such as \"NET_ADMIN\" or \"SYS_TIME\" (with or without \"CAP_\", in any case), or \"ALL\"",
        quote(text)
    )
}

/// Parses a `HOST:CONTAINER[:ro|:rw]` bind; the error is the whole message.
fn parse_volume(text: &str) -> Result<Volume, String> {
    let bad = |why: String| format!("bad volume {}: {why}", quote(text));
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, mode) = match parts[..] {
        [host, container] => (host, container, None),
        [host, container, mode] => (host, container, Some(mode)),
        [_] => {
            return Err(bad(format!(
                "missing \":\" between the host and container paths; {VOLUME_EXAMPLES}"
            )));
        }
        _ => return Err(bad(format!("too many \":\"; {VOLUME_EXAMPLES}"))),
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(mode) => {
            return Err(bad(format!(
                "unknown mode {}; the mode must be \"ro\" (read-only) or \"rw\" (read-write, the default)",
                quote(mode)
            )));
        }
    };
    for (which, path) in [("host", host), ("container", container)] {
        if path.is_empty() {
            return Err(bad(format!("the {which} path is empty; {VOLUME_EXAMPLES}")));
        }
        if !path.starts_with('/') {
            let extra = if which == "host" {
                " (named Docker volumes are not supported: give a host directory)"
            } else {
                ""
            };
            return Err(bad(format!(
                "the {which} path {} is not absolute; it must start with \"/\"{extra}",
                quote(path)
            )));
        }
    }
    if container.trim_end_matches('/').is_empty() {
        return Err(bad(
            "cannot mount over the container's root \"/\"; choose a directory such as \"/data\""
                .to_owned(),
        ));
    }
    Ok(Volume {
        host: PathBuf::from(host),
        container: PathBuf::from(container),
        read_only,
    })
}
