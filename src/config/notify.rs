//! The notification channels of the schedule file, `[notify.NAME]`: their types
//! and the walk that checks them (each key as `schema.rs` describes it, plus the
//! rules across keys: a `kind`; exactly one of `url` and `url_file`, or for an
//! email channel `smtp`, `from`, `to`, and `username` with `password_file`).
//!
//! Config never reads `url_file`: the daemon and `cronbox check` do
//! (`crate::notify::channel_url`). A channel's URL may hold a token: it is kept
//! in a [`SecretText`], which no `Debug` output shows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::DeValue;

use super::checker::{Checker, Key, Value, describe};
use super::error::{Location, toml_key};
use super::kinds::Parsed;
use super::schema::{Table, notify_key};
use super::validate::Values;
use super::{is_valid_job_name, suggest::bad_job_name_message};

/// Text that may be a secret (a URL with a token): `Debug` shows `"***"`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Where a channel's URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Written in the file (`url`).
    Inline(SecretText),
    /// A file holding it (`url_file`, resolved against the schedule file's
    /// directory), read by the daemon at start and reload.
    File(PathBuf),
}

/// The body a webhook channel sends (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// cronbox's documented JSON payload.
    Json,
    /// `{"text": ...}` for a Slack incoming webhook.
    Slack,
    /// `{"content": ...}` for a Discord webhook.
    Discord,
    /// A plain-text body with a `Title` header, for an ntfy topic URL.
    Ntfy,
    /// `{"title", "message", "priority"}` for Gotify's `/message`.
    Gotify,
}

impl WebhookFormat {
    /// Every format, in the order of the schema's `format` choices (a test
    /// checks that the two agree).
    pub const ALL: [WebhookFormat; 5] = [
        WebhookFormat::Json,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Ntfy,
        WebhookFormat::Gotify,
    ];

    /// As written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Ntfy => "ntfy",
            WebhookFormat::Gotify => "gotify",
        }
    }

    /// The format written as `name` (`format = "slack"`).
    pub fn from_name(name: &str) -> Option<WebhookFormat> {
        Self::ALL.into_iter().find(|format| format.as_str() == name)
    }
}

/// What a channel is (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// An HTTP POST of a body of its `format`.
    Webhook,
    /// healthchecks.io-compatible pings: `URL/CHECK/start`, `URL/CHECK`,
    /// `URL/CHECK/EXIT_CODE` or `URL/CHECK/fail`.
    Healthchecks,
    /// A mail over SMTP ([`Email`]).
    Email,
}

impl ChannelKind {
    /// Every kind, in the order of the schema's `kind` choices (a test checks
    /// that the two agree).
    pub const ALL: [ChannelKind; 3] = [
        ChannelKind::Webhook,
        ChannelKind::Healthchecks,
        ChannelKind::Email,
    ];

    /// As written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Healthchecks => "healthchecks",
            ChannelKind::Email => "email",
        }
    }

    /// The kind written as `name` (`kind = "email"`).
    pub fn from_name(name: &str) -> Option<ChannelKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// The end of an output stream a message carries: its last `lines` lines, at
/// most `bytes` bytes of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    pub lines: usize,
    pub bytes: usize,
}

/// How an email channel secures its connection to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Tls,
    /// `smtp://`: plain text upgraded with STARTTLS, which is required (port 587
    /// by default): a server that does not offer it gets nothing.
    StartTls,
    /// `smtp://` with `starttls = false`: clear text (a relay on this host).
    Plain,
}

/// The settings of a `kind = "email"` channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The server's host name or address, as written in `smtp`.
    pub host: String,
    /// Its port: the one written, else 465 (`smtps://`) or 587 (`smtp://`).
    pub port: u16,
    pub security: SmtpSecurity,
    /// The sender (`from`), a checked RFC 5322 mailbox.
    pub from: String,
    /// The recipients (`to`), checked mailboxes, at least one.
    pub to: Vec<String>,
    /// The user name and the file holding the password (both or neither): the
    /// password is read at each delivery and never kept.
    pub login: Option<(String, PathBuf)>,
}

/// A notification channel, `[notify.NAME]`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Matches the job name rule (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    pub kind: ChannelKind,
    /// Where a webhook or healthchecks channel sends; `None` for email.
    pub url: Option<UrlSource>,
    /// What an email channel needs; `None` for the other kinds.
    pub email: Option<Email>,
    pub format: WebhookFormat,
    /// Extra request headers (name to value); values may be secrets.
    pub headers: BTreeMap<String, SecretText>,
    /// How long one delivery may take. Default: 10 s.
    pub timeout: Duration,
    /// How much of each output stream a message carries (`tail_lines`,
    /// `tail_size`). Default: 20 lines, 4 KiB.
    pub tail: Tail,
    /// Where `[notify.NAME]` is written.
    pub at: Location,
}

impl Checker<'_> {
    /// Reads `[notify]`: every channel, checked; remembers their names (for the
    /// jobs' `notify`). A bad channel is reported and left out.
    pub(super) fn channels(&mut self, entry: Option<(&Key<'_>, &Value<'_>)>) -> Vec<Channel> {
        let Some((key, value)) = entry else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            let message = format!(
                "notify must be a table of named channels such as [notify.ops], found {}",
                describe(value.get_ref())
            );
            self.report(key.span(), None, message);
            return Vec::new();
        };
        self.channels = table.iter().map(|(k, _)| k.get_ref().to_string()).collect();
        self.ping_channels = table
            .iter()
            .filter(|(_, v)| {
                v.get_ref()
                    .as_table()
                    .and_then(|t| t.get("kind"))
                    .is_some_and(|kind| kind.get_ref().as_str() == Some("healthchecks"))
            })
            .map(|(k, _)| k.get_ref().to_string())
            .collect();
        table
            .iter()
            .filter_map(|(key, value)| self.channel(key, value))
            .collect()
    }

    fn channel(&mut self, key: &Key<'_>, value: &Value<'_>) -> Option<Channel> {
        let name: &str = key.get_ref();
        let before = self.reported;
        if !is_valid_job_name(name) {
            let message = bad_job_name_message(name).replace("job", "channel");
            self.report(key.span(), None, message);
        }
        let shown = format!("[notify.{}]", toml_key(name));
        let table = self.table((key, value), &shown)?;
        let (mut values, spans) = self.plain_table(Some(table), Table::Notify, &shown, |_, _| None);
        let email = matches!(
            values.get(notify_key!("kind")),
            Some(Parsed::Choice("email"))
        );
        if spans[notify_key!("kind")].is_none() {
            let message = format!("{shown} has no kind; add kind = \"webhook\"");
            self.report(key.span(), None, message);
        }
        if email {
            self.email_rules(key, &spans, &shown);
        } else {
            self.url_rules(key, &spans, &shown, name);
        }
        super::validate::fill_defaults(&mut values, Table::Notify);
        let at = self.locate(key.span().start);
        let channel = channel_config(name, &mut values, at);
        if self.reported != before {
            return None;
        }
        self.built(channel, key, &shown)
    }

    /// `channel`, or a problem at `key` when its checked values did not make
    /// one: a channel is never left out without a word.
    pub(super) fn built(
        &mut self,
        channel: Option<Channel>,
        key: &Key<'_>,
        shown: &str,
    ) -> Option<Channel> {
        if channel.is_none() {
            let message = format!(
                "{shown} could not be set up from its values, which cronbox accepted: a bug in cronbox; please report it with the keys the channel sets (not their values)"
            );
            self.report(key.span(), None, message);
        }
        channel
    }
}

impl Checker<'_> {
    /// A webhook or healthchecks channel: exactly one of `url` and `url_file`, and
    /// none of the email keys.
    fn url_rules(&mut self, key: &Key<'_>, spans: &Spans, shown: &str, name: &str) {
        let url_set = spans[notify_key!("url")].is_some();
        let file_set = spans[notify_key!("url_file")].is_some();
        if url_set == file_set {
            let message = if url_set {
                format!("{shown} sets both url and url_file; keep one")
            } else {
                format!(
                    "{shown} has no url; add url_file = \"/etc/cronbox/{name}.url\" (a file holding the URL) or url = \"https://...\""
                )
            };
            let span = spans[notify_key!("url")]
                .clone()
                .unwrap_or_else(|| key.span());
            self.report(span, None, message);
        }
        for (index, email_key) in EMAIL_KEYS {
            if let Some(span) = spans[index].clone() {
                let message = format!(
                    "{email_key} is for channels of kind = \"email\"; remove it from {shown} or set kind = \"email\""
                );
                self.report(span, None, message);
            }
        }
    }

    /// An email channel: `smtp`, `from` and `to`; `username` and `password_file`
    /// together; no `url` or `url_file`.
    fn email_rules(&mut self, key: &Key<'_>, spans: &Spans, shown: &str) {
        for (index, url_key) in [
            (notify_key!("url"), "url"),
            (notify_key!("url_file"), "url_file"),
        ] {
            if let Some(span) = spans[index].clone() {
                let message = format!(
                    "{url_key} is not used by an email channel, which sends to the addresses of to through smtp; remove it from {shown}"
                );
                self.report(span, None, message);
            }
        }
        for (index, required, example) in [
            (
                notify_key!("smtp"),
                "smtp",
                "smtp = \"smtp://mail.example.org:587\"",
            ),
            (
                notify_key!("from"),
                "from",
                "from = \"cronbox@nuc.example.org\"",
            ),
            (notify_key!("to"), "to", "to = [\"ops@example.org\"]"),
        ] {
            if spans[index].is_none() {
                let message =
                    format!("{shown} is an email channel without {required}; add {example}");
                self.report(key.span(), None, message);
            }
        }
        let user = spans[notify_key!("username")].clone();
        let password = spans[notify_key!("password_file")].clone();
        match (user, password) {
            (Some(span), None) => {
                let message = format!(
                    "{shown} sets username without password_file; add password_file = \"/etc/cronbox/smtp.pass\" (a file holding the password), or remove username"
                );
                self.report(span, None, message);
            }
            (None, Some(span)) => {
                let message = format!(
                    "{shown} sets password_file without username; add username = \"...\", or remove password_file"
                );
                self.report(span, None, message);
            }
            _ => {}
        }
    }
}

/// The spans of a table's values, by key index.
type Spans = [Option<std::ops::Range<usize>>];

/// The keys only email channels take.
const EMAIL_KEYS: [(usize, &str); 6] = [
    (notify_key!("smtp"), "smtp"),
    (notify_key!("starttls"), "starttls"),
    (notify_key!("from"), "from"),
    (notify_key!("to"), "to"),
    (notify_key!("username"), "username"),
    (notify_key!("password_file"), "password_file"),
];

/// The channel `name` from its checked values (`None` when a value is missing,
/// which a reported problem explains).
fn channel_config(name: &str, v: &mut Values<'_>, at: Location) -> Option<Channel> {
    let kind = ChannelKind::from_name(v.take(notify_key!("kind"), Parsed::into_choice)?)?;
    let (url, email) = match kind {
        ChannelKind::Email => (None, Some(email_config(v)?)),
        _ => (Some(url_source(v)?), None),
    };
    let format = v.take(notify_key!("format"), Parsed::into_choice)?;
    let headers = v.take(notify_key!("headers"), Parsed::into_map)?;
    Some(Channel {
        name: name.to_owned(),
        kind,
        url,
        email,
        format: WebhookFormat::from_name(format)?,
        headers: headers
            .into_iter()
            .map(|(k, value)| (k, SecretText(value)))
            .collect(),
        timeout: v.take(notify_key!("timeout"), Parsed::into_duration)?,
        tail: Tail {
            lines: usize::try_from(v.take(notify_key!("tail_lines"), Parsed::into_int)?).ok()?,
            bytes: usize::try_from(v.take(notify_key!("tail_size"), Parsed::into_size)?).ok()?,
        },
        at,
    })
}

fn url_source(v: &mut Values<'_>) -> Option<UrlSource> {
    Some(match v.take_opt(notify_key!("url"), Parsed::into_text)? {
        Some(url) => UrlSource::Inline(SecretText(url.trim().to_owned())),
        None => UrlSource::File(v.take(notify_key!("url_file"), Parsed::into_path)?),
    })
}

/// An email channel's settings from its checked values (`smtp` already checked
/// by `check_smtp_url`).
fn email_config(v: &mut Values<'_>) -> Option<Email> {
    let smtp = v.take(notify_key!("smtp"), Parsed::into_text)?;
    let url = reqwest::Url::parse(smtp.trim()).ok()?;
    let starttls = v.take(notify_key!("starttls"), Parsed::into_bool)?;
    let (security, default_port) = match (url.scheme(), starttls) {
        ("smtps", _) => (SmtpSecurity::Tls, 465),
        (_, true) => (SmtpSecurity::StartTls, 587),
        (_, false) => (SmtpSecurity::Plain, 587),
    };
    let username = v.take_opt(notify_key!("username"), Parsed::into_text)?;
    let password_file = v.take_opt(notify_key!("password_file"), Parsed::into_path)?;
    Some(Email {
        host: url.host_str()?.trim_matches(['[', ']']).to_owned(),
        port: url.port().unwrap_or(default_port),
        security,
        from: v.take(notify_key!("from"), Parsed::into_text)?,
        to: v.take(notify_key!("to"), Parsed::into_list)?,
        login: username.zip(password_file),
    })
}
