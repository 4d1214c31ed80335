//! Quoting words for a POSIX shell, for the commands printed in comments.

/// `word` as one shell word: as is when it holds only characters no shell
/// treats specially, else in single quotes (a `'` inside written `'\''`).
pub(crate) fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn words_with_shell_characters_are_single_quoted() {
        let cases = [
            ("/etc/cronbox/db.env", "/etc/cronbox/db.env"),
            ("db_password=/etc/x", "db_password=/etc/x"),
            ("/srv/my files/a", "'/srv/my files/a'"),
            ("it's", r"'it'\''s'"),
            ("$HOME", "'$HOME'"),
            ("", "''"),
        ];
        for (word, want) in cases {
            assert_eq!(quote(word), want);
        }
    }
}
