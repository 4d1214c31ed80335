//! Retry, backoff and exit-code rules: given how an attempt ended and how many
//! attempts were made, decide whether the run succeeded, retries (after which
//! delay) or fails. `success_exit_codes` succeed; `fatal_exit_codes` fail at
//! once (Kubernetes' podFailurePolicy FailJob); a timeout or an engine error is
//! retried like any failure; a missing image, a replacement or a deadline is
//! not. Pure: no IO, no clock, no tokio.
//!
//! Backoff is deterministic, without jitter: the delay before retry `n` (1-based)
//! is `backoff * 2^(n-1)`, capped at `backoff_max`. A single box has no thundering
//! herd to spread, and operators can predict when a retry happens.

use std::time::Duration;

/// How one attempt ended, as far as the retry rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The container exited by itself with this code (killed for memory or not).
    Exited(i64),
    /// cronbox stopped the container at the job's `timeout`.
    TimedOut,
    /// The engine failed to pull, create or start the container: worth retrying.
    EngineError,
    /// Retrying cannot help: the image is not present and the pull policy forbids
    /// pulling, or the host cannot enforce limits the daemon requires.
    Unrunnable,
    /// The daemon is shutting down: no retry, the run is interrupted.
    Interrupted,
    /// A newer run of the job replaced this one (`concurrency = "replace"`).
    Replaced,
    /// The run's `deadline` passed.
    DeadlineExceeded,
    /// An operator stopped the run (`cronbox stop`, the API).
    Stopped,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The run succeeded.
    Succeed,
    /// Start another attempt after this delay (timed from the end of this one).
    Retry(Duration),
    /// The run failed; no more attempts.
    Fail,
    /// The run was interrupted (daemon shutdown); no more attempts.
    Interrupt,
    /// An operator stopped the run; no more attempts.
    Stop,
}

/// The retry and exit-code settings of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after the first.
    pub retries: u32,
    /// Delay before the first retry.
    pub backoff: Duration,
    /// Cap on any delay.
    pub backoff_max: Duration,
    /// Exit codes that count as success.
    pub success_exit_codes: Vec<i64>,
    /// Exit codes that fail the run at once, without retries.
    pub fatal_exit_codes: Vec<i64>,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 = the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(63);
        let factor = 1u64 << doublings;
        let nanos = self.backoff.as_nanos().saturating_mul(u128::from(factor));
        let capped = nanos.min(self.backoff_max.as_nanos());
        Duration::from_nanos(u64::try_from(capped).unwrap_or(u64::MAX))
    }

    /// Whether an exit code counts as success.
    pub fn is_success(&self, exit_code: i64) -> bool {
        self.success_exit_codes.contains(&exit_code)
    }

    /// Decide what follows attempt number `attempt` (1-based) that ended with `end`.
    pub fn decide(&self, attempt: u32, end: AttemptEnd) -> Decision {
        match end {
            AttemptEnd::Exited(code) if self.is_success(code) => Decision::Succeed,
            AttemptEnd::Exited(code) if self.fatal_exit_codes.contains(&code) => Decision::Fail,
            AttemptEnd::Interrupted => Decision::Interrupt,
            AttemptEnd::Stopped => Decision::Stop,
            AttemptEnd::Unrunnable | AttemptEnd::Replaced | AttemptEnd::DeadlineExceeded => {
                Decision::Fail
            }
            AttemptEnd::Exited(_) | AttemptEnd::TimedOut | AttemptEnd::EngineError => {
                if attempt <= self.retries {
                    Decision::Retry(self.delay(attempt))
                } else {
                    Decision::Fail
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn policy(retries: u32, backoff: u64, backoff_max: u64) -> RetryPolicy {
        RetryPolicy {
            retries,
            backoff: secs(backoff),
            backoff_max: secs(backoff_max),
            success_exit_codes: vec![0],
            fatal_exit_codes: vec![],
        }
    }

    #[test]
    fn delays_double_and_cap() {
        let policy = policy(10, 10, 600);
        let cases = [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (5, 160),
            (6, 320),
            (7, 600),
            (8, 600),
            (60, 600),
            (u32::MAX, 600),
        ];
        for (retry, want) in cases {
            assert_eq!(policy.delay(retry), secs(want), "retry {retry}");
        }
    }

    #[test]
    fn delay_never_overflows() {
        let policy = RetryPolicy {
            backoff: Duration::MAX,
            backoff_max: Duration::MAX,
            ..policy(3, 1, 1)
        };
        assert!(policy.delay(100) >= secs(u64::MAX / 1_000_000_000 / 2));
    }

    #[test]
    fn decisions() {
        let policy = RetryPolicy {
            success_exit_codes: vec![0, 3],
            fatal_exit_codes: vec![2, 64],
            ..policy(2, 1, 3)
        };
        let cases = [
            (1, AttemptEnd::Exited(0), Decision::Succeed),
            (3, AttemptEnd::Exited(0), Decision::Succeed),
            (1, AttemptEnd::Exited(1), Decision::Retry(secs(1))),
            (2, AttemptEnd::Exited(137), Decision::Retry(secs(2))),
            (3, AttemptEnd::Exited(1), Decision::Fail),
            (1, AttemptEnd::EngineError, Decision::Retry(secs(1))),
            (3, AttemptEnd::EngineError, Decision::Fail),
            (1, AttemptEnd::Unrunnable, Decision::Fail),
            (1, AttemptEnd::Interrupted, Decision::Interrupt),
            (1, AttemptEnd::Exited(-1), Decision::Retry(secs(1))),
            (1, AttemptEnd::Exited(3), Decision::Succeed),
            (1, AttemptEnd::Exited(2), Decision::Fail),
            (1, AttemptEnd::Exited(64), Decision::Fail),
            (1, AttemptEnd::Exited(137), Decision::Retry(secs(1))),
            (1, AttemptEnd::TimedOut, Decision::Retry(secs(1))),
            (3, AttemptEnd::TimedOut, Decision::Fail),
            (1, AttemptEnd::Replaced, Decision::Fail),
            (1, AttemptEnd::DeadlineExceeded, Decision::Fail),
            (1, AttemptEnd::Stopped, Decision::Stop),
            (3, AttemptEnd::Stopped, Decision::Stop),
        ];
        for (attempt, end, want) in cases {
            assert_eq!(
                policy.decide(attempt, end),
                want,
                "attempt {attempt} {end:?}"
            );
        }
    }

    #[test]
    fn no_retries_fails_at_once() {
        let policy = policy(0, 10, 600);
        assert_eq!(policy.decide(1, AttemptEnd::Exited(3)), Decision::Fail);
    }
}
