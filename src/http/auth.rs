//! The bearer token check: every route this layer wraps answers 401 unless
//! the request carries `Authorization: Bearer TOKEN` with the token of
//! `[daemon.http] token_file`, compared in constant time. Nothing here logs
//! the header or the token.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::error::ApiError;
use super::token::Token;

/// Let the request through only with the right token.
pub async fn require_token(
    State(token): State<Arc<Token>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| bearer(value.as_bytes()));
    match presented {
        Some(presented) if token.matches(presented) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// The credentials of an `Authorization: Bearer CREDENTIALS` header value (the
/// scheme in any case, RFC 9110), or `None`.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        let cases: [(&[u8], Option<&[u8]>); 5] = [
            (b"Bearer abc", Some(b"abc")),
            (b"bearer  abc ", Some(b"abc")),
            (b"Basic abc", None),
            (b"Bearer", None),
            (b"Bearerabc", None),
        ];
        for (value, want) in cases {
            assert_eq!(bearer(value), want, "{value:?}");
        }
    }
}
