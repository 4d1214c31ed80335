//! cronbox: a scheduler daemon that reads a TOML schedule, runs each due job as
//! an isolated Docker container, records every run, attempt, exit code and
//! output in SQLite, and retries failures with exponential backoff.
//!
//! # Layout
//!
//! - [`config`]: the schedule file: raw TOML, then validated types; every problem
//!   with file:line:col. Each key described once, which validation, defaults and the
//!   JSON Schema (`cronbox schema`) follow. No network, no clock.
//! - [`schedule`]: cron expressions, `@every`, time zones and DST rules. Pure.
//! - [`policy`]: retry, backoff and exit-code rules. Pure.
//! - [`clock`]: the one place that reads wall time; a test clock.
//! - [`engine`]: the only module that speaks Docker (bollard).
//! - [`events`]: the lifecycle events the daemon publishes (a broadcast).
//! - [`store`]: the only module that speaks SQL (sqlx, SQLite, migrations,
//!   retention and incremental vacuum).
//! - [`daemon`]: the scheduler loop, run supervisors, missed ticks, adoption of
//!   containers at start-up, shutdown (detach or stop), history pruning.
//! - [`http`]: the only module that serves HTTP (axum, tower-http): the web
//!   dashboard at `/` (`http::ui`: server-rendered HTML with maud, SVG charts,
//!   embedded assets), the JSON API under `/api/v1` with its OpenAPI document
//!   (utoipa), `/metrics` (Prometheus text format), `/healthz` and `/readyz`; it
//!   drives the daemon through its `Handle` and reads the history from `store`.
//! - [`export`]: pure translation of a validated config into other systems'
//!   formats: Kubernetes CronJobs (YAML, with warnings for what does not carry
//!   over). No disk, network or clock (the instant comes in).
//! - [`import`]: pure translation of other schedulers' files (Ofelia INI, a
//!   crontab of `docker run` lines) into a cronbox schedule, each setting
//!   checked by `config`'s validation. (A sibling of `export`, not inside it:
//!   text in, text out, the other way round.) The cron dialect of Go's
//!   robfig/cron, which both Kubernetes and Ofelia read, is
//!   `schedule::robfig`.
//! - [`cli`]: one file per subcommand, plus `output` (writes to stdout and stderr
//!   that never panic), `logging` (the log filter no user setting can loosen)
//!   and `client` (the running daemon's HTTP API, for `pause`, `resume`, `stop`
//!   and `run --detach`); `main.rs` only parses and maps exit codes.
//! - [`trigger`]: what starts runs besides the clock: the end of a parent run
//!   (job chains). Finds the rows recorded with their cause and hands them to
//!   the daemon.
//! - [`failpoint`]: crash points that tests reach through an environment variable.

pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod events;
pub mod export;
pub mod failpoint;
pub mod http;
pub mod import;
pub mod notify;
pub mod policy;
pub mod schedule;
pub mod store;
pub mod trigger;
