//! Kubernetes names: CronJob names from job names, and the checks on names,
//! labels and namespaces the API server would make.

use std::collections::BTreeMap;

use crate::config::Job;

/// Longest CronJob name: the controller appends 11 characters (`-` and a
/// timestamp) for its Jobs, whose names must stay within 63.
pub const MAX_NAME_LEN: usize = 52;

/// The CronJob name of job `job`: `_` becomes `-`, cut to [`MAX_NAME_LEN`]
/// characters, without a trailing `-`. A job name (`[a-z0-9][a-z0-9_-]*`)
/// always gives a non-empty DNS-1123 label.
pub fn cronjob_name(job: &str) -> String {
    let name: String = job
        .chars()
        .map(|c| if c == '_' { '-' } else { c })
        .take(MAX_NAME_LEN)
        .collect();
    name.trim_end_matches('-').to_owned()
}

/// "job "a" and job "a_" would both be the CronJob "a"" for every name two
/// or more jobs map to.
pub(super) fn collisions(jobs: &[&Job]) -> Vec<String> {
    let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for job in jobs {
        by_name
            .entry(cronjob_name(&job.name))
            .or_default()
            .push(&job.name);
    }
    by_name
        .into_iter()
        .filter(|(_, jobs)| jobs.len() > 1)
        .map(|(name, jobs)| {
            let jobs: Vec<String> = jobs.iter().map(|j| format!("job {j:?}")).collect();
            format!(
                "{} would all be the CronJob {name:?} (names are cut to {MAX_NAME_LEN} characters, '_' becomes '-'); rename one of them",
                jobs.join(" and ")
            )
        })
        .collect()
}

/// A DNS-1123 label of at most `max` characters: lower-case letters, digits
/// and `-`, starting and ending with a letter or digit.
pub(super) fn is_dns_label(text: &str, max: usize) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !text.is_empty()
        && text.len() <= max
        && text.starts_with(alnum)
        && text.ends_with(alnum)
        && text.chars().all(|c| alnum(c) || c == '-')
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(|label| is_dns_label(label, 63))
}

/// The name part of a label key, or a label value when not empty: at most 63
/// characters, letters, digits, `-`, `_`, `.`, starting and ending with a
/// letter or digit.
fn is_label_name(text: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !text.is_empty()
        && text.len() <= 63
        && text.starts_with(alnum)
        && text.ends_with(alnum)
        && text
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain.
pub(super) fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

/// A label value: empty, or like a key's name part.
pub(super) fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cronjob_names_are_dns_labels_within_52_characters() {
        let long = "a".repeat(63);
        let cut_at_dash = format!("{}-{}", "b".repeat(51), "c".repeat(11));
        let cases = [
            ("backup-db", "backup-db".to_owned()),
            ("backup_db", "backup-db".to_owned()),
            ("db_", "db".to_owned()),
            ("x--_", "x".to_owned()),
            ("0", "0".to_owned()),
            (long.as_str(), "a".repeat(52)),
            (cut_at_dash.as_str(), "b".repeat(51)),
        ];
        for (job, want) in cases {
            let got = cronjob_name(job);
            assert_eq!(got, want, "{job}");
            assert!(is_dns_label(&got, MAX_NAME_LEN), "{got}");
        }
    }

    #[test]
    fn label_keys_values_and_namespaces() {
        assert!(is_label_key("app.kubernetes.io/name"));
        assert!(is_label_key("com.example.team"));
        assert!(is_label_key("Team_1"));
        assert!(!is_label_key("a/b/c"));
        assert!(!is_label_key("-x"));
        assert!(!is_label_key(&"k".repeat(64)));
        assert!(!is_label_key("Example.com/x"));
        assert!(is_label_value(""));
        assert!(is_label_value("v1.2_3-x"));
        assert!(!is_label_value("a b"));
        assert!(!is_label_value("x-"));
        assert!(is_dns_label("batch-jobs", 63));
        assert!(!is_dns_label("Batch", 63));
        assert!(!is_dns_label("a.b", 63));
    }
}
