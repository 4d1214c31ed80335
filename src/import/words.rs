//! Splitting a command line into words as a POSIX shell would, for command
//! lines that are one simple command: quotes and backslashes are understood;
//! anything the shell would expand or treat as an operator is refused, since
//! cronbox runs one container with fixed arguments, not a shell.

/// The words of `line`, or what in it makes it more than one simple command
/// with fixed words: an operator (`|`, `;`, `&`, `<`, `>`, `(`, `)`), an
/// expansion (`$`, `` ` ``, outside single quotes), a glob or `~` where the
/// shell would expand it, or an unterminated quote.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    words(line, true)
}

/// The words of `line` as Ofelia splits a `command` (Go's gobs/args): on
/// blanks, with quotes and backslashes, and no shell: `|`, `$` and the like
/// are ordinary characters. An unterminated quote is an error.
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    words(line, false)
}

fn words(line: &str, shell: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote is not closed".to_owned()),
                        },
                        Some(c @ ('$' | '`')) if shell => return Err(expansion(c)),
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            '$' | '`' if shell => return Err(expansion(c)),
            '|' | ';' | '&' | '<' | '>' | '(' | ')' if shell => {
                return Err(format!(
                    "the shell operator {c:?}: cronbox runs one command in a container, not a shell line; put a shell in the container (sh -c '...') if you need one"
                ));
            }
            '*' | '?' | '[' if shell => {
                return Err(format!(
                    "the unquoted {c:?}, which the shell would expand to file names; quote it"
                ));
            }
            '~' if shell && !in_word => {
                return Err("the unquoted ~, which the shell would expand to a home directory; write the path".to_owned());
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn expansion(c: char) -> String {
    format!(
        "the expansion {c:?}: the shell would replace it when cron runs the line; write the value itself (or quote it with single quotes)"
    )
}

#[cfg(test)]
mod tests {
    use super::{split, split_args};

    #[test]
    fn simple_commands_split_like_a_shell() {
        let cases: [(&str, &[&str]); 7] = [
            (
                "docker run --rm alpine echo hi",
                &["docker", "run", "--rm", "alpine", "echo", "hi"],
            ),
            (
                "sh -c 'date | tee -a /x'",
                &["sh", "-c", "date | tee -a /x"],
            ),
            (r#"echo "a \"b\" \$c" d\ e"#, &["echo", "a \"b\" $c", "d e"]),
            ("  spaced\t  out  ", &["spaced", "out"]),
            ("''", &[""]),
            ("a'b'\"c\"", &["abc"]),
            ("a=~/x '*' \\*", &["a=~/x", "*", "*"]),
        ];
        for (line, want) in cases {
            assert_eq!(split(line).expect(line), want, "{line}");
        }
    }

    #[test]
    fn ofelia_commands_have_no_shell() {
        assert_eq!(
            split_args("sh -c 'date | tee $X' *").expect("words"),
            ["sh", "-c", "date | tee $X", "*"]
        );
        assert!(split_args("echo \"open").is_err());
    }

    #[test]
    fn shell_lines_are_refused_with_the_reason() {
        let cases = [
            ("a | b", "operator '|'"),
            ("a > /log", "operator '>'"),
            ("a; b", "operator ';'"),
            ("a && b", "operator '&'"),
            ("echo $HOME", "expansion '$'"),
            ("echo \"$HOME\"", "expansion '$'"),
            ("echo `date`", "expansion '`'"),
            ("ls *.txt", "unquoted '*'"),
            ("cd ~", "unquoted ~"),
            ("echo 'open", "not closed"),
        ];
        for (line, why) in cases {
            match split(line) {
                Ok(words) => panic!("{line} gave {words:?}"),
                Err(e) => assert!(e.contains(why), "{line}: {e}"),
            }
        }
    }
}
