//! The API's bearer token (`[daemon.http] token_file`): read from its file by the
//! daemon at start, by `cronbox check` and by the CLI's client, and compared in
//! constant time. Its value never appears in a message, a log line or a `Debug`.

use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

use crate::config::{MAX_TOKEN_FILE_SIZE, file};

/// A bearer token. `Debug` shows `Token(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Why the token file cannot be used. The message names the file and says what
/// to do; it never shows the file's content.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Worded as `check` words every missing host path.
    #[error("token_file {} does not exist; create it or fix the path", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read token_file {}: {why}; create it with a token (e.g. `head -c 32 /dev/urandom | base64 > {}`) or fix the path", path.display(), path.display())]
    Unreadable { path: PathBuf, why: file::ReadError },
    #[error("token_file {} is empty; write the bearer token in it (one line)", path.display())]
    Empty { path: PathBuf },
    #[error("token_file {} holds more than a single word of printable ASCII (spaces, several lines or other characters); write the token alone on one line", path.display())]
    Malformed { path: PathBuf },
}

impl Token {
    /// The token in the file at `path`: its text without surrounding whitespace,
    /// one word of printable ASCII (what an HTTP header can carry), at most
    /// [`MAX_TOKEN_FILE_SIZE`] bytes of file.
    pub fn read(path: &Path) -> Result<Token, TokenError> {
        let text = file::read_to_string(path, MAX_TOKEN_FILE_SIZE).map_err(|why| match why {
            file::ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                TokenError::Missing {
                    path: path.to_owned(),
                }
            }
            why => TokenError::Unreadable {
                path: path.to_owned(),
                why,
            },
        })?;
        Token::parse(&text).map_err(|empty| {
            let path = path.to_owned();
            if empty {
                TokenError::Empty { path }
            } else {
                TokenError::Malformed { path }
            }
        })
    }

    /// The token written `text` (surrounding whitespace ignored); `Err(true)`
    /// when there is none, `Err(false)` when it is not one printable word.
    fn parse(text: &str) -> Result<Token, bool> {
        let token = text.trim();
        if token.is_empty() {
            return Err(true);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(false);
        }
        Ok(Token(token.to_owned()))
    }

    /// Whether `presented` is this token, compared in constant time (for tokens
    /// of the same length; a different length answers at once).
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }

    /// The token's bytes, as the key of the dashboard's session and CSRF
    /// values (HMAC-SHA-256 of a label; see `http::ui::session`), which must
    /// change when the token does. Never shown.
    pub(crate) fn key(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The `Authorization` header value that carries it: `Bearer TOKEN`.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_one_printable_word_and_matches_only_itself() {
        let cases: [(&str, Result<&str, bool>); 6] = [
            ("s3cret\n", Ok("s3cret")),
            ("  a+b/c=  \n", Ok("a+b/c=")),
            ("", Err(true)),
            (" \n\t", Err(true)),
            ("two words", Err(false)),
            ("one\ntwo", Err(false)),
        ];
        for (text, want) in cases {
            let got = Token::parse(text);
            assert_eq!(
                got.as_ref().map(|t| t.0.as_str()),
                want.as_ref().map(|s| *s),
                "{text:?}"
            );
        }
        let token = Token::parse("s3cret").expect("token");
        assert!(token.matches(b"s3cret"));
        assert!(!token.matches(b"s3cre"));
        assert!(!token.matches(b"s3cret!"));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "Token(***)");
        assert_eq!(token.header_value(), "Bearer s3cret");
    }

    #[test]
    fn messages_name_the_file_never_its_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let error = Token::read(&missing).expect_err("missing");
        assert!(matches!(error, TokenError::Missing { .. }), "{error}");
        let directory = Token::read(dir.path()).expect_err("a directory");
        assert!(
            directory.to_string().contains("cannot read token_file"),
            "{directory}"
        );
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "top secret").expect("write");
        let error = Token::read(&bad).expect_err("two words").to_string();
        assert!(
            error.contains(&bad.display().to_string()) && !error.contains("secret"),
            "{error}"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        assert!(matches!(Token::read(&empty), Err(TokenError::Empty { .. })));
    }
}
