//! What a notification says: cronbox's JSON payload (format `json`, documented in
//! the README), built once from the database at the first attempt and sent
//! unchanged by every retry, and the short readable messages of the chat formats
//! (`slack`, `discord`, `ntfy`, `gotify`), rendered from the same facts. Pure but
//! for [`build`], which reads the run.

use serde::{Deserialize, Serialize};

use super::http::Body;
use crate::config::{Tail, WebhookFormat};
use crate::store::{Notification, Store, StoreError, Stream};

/// The payload's version: a field added keeps it, a field changed or removed
/// increments it.
pub const VERSION: u32 = 1;

/// The JSON payload of a notification (format `json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub version: u32,
    /// The notification's id, also sent as the `Idempotency-Key` header.
    pub id: i64,
    /// `failure`, `recovery`, `success`, `missed`, `skipped` or `test`.
    pub event: String,
    pub job: String,
    pub host: String,
    pub run_id: Option<i64>,
    /// `schedule`, `catch-up`, `manual` or `api`.
    pub trigger: Option<String>,
    pub status: Option<String>,
    pub scheduled_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// From the run's start to its end, in milliseconds.
    pub duration_ms: Option<i64>,
    /// How many attempts the run made.
    pub attempts: u32,
    /// The last attempt's exit code and outcome (`exited`, `oom`, `timeout`, ...).
    pub exit_code: Option<i64>,
    pub outcome: Option<String>,
    /// Why the run failed, was missed or skipped, in words.
    pub reason: Option<String>,
    /// The last lines of the last attempt's stderr and stdout.
    pub stderr_tail: String,
    pub stdout_tail: String,
    /// How many identical events before this one were folded into it (the job's
    /// `notify_cooldown`).
    pub folded: i64,
    /// The run's page on the dashboard, `PUBLIC_URL/runs/ID`, when `[daemon]
    /// public_url` is set and the notification has a run.
    #[serde(default)]
    pub url: Option<String>,
}

impl Payload {
    /// A payload with only its version, `id` and this host (the test message).
    pub fn empty(id: i64) -> Payload {
        Payload {
            version: VERSION,
            id,
            event: String::new(),
            job: String::new(),
            host: host_name(),
            run_id: None,
            trigger: None,
            status: None,
            scheduled_at: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            attempts: 0,
            exit_code: None,
            outcome: None,
            reason: None,
            stderr_tail: String::new(),
            stdout_tail: String::new(),
            folded: 0,
            url: None,
        }
    }
}

/// The payload of notification `n` from the database (its run may be gone:
/// retention; then only the row's facts are given), linking to the run's page
/// under `public_url` (`[daemon] public_url`, without a trailing `/`), with
/// `size` of each output stream (the channel's `tail_lines` and `tail_size`).
pub async fn build(
    store: &Store,
    n: &Notification,
    folded: i64,
    public_url: Option<&str>,
    size: Tail,
) -> Result<Payload, StoreError> {
    let mut payload = Payload {
        event: n.event.clone(),
        job: n.job.clone(),
        run_id: n.run_id,
        folded,
        url: public_url
            .zip(n.run_id)
            .map(|(base, run)| format!("{base}/runs/{run}")),
        ..Payload::empty(n.id)
    };
    let Some(run_id) = n.run_id else {
        return Ok(payload);
    };
    if let Some(run) = store.run(run_id).await? {
        payload.duration_ms = duration_ms(&run.started_at, run.finished_at.as_deref());
        payload.trigger = Some(run.trigger);
        payload.status = Some(run.status);
        payload.scheduled_at = Some(run.scheduled_at);
        payload.started_at = Some(run.started_at);
        payload.finished_at = run.finished_at;
        payload.reason = run.reason;
    }
    let attempts = store.attempts(run_id).await?;
    if let Some(last) = attempts.last() {
        payload.attempts = u32::try_from(last.attempt).unwrap_or(0);
        payload.exit_code = last.exit_code;
        payload.outcome = Some(last.outcome.clone());
        let last_attempt = payload.attempts;
        let chunks = store.output(run_id, Some(last_attempt)).await?;
        let stream = |which: Stream| -> Vec<u8> {
            chunks
                .iter()
                .filter(|c| c.stream == which)
                .flat_map(|c| c.data.iter().copied())
                .collect()
        };
        payload.stderr_tail = tail(&stream(Stream::Stderr), size.lines, size.bytes);
        payload.stdout_tail = tail(&stream(Stream::Stdout), size.lines, size.bytes);
    }
    Ok(payload)
}

fn duration_ms(started: &str, finished: Option<&str>) -> Option<i64> {
    let started = crate::store::parse_timestamp(started)?;
    let finished = crate::store::parse_timestamp(finished?)?;
    Some((finished - started).num_milliseconds())
}

/// This machine's host name (empty when it cannot be read).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The last `lines` lines of `output`, at most `max_bytes` bytes of them (cut at
/// a character boundary), as text (invalid UTF-8 replaced).
pub fn tail(output: &[u8], lines: usize, max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let trimmed = text.trim_end_matches('\n');
    let start = trimmed
        .rmatch_indices('\n')
        .nth(lines.saturating_sub(1))
        .map_or(0, |(i, _)| i + 1);
    let mut last = &trimmed[start..];
    if lines == 0 {
        last = "";
    }
    if last.len() > max_bytes {
        let mut cut = last.len() - max_bytes;
        while !last.is_char_boundary(cut) {
            cut += 1;
        }
        last = &last[cut..];
    }
    last.to_owned()
}

/// One line saying what happened: "backup-db failed (exit code 2 after 3 attempts) on nuc".
pub fn headline(p: &Payload) -> String {
    let what = match p.event.as_str() {
        "failure" => {
            let code = p.exit_code.map_or_else(
                || p.outcome.clone().unwrap_or_else(|| "no exit code".into()),
                |c| format!("exit code {c}"),
            );
            format!(
                "failed ({code} after {} attempt{})",
                p.attempts,
                plural(p.attempts)
            )
        }
        "recovery" => "recovered: succeeded after failing".to_owned(),
        "success" => "succeeded".to_owned(),
        "missed" => "missed its schedule".to_owned(),
        "skipped" => "was skipped (its previous run was still going)".to_owned(),
        "test" => "test message from cronbox".to_owned(),
        "overdue" => "is overdue: no successful run within its expect_success_within".to_owned(),
        "overdue_resolved" => "succeeded again: no longer overdue".to_owned(),
        other => other.to_owned(),
    };
    let host = if p.host.is_empty() {
        String::new()
    } else {
        format!(" on {}", p.host)
    };
    let folded = match p.folded {
        0 => String::new(),
        n => format!(" ({n} more like it folded)"),
    };
    format!("cronbox: {} {what}{host}{folded}", p.job)
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The readable message of the chat formats: the headline, the reason, the run,
/// the last lines of stderr.
pub fn message(p: &Payload) -> String {
    let mut text = headline(p);
    if let Some(reason) = &p.reason {
        text.push_str(&format!("\n{reason}"));
    }
    if let Some(run) = p.run_id {
        text.push_str(&format!("\nrun {run}"));
        if let Some(at) = &p.scheduled_at {
            text.push_str(&format!(", scheduled {at}"));
        }
    }
    if let Some(url) = &p.url {
        text.push_str(&format!("\n{url}"));
    }
    if !p.stderr_tail.is_empty() {
        text.push_str(&format!("\nstderr:\n{}", p.stderr_tail));
    }
    text
}

/// The request body of `format` for `p`.
pub fn render(format: WebhookFormat, p: &Payload) -> Body {
    let json = |value: serde_json::Value| Body {
        content_type: "application/json",
        bytes: value.to_string().into_bytes(),
        headers: Vec::new(),
    };
    match format {
        WebhookFormat::Json => Body {
            content_type: "application/json",
            bytes: serde_json::to_vec(p).unwrap_or_default(),
            headers: Vec::new(),
        },
        WebhookFormat::Slack => json(serde_json::json!({ "text": message(p) })),
        WebhookFormat::Discord => json(serde_json::json!({ "content": clip(&message(p), 2000) })),
        WebhookFormat::Gotify => json(serde_json::json!({
            "title": headline(p),
            "message": message(p),
            "priority": if p.event == "failure" { 8 } else { 4 },
        })),
        WebhookFormat::Ntfy => Body {
            content_type: "text/plain; charset=utf-8",
            bytes: message(p).into_bytes(),
            headers: vec![
                ("Title", headline(p)),
                (
                    "Tags",
                    if p.event == "failure" {
                        "warning"
                    } else {
                        "white_check_mark"
                    }
                    .to_owned(),
                ),
            ],
        },
    }
}

/// At most `max` characters of `text` (Discord refuses longer messages).
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Payload {
        Payload {
            version: VERSION,
            id: 42,
            event: "failure".into(),
            job: "backup-db".into(),
            host: "nuc".into(),
            run_id: Some(17),
            trigger: Some("schedule".into()),
            status: Some("failed".into()),
            scheduled_at: Some("2026-03-29T02:30:00.000Z".into()),
            started_at: Some("2026-03-29T02:30:00.120Z".into()),
            finished_at: Some("2026-03-29T02:31:10.480Z".into()),
            duration_ms: Some(70360),
            attempts: 3,
            exit_code: Some(2),
            outcome: Some("exited".into()),
            reason: Some("3 attempt(s) failed; the last: exited with exit code 2".into()),
            stderr_tail: "pg_dump: error: connection refused".into(),
            stdout_tail: String::new(),
            folded: 0,
            url: Some("https://cronbox.example.org/runs/17".into()),
        }
    }

    #[test]
    fn tails_keep_the_last_lines_within_the_byte_limit() {
        let cases: [(&str, usize, usize, &str); 7] = [
            ("", 20, 4096, ""),
            ("one\ntwo\nthree\n", 20, 4096, "one\ntwo\nthree"),
            ("one\ntwo\nthree\n", 2, 4096, "two\nthree"),
            ("one\ntwo\nthree", 1, 4096, "three"),
            ("one\ntwo\nthree", 0, 4096, ""),
            ("abcdef", 20, 3, "def"),
            ("ééé", 20, 3, "é"),
        ];
        for (output, lines, bytes, want) in cases {
            assert_eq!(
                tail(output.as_bytes(), lines, bytes),
                want,
                "{output:?} {lines} {bytes}"
            );
        }
    }

    #[test]
    fn each_format_renders_the_same_facts() {
        let p = failure();
        let body = |format| {
            let body = render(format, &p);
            (
                body.content_type,
                String::from_utf8(body.bytes).expect("utf-8"),
                body.headers,
            )
        };
        let (kind, json, _) = body(WebhookFormat::Json);
        assert_eq!(kind, "application/json");
        let back: Payload = serde_json::from_str(&json).expect("json");
        assert_eq!(back, p);
        let headline = "cronbox: backup-db failed (exit code 2 after 3 attempts) on nuc";
        for format in [
            WebhookFormat::Slack,
            WebhookFormat::Discord,
            WebhookFormat::Gotify,
        ] {
            let (kind, text, _) = body(format);
            assert_eq!(kind, "application/json");
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            let message = value["text"]
                .as_str()
                .or(value["content"].as_str())
                .or(value["message"].as_str());
            let message = message.expect("a message field");
            assert!(message.starts_with(headline), "{format:?}: {message}");
            assert!(
                message.contains("pg_dump: error: connection refused"),
                "{message}"
            );
            assert!(message.contains("run 17"), "{message}");
            assert!(
                message.contains("\nhttps://cronbox.example.org/runs/17"),
                "{message}"
            );
        }
        let (kind, text, headers) = body(WebhookFormat::Ntfy);
        assert!(kind.starts_with("text/plain"));
        assert!(text.starts_with(headline));
        assert_eq!(headers[0], ("Title", headline.to_owned()));
    }

    #[test]
    fn headlines_say_what_happened() {
        let mut p = failure();
        let cases = [
            (
                "recovery",
                0,
                "cronbox: backup-db recovered: succeeded after failing on nuc",
            ),
            ("missed", 0, "cronbox: backup-db missed its schedule on nuc"),
            (
                "failure",
                4,
                "cronbox: backup-db failed (exit code 2 after 3 attempts) on nuc (4 more like it folded)",
            ),
        ];
        for (event, folded, want) in cases {
            p.event = event.into();
            p.folded = folded;
            assert_eq!(headline(&p), want);
        }
    }
}

#[cfg(test)]
mod readme {
    use super::*;

    /// The fenced blocks of README.md's "## Notifications" with info string `info`.
    fn blocks(info: &str) -> Vec<String> {
        let readme = include_str!("../../README.md");
        let start = readme.find("\n## Notifications\n").expect("the section");
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 4)];
        let mut found = Vec::new();
        let mut current: Option<String> = None;
        for line in section.lines() {
            match (&mut current, line) {
                (None, l) if l == format!("```{info}") => current = Some(String::new()),
                (Some(_), "```") => found.extend(current.take()),
                (Some(block), l) => {
                    block.push_str(l);
                    block.push('\n');
                }
                (None, _) => {}
            }
        }
        found
    }

    #[test]
    fn the_readme_payload_and_its_message_are_what_cronbox_sends() {
        let json = &blocks("json")[0];
        let payload: Payload = serde_json::from_str(json).expect("the README's payload");
        let sent: serde_json::Value =
            serde_json::from_slice(&render(WebhookFormat::Json, &payload).bytes).expect("json");
        let shown: serde_json::Value = serde_json::from_str(json).expect("json");
        assert_eq!(
            sent, shown,
            "every field of the README's payload, none more"
        );
        assert_eq!(format!("{}\n", message(&payload)), blocks("text")[0]);
    }

    #[test]
    fn the_readme_schedules_are_valid() {
        let parse = |toml: &str| {
            crate::config::parse(
                std::path::Path::new("/etc/cronbox/cronbox.toml"),
                toml,
                &crate::config::Environment {
                    cpus: 1,
                    state_directory: None,
                    local_timezone: chrono_tz::UTC,
                    local_timezone_source: crate::config::ZoneSource::System,
                },
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let config = parse(&blocks("toml")[0]);
        assert_eq!(config.jobs[0].notify, ["ops", "chat"]);
        assert_eq!(config.channels.len(), 2);
        let config = parse(&blocks("toml")[1]);
        let ping = config.jobs[0].healthchecks.as_ref().expect("a ping");
        assert_eq!(ping.channel, "hc");
        let heartbeat = config.daemon.heartbeat.as_ref().expect("a heartbeat");
        assert_eq!(
            (heartbeat.channel.as_str(), heartbeat.every),
            ("hc", std::time::Duration::from_secs(300))
        );
        let config = parse(&blocks("toml")[2]);
        assert_eq!(config.jobs[0].notify, ["mail"]);
        let email = config.channels[0].email.as_ref().expect("an email channel");
        assert_eq!(
            (email.host.as_str(), email.port, email.security),
            (
                "mail.example.org",
                587,
                crate::config::SmtpSecurity::StartTls
            )
        );
        assert!(email.login.is_some());
    }
}
