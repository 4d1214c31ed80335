//! The cronbox configuration file: its format, its defaults and its validation.
//!
//! This module owns turning one TOML file into a checked [`Config`]: which keys exist,
//! what their defaults are (built in, and the file's own `[defaults]` table, which
//! applies to every job), how relative paths resolve, and the error report a person
//! reads when the file is wrong ([`ConfigError`], which lists every problem at once with
//! `PATH:LINE:COL`). Every key is described once, in `schema.rs` (where it may be
//! written, its type and bounds, its default, whether it is secret, a line of doc);
//! the walk over the file (`validate.rs`), the checks of single values (`kinds.rs`,
//! `lists.rs`), the defaults and [`json_schema`] all follow from that description, and
//! only the rules across keys are code of their own (`rules.rs`). Cron expressions and durations are parsed by `crate::schedule`; this
//! module only places their errors in the file. It also owns the dotenv syntax of
//! `env_file` ([`dotenv`], a pure parser whose messages never contain values), and the
//! rule for reading a file a setting names ([`mod@file`]: regular files only, with a size
//! cap): [`load`] follows it for the schedule, the supervisor and `check` for
//! `env_file`s. No message shows a value of `env`, `env_file` or `secrets`, nor the
//! source line of one (a syntax error's snippet shows `***` in its place).
//!
//! It must not touch the network, read the clock or environment variables (the caller
//! passes an [`Environment`], built by the CLI from the process),
//! nor touch the disk beyond reading the config file itself in [`load`]: it does not
//! check that images, volumes, `env_file`s, secrets or the database exist
//! ([`Config::host_paths`] lists the paths for `check`). The documented format with
//! every key is `config/reference.toml`.

mod build;
mod chains;
mod checker;
mod cycles;
mod error;
mod files;
mod indexes_rule;
mod inline;
mod json_schema;
mod kinds;
mod lists;
mod notify;
mod rules;
mod schema;
mod suggest;
mod syntax;
mod validate;
mod values;
mod zone_source;

pub mod dotenv;
pub mod file;

#[cfg(test)]
mod email_tests;
#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod indexes_tests;
#[cfg(test)]
mod notify_tests;
mod overdue_rule;
mod random_delay;
#[cfg(test)]
mod random_delay_tests;
#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use crate::schedule::Schedule;

pub use chains::{After, AfterOn};
pub use error::{ConfigError, Location, Problem};
pub use files::{DEFAULT_RESCAN, DEFAULT_SETTLE, FileAction, OnFile, glob_matches, ignored_name};
pub use json_schema::json_schema;
pub use notify::{
    Channel, ChannelKind, Email, SecretText, SmtpSecurity, Tail, UrlSource, WebhookFormat,
};
pub use schema::{DEFAULT_NOTIFY_COOLDOWN, DEFAULT_NOTIFY_ON, NOTIFY_EVENTS};
pub(crate) use values::check_url;
pub use zone_source::{ZoneSource, default_zone};

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
/// The signal that asks a container to stop when `stop_signal` is not set.
pub const DEFAULT_STOP_SIGNAL: &str = "SIGTERM";
/// Time between the stop signal and SIGKILL when `stop_grace` is not set.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);
/// Shortest accepted `stop_grace` (Docker counts its stop timeout in whole seconds).
pub const MIN_STOP_GRACE: Duration = Duration::from_secs(1);
/// Longest accepted `stop_grace`: the daemon's own shutdown waits for it.
pub const MAX_STOP_GRACE: Duration = Duration::from_secs(60 * 60);
/// The environment variable that holds an indexed run's container's index
/// (0-based; a job with `completions` above 1).
pub const INDEX_VAR: &str = "CRONBOX_INDEX";
/// The environment variable that holds an indexed run's `completions`.
pub const COMPLETIONS_VAR: &str = "CRONBOX_COMPLETIONS";

/// Most accepted `completions` (and `parallelism`, `max_failed_indexes`): 10,000,
/// as the issue that brought indexed runs settled.
pub const MAX_COMPLETIONS: u32 = 10_000;

/// Longest accepted `timeout`, `deadline` or `starting_deadline`: 365 days.
pub const MAX_TIME_LIMIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// Exit codes that count as success when `success_exit_codes` is not set.
pub const DEFAULT_SUCCESS_EXIT_CODES: [i64; 1] = [0];
/// Smallest accepted `memory`, in bytes: Docker refuses less than 6 MiB.
pub const MIN_MEMORY: u64 = 6 * MIB;
/// Smallest accepted `cpus` (Docker's granularity).
pub const MIN_CPUS: f64 = 0.01;
/// Largest accepted `cpus`.
pub const MAX_CPUS: f64 = 1024.0;
/// Output kept per attempt and per stream when `max_output` is not set: 1 MiB.
pub const DEFAULT_MAX_OUTPUT: u64 = MIB;
/// Smallest accepted `max_output`: 4 KiB.
pub const MIN_MAX_OUTPUT: u64 = 4 * KIB;
/// Largest accepted `max_output`: 1 GiB.
pub const MAX_MAX_OUTPUT: u64 = 1024 * MIB;
/// Where the engine mounts the job's `secrets`: `/run/secrets/NAME`, read-only.
pub const SECRETS_DIR: &str = "/run/secrets";
/// How long finished runs are kept when `[daemon] history_max_age` is not set: 90 days.
pub const DEFAULT_HISTORY_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// Shortest accepted `history_max_age`: 1 hour.
pub const MIN_HISTORY_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Finished runs kept per job when `[daemon] history_limit` is not set.
pub const DEFAULT_HISTORY_LIMIT: u32 = 10_000;
/// Largest schedule file [`load`] reads: 4 MiB. A schedule of 10,000 jobs takes
/// about 2 MiB; a file larger than this is refused before it is read.
pub const MAX_CONFIG_SIZE: u64 = 4 * MIB;
/// Largest `env_file` read (by the supervisor at each run, and by `check`): 1 MiB.
/// (By default Linux refuses to start a program whose arguments and environment
/// together exceed 2 MiB.)
pub const MAX_ENV_FILE_SIZE: u64 = MIB;
/// Where the HTTP API listens when `[daemon.http] listen` is not set: this box only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7340";
/// Largest `[daemon.http] token_file` read: 4 KiB (a token is a line of text).
pub const MAX_TOKEN_FILE_SIZE: u64 = 4 * KIB;
/// Label keys starting with this are cronbox's own (`cronbox.job`, ...); jobs may not set them.
pub const RESERVED_LABEL_PREFIX: &str = "cronbox.";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// A loaded, fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, as given.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    /// The notification channels, `[notify.NAME]`, sorted by name.
    pub channels: Vec<Channel>,
    /// Sorted by name; names are unique. `[defaults]` is already applied to each.
    pub jobs: Vec<std::sync::Arc<Job>>,
}

impl Config {
    /// The job called `name`, if any.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs
            .binary_search_by(|job| job.name.as_str().cmp(name))
            .ok()
            .map(|i| &*self.jobs[i])
    }

    /// Every host path the jobs refer to (volume sources, `env_file`, `secrets`), by
    /// job name, then in the order volumes, env_file, secrets (by secret name), so that
    /// `check` can report those that do not exist. Nothing is checked here.
    pub fn host_paths(&self) -> Vec<HostPath> {
        self.jobs
            .iter()
            .flat_map(|job| {
                job.locations.host_paths.iter().map(|entry| HostPath {
                    job: job.name.clone(),
                    key: entry.key,
                    path: entry.path.clone(),
                    location: entry.location,
                    from_defaults: entry.from_defaults,
                })
            })
            .collect()
    }
}

/// A host path one job refers to, with where it is written; see [`Config::host_paths`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath {
    /// The job's name.
    pub job: String,
    /// The key it comes from: `"volumes"`, `"env_file"` or `"secrets"`.
    pub key: &'static str,
    /// The path on the host: absolute for volumes; `env_file` and `secrets` paths
    /// are already resolved against the config file's directory.
    pub path: PathBuf,
    /// Where the value is written: the volume string, the `env_file` string, the
    /// secret's path string.
    pub location: Location,
    /// True when the job inherits the value from `[defaults]` (then `location` is in
    /// `[defaults]`, and every job inheriting it lists the same location).
    pub from_defaults: bool,
}

/// The `[daemon]` table, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// SQLite history database. A relative path in the file is resolved against the
    /// config file's directory; the default is `$STATE_DIRECTORY/cronbox.db` when
    /// systemd gives a state directory, else `./cronbox.db` (relative to the daemon's
    /// working directory).
    pub database: PathBuf,
    /// Default zone for jobs that set none; default: [`Environment::local_timezone`]
    /// (`TZ`, else the system's zone, else UTC). Meaningless when `timezone_source`
    /// is [`ZoneSource::Unusable`] (then every job has a zone of its own).
    pub timezone: Tz,
    /// Where `timezone` comes from: the file's key or the environment.
    pub timezone_source: ZoneSource,
    /// At most this many containers run at once; at least 1. Default: the number of
    /// CPUs ([`Environment::cpus`]).
    pub max_concurrent: usize,
    /// When true, a job asking for a limit the host cannot enforce is an error (for
    /// `check` and the daemon) instead of a warning. Config only parses it.
    pub require_limits: bool,
    /// What the daemon does with running containers when it is asked to stop (SIGTERM).
    pub on_shutdown: OnShutdown,
    /// How the daemon writes its log: `log_format`.
    pub log_format: LogFormat,
    /// Docker's `config.json` holding the credentials of private registries
    /// (`registry_auth`); `None`: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json` of the user running cronbox.
    pub registry_auth: Option<PathBuf>,
    /// The engine's address (`[daemon] engine`: `unix:///path` or
    /// `tcp://host:port`); `None`: `$DOCKER_HOST`, else `/var/run/docker.sock`.
    pub engine: Option<String>,
    /// Finished runs (with their attempts and output) older than this are pruned: those
    /// that finished longer ago. At least [`MIN_HISTORY_MAX_AGE`]; default
    /// [`DEFAULT_HISTORY_MAX_AGE`].
    pub history_max_age: Duration,
    /// Finished runs kept per job (the newest); at least 1. Default
    /// [`DEFAULT_HISTORY_LIMIT`].
    pub history_limit: u32,
    /// The daemon's own ping to a healthchecks channel (`heartbeat`).
    pub heartbeat: Option<Heartbeat>,
    /// The dashboard's URL as people reach it (`public_url`), without a trailing
    /// `/`: notifications link to `PUBLIC_URL/runs/ID`. `None`: no link.
    pub public_url: Option<String>,
    /// `[daemon.http]`: the HTTP API, metrics and health endpoints.
    pub http: HttpConfig,
}

/// The `[daemon.http]` table, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where the server listens; `None` when `listen = ""` (the server is off).
    /// Default: [`DEFAULT_LISTEN`]. Never port 0.
    pub listen: Option<std::net::SocketAddr>,
    /// Whether the file writes `listen` (else the default applies: a daemon
    /// that cannot listen there goes on without its server, with a warning).
    pub listen_written: bool,
    /// The file holding the bearer token (resolved against the config file's
    /// directory); `None`: no token is asked for, which the file may only say when
    /// `listen` is a loopback address (or the server is off). Config never reads it:
    /// `cronbox check` and the daemon do ([`MAX_TOKEN_FILE_SIZE`] at most).
    pub token_file: Option<PathBuf>,
    /// Where `token_file` is written, for `check`'s messages about the file.
    pub token_file_at: Option<Location>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            listen: DEFAULT_LISTEN.parse().ok(),
            listen_written: false,
            token_file: None,
            token_file_at: None,
        }
    }
}

/// One `[jobs.NAME]` table, with `[defaults]` and the built-in defaults applied.
#[derive(Debug, Clone)]
pub struct Job {
    /// Matches `[a-z0-9][a-z0-9_-]*`, at most [`MAX_JOB_NAME_LEN`] characters.
    pub name: String,
    /// Parsed in `timezone`.
    pub schedule: Schedule,
    /// The job's own zone, else the one in `[defaults]`, else the daemon's.
    pub timezone: Tz,
    pub image: String,
    /// `None`: the image's default command. Never an empty vector.
    pub command: Option<Vec<String>>,
    /// `[defaults]`' env with the job's own merged over it (the job wins per variable).
    /// The engine applies `env_file` first and `env` over it.
    pub env: BTreeMap<String, String>,
    pub volumes: Vec<Volume>,
    pub pull: PullPolicy,
    /// Extra attempts after the first failed one.
    pub retries: u32,
    /// Delay before the first retry; doubles for each later retry.
    pub backoff: Duration,
    /// Cap on the retry delay; always `>= backoff`.
    pub backoff_max: Duration,
    /// Longest one attempt may run; `None`: no limit. At most [`MAX_TIME_LIMIT`].
    pub timeout: Option<Duration>,
    /// Longest a whole run may take, retries and backoff included; `None`: no limit.
    /// At most [`MAX_TIME_LIMIT`].
    pub deadline: Option<Duration>,
    /// How many indexes a run must complete (`CRONBOX_INDEX` 0..completions-1),
    /// from 1 (a plain run: the default) to [`MAX_COMPLETIONS`].
    pub completions: u32,
    /// The most containers of one run at once: from 1 to `completions`.
    pub parallelism: u32,
    /// More failed indexes than this stop the run's other indexes and fail the
    /// run at once; below `completions`. `None`: every index runs to its end.
    pub max_failed_indexes: Option<u32>,
    /// Signal that asks the container to stop, normalised: `"SIGTERM"`, `"SIGRTMIN+3"`,
    /// `"SIGRTMAX"` (the names Docker accepts).
    pub stop_signal: String,
    /// Time between `stop_signal` and SIGKILL: whole seconds, from [`MIN_STOP_GRACE`]
    /// to [`MAX_STOP_GRACE`].
    pub stop_grace: Duration,
    /// What a tick does when the previous run is still going.
    pub concurrency: Concurrency,
    /// What the daemon does with ticks it missed (down, suspended, clock jumped forward).
    pub catch_up: CatchUp,
    /// A tick not started within this time of its scheduled instant (missed while the
    /// daemon was away, or waiting for a `max_concurrent` slot) is recorded as missed
    /// instead of starting late; `None`: no limit. Greater than zero, at most
    /// [`MAX_TIME_LIMIT`].
    pub starting_deadline: Option<Duration>,
    /// The window of `random_delay`: whole seconds, at least 1 s, at most the
    /// shortest gap between two ticks; `None`: ticks fire at their instant.
    pub random_delay: Option<Duration>,
    /// How long after each tick the job fires: a fixed offset in
    /// `[0, random_delay)` (whole seconds) from [`crate::schedule::fixed_offset`]
    /// of the database's seed and the job's name; zero without `random_delay`.
    /// Zero when the file is read: [`Config::spread_ticks`] sets it, given the
    /// seed of the database (`database_seed`, made once per database).
    pub fire_offset: Duration,
    /// Exit codes (0-255) that count as success: sorted, unique, never empty.
    pub success_exit_codes: Vec<i64>,
    /// Exit codes (0-255) that fail the run without retries: sorted, unique, disjoint
    /// from `success_exit_codes`.
    pub fatal_exit_codes: Vec<i64>,
    /// Memory limit in bytes, at least [`MIN_MEMORY`]; `None`: no limit.
    pub memory: Option<u64>,
    /// CPU limit in CPUs (0.5 = half a CPU), from [`MIN_CPUS`] to [`MAX_CPUS`], finite.
    pub cpus: Option<f64>,
    /// Most processes and threads in the container, at least 1; `None`: no limit.
    pub pids_limit: Option<i64>,
    /// Read-only root filesystem (the engine then adds a writable tmpfs at /tmp).
    pub read_only: bool,
    /// tmpfs mounts: `"/path"` or `"/path:options"`, absolute, unique paths, without
    /// trailing slashes (`"/tmp/"` in the file is `"/tmp"` here).
    pub tmpfs: Vec<String>,
    /// `"none"`, `"bridge"`, `"host"` or a network name; `None`: Docker's default.
    pub network: Option<String>,
    /// `USER`, `UID`, `USER:GROUP` or `UID:GID`; `None`: the image's user.
    pub user: Option<String>,
    /// Absolute working directory in the container; `None`: the image's.
    pub workdir: Option<String>,
    /// Replaces the image's entrypoint; never an empty vector.
    pub entrypoint: Option<Vec<String>>,
    /// RFC 1123 host name; `None`: Docker's default (the container id).
    pub hostname: Option<String>,
    /// Capabilities to add: upper case without `CAP_` (`"NET_ADMIN"`) or `"ALL"`; unique.
    pub cap_add: Vec<String>,
    /// Capabilities to drop, in the same form; no name is both added and dropped.
    pub cap_drop: Vec<String>,
    /// Container labels: `[defaults]`' merged with the job's (the job wins per key);
    /// no key starts with [`RESERVED_LABEL_PREFIX`].
    pub labels: BTreeMap<String, String>,
    /// Run the container privileged (`check` warns about it).
    pub privileged: bool,
    /// A dotenv file (see [`dotenv`]) read by the engine at each run; resolved against
    /// the config file's directory. Config never reads it.
    pub env_file: Option<PathBuf>,
    /// Host files mounted read-only at `/run/secrets/NAME` ([`SECRETS_DIR`]); paths
    /// resolved against the config file's directory. Config never reads them.
    pub secrets: BTreeMap<String, PathBuf>,
    /// Bytes of output kept per attempt and per stream (head and tail), from
    /// [`MIN_MAX_OUTPUT`] to [`MAX_MAX_OUTPUT`].
    pub max_output: u64,
    /// Environment variables a run started through the HTTP API may set (over
    /// `env`): valid names, each once, in the order written.
    pub params: Vec<String>,
    /// The notification channels told about its runs (names of [`Config::channels`]).
    pub notify: Vec<String>,
    /// The events they are told about (of [`NOTIFY_EVENTS`]). Default:
    /// [`DEFAULT_NOTIFY_ON`].
    pub notify_on: Vec<String>,
    /// Repeats of an event (not `recovery`) within this time are folded. Default: 1 h.
    pub notify_cooldown: Duration,
    /// Dead-man alert: `overdue` when no run succeeded for this long (from the
    /// last success, or from when the daemon first saw the job).
    pub expect_success_within: Option<Duration>,
    /// The healthchecks channel and the job's check there (`healthchecks`).
    pub healthchecks: Option<Ping>,
    /// The parent jobs whose runs' ends start this job (`after`); empty for a
    /// job its schedule starts. A job with `after` has [`Schedule::none`].
    pub after: Vec<After>,
    /// The files whose arrival starts this job (`on_file`); such a job has
    /// [`Schedule::none`].
    pub on_file: Option<OnFile>,
    /// What becomes of a file whose run succeeded (with `on_file`).
    pub after_success: FileAction,
    /// What becomes of a file whose run failed (with `on_file`).
    pub after_failure: FileAction,
    /// Where each of the job's settings is written in the file (for later messages).
    pub locations: Locations,
}

/// A job's `healthchecks = { channel, check }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// A channel of kind healthchecks.
    pub channel: String,
    /// The check's UUID or slug (letters, digits, "-", "_").
    pub check: String,
}

/// `[daemon] heartbeat = { channel, check, every }`: the daemon pings
/// `CHANNEL_URL/CHECK` every `every` while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// A channel of kind healthchecks.
    pub channel: String,
    /// The check's UUID or slug (letters, digits, "-", "_").
    pub check: String,
    /// How often; at least a minute.
    pub every: Duration,
}

impl Job {
    /// The job's retry and exit-code settings, for [`crate::policy`].
    pub fn retry_policy(&self) -> crate::policy::RetryPolicy {
        crate::policy::RetryPolicy {
            retries: self.retries,
            backoff: self.backoff,
            backoff_max: self.backoff_max,
            success_exit_codes: self.success_exit_codes.clone(),
            fatal_exit_codes: self.fatal_exit_codes.clone(),
        }
    }

    /// The resource limits the job asks for, among `"memory"`, `"cpus"` and
    /// `"pids_limit"` (in that order), so the daemon can compare them with what the
    /// host can enforce.
    pub fn limits_requested(&self) -> Vec<&'static str> {
        [
            ("memory", self.memory.is_some()),
            ("cpus", self.cpus.is_some()),
            ("pids_limit", self.pids_limit.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    /// Where the secret `name` is mounted in the container.
    pub fn secret_target(name: &str) -> PathBuf {
        Path::new(SECRETS_DIR).join(name)
    }
}

/// Where a job's settings are written in the config file, so that later checks (host
/// paths, limits the host cannot enforce, `privileged`) can point at the line.
/// `Locations::default()` knows nothing (for jobs built by hand in tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    job: Option<Location>,
    values: BTreeMap<&'static str, (Location, bool)>,
    host_paths: Vec<HostPathEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPathEntry {
    key: &'static str,
    path: PathBuf,
    location: Location,
    from_defaults: bool,
}

impl Locations {
    /// Where the job's name is written (`[jobs.NAME]`).
    pub fn job(&self) -> Option<Location> {
        self.job
    }

    /// Where the value of `key` that the job uses is written: in the job's table, or
    /// in `[defaults]` when inherited; `None` when the built-in default applies.
    /// For `env` and `labels`, the job's own table if it has one.
    pub fn get(&self, key: &str) -> Option<Location> {
        self.values.get(key).map(|&(location, _)| location)
    }

    /// Whether the value of `key` comes from `[defaults]`.
    pub fn from_defaults(&self, key: &str) -> bool {
        self.values
            .get(key)
            .is_some_and(|&(_, inherited)| inherited)
    }
}

/// What a tick does when the job's previous run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Concurrency {
    /// Do not start; record a `skipped` run with the reason (the default).
    #[default]
    Forbid,
    /// Start anyway: runs overlap.
    Allow,
    /// Stop the running run (outcome `replaced`) and start the new one.
    Replace,
}

impl Concurrency {
    /// All values, in the order documented.
    pub const ALL: [Concurrency; 3] = [
        Concurrency::Forbid,
        Concurrency::Allow,
        Concurrency::Replace,
    ];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Forbid => "forbid",
            Concurrency::Allow => "allow",
            Concurrency::Replace => "replace",
        }
    }

    /// The value written `name` in the config file (exact, lowercase).
    pub fn from_name(name: &str) -> Option<Concurrency> {
        Concurrency::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the daemon does about a job's ticks it missed: it was down, the box was
/// suspended, or the wall clock jumped forward. Either way the missed ticks are recorded,
/// as one run with status `missed` per job and outage (how many, the first and the
/// last); a job the daemon has never seen has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CatchUp {
    /// Run the most recent missed tick once, with trigger `catch-up`, unless it is older
    /// than `starting_deadline`; never replay a backlog (the default).
    #[default]
    Latest,
    /// Run none of them.
    None,
}

impl CatchUp {
    /// All values, in the order documented.
    pub const ALL: [CatchUp; 2] = [CatchUp::Latest, CatchUp::None];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Latest => "latest",
            CatchUp::None => "none",
        }
    }

    /// The value written `name` in the config file (exact, lowercase).
    pub fn from_name(name: &str) -> Option<CatchUp> {
        CatchUp::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the daemon writes its log on stderr (`[daemon] log_format`; see
/// `crate::cli::logging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// Lines for people: time (left out under systemd, whose journal adds its
    /// own), level, target, message and `key=value` fields (the default).
    #[default]
    Text,
    /// One JSON object per line for machines (Loki, Vector): `timestamp`,
    /// `level`, `target`, `message` and every field (`job`, `run`, ...) at the
    /// top level.
    Json,
}

impl LogFormat {
    /// All values, in the order documented.
    pub const ALL: [LogFormat; 2] = [LogFormat::Text, LogFormat::Json];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }

    /// The value written `name` in the config file (exact, lowercase).
    pub fn from_name(name: &str) -> Option<LogFormat> {
        LogFormat::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// What the daemon does with the containers still running when it is asked to stop
/// (SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnShutdown {
    /// Stop firing, leave running containers alone and exit at once; the next start
    /// adopts them, so a daemon upgrade never kills a running job (the default).
    #[default]
    Detach,
    /// Send each running container its `stop_signal`, SIGKILL after `stop_grace`, and
    /// record its attempt `interrupted`.
    Stop,
}

impl OnShutdown {
    /// All values, in the order documented.
    pub const ALL: [OnShutdown; 2] = [OnShutdown::Detach, OnShutdown::Stop];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            OnShutdown::Detach => "detach",
            OnShutdown::Stop => "stop",
        }
    }

    /// The value written `name` in the config file (exact, lowercase).
    pub fn from_name(name: &str) -> Option<OnShutdown> {
        OnShutdown::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

impl fmt::Display for OnShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// The zone the C library would use (`TZ`, else `/etc/localtime`, else UTC;
    /// see [`default_zone`]): the default for `[daemon] timezone`. Meaningless
    /// when `local_timezone_source` is [`ZoneSource::Unusable`].
    pub local_timezone: Tz,
    /// Where `local_timezone` comes from; [`ZoneSource::Unusable`] when `TZ`
    /// names no zone cronbox can use (then a job that needs it is refused).
    pub local_timezone_source: ZoneSource,
    /// The number of CPUs: the default for `[daemon] max_concurrent` (0 counts as 1).
    pub cpus: usize,
}

/// The keys a `[jobs.NAME]` table accepts, in the order `config/reference.toml`
/// documents them, each with whether its values may be secrets (`env`,
/// `env_file`, `secrets`: show their names only). Read from the schema, so a
/// key added there shows up here (the dashboard's job page lists them all).
pub fn job_keys() -> Vec<(&'static str, bool)> {
    schema::keys_of(schema::Table::Job)
        .map(|key| (key.name, key.secret))
        .collect()
}

/// Reads and validates the config file at `path`.
///
/// Only a regular file of at most [`MAX_CONFIG_SIZE`] bytes is read (see [`file::read`]):
/// a FIFO, a device or a directory is refused without blocking. A file that cannot be
/// read gives a single problem naming the reason.
pub fn load(path: &Path, env: &Environment) -> Result<Config, ConfigError> {
    let bytes = file::read(path, MAX_CONFIG_SIZE).map_err(|err| {
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
    // A flood of syntax errors is reported without parsing the whole file.
    if let Some(problems) = syntax::flood(text) {
        return Err(ConfigError {
            path: path.to_path_buf(),
            problems,
        });
    }
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
