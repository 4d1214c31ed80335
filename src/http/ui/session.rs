//! Who may see the dashboard and change things through it.
//!
//! With a token (`[daemon.http] token_file`), the login form takes the API's
//! token and sets a session cookie (`HttpOnly`, `SameSite=Strict`, path `/`)
//! whose value is HMAC-SHA-256(token, "session"): the token never travels in
//! a URL nor sits in the browser, and changing the token ends every session.
//! Without a token (the loopback default) no login is asked.
//!
//! Every state-changing request (run, pause, resume, stop, logout) is a POST
//! that carries the CSRF value in a hidden field, compared in constant time,
//! and is refused when the browser says it comes from another site (`Origin`
//! not this host, `Sec-Fetch-Site` not `same-origin`/`none`). The CSRF value is
//! HMAC-SHA-256(key, "csrf") with the token as key (a random key drawn at start
//! without one), and is shown only on pages behind the login.

use axum::extract::{Request, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::http::token::Token;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "cronbox_session";

/// The dashboard's keys: the token (if any) and what is derived from it.
pub struct Guard {
    token: Option<Arc<Token>>,
    /// The session cookie's value (with a token).
    session: Option<String>,
    /// The CSRF value of every form.
    csrf: String,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard(***)")
    }
}

/// HMAC-SHA-256 of `label` under `key`, in hex.
fn mac(key: &[u8], label: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new(); // HMAC takes keys of any length
    };
    mac.update(label.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Guard {
    /// The guard of a server that asks for `token` (none: no login).
    pub fn new(token: Option<Arc<Token>>) -> Guard {
        let key: Vec<u8> = match &token {
            Some(token) => token.key().to_vec(),
            None => {
                let mut key = vec![0u8; 32];
                if getrandom::fill(&mut key).is_err() {
                    // No randomness (never on Linux): the address of this
                    // allocation and the time are all that varies.
                    let seed = format!("{:p}{:?}", &key, std::time::Instant::now());
                    key = seed.into_bytes();
                }
                key
            }
        };
        Guard {
            session: token.as_ref().map(|_| mac(&key, "session")),
            csrf: mac(&key, "csrf"),
            token,
        }
    }

    /// Whether a login is asked.
    pub fn asks_login(&self) -> bool {
        self.token.is_some()
    }

    /// The CSRF value forms carry.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `presented` is the token.
    pub fn token_matches(&self, presented: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| t.matches(presented.trim().as_bytes()))
    }

    /// Whether the request may see the dashboard: no login asked, or the
    /// session cookie is right.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(session) = &self.session else {
            return true;
        };
        cookies(headers)
            .filter(|(name, _)| *name == COOKIE_NAME)
            .any(|(_, value)| bool::from(value.as_bytes().ct_eq(session.as_bytes())))
    }

    /// Whether `presented` is the CSRF value.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        presented.as_bytes().ct_eq(self.csrf.as_bytes()).into()
    }

    /// The `Set-Cookie` value that logs in (`None` without a token).
    pub fn login_cookie(&self) -> Option<String> {
        self.session.as_ref().map(|value| {
            format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000")
        })
    }
}

/// The `Set-Cookie` value that logs out.
pub fn logout_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The cookies of a request, as (name, value).
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.trim(), value.trim()))
        })
}

/// Whether the browser says this request comes from a page of this server:
/// `Sec-Fetch-Site` (when sent) is `same-origin` or `none`, and `Origin`
/// (when sent) is `http(s)://HOST` of this request.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match (text(ORIGIN.as_str()), text(HOST.as_str())) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            let origin = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            origin == Some(host)
        }
        (Some(_), None) => false,
    }
}

/// Let the request through when the guard admits it; else send a page to the
/// login form (a GET, which comes back after) or answer 401.
pub async fn require_session(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    if guard.admits(request.headers()) {
        return next.run(request).await;
    }
    if request.method() == Method::GET || request.method() == Method::HEAD {
        let back = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let location = format!("/login?next={}", encode(&back));
        return (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        "log in first: open /login and give the API token",
    )
        .into_response()
}

/// The cookie header of a response that logs in or out.
pub fn set_cookie(value: String) -> [(axum::http::HeaderName, String); 1] {
    [(SET_COOKIE, value)]
}

/// `text` percent-encoded for a query string (unreserved characters kept).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after logging in: a path of this server, else `/`.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_the_right_session_cookie_is_admitted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").expect("write");
        let guard = Guard::new(Some(Arc::new(Token::read(&path).expect("token"))));
        let cookie = guard.login_cookie().expect("cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("s3cret"), "the token is not the cookie");
        let value = cookie
            .split(';')
            .next()
            .and_then(|p| p.split_once('='))
            .map(|(_, v)| v.to_owned())
            .expect("value");
        let mut right = HeaderMap::new();
        let line = format!("a=b; {COOKIE_NAME}={value}");
        right.insert(COOKIE, line.parse().expect("header"));
        assert!(guard.admits(&right));
        assert!(!guard.admits(&headers(&[("cookie", "cronbox_session=nope")])));
        assert!(!guard.admits(&HeaderMap::new()));
        assert!(guard.token_matches("s3cret") && !guard.token_matches("s3cre"));
        assert_ne!(guard.csrf(), value, "the CSRF value is not the session");

        let open = Guard::new(None);
        assert!(open.admits(&HeaderMap::new()) && !open.asks_login());
        assert!(open.csrf_matches(open.csrf()));
        assert!(!open.csrf_matches("x"));
        assert_ne!(
            Guard::new(None).csrf(),
            open.csrf(),
            "a random key each start"
        );
    }

    #[test]
    fn requests_from_other_sites_are_told_apart() {
        let cases: [(&[(&str, &str)], bool); 6] = [
            (&[], true),
            (&[("host", "a:7340"), ("origin", "http://a:7340")], true),
            (&[("host", "a:7340"), ("origin", "http://evil")], false),
            (&[("host", "a:7340"), ("origin", "null")], false),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "same-origin")], true),
        ];
        for (pairs, want) in cases {
            assert_eq!(same_origin(&headers(pairs)), want, "{pairs:?}");
        }
        assert_eq!(safe_next(Some("/jobs/a")), "/jobs/a");
        for bad in [None, Some("//evil"), Some("http://evil"), Some("/\\evil")] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
