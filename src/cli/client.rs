//! The CLI's client of the running daemon's HTTP API (`pause`, `resume`,
//! `stop`, `run --detach`): the address of `[daemon.http] listen` (a wildcard
//! address is reached on loopback) and the token of its `token_file`, both from
//! the schedule file. Plain HTTP with reqwest, no TLS.

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::Config;
use crate::http::token::Token;

/// How long a request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the daemon's API.
pub struct Client {
    base: String,
    token: Option<Token>,
    http: reqwest::Client,
}

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers at the address: the daemon is not running (or listens elsewhere).
    #[error(
        "no daemon answers at {0} ([daemon.http] listen); is it running (systemctl status cronbox)?"
    )]
    Unreachable(String),
    /// The daemon answered with an error.
    #[error("the daemon refused: {message} (HTTP {status}, {code})")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// Any other failure (a timeout, a malformed answer).
    #[error("talking to the daemon at {base}: {error}")]
    Failed { base: String, error: String },
}

impl ClientError {
    /// The API's error code, when the daemon answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The JSON body of an API error.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    code: String,
}

/// Where to reach a server listening on `listen`: a wildcard address
/// (`0.0.0.0`, `[::]`) is reached on its loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

/// `error` and its causes, ": "-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

impl Client {
    /// A client of the daemon `config` describes; `None` when its server is off
    /// (`listen = ""`). Fails when the token file cannot be read.
    pub fn for_config(config: &Config) -> anyhow::Result<Option<Client>> {
        let http = &config.daemon.http;
        let Some(listen) = http.listen else {
            return Ok(None);
        };
        let token = http.token_file.as_deref().map(Token::read).transpose()?;
        crate::notify::http::install_tls_provider();
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Some(Client {
            base: format!("http://{}", reachable(listen)),
            token,
            http: client,
        }))
    }

    /// POST `path` (under the server's root) with the JSON `body`, and the
    /// answer's JSON.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ClientError> {
        let mut request = self.http.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header(reqwest::header::AUTHORIZATION, token.header_value());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let failed = |error: reqwest::Error| {
            if error.is_connect() {
                ClientError::Unreachable(self.base.clone())
            } else {
                ClientError::Failed {
                    base: self.base.clone(),
                    error: chain(&error.without_url()),
                }
            }
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(failed);
        }
        let body: Option<ErrorBody> = response.json().await.ok();
        let (code, message) = body.map_or_else(
            || ("unknown".to_owned(), format!("HTTP {status}")),
            |b| (b.code, b.error),
        );
        Err(ClientError::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_is_reached_on_loopback() {
        let cases = [
            ("0.0.0.0:7340", "127.0.0.1:7340"),
            ("[::]:7340", "[::1]:7340"),
            ("127.0.0.1:7340", "127.0.0.1:7340"),
            ("192.0.2.1:80", "192.0.2.1:80"),
        ];
        for (listen, want) in cases {
            let listen: SocketAddr = listen.parse().expect("address");
            assert_eq!(reachable(listen).to_string(), want);
        }
    }
}
