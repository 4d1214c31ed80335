//! "Did you mean" suggestions: the closest of a list of names to a typo, the zone
//! a misspelt zone name meant, and a valid job name for an invalid one.

use super::{MAX_JOB_NAME_LEN, is_valid_job_name};

/// The candidate closest to `word` (case-insensitive), if it is a plausible typo:
/// at most 2 edits away, and fewer edits than the candidate has characters.
pub(super) fn closest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    if word.len() > 64 {
        return None;
    }
    let word = word.to_ascii_lowercase();
    candidates
        .map(|candidate| {
            (
                edit_distance(&word, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|&(distance, candidate)| distance <= 2 && distance < candidate.len())
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// The zone name `name` was probably meant to be (case, a bare city, a typo).
pub(super) fn timezone_suggestion(name: &str) -> Option<&'static str> {
    let wanted = name.trim().replace(' ', "_");
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    names()
        .find(|n| n.eq_ignore_ascii_case(&wanted))
        .or_else(|| {
            names().find(|n| {
                !wanted.contains('/')
                    && n.rsplit('/')
                        .next()
                        .is_some_and(|city| city.eq_ignore_ascii_case(&wanted))
            })
        })
        .or_else(|| closest(&wanted, names()))
}

/// Why `name` is not a valid job name, with a suggestion when one is near.
pub(super) fn bad_job_name_message(name: &str) -> String {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let why = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.chars().count() > MAX_JOB_NAME_LEN {
        format!("it is longer than {MAX_JOB_NAME_LEN} characters")
    } else if !name.chars().all(allowed) {
        "it may only contain lowercase letters, digits, \"-\" and \"_\"".to_owned()
    } else {
        "it must start with a lowercase letter or a digit".to_owned()
    };
    let suggestion = job_name_suggestion(name)
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default();
    format!(
        "invalid job name: {why}{suggestion}; job names match [a-z0-9][a-z0-9_-]* and have at most {MAX_JOB_NAME_LEN} characters"
    )
}

/// `name` lowercased, with other characters as "-", trimmed to a valid job name.
fn job_name_suggestion(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let mut suggestion: String = mapped
        .trim_start_matches(['-', '_'])
        .chars()
        .take(MAX_JOB_NAME_LEN)
        .collect();
    while suggestion.ends_with('-') {
        suggestion.pop();
    }
    (is_valid_job_name(&suggestion) && suggestion != name).then_some(suggestion)
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}
