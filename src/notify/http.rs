//! Sending one webhook request: the HTTP client (reqwest on rustls with the ring
//! provider), the channel's URL (written in the file or read from `url_file` at
//! each attempt, so a fixed file needs no reload) and errors that name the
//! channel's host only, never the URL, its query or its credentials.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use crate::config::{Channel, UrlSource};

/// Largest `url_file` read: 4 KiB (a URL is one line).
pub const MAX_URL_FILE_SIZE: u64 = 4096;

/// Why one delivery attempt failed, in words safe to log and store: the channel
/// and the host, never the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel {channel}: {what}")]
pub struct SendError {
    pub channel: String,
    pub what: String,
}

/// A request body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// Extra headers of the format (ntfy's `Title`).
    pub headers: Vec<(&'static str, String)>,
}

/// Install rustls's ring provider as the process's default, which every reqwest
/// client needs before it is built (reqwest is built with `rustls-no-provider`:
/// ring cross-compiles with a C compiler alone). Call it before building any
/// client; installing again is a no-op.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client every channel shares (its timeout is set per request).
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    install_tls_provider();
    reqwest::Client::builder()
        .user_agent(concat!("cronbox/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
}

/// The channel's URL: the one written, else the first line of its `url_file`,
/// checked as `cronbox check` checks it. Errors never repeat the URL.
pub fn channel_url(channel: &Channel) -> Result<reqwest::Url, SendError> {
    let fail = |what: String| SendError {
        channel: channel.name.clone(),
        what,
    };
    let text = match &channel.url {
        Some(UrlSource::Inline(url)) => url.0.clone(),
        Some(UrlSource::File(path)) => read_url_file(path).map_err(fail)?,
        None => return Err(fail("the channel has no URL (an email channel)".to_owned())),
    };
    crate::config::check_url(&text).map_err(|why| fail(format!("the URL is refused: {why}")))?;
    reqwest::Url::parse(text.trim()).map_err(|e| fail(format!("the URL is refused: {e}")))
}

fn read_url_file(path: &std::path::Path) -> Result<String, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| match e.kind() {
            // Worded as `check` words every missing host path.
            std::io::ErrorKind::NotFound => {
                format!("url_file {shown} does not exist; create it or fix the path")
            }
            _ => format!("cannot read url_file {shown}: {e}"),
        })?
        .len();
    if size > MAX_URL_FILE_SIZE {
        return Err(format!(
            "url_file {shown} is larger than {MAX_URL_FILE_SIZE} bytes; it should hold one URL"
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read url_file {shown}: {e}"))?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.map(str::to_owned)
        .ok_or_else(|| format!("url_file {shown} is empty; write the URL in it"))
}

/// The host of `url`, as errors name it.
pub fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => "(no host)".to_owned(),
    }
}

/// POST `body` to the channel's URL with `Idempotency-Key: key`; `Ok` on a 2xx
/// answer.
pub async fn post(
    client: &reqwest::Client,
    channel: &Channel,
    key: &str,
    body: Body,
) -> Result<(), SendError> {
    post_to(client, channel, channel_url(channel)?, key, body).await
}

/// The ping URL of `check` on a healthchecks channel: its URL, the check, and
/// `suffix` ("/start", "", "/3", "/fail").
pub fn ping_url(channel: &Channel, check: &str, suffix: &str) -> Result<reqwest::Url, SendError> {
    let base = channel_url(channel)?;
    let mut text = base.as_str().trim_end_matches('/').to_owned();
    text.push('/');
    text.push_str(check);
    text.push_str(suffix);
    reqwest::Url::parse(&text).map_err(|e| SendError {
        channel: channel.name.clone(),
        what: format!("the ping URL is refused: {e}"),
    })
}

/// POST `body` to `url` as [`post`] does, with the channel's headers and timeout.
pub async fn post_to(
    client: &reqwest::Client,
    channel: &Channel,
    url: reqwest::Url,
    key: &str,
    body: Body,
) -> Result<(), SendError> {
    let host = host_of(&url);
    let fail = |what: String| SendError {
        channel: channel.name.clone(),
        what,
    };
    let mut request = client
        .post(url)
        .timeout(channel.timeout)
        .header(CONTENT_TYPE, body.content_type)
        .header("Idempotency-Key", key);
    for (name, value) in &body.headers {
        request = request.header(*name, value);
    }
    for (name, value) in &channel.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| fail(format!("header {name:?} is not a valid header name")))?;
        let value = HeaderValue::from_str(&value.0).map_err(|_| {
            fail(format!(
                "the value of header {name} is not valid in a header"
            ))
        })?;
        request = request.header(name, value);
    }
    let answer = request
        .body(body.bytes)
        .send()
        .await
        .map_err(|e| fail(describe(&e, &host, channel.timeout)))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(fail(format!("{host} answered HTTP {}", status.as_u16())))
    }
}

/// A reqwest error in words that never hold the URL.
fn describe(error: &reqwest::Error, host: &str, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!(
            "{host} did not answer within {}",
            humantime::format_duration(timeout)
        );
    }
    let what = if error.is_connect() {
        "could not connect to"
    } else {
        "request failed to"
    };
    // The innermost cause (an OS error, a TLS alert) holds no URL; the error
    // itself does, so it is never shown.
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut last = None;
    while let Some(cause) = source {
        last = Some(cause.to_string());
        source = cause.source();
    }
    match last {
        Some(cause) => format!("{what} {host}: {cause}"),
        None => format!("{what} {host}"),
    }
}
