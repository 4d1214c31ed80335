//! The rule across a job's indexed-run keys (`completions`, `parallelism`,
//! `max_failed_indexes`) that the description of single keys cannot express:
//! `parallelism` at most `completions`, `max_failed_indexes` below it. (Their
//! bounds, `parallelism` at least 1 and `completions` at most 10,000, are the
//! keys' own, in `schema.rs`.)

use super::kinds::Parsed;
use super::rules::{Finding, Origin};

/// An integer setting and where it comes from.
pub(super) type Setting = (i128, Origin);

/// The integer a checked value holds, if it is one.
pub(super) fn int_of(value: &Parsed) -> Option<i128> {
    match value {
        Parsed::Int(n) => Some(*n),
        _ => None,
    }
}

/// The problems of a job's indexed-run settings, each placed at a key the job
/// sets itself (one only `[defaults]` sets is reported there).
pub(super) fn indexes(
    completions: Option<Setting>,
    parallelism: Option<Setting>,
    max_failed: Option<Setting>,
) -> Vec<Finding> {
    let Some((completions, completions_from)) = completions else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    if let Some((parallelism, parallelism_from)) = parallelism
        && parallelism > completions
        && let Some(at) = blamed(parallelism_from, "parallelism", completions_from)
    {
        findings.push(Finding {
            at,
            message: format!(
                "{} ({parallelism}) is above {} ({completions}); a run never has more containers than indexes: make parallelism at most {completions}, or raise completions",
                parallelism_from.described("parallelism"),
                completions_from.described("completions"),
            ),
        });
    }
    if let Some((max_failed, max_failed_from)) = max_failed
        && max_failed >= completions
        && let Some(at) = blamed(max_failed_from, "max_failed_indexes", completions_from)
    {
        findings.push(Finding {
            at,
            message: format!(
                "{} ({max_failed}) is not below {} ({completions}); it could never stop a run: make it at most {}, or remove it to let every index run to its end",
                max_failed_from.described("max_failed_indexes"),
                completions_from.described("completions"),
                completions - 1,
            ),
        });
    }
    findings
}

/// The key a finding is placed at: `key` if the table sets it, else
/// `completions` if the table sets that; `None` when neither is its own.
fn blamed(from: Origin, key: &'static str, completions_from: Origin) -> Option<&'static str> {
    match (from, completions_from) {
        (Origin::Own, _) => Some(key),
        (_, Origin::Own) => Some("completions"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Origin::{BuiltIn, Defaults, Own};

    #[test]
    fn parallelism_and_max_failed_indexes_must_fit_completions() {
        // (completions, parallelism, max_failed_indexes) -> (key blamed, message fragment) per finding.
        type Case = (
            Setting,
            Setting,
            Option<Setting>,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            ((1, BuiltIn), (1, BuiltIn), None, &[]),
            ((10, Own), (3, Own), Some((2, Own)), &[]),
            ((10, Own), (10, Own), Some((9, Own)), &[]),
            (
                (3, Own),
                (5, Own),
                None,
                &[("parallelism", "parallelism (5) is above completions (3)")],
            ),
            (
                (1, BuiltIn),
                (2, Own),
                None,
                &[(
                    "parallelism",
                    "parallelism (2) is above completions (by default) (1)",
                )],
            ),
            (
                (2, Own),
                (4, Defaults),
                None,
                &[(
                    "completions",
                    "parallelism (set in [defaults]) (4) is above completions (2)",
                )],
            ),
            ((2, Defaults), (4, Defaults), None, &[]),
            (
                (3, Own),
                (1, BuiltIn),
                Some((3, Own)),
                &[(
                    "max_failed_indexes",
                    "max_failed_indexes (3) is not below completions (3); it could never stop a run: make it at most 2",
                )],
            ),
            (
                (2, Own),
                (3, Own),
                Some((5, Own)),
                &[
                    ("parallelism", "above completions (2)"),
                    ("max_failed_indexes", "(5) is not below completions (2)"),
                ],
            ),
        ];
        for (completions, parallelism, max_failed, want) in cases {
            let got = indexes(Some(*completions), Some(*parallelism), *max_failed);
            assert_eq!(
                got.len(),
                want.len(),
                "{completions:?} {parallelism:?} {max_failed:?}: {got:?}"
            );
            for (finding, (at, fragment)) in got.iter().zip(want.iter()) {
                assert_eq!(finding.at, *at, "{finding:?}");
                assert!(
                    finding.message.contains(fragment),
                    "{:?} lacks {fragment:?}",
                    finding.message
                );
            }
        }
    }
}
