//! Sending one notification as a mail (channels of kind `email`): lettre's SMTP
//! client on tokio and rustls (the ring provider, the platform's certificates; no
//! OpenSSL), one connection per message.
//!
//! `smtps://` speaks TLS from the first byte; `smtp://` requires STARTTLS (a
//! server that does not offer it gets no credentials and no mail) unless the
//! channel says `starttls = false`. The password is read from `password_file` at
//! each attempt and never kept, shown, logged or stored: errors name the channel
//! and the server only, and any text of the server's that repeats the password
//! has it cut. The `Message-ID` is derived from the notification's id, so a
//! receiver can drop a duplicate sent after a crash between send and record.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::http::SendError;
use super::payload::{self, Payload};
use crate::config::{Channel, Email, SmtpSecurity};

/// Largest `password_file` read: 4 KiB (a password is one line).
pub const MAX_PASSWORD_FILE_SIZE: u64 = 4096;

/// A user name and its password, read from `password_file` for one attempt.
/// `Debug` does not show the password.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login {{ user: {:?}, password: \"***\" }}", self.user)
    }
}

/// The channel's login: its user name and the first line of its
/// `password_file`, read now (`None` when the channel sets no `username`).
/// Errors name the file, never what it holds.
pub fn login(channel: &Channel, email: &Email) -> Result<Option<Login>, SendError> {
    let Some((user, path)) = &email.login else {
        return Ok(None);
    };
    let fail = |what: String| SendError {
        channel: channel.name.clone(),
        what,
    };
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("password_file {shown} does not exist; create it or fix the path")
            }
            _ => format!("cannot read password_file {shown}: {e}"),
        })
        .map_err(fail)?
        .len();
    if size > MAX_PASSWORD_FILE_SIZE {
        return Err(fail(format!(
            "password_file {shown} is larger than {MAX_PASSWORD_FILE_SIZE} bytes; it should hold one password"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read password_file {shown}: {e}")))?;
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(fail(format!(
            "password_file {shown} is empty; write the password on its first line"
        )));
    }
    Ok(Some(Login {
        user: user.clone(),
        password: password.to_owned(),
    }))
}

/// The `Message-ID` of notification `id` sent from `host` by `from`: the same
/// at every attempt, so a receiver can drop a duplicate.
pub fn message_id(id: &str, host: &str, from: &Mailbox) -> String {
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .collect();
    let host = if host.is_empty() { "cronbox" } else { &host };
    format!("<cronbox.{id}.{host}@{}>", from.email.domain())
}

/// The mail of `p`: the headline as its subject, the readable message and the
/// last lines of stdout as its text.
pub fn build(email: &Email, key: &str, p: &Payload) -> Result<Message, String> {
    let from: Mailbox = email
        .from
        .parse()
        .map_err(|e| format!("from is not a mail address: {e}"))?;
    let mut builder = Message::builder()
        .message_id(Some(message_id(key, &p.host, &from)))
        .from(from)
        .subject(payload::headline(p))
        .header(ContentType::TEXT_PLAIN);
    for to in &email.to {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("to holds a bad mail address: {e}"))?;
        builder = builder.to(to);
    }
    builder
        .body(body(p))
        .map_err(|e| format!("the mail could not be built: {e}"))
}

/// The text of the mail of `p`.
pub fn body(p: &Payload) -> String {
    let mut text = payload::message(p);
    if !p.stdout_tail.is_empty() {
        text.push_str(&format!("\nstdout:\n{}", p.stdout_tail));
    }
    text.push_str(&format!(
        "\n\n-- \ncronbox notification {} ({})\n",
        p.id, p.event
    ));
    text
}

/// Send `p` as a mail through the channel's server, with `Message-ID` derived
/// from `key` (the notification's id); `Ok` when the server accepted it.
pub async fn send(channel: &Channel, key: &str, p: &Payload) -> Result<(), SendError> {
    let fail = |what: String| SendError {
        channel: channel.name.clone(),
        what,
    };
    let email = channel
        .email
        .as_ref()
        .ok_or_else(|| fail("the channel is not an email channel".to_owned()))?;
    let login = login(channel, email)?;
    let message = build(email, key, p).map_err(fail)?;
    let server = format!("{}:{}", email.host, email.port);
    let transport = transport(email, login.clone()).map_err(|e| {
        fail(format!(
            "cannot set up TLS for {server}: {}",
            scrub(&e, login.as_ref())
        ))
    })?;
    let sent = tokio::time::timeout(channel.timeout, transport.send(message)).await;
    match sent {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(fail(format!(
            "{server} did not take the mail: {}{}",
            scrub(&e, login.as_ref()),
            if e.to_string().contains("STARTTLS is not supported") {
                "; smtp:// requires STARTTLS: use smtps:// if the server speaks TLS, or set starttls = false for a relay on this host"
            } else {
                ""
            }
        ))),
        Err(_) => Err(fail(format!(
            "{server} did not answer within {}",
            humantime::format_duration(channel.timeout)
        ))),
    }
}

/// lettre's client for the channel's server, its TLS and its login.
fn transport(
    email: &Email,
    login: Option<Login>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    super::http::install_tls_provider();
    let tls = match email.security {
        SmtpSecurity::Tls => Tls::Wrapper(TlsParameters::new(email.host.clone())?),
        SmtpSecurity::StartTls => Tls::Required(TlsParameters::new(email.host.clone())?),
        SmtpSecurity::Plain => Tls::None,
    };
    let hello = match payload::host_name() {
        name if name.is_empty() => ClientId::default(),
        name => ClientId::Domain(name),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(email.host.clone())
        .port(email.port)
        .tls(tls)
        .hello_name(hello);
    if let Some(login) = login {
        builder = builder.credentials(Credentials::new(login.user, login.password));
    }
    Ok(builder.build())
}

/// An error's text, with the password cut should the server have repeated it.
fn scrub(error: &dyn std::fmt::Display, login: Option<&Login>) -> String {
    let text = error.to_string();
    match login {
        Some(login) if text.contains(&login.password) => text.replace(&login.password, "***"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_well_formed() {
        let from: Mailbox = "Cronbox <cronbox@nuc.example.org>"
            .parse()
            .expect("mailbox");
        let cases = [
            ("42", "nuc", "<cronbox.42.nuc@nuc.example.org>"),
            ("42", "", "<cronbox.42.cronbox@nuc.example.org>"),
            ("7", "a b<c>", "<cronbox.7.abc@nuc.example.org>"),
        ];
        for (id, host, want) in cases {
            assert_eq!(message_id(id, host, &from), want);
        }
    }

    #[test]
    fn a_password_repeated_by_the_server_is_cut() {
        let login = Login {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert_eq!(
            scrub(&"535 bad password hunter2", Some(&login)),
            "535 bad password ***"
        );
        assert!(!format!("{login:?}").contains("hunter2"));
    }
}
