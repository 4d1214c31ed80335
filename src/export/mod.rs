//! Pure translation of a validated [`Config`](crate::config::Config) into other
//! systems' formats: Kubernetes CronJobs ([`kubernetes`]). A validated config
//! (and the instant to count from, for daylight-saving checks) comes in; text
//! and warnings go out. This module must not touch the disk, the network or
//! the clock, and never reads `env_file`s or secret files: it only names them.

pub mod kubernetes;
pub mod yaml;

mod shell;

use std::fmt;

/// A setting the target cannot express the way cronbox does: what becomes of
/// it there. Display: `job "NAME": KEY: message`, or `[daemon] KEY: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The job concerned; `None` for a `[daemon]` setting.
    pub job: Option<String>,
    /// The key in the schedule file (`stop_signal`, `volumes`, ...).
    pub key: &'static str,
    /// What differs and what the output does instead; one line, never a value
    /// of `env`, `env_file` or `secrets`.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.job {
            Some(job) => write!(f, "job {job:?}: {}: {}", self.key, self.message),
            None => write!(f, "[daemon] {}: {}", self.key, self.message),
        }
    }
}
