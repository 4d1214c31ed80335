//! Values that are inline tables: `after = { job, on }`, `on_file = { dir, ... }`,
//! `healthchecks` / `heartbeat = { channel, check[, every] }` and
//! `{ move_to }`. Their keys are described in `schema.rs` ([`schema::sub_keys`])
//! and checked here as the file's keys are: each name known (else "unknown key",
//! with "did you mean"), each value by its kind, defaults applied, the first
//! missing required key reported. What a value means across the file (a parent
//! job, a channel's kind) is the caller's to check.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::checker::{Checker, Value, describe, did_you_mean};
use super::error::quote;
use super::kinds::Parsed;
use super::schema::{Choice, Default, Key, Kind};
use super::suggest::closest;

/// One key's checked value, and where it is written (`None` for a default).
pub(super) struct Field {
    pub parsed: Parsed,
    pub span: Option<Range<usize>>,
}

/// The values of an inline table, by the index of their key in its description.
pub(super) struct Fields {
    keys: &'static [Key],
    values: Vec<Option<Field>>,
}

impl Fields {
    /// The value of the key `name` (a name of the description), taken out.
    pub(super) fn take(&mut self, name: &str) -> Option<Field> {
        let index = self.keys.iter().position(|key| key.name == name)?;
        self.values.get_mut(index)?.take()
    }

    /// The text of the key `name`, taken out, with where it is written.
    pub(super) fn text(&mut self, name: &str) -> Option<(String, Option<Range<usize>>)> {
        let field = self.take(name)?;
        match field.parsed {
            Parsed::Text(text) => Some((text, field.span)),
            Parsed::Choice(text) => Some((text.to_owned(), field.span)),
            _ => None,
        }
    }
}

impl Checker<'_> {
    /// Checks the inline table `table` (the value `value` of the key `parent`)
    /// against `keys`. `shape` starts the message for a missing key that has no
    /// hint of its own ("`shape`: NAME is missing"), and only when nothing else
    /// was. The values that passed, whether or not others were reported.
    pub(super) fn inline(
        &mut self,
        (value, table): (&Value<'_>, &DeTable<'_>),
        parent: &str,
        keys: &'static [Key],
        shape: &str,
        job: Option<&str>,
    ) -> Fields {
        let before = self.reported;
        let mut values: Vec<Option<Field>> = keys.iter().map(|_| None).collect();
        for (name, item) in table.iter() {
            let text: &str = name.get_ref();
            let Some(index) = keys.iter().position(|key| key.name == text) else {
                let expected: Vec<&str> = keys.iter().map(|key| key.name).collect();
                let suggestion = did_you_mean(closest(text, expected.iter().copied()));
                let message = format!(
                    "unknown key {} in {parent}{suggestion}; expected {}",
                    quote(text),
                    and_list(&expected)
                );
                self.report(name.span(), job, message);
                continue;
            };
            let key = &keys[index];
            let qualified = format!("{parent}.{}", key.name);
            let parsed = match key.kind {
                Kind::Choice(choice) => self.word(item, job, &qualified, choice),
                _ => self.value_named(key, &qualified, item, job),
            };
            values[index] = parsed.map(|parsed| Field {
                parsed,
                span: Some(item.span()),
            });
        }
        for (key, slot) in keys.iter().zip(&mut values) {
            if slot.is_some() {
                continue;
            }
            if let Default::Required { hint, .. } = key.default {
                if self.reported == before {
                    let message = if hint.is_empty() {
                        format!("{shape}: {} is missing", key.name)
                    } else {
                        hint.to_owned()
                    };
                    self.report(value.span(), job, message);
                }
                continue;
            }
            *slot = Parsed::default_of(key).map(|parsed| Field { parsed, span: None });
        }
        Fields { keys, values }
    }

    /// One of a few words: "`key` must be "a", "b" or "c", found ...".
    fn word(
        &mut self,
        item: &Value<'_>,
        job: Option<&str>,
        key: &str,
        choice: Choice,
    ) -> Option<Parsed> {
        if let DeValue::String(text) = item.get_ref()
            && let Some(&(known, _)) = choice.values.iter().find(|(word, _)| word == text)
        {
            return Some(Parsed::Choice(known));
        }
        let words: Vec<String> = choice.values.iter().map(|(word, _)| quote(word)).collect();
        let message = format!(
            "{key} must be {}, found {}",
            or_list(&words),
            describe(item.get_ref())
        );
        self.report(item.span(), job, message);
        None
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[&str]) -> String {
    joined(items, "and")
}

/// "a", "a or b", "a, b or c".
fn or_list(items: &[String]) -> String {
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    joined(&items, "or")
}

fn joined(items: &[&str], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., end] => format!("{} {last} {end}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_problems, parse_ok};

    const JOB: &str = "[jobs.a]\nimage = \"x\"\n";
    const PARENT: &str = "[jobs.p]\nschedule = \"@daily\"\nimage = \"x\"\n";
    const HC: &str = "[notify.hc]\nkind = \"healthchecks\"\nurl = \"https://hc-ping.com/\"\n";

    #[test]
    fn unknown_keys_of_inline_tables_get_a_suggestion_at_the_key() {
        check_problems(
            "on_file",
            &format!("{JOB}on_file = {{ dri = \"/in\", pattern = \"*\" }}\n"),
            &[(
                3,
                13,
                Some("a"),
                &[
                    "unknown key \"dri\" in on_file (did you mean \"dir\"?)",
                    "expected dir, pattern, settle, recursive and rescan",
                ],
            )],
        );
        check_problems(
            "after",
            &format!("{PARENT}{JOB}after = {{ job = \"p\", onn = \"failure\" }}\n"),
            &[(
                6,
                22,
                Some("a"),
                &["unknown key \"onn\" in after (did you mean \"on\"?); expected job and on"],
            )],
        );
        check_problems(
            "healthchecks",
            &format!(
                "{HC}{JOB}schedule = \"@daily\"\nhealthchecks = {{ channel = \"hc\", chek = \"b\" }}\n"
            ),
            &[(
                7,
                34,
                Some("a"),
                &[
                    "unknown key \"chek\" in healthchecks (did you mean \"check\"?); expected channel and check",
                ],
            )],
        );
        check_problems(
            "heartbeat",
            &format!(
                "[daemon]\nheartbeat = {{ channel = \"hc\", check = \"b\", evry = \"5m\" }}\n{HC}"
            ),
            &[(
                2,
                44,
                None,
                &[
                    "unknown key \"evry\" in heartbeat (did you mean \"every\"?); expected channel, check and every",
                ],
            )],
        );
        check_problems(
            "move_to",
            &format!(
                "{JOB}on_file = {{ dir = \"/in\", pattern = \"*\" }}\nafter_success = {{ mov_to = \"/done\" }}\n"
            ),
            &[(
                4,
                19,
                Some("a"),
                &[
                    "unknown key \"mov_to\" in after_success (did you mean \"move_to\"?); expected move_to",
                ],
            )],
        );
    }

    #[test]
    fn values_of_inline_tables_are_checked_by_their_kind() {
        check_problems(
            "a boolean as a string",
            &format!("{JOB}on_file = {{ dir = \"/in\", pattern = \"*\", recursive = \"yes\" }}\n"),
            &[(
                3,
                53,
                Some("a"),
                &["on_file.recursive must be true or false, found a string \"yes\""],
            )],
        );
        check_problems(
            "a duration without a unit",
            &format!("{JOB}on_file = {{ dir = \"/in\", pattern = \"*\", settle = 10 }}\n"),
            &[(
                3,
                50,
                Some("a"),
                &[
                    "on_file.settle must be a duration string",
                    "add a unit: on_file.settle = \"10s\"",
                ],
            )],
        );
        check_problems(
            "a rescan under a second",
            &format!("{JOB}on_file = {{ dir = \"/in\", pattern = \"*\", rescan = \"10ms\" }}\n"),
            &[(
                3,
                50,
                Some("a"),
                &["on_file.rescan \"10ms\" is shorter than 1s"],
            )],
        );
        check_problems(
            "a parent that is not a string",
            &format!("{PARENT}{JOB}after = {{ job = 3 }}\n"),
            &[(
                6,
                17,
                Some("a"),
                &[
                    "after.job must be a string naming a job of this file",
                    "found an integer 3",
                ],
            )],
        );
        check_problems(
            "a relative move_to",
            &format!(
                "{JOB}on_file = {{ dir = \"/in\", pattern = \"*\" }}\nafter_failure = {{ move_to = \"failed\" }}\n"
            ),
            &[(4, 29, Some("a"), &["move_to must be an absolute directory"])],
        );
        check_problems(
            "a bad on and an unknown parent are both reported",
            &format!("{PARENT}{JOB}after = {{ job = \"q\", on = \"ok\" }}\n"),
            &[
                (
                    6,
                    17,
                    Some("a"),
                    &["after.job names \"q\", which is not a job"],
                ),
                (
                    6,
                    27,
                    Some("a"),
                    &[
                        "after.on must be \"success\", \"failure\" or \"always\", found a string \"ok\"",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn defaults_of_inline_tables_come_from_the_description() {
        let config = parse_ok(&format!(
            "{JOB}on_file = {{ dir = \"/in\", pattern = \"*\", rescan = \"1m\" }}\n"
        ));
        let on = config.jobs[0].on_file.clone().expect("on_file");
        assert_eq!(on.settle, super::super::DEFAULT_SETTLE);
        assert_eq!(on.rescan, std::time::Duration::from_secs(60));
        assert!(!on.recursive);
    }
}
