//! The cronbox configuration file: its format, its defaults and its validation.
//!
//! This module owns turning one TOML file into a checked [`Config`]: which keys exist,
//! what their defaults are, how relative paths resolve, and the error report a person
//! reads when the file is wrong ([`ConfigError`], which lists every problem at once with
//! `PATH:LINE:COL`). Cron expressions and durations are parsed by `crate::schedule`; this
//! module only places their errors in the file. It must not touch the network, read the
//! clock or environment variables (the caller passes an [`Environment`]; only
//! [`Environment::from_process`] looks at the process), nor touch the disk beyond reading
//! the config file itself in [`load`]: it does not check that images, volumes or the
//! database exist. The documented format with every key is `config/reference.toml`.

mod error;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use crate::schedule::Schedule;

pub use error::{ConfigError, Location, Problem};

/// File name of the database when `[daemon] database` is not set.
pub const DEFAULT_DATABASE_NAME: &str = "cronbox.db";
/// Extra attempts after the first when `retries` is not set.
pub const DEFAULT_RETRIES: u32 = 0;
/// Delay before the first retry when `backoff` is not set.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(10);
/// Cap on the retry delay when `backoff_max` is not set.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10 * 60);
/// Longest accepted job name (it ends up in container names and labels).
pub const MAX_JOB_NAME_LEN: usize = 63;

/// A loaded, fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, as given.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    /// Sorted by name; names are unique.
    pub jobs: Vec<Job>,
}

impl Config {
    /// The job called `name`, if any.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs
            .binary_search_by(|job| job.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.jobs[i])
    }
}

/// The `[daemon]` table, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// SQLite history database. A relative path in the file is resolved against the
    /// config file's directory; the default is `$STATE_DIRECTORY/cronbox.db` when
    /// systemd gives a state directory, else `./cronbox.db` (relative to the daemon's
    /// working directory).
    pub database: PathBuf,
    /// Default zone for jobs that set none; default: the system's local zone.
    pub timezone: Tz,
}

/// One `[jobs.NAME]` table, with defaults applied.
#[derive(Debug, Clone)]
pub struct Job {
    /// Matches `[a-z0-9][a-z0-9_-]*`, at most [`MAX_JOB_NAME_LEN`] characters.
    pub name: String,
    /// Parsed in `timezone`.
    pub schedule: Schedule,
    /// The job's own zone, else the daemon's.
    pub timezone: Tz,
    pub image: String,
    /// `None`: the image's default command. Never an empty vector.
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub volumes: Vec<Volume>,
    pub pull: PullPolicy,
    /// Extra attempts after the first failed one.
    pub retries: u32,
    /// Delay before the first retry; doubles for each later retry.
    pub backoff: Duration,
    /// Cap on the retry delay; always `>= backoff`.
    pub backoff_max: Duration,
}

impl Job {
    /// The job's retry settings, for [`crate::policy`].
    pub fn retry_policy(&self) -> crate::policy::RetryPolicy {
        crate::policy::RetryPolicy {
            retries: self.retries,
            backoff: self.backoff,
            backoff_max: self.backoff_max,
        }
    }
}

/// A bind mount, `HOST:CONTAINER` or `HOST:CONTAINER:ro`; both paths are absolute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Volume {
    pub host: PathBuf,
    pub container: PathBuf,
    pub read_only: bool,
}

impl Volume {
    /// The Docker bind string: `host:container`, plus `:ro` when read-only.
    pub fn to_bind(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host.display(), self.container.display())?;
        if self.read_only {
            f.write_str(":ro")?;
        }
        Ok(())
    }
}

/// When to pull the job's image before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PullPolicy {
    /// Pull only if the image is not present locally (the default).
    #[default]
    Missing,
    /// Pull before every run.
    Always,
    /// Never pull; the run fails if the image is missing.
    Never,
}

impl PullPolicy {
    /// All policies, in the order documented.
    pub const ALL: [PullPolicy; 3] = [PullPolicy::Missing, PullPolicy::Always, PullPolicy::Never];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Missing => "missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        }
    }

    /// The policy written `name` in the config file (exact, lowercase).
    pub fn from_name(name: &str) -> Option<PullPolicy> {
        PullPolicy::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller knows about the environment, which supplies some defaults.
/// The config module itself never reads environment variables, the clock or other files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// systemd's `$STATE_DIRECTORY`, if any: the default database lives there.
    pub state_directory: Option<PathBuf>,
    /// The system's zone: the default for `[daemon] timezone`.
    pub local_timezone: Tz,
}

impl Environment {
    /// The real process environment: the first path of `$STATE_DIRECTORY` (systemd
    /// separates several with `:`), and the system zone from `iana-time-zone`, falling
    /// back to UTC (without error) when it is unknown or not an IANA name chrono-tz knows.
    pub fn from_process() -> Environment {
        let state_directory = std::env::var_os("STATE_DIRECTORY").and_then(|value| {
            std::env::split_paths(&value).find(|path| !path.as_os_str().is_empty())
        });
        let local_timezone = iana_time_zone::get_timezone()
            .ok()
            .and_then(|name| name.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC);
        Environment {
            state_directory,
            local_timezone,
        }
    }
}

/// Reads and validates the config file at `path`.
///
/// A file that cannot be read gives a single problem naming the OS error.
pub fn load(path: &Path, env: &Environment) -> Result<Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|err| {
        ConfigError::single(
            path,
            None,
            format!(
                "cannot read the config file: {err}; create it or give the right file with --config PATH"
            ),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|err| {
        let valid = err.utf8_error().valid_up_to();
        let prefix = std::str::from_utf8(&err.as_bytes()[..valid]).unwrap_or_default();
        ConfigError::single(
            path,
            Some(Location::of_offset(prefix, valid)),
            "the file is not valid UTF-8; save it as UTF-8 text (TOML requires it)".to_string(),
        )
    })?;
    parse(path, &text, env)
}

/// Validates `text` as the contents of the config file at `path` (used for messages and
/// to resolve a relative `database`). Pure: does not touch the disk.
pub fn parse(path: &Path, text: &str, env: &Environment) -> Result<Config, ConfigError> {
    validate::validate(path, text, env).map_err(|problems| ConfigError {
        path: path.to_path_buf(),
        problems,
    })
}

/// Whether `name` is an acceptable job name: `[a-z0-9][a-z0-9_-]*`, at most
/// [`MAX_JOB_NAME_LEN`] characters.
pub fn is_valid_job_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= MAX_JOB_NAME_LEN
}
