//! The notification channels of the schedule file, `[notify.NAME]`: their types
//! and the walk that checks them (each key as `schema.rs` describes it, plus the
//! rules across keys: a `kind`, and exactly one of `url` and `url_file`).
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
    /// The format written as `name` (`format = "slack"`).
    pub fn from_name(name: &str) -> Option<WebhookFormat> {
        Some(match name {
            "json" => WebhookFormat::Json,
            "slack" => WebhookFormat::Slack,
            "discord" => WebhookFormat::Discord,
            "ntfy" => WebhookFormat::Ntfy,
            "gotify" => WebhookFormat::Gotify,
            _ => return None,
        })
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
}

/// A notification channel, `[notify.NAME]`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Matches the job name rule (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    pub kind: ChannelKind,
    pub url: UrlSource,
    pub format: WebhookFormat,
    /// Extra request headers (name to value); values may be secrets.
    pub headers: BTreeMap<String, SecretText>,
    /// How long one delivery may take. Default: 10 s.
    pub timeout: Duration,
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
        let url_set = spans[notify_key!("url")].is_some();
        let file_set = spans[notify_key!("url_file")].is_some();
        if spans[notify_key!("kind")].is_none() {
            let message = format!("{shown} has no kind; add kind = \"webhook\"");
            self.report(key.span(), None, message);
        }
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
        super::validate::fill_defaults(&mut values, Table::Notify);
        let at = self.locate(key.span().start);
        let channel = channel_config(name, &mut values, at);
        (self.reported == before).then_some(channel).flatten()
    }
}

/// The channel `name` from its checked values (`None` when a value is missing,
/// which a reported problem explains).
fn channel_config(name: &str, v: &mut Values<'_>, at: Location) -> Option<Channel> {
    let url = match v.take_opt(notify_key!("url"), Parsed::into_text)? {
        Some(url) => UrlSource::Inline(SecretText(url.trim().to_owned())),
        None => UrlSource::File(v.take(notify_key!("url_file"), Parsed::into_path)?),
    };
    let kind = match v.take(notify_key!("kind"), Parsed::into_choice)? {
        "healthchecks" => ChannelKind::Healthchecks,
        _ => ChannelKind::Webhook,
    };
    let format = v.take(notify_key!("format"), Parsed::into_choice)?;
    let headers = v.take(notify_key!("headers"), Parsed::into_map)?;
    Some(Channel {
        name: name.to_owned(),
        kind,
        url,
        format: WebhookFormat::from_name(format)?,
        headers: headers
            .into_iter()
            .map(|(k, value)| (k, SecretText(value)))
            .collect(),
        timeout: v.take(notify_key!("timeout"), Parsed::into_duration)?,
        at,
    })
}
