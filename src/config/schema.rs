//! The description of the schedule file: every key once, with where it may be
//! written, its type and rules ([`Kind`]), its default, whether its values are
//! secret, and a one-line doc.
//!
//! Everything else follows from [`KEYS`]: the walk in `validate.rs` checks each value
//! by its kind (`kinds.rs`), applies the defaults and the `[defaults]` inheritance
//! ([`Inherit`]), lists the keys a table accepts (with "did you mean" suggestions);
//! messages and snippets mask the values of [`Key::secret`] keys; `json_schema.rs`
//! turns it into the JSON Schema `cronbox schema` prints; and a test checks
//! `config/reference.toml` against it. Only rules that span several keys are code of
//! their own (`rules.rs`); the syntax of cron expressions belongs to
//! `crate::schedule`.
//!
//! To add a key: add it here, in the order `config/reference.toml` documents it, add
//! its field to [`super::Job`] or [`super::DaemonConfig`] and one line to the
//! builder in `build.rs`, and document it in the reference (the test says where).
//! The keys of values that are inline tables (`on_file = { dir, ... }`, `after`,
//! `healthchecks`, `heartbeat`, `{ move_to }`) are described the same way in
//! [`sub_keys`]; `inline.rs` walks them.

use std::time::Duration;

use super::values::{
    check_container_path, check_engine, check_hostname, check_listen, check_mailbox, check_network,
    check_smtp_url, check_url, check_user,
};
use super::{
    DEFAULT_BACKOFF, DEFAULT_BACKOFF_MAX, DEFAULT_HISTORY_LIMIT, DEFAULT_HISTORY_MAX_AGE,
    DEFAULT_LISTEN, DEFAULT_MAX_OUTPUT, DEFAULT_RETRIES, DEFAULT_STOP_GRACE, DEFAULT_STOP_SIGNAL,
    DEFAULT_SUCCESS_EXIT_CODES, MAX_COMPLETIONS, MAX_CPUS, MAX_MAX_OUTPUT, MAX_STOP_GRACE,
    MAX_TIME_LIMIT, MIN_CPUS, MIN_HISTORY_MAX_AGE, MIN_MAX_OUTPUT, MIN_MEMORY, MIN_STOP_GRACE,
};

/// The tables of the file that hold settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// `[daemon]`.
    Daemon,
    /// `[daemon.http]`: the HTTP API, metrics and health endpoints.
    Http,
    /// `[defaults]`: values for every job that does not set its own.
    Defaults,
    /// `[jobs.NAME]`.
    Job,
    /// `[notify.NAME]`: a notification channel jobs refer to by name.
    Notify,
}

/// Where a job key's value comes from when the job does not set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inherit {
    /// Not applicable (`[daemon]` keys; `schedule`, which `[defaults]` cannot hold).
    No,
    /// The `[defaults]` value, replaced wholesale by the job's own (lists included).
    Replace,
    /// A table: the `[defaults]` entries with the job's own merged over them (the job
    /// wins per name).
    Merge,
}

/// The value a key takes when the file does not set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Default {
    /// There is none: the key must be set; `hint` says what to add. `[defaults]`
    /// may set it for every job when `defaults` is true.
    Required { defaults: bool, hint: &'static str },
    /// Computed when the file is read, as the text says (from the environment or
    /// another key): a value cronbox picks, which a message may call "the default".
    Computed(&'static str),
    /// No value: what then happens, as the text says ("none (no limit)", "the
    /// image's user").
    Unset(&'static str),
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A duration, written as the shortest whole unit ("10s", "10m", "90d").
    Duration(Duration),
    /// A size in bytes, written with a binary unit ("1MiB").
    Size(u64),
    /// A string: a signal or one of a [`Kind::Choice`]'s values.
    Str(&'static str),
    /// An array of integers.
    Ints(&'static [i64]),
    /// An array of strings.
    Strs(&'static [&'static str]),
    /// An empty array or table (by the kind).
    Empty,
}

/// A bound on a number or a duration, with how messages show it and why it is there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bound<T> {
    pub value: T,
    /// As messages show it, e.g. "365 days".
    pub shown: &'static str,
    /// Appended after the bound in a message, e.g. ", the most accepted".
    pub why: &'static str,
}

/// Rules of a [`Kind::Integer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Integer {
    pub min: i128,
    pub max: i128,
    /// A typical value, for messages.
    pub example: &'static str,
    /// What to know when the value is below `min` ("it counts ...").
    pub below_min: &'static str,
}

/// Rules of a [`Kind::Duration`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct DurationRule {
    pub min: Option<Bound<Duration>>,
    /// Why only whole seconds are accepted, if so.
    pub whole_seconds: Option<&'static str>,
    pub max: Option<Bound<Duration>>,
}

/// Rules of a [`Kind::Size`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SizeRule {
    pub min: Bound<u64>,
    pub max: u64,
    /// Typical values, for messages: "\"256MiB\" or \"1GiB\"".
    pub example: &'static str,
}

/// A string checked by a rule of `values.rs` (network, user, workdir, hostname).
#[derive(Debug, Clone, Copy)]
pub(super) struct TextRule {
    /// What a value of the wrong type should have been: "a string such as ...".
    pub expected: &'static str,
    /// The rule; its error says why the value is refused and what is accepted.
    pub check: fn(&str) -> Result<(), String>,
    /// The rule as a regular expression, for the JSON Schema (it may accept more).
    pub pattern: &'static str,
}

/// The values of a [`Kind::Choice`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Choice {
    /// How messages name the setting ("pull policy").
    pub noun: &'static str,
    /// Each value with what it means (empty when its name says it all).
    pub values: &'static [(&'static str, &'static str)],
}

/// A command line (`command`, `entrypoint`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Argv {
    pub example: &'static str,
    /// What to write instead of an empty array.
    pub empty_hint: &'static str,
    /// Whether a string with spaces gets the `["sh", "-c", ...]` hint.
    pub shell_hint: bool,
}

/// The type of a key's value and the rules it follows.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// A host file path; a relative one is resolved against the config file's
    /// directory; "~" is not expanded.
    Path {
        example: &'static str,
    },
    /// An IANA time zone name.
    Zone,
    /// A schedule: 5 cron fields, a nickname or "@every DURATION" (`crate::schedule`).
    Schedule,
    /// A Docker image reference.
    Image,
    /// A string a rule accepts.
    Text(TextRule),
    Integer(Integer),
    /// A number of CPUs (integer or float).
    Cpus {
        min: f64,
        max: f64,
    },
    Bool,
    /// One of a few strings.
    Choice(Choice),
    /// A duration string ("90s", "1h30m").
    Duration(DurationRule),
    /// A size string ("256MiB").
    Size(SizeRule),
    /// A Linux signal name or number.
    Signal,
    /// A non-empty array of strings, the first being the program.
    Argv(Argv),
    /// A table of environment variables (names without "=", string values).
    Env,
    /// A table of container labels (not under "cronbox.").
    Labels,
    /// A table NAME = "host path" of files mounted at /run/secrets/NAME.
    Secrets,
    /// An array of "HOST:CONTAINER[:ro|:rw]" bind mounts.
    Volumes,
    /// An array of "/path[:options]" tmpfs mounts.
    Tmpfs,
    /// An array of Linux capability names.
    Capabilities,
    /// An array of exit codes from 0 to 255.
    ExitCodes {
        non_empty: bool,
    },
    /// An array of environment variable names ([A-Za-z_][A-Za-z0-9_]*), each once:
    /// the parameters a run started through the API may set.
    Params,
    /// An array of names of notification channels (`[notify.NAME]`), each once.
    Channels,
    /// An array of notification events (`failure`, `recovery`, ...), each once.
    Events,
    /// `{ channel = "NAME", check = "UUID or slug" }`: a `kind = "healthchecks"`
    /// channel and the job's check there.
    Ping,
    /// `{ channel = "NAME", check = "UUID or slug", every = "5m" }`: the daemon's
    /// own ping to a `kind = "healthchecks"` channel, at least every minute.
    Heartbeat,
    /// A non-empty array of mail addresses (`"ops@example.org"` or
    /// `"Ops <ops@example.org>"`), each once.
    Addresses,
    /// `{ job = "NAME", on = "success" }` or a non-empty array of them: the
    /// parent jobs whose runs' ends start the job (`config/chains.rs`).
    After,
    /// `{ dir, pattern, settle, recursive, rescan }`: the files whose arrival
    /// starts the job (`config/files.rs`).
    OnFile,
    /// `"keep"`, `"delete"` or `{ move_to = "/dir" }`: what becomes of a file
    /// after its run (`config/files.rs`).
    FileAction,
}

/// One key of the schedule file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    pub name: &'static str,
    /// The tables that accept it.
    pub tables: &'static [Table],
    pub kind: Kind,
    pub default: Default,
    pub inherit: Inherit,
    /// Whether its values may be secrets: no message, snippet or log shows them.
    pub secret: bool,
    /// What it is, in one line.
    pub doc: &'static str,
}

impl Key {
    /// Whether `table` accepts this key.
    pub(super) fn allowed_in(&self, table: Table) -> bool {
        self.tables.contains(&table)
    }
}

const DAEMON: &[Table] = &[Table::Daemon];
const HTTP: &[Table] = &[Table::Http];
const JOB: &[Table] = &[Table::Job];
const JOB_OR_DEFAULTS: &[Table] = &[Table::Defaults, Table::Job];
const NOTIFY: &[Table] = &[Table::Notify];

const fn daemon(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Key {
    Key {
        name,
        tables: DAEMON,
        kind,
        default,
        inherit: Inherit::No,
        secret: false,
        doc,
    }
}

/// A `[daemon.http]` key.
const fn http(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Key {
    Key {
        name,
        tables: HTTP,
        kind,
        default,
        inherit: Inherit::No,
        secret: false,
        doc,
    }
}

/// A job key that `[defaults]` may also set, replaced wholesale by a job's own.
const fn notify(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Key {
    Key {
        name,
        tables: NOTIFY,
        kind,
        default,
        inherit: Inherit::No,
        secret: false,
        doc,
    }
}

const fn job(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Key {
    Key {
        name,
        tables: JOB_OR_DEFAULTS,
        kind,
        default,
        inherit: Inherit::Replace,
        secret: false,
        doc,
    }
}

impl Key {
    const fn merged(mut self) -> Key {
        self.inherit = Inherit::Merge;
        self
    }

    const fn secret(mut self) -> Key {
        self.secret = true;
        self
    }
}

/// A lower bound of one second.
const ONE_SECOND: Bound<Duration> = Bound {
    value: Duration::from_secs(1),
    shown: "1s",
    why: "",
};

const NO_LIMIT: Default = Default::Unset("none (no limit)");

const TIME_LIMIT: Kind = Kind::Duration(DurationRule {
    min: None,
    whole_seconds: None,
    max: Some(Bound {
        value: MAX_TIME_LIMIT,
        shown: "365 days",
        why: ", the most accepted; remove the line for no limit",
    }),
});

const ANY_DURATION: Kind = Kind::Duration(DurationRule {
    min: None,
    whole_seconds: None,
    max: None,
});

/// Every key of the file: `[daemon]`'s, `[daemon.http]`'s, then the jobs' (which
/// `[defaults]` also accepts, except `schedule`), each group in the order `config/reference.toml`
/// documents them.
pub(super) const KEYS: &[Key] = &[
    daemon(
        "database",
        Kind::Path {
            example: "a string with a file path such as \"/var/lib/cronbox/cronbox.db\"",
        },
        Default::Computed("$STATE_DIRECTORY/cronbox.db when systemd provides a state directory"),
        "The SQLite file that holds the run history; a relative path is resolved against the schedule file's directory.",
    ),
    daemon(
        "timezone",
        Kind::Zone,
        Default::Computed("the zone the C library would use"),
        "The zone in which job schedules are read when a job sets no timezone of its own.",
    ),
    daemon(
        "max_concurrent",
        Kind::Integer(Integer {
            min: 1,
            max: usize::MAX as i128,
            example: "4",
            below_min: "it is how many containers may run at once",
        }),
        Default::Computed("the number of CPUs available to the daemon"),
        "At most this many job containers run at the same time; runs beyond it wait in arrival order.",
    ),
    daemon(
        "require_limits",
        Kind::Bool,
        Default::Bool(false),
        "Whether a job asking for a limit (memory, cpus, pids_limit) the host cannot enforce is an error rather than a warning.",
    ),
    daemon(
        "on_shutdown",
        Kind::Choice(Choice {
            noun: "on_shutdown",
            values: &[
                (
                    "detach",
                    "leave running containers alone, the next start adopts them",
                ),
                ("stop", "stop them and record them interrupted"),
            ],
        }),
        Default::Str("detach"),
        "What the daemon does with the job containers still running when it is asked to stop.",
    ),
    daemon(
        "log_format",
        Kind::Choice(Choice {
            noun: "log_format",
            values: &[
                (
                    "text",
                    "lines for people; under systemd without the time, which the journal adds",
                ),
                (
                    "json",
                    "one JSON object per line, every field at the top level (Loki, Vector)",
                ),
            ],
        }),
        Default::Str("text"),
        "How the daemon writes its log on stderr.",
    ),
    daemon(
        "registry_auth",
        Kind::Path {
            example: "a string with a file path such as \"/etc/cronbox/docker-config.json\"",
        },
        Default::Computed(
            "$DOCKER_CONFIG/config.json, else ~/.docker/config.json of the user running cronbox",
        ),
        "Docker's config.json holding the credentials of private registries (auths, credHelpers, credsStore), as `docker login` writes it.",
    ),
    daemon(
        "engine",
        Kind::Text(TextRule {
            expected: "a string with the engine's address such as \"unix:///run/podman/podman.sock\" or \"tcp://127.0.0.1:2375\"",
            check: check_engine,
            pattern: "^unix:///.+$|^(?:tcp|http)://[^/]+:[0-9]{1,5}/?$",
        }),
        Default::Computed("$DOCKER_HOST, else unix:///var/run/docker.sock"),
        "The container engine speaking the Docker API: Docker's socket, or Podman's (rootful /run/podman/podman.sock, rootless $XDG_RUNTIME_DIR/podman/podman.sock).",
    ),
    daemon(
        "history_max_age",
        Kind::Duration(DurationRule {
            min: Some(Bound {
                value: MIN_HISTORY_MAX_AGE,
                shown: "1h",
                why: ", the least accepted; runs that finished longer ago than this are deleted",
            }),
            whole_seconds: None,
            max: None,
        }),
        Default::Duration(DEFAULT_HISTORY_MAX_AGE),
        "How long finished runs are kept, with their attempts and output.",
    ),
    daemon(
        "history_limit",
        Kind::Integer(Integer {
            min: 1,
            max: u32::MAX as i128,
            example: "10000",
            below_min: "it is how many finished runs are kept per job",
        }),
        Default::Int(DEFAULT_HISTORY_LIMIT as i128),
        "How many finished runs are kept per job (the newest).",
    ),
    daemon(
        "heartbeat",
        Kind::Heartbeat,
        Default::Unset("none (no heartbeat)"),
        "The daemon's own ping to a healthchecks channel every so often, so that an outside monitor notices a box that stopped.",
    ),
    daemon(
        "public_url",
        Kind::Text(TextRule {
            expected: "a string with the dashboard's http:// or https:// URL such as \"https://cronbox.example.org/\"",
            check: check_url,
            pattern: "^https?://",
        }),
        Default::Unset("none (notifications carry no link)"),
        "Where people reach the dashboard: notifications link to the run's page, PUBLIC_URL/runs/ID.",
    ),
    http(
        "listen",
        Kind::Text(TextRule {
            expected: "a string with an IP address and a port such as \"127.0.0.1:7340\", or \"\" to turn the server off",
            check: check_listen,
            pattern: "^$|^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}$",
        }),
        Default::Str(DEFAULT_LISTEN),
        "The address and port the HTTP API, /metrics and the health checks listen on; \"\" turns the server off.",
    ),
    http(
        "token_file",
        Kind::Path {
            example: "a string with a file path such as \"/etc/cronbox/api-token\"",
        },
        Default::Unset(
            "none: no token is asked for (only allowed when listen is a loopback address)",
        ),
        "A file holding the bearer token every request but /healthz and /readyz must carry.",
    ),
    Key {
        name: "schedule",
        tables: JOB,
        kind: Kind::Schedule,
        default: Default::Required {
            defaults: false,
            hint: "add one with 5 cron fields such as \"30 2 * * *\", a nickname such as \"@daily\", or \"@every 10m\" (or after = { job = \"NAME\" } to start the job when another one's run ends)",
        },
        inherit: Inherit::No,
        secret: false,
        doc: "When the job runs: 5 cron fields such as \"30 2 * * *\", a nickname such as \"@daily\", or \"@every 10m\".",
    },
    Key {
        name: "after",
        tables: JOB,
        kind: Kind::After,
        default: Default::Unset("none: the job's schedule starts it"),
        inherit: Inherit::No,
        secret: false,
        doc: "Instead of schedule: start a run of this job when a run of another job ends, { job = \"NAME\", on = \"success\" | \"failure\" | \"always\" } or a list of them.",
    },
    Key {
        name: "on_file",
        tables: JOB,
        kind: Kind::OnFile,
        default: Default::Unset("none: the job's schedule starts it"),
        inherit: Inherit::No,
        secret: false,
        doc: "Instead of schedule: start one run per file arriving in a directory, { dir = \"/srv/inbox\", pattern = \"*.csv\", settle = \"5s\", recursive = false, rescan = \"5m\" }.",
    },
    Key {
        name: "after_success",
        tables: JOB,
        kind: Kind::FileAction,
        default: Default::Unset("\"keep\": the file stays where it is"),
        inherit: Inherit::No,
        secret: false,
        doc: "With on_file: what becomes of a file whose run succeeded: \"keep\", \"delete\" or { move_to = \"/dir\" }.",
    },
    Key {
        name: "after_failure",
        tables: JOB,
        kind: Kind::FileAction,
        default: Default::Unset("\"keep\": the file stays where it is"),
        inherit: Inherit::No,
        secret: false,
        doc: "With on_file: what becomes of a file whose run failed: \"keep\" or { move_to = \"/dir\" }.",
    },
    job(
        "timezone",
        Kind::Zone,
        Default::Computed("[defaults] timezone if set, else [daemon] timezone"),
        "The zone this job's schedule is read in.",
    ),
    job(
        "image",
        Kind::Image,
        Default::Required {
            defaults: true,
            hint: "add the Docker image to run, e.g. image = \"alpine:3.20\" (in the job or in [defaults])",
        },
        "The Docker image the job's container is created from.",
    ),
    job(
        "command",
        Kind::Argv(Argv {
            example: "[\"sh\", \"-c\", \"echo hello\"]",
            empty_hint: "give the program and its arguments such as [\"pg_dump\", \"app\"], or remove the line to use the image's default command",
            shell_hint: true,
        }),
        Default::Unset("the image's own default command"),
        "The program to run in the container and its arguments (no shell is involved).",
    ),
    job(
        "env",
        Kind::Env,
        Default::Empty,
        "Environment variables set in the container; merged with [defaults] env.",
    )
    .merged()
    .secret(),
    job(
        "volumes",
        Kind::Volumes,
        Default::Empty,
        "Host directories or files bind-mounted into the container: \"HOST:CONTAINER\" or \"HOST:CONTAINER:ro\".",
    ),
    job(
        "pull",
        Kind::Choice(Choice {
            noun: "pull policy",
            values: &[
                ("missing", "pull if not present"),
                ("always", ""),
                ("never", ""),
            ],
        }),
        Default::Str("missing"),
        "When to pull the image before a run.",
    ),
    job(
        "retries",
        Kind::Integer(Integer {
            min: 0,
            max: u32::MAX as i128,
            example: "3",
            below_min: "it counts the extra attempts after the first",
        }),
        Default::Int(DEFAULT_RETRIES as i128),
        "How many extra attempts to make after a failed one.",
    ),
    job(
        "backoff",
        ANY_DURATION,
        Default::Duration(DEFAULT_BACKOFF),
        "The delay before the first retry; each later retry waits twice as long, up to backoff_max.",
    ),
    job(
        "backoff_max",
        ANY_DURATION,
        Default::Duration(DEFAULT_BACKOFF_MAX),
        "The longest delay between two retries; at least backoff.",
    ),
    job(
        "timeout",
        TIME_LIMIT,
        NO_LIMIT,
        "The longest one attempt may run; then it is stopped and counts as failed.",
    ),
    job(
        "deadline",
        TIME_LIMIT,
        NO_LIMIT,
        "The longest a whole run may take, retries and the waits between them included.",
    ),
    job(
        "completions",
        Kind::Integer(Integer {
            min: 1,
            max: MAX_COMPLETIONS as i128,
            example: "10",
            below_min: "it counts the indexes a run must complete (1: a plain run)",
        }),
        Default::Int(1),
        "How many indexes a run must complete (Kubernetes' completions): each index 0..completions-1 runs in its own container, with its own attempts.",
    ),
    job(
        "parallelism",
        Kind::Integer(Integer {
            min: 1,
            max: MAX_COMPLETIONS as i128,
            example: "3",
            below_min: "it counts the containers of a run at once; at least 1",
        }),
        Default::Int(1),
        "The most containers of one run at once (Kubernetes' parallelism); at most completions.",
    ),
    job(
        "max_failed_indexes",
        Kind::Integer(Integer {
            min: 0,
            max: MAX_COMPLETIONS as i128,
            example: "2",
            below_min: "it counts the failed indexes a run tolerates",
        }),
        Default::Unset("none (every index runs to its end)"),
        "More failed indexes than this stop the run's other indexes and fail it at once (Kubernetes' maxFailedIndexes); below completions.",
    ),
    job(
        "stop_signal",
        Kind::Signal,
        Default::Str(DEFAULT_STOP_SIGNAL),
        "The signal that asks the container to stop; SIGKILL follows after stop_grace.",
    ),
    job(
        "stop_grace",
        Kind::Duration(DurationRule {
            min: Some(Bound {
                value: MIN_STOP_GRACE,
                shown: "1s",
                why: "; Docker counts the stop timeout in whole seconds",
            }),
            whole_seconds: Some(", which Docker's stop timeout counts"),
            max: Some(Bound {
                value: MAX_STOP_GRACE,
                shown: "1h",
                why: ", the most accepted (the daemon's own shutdown waits for it)",
            }),
        }),
        Default::Duration(DEFAULT_STOP_GRACE),
        "How long to wait after stop_signal before killing the container (whole seconds).",
    ),
    job(
        "concurrency",
        Kind::Choice(Choice {
            noun: "concurrency",
            values: &[
                ("forbid", "skip a tick while the previous run goes on"),
                ("allow", "let runs overlap"),
                ("replace", "stop the previous run, start the new one"),
            ],
        }),
        Default::Str("forbid"),
        "What a tick does when the job's previous run is still going.",
    ),
    job(
        "catch_up",
        Kind::Choice(Choice {
            noun: "catch_up",
            values: &[
                ("latest", "run the most recent missed tick once"),
                ("none", "run no missed tick"),
            ],
        }),
        Default::Str("latest"),
        "What the daemon does about ticks it missed (it was down, the box suspended, the clock jumped).",
    ),
    job(
        "starting_deadline",
        TIME_LIMIT,
        NO_LIMIT,
        "How late a tick may still start; a later one is recorded as missed.",
    ),
    job(
        "random_delay",
        Kind::Duration(DurationRule {
            min: Some(Bound {
                value: Duration::from_secs(1),
                shown: "1s",
                why: "; the offsets are whole seconds",
            }),
            whole_seconds: Some(", as the offsets are"),
            max: Some(Bound {
                value: MAX_TIME_LIMIT,
                shown: "365 days",
                why: ", the most accepted",
            }),
        }),
        Default::Unset("none (ticks run at their instant)"),
        "Shift every tick by a fixed offset in [0, random_delay), per job and box (systemd's RandomizedDelaySec, FixedRandomDelay=true).",
    ),
    job(
        "success_exit_codes",
        Kind::ExitCodes { non_empty: true },
        Default::Ints(&DEFAULT_SUCCESS_EXIT_CODES),
        "The exit codes that count as success.",
    ),
    job(
        "fatal_exit_codes",
        Kind::ExitCodes { non_empty: false },
        Default::Empty,
        "Exit codes that fail the run at once, without retries.",
    ),
    job(
        "memory",
        Kind::Size(SizeRule {
            min: Bound {
                value: MIN_MEMORY,
                shown: "6MiB",
                why: " (Docker refuses less)",
            },
            max: u64::MAX,
            example: "\"256MiB\" or \"1GiB\"",
        }),
        NO_LIMIT,
        "The container's memory limit, RAM and swap together, such as \"256MiB\".",
    ),
    job(
        "cpus",
        Kind::Cpus {
            min: MIN_CPUS,
            max: MAX_CPUS,
        },
        NO_LIMIT,
        "How much CPU time the container may use, in CPUs: 0.5 is half of one CPU.",
    ),
    job(
        "pids_limit",
        Kind::Integer(Integer {
            min: 1,
            max: i64::MAX as i128,
            example: "100",
            below_min: "remove the line for no limit",
        }),
        NO_LIMIT,
        "The most processes and threads the container may have at once.",
    ),
    job(
        "read_only",
        Kind::Bool,
        Default::Bool(false),
        "Mount the container's root filesystem read-only (with a writable tmpfs at /tmp).",
    ),
    job(
        "tmpfs",
        Kind::Tmpfs,
        Default::Empty,
        "In-memory filesystems mounted in the container: \"/path\" or \"/path:options\".",
    ),
    job(
        "network",
        Kind::Text(TextRule {
            expected: "a string such as \"none\", \"bridge\", \"host\" or a network name",
            check: check_network,
            pattern: "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
        }),
        Default::Unset("Docker's default, the bridge network"),
        "The network the container joins: \"none\", \"bridge\", \"host\" or a Docker network's name.",
    ),
    job(
        "user",
        Kind::Text(TextRule {
            expected: "a string such as \"1000\", \"1000:1000\" or \"nobody\"",
            check: check_user,
            pattern: "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$",
        }),
        Default::Unset("the image's user"),
        "The user (and group) the job runs as in the container: \"1000\", \"1000:1000\", \"nobody\".",
    ),
    job(
        "workdir",
        Kind::Text(TextRule {
            expected: "a string with an absolute path such as \"/work\"",
            check: check_container_path,
            pattern: "^/",
        }),
        Default::Unset("the image's working directory"),
        "The working directory of the job in the container (an absolute path).",
    ),
    job(
        "entrypoint",
        Kind::Argv(Argv {
            example: "[\"/bin/sh\", \"-c\"]",
            empty_hint: "give the program such as [\"/bin/sh\", \"-c\"], or remove the line to keep the image's entrypoint",
            shell_hint: false,
        }),
        Default::Unset("the image's entrypoint"),
        "Replaces the image's entrypoint; command becomes its arguments.",
    ),
    job(
        "hostname",
        Kind::Text(TextRule {
            expected: "a string such as \"backup-1\"",
            check: check_hostname,
            pattern: "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
        }),
        Default::Unset("Docker's (the container's short id)"),
        "The container's host name (RFC 1123).",
    ),
    job(
        "cap_add",
        Kind::Capabilities,
        Default::Empty,
        "Linux capabilities to add to Docker's default set, or \"ALL\".",
    ),
    job(
        "cap_drop",
        Kind::Capabilities,
        Default::Empty,
        "Linux capabilities to remove from Docker's default set, or \"ALL\".",
    ),
    job(
        "labels",
        Kind::Labels,
        Default::Empty,
        "Docker labels put on the job's containers; merged with [defaults] labels.",
    )
    .merged(),
    job(
        "privileged",
        Kind::Bool,
        Default::Bool(false),
        "Run the container privileged (all capabilities, all devices); avoid it.",
    ),
    job(
        "env_file",
        Kind::Path {
            example: "a string with a file path such as \"backup.env\"",
        },
        Default::Unset("none"),
        "A file of environment variables (KEY=value lines), read again at each run.",
    )
    .secret(),
    job(
        "secrets",
        Kind::Secrets,
        Default::Empty,
        "Host files mounted read-only in the container at /run/secrets/NAME: NAME = \"host path\".",
    )
    .secret(),
    job(
        "max_output",
        Kind::Size(SizeRule {
            min: Bound {
                value: MIN_MAX_OUTPUT,
                shown: "4KiB",
                why: " (less would keep too little output to see why an attempt failed)",
            },
            max: MAX_MAX_OUTPUT,
            example: "\"1MiB\" or \"256KiB\"",
        }),
        Default::Size(DEFAULT_MAX_OUTPUT),
        "How much of each output stream (stdout, stderr) of one attempt is kept.",
    ),
    job(
        "params",
        Kind::Params,
        Default::Empty,
        "Environment variables a run started through the HTTP API may set (POST /api/v1/jobs/NAME/runs).",
    ),
    job(
        "notify",
        Kind::Channels,
        Default::Empty,
        "The notification channels ([notify.NAME]) told about the job's runs.",
    ),
    job(
        "notify_on",
        Kind::Events,
        Default::Strs(DEFAULT_NOTIFY_ON),
        "The events the job's channels are told about: failure, recovery, success, missed, skipped, overdue.",
    ),
    job(
        "notify_cooldown",
        Kind::Duration(DurationRule {
            min: None,
            whole_seconds: Some(", the unit notifications are folded by"),
            max: None,
        }),
        Default::Duration(DEFAULT_NOTIFY_COOLDOWN),
        "Repeats of the same event (not recovery) to a channel within this time are folded into the next message, which counts them.",
    ),
    job(
        "expect_success_within",
        Kind::Duration(DurationRule {
            min: None,
            whole_seconds: Some(", the unit overdue jobs are checked in"),
            max: None,
        }),
        Default::Unset("none (no dead-man alert)"),
        "Dead-man alert: the event overdue when no run of the job succeeded for this long, and overdue_resolved at its next success.",
    ),
    job(
        "healthchecks",
        Kind::Ping,
        Default::Unset("none"),
        "Ping a healthchecks.io-compatible check: /start at each attempt, the URL on success, /EXIT_CODE or /fail on failure.",
    ),
    notify(
        "kind",
        Kind::Choice(Choice {
            noun: "channel kind",
            values: &[
                ("webhook", "an HTTP POST of a JSON body"),
                ("healthchecks", "healthchecks.io-compatible pings (jobs name their check)"),
                ("email", "a mail over SMTP to the addresses of to"),
            ],
        }),
        Default::Required {
            defaults: false,
            hint: "add kind = \"webhook\"",
        },
        "What the channel is.",
    ),
    notify(
        "url",
        Kind::Text(TextRule {
            expected: "a string with an http:// or https:// URL such as \"https://hooks.example.org/T0/B0\"",
            check: check_url,
            pattern: "^https?://",
        }),
        Default::Unset("none (set url or url_file)"),
        "Where to send; it may hold a token, so it is never shown, logged or stored (see url_file).",
    )
    .secret(),
    notify(
        "url_file",
        Kind::Path {
            example: "a string with a file path such as \"/etc/cronbox/ops.url\"",
        },
        Default::Unset("none (set url or url_file)"),
        "A file holding the URL (one line), read when the daemon starts or reloads.",
    ),
    notify(
        "format",
        Kind::Choice(Choice {
            noun: "webhook format",
            values: &[
                ("json", "cronbox's documented payload"),
                ("slack", "a Slack incoming-webhook message"),
                ("discord", "a Discord webhook message"),
                ("ntfy", "an ntfy topic message"),
                ("gotify", "a Gotify message"),
            ],
        }),
        Default::Str("json"),
        "The body sent: cronbox's JSON payload, or a short readable message for a chat service.",
    ),
    notify(
        "headers",
        Kind::Env,
        Default::Empty,
        "Extra request headers; they may hold tokens, so they are never shown or logged.",
    )
    .secret(),
    notify(
        "timeout",
        Kind::Duration(DurationRule {
            min: Some(ONE_SECOND),
            whole_seconds: None,
            max: Some(Bound {
                value: Duration::from_secs(300),
                shown: "5m",
                why: ", the most accepted",
            }),
        }),
        Default::Duration(DEFAULT_NOTIFY_TIMEOUT),
        "How long one delivery may take before it counts as failed and is retried.",
    ),
    notify(
        "tail_lines",
        Kind::Integer(Integer {
            min: 0,
            max: MAX_TAIL_LINES as i128,
            example: "20",
            below_min: "it is how many lines of each output stream a message carries",
        }),
        Default::Int(DEFAULT_TAIL_LINES as i128),
        "How many of the last lines of each output stream (stderr, stdout) a message carries; 0: none.",
    ),
    notify(
        "tail_size",
        Kind::Size(SizeRule {
            min: Bound {
                value: 0,
                shown: "0B",
                why: "",
            },
            max: MAX_TAIL_SIZE,
            example: "\"4KiB\" or \"16KiB\"",
        }),
        Default::Size(DEFAULT_TAIL_SIZE),
        "At most this much of each output stream's last lines (their end is kept).",
    ),
    notify(
        "smtp",
        Kind::Text(TextRule {
            expected: "a string with an smtp:// or smtps:// URL such as \"smtp://mail.example.org:587\"",
            check: check_smtp_url,
            pattern: "^smtps?://",
        }),
        Default::Unset(EMAIL_ONLY),
        "kind = \"email\": the mail server, smtp://HOST[:PORT] (STARTTLS, port 587) or smtps://HOST[:PORT] (TLS, port 465).",
    )
    // Not shown in messages: a URL refused for holding credentials holds a password.
    .secret(),
    notify(
        "starttls",
        Kind::Bool,
        Default::Bool(true),
        "kind = \"email\" with smtp://: whether STARTTLS is required; false sends in clear text (a relay on this host only).",
    ),
    notify(
        "from",
        Kind::Text(TextRule {
            expected: "a string with a mail address such as \"cronbox@nuc.example.org\"",
            check: check_mailbox,
            pattern: "@",
        }),
        Default::Unset(EMAIL_ONLY),
        "kind = \"email\": the sender address.",
    ),
    notify(
        "to",
        Kind::Addresses,
        Default::Unset(EMAIL_ONLY),
        "kind = \"email\": the recipient addresses.",
    ),
    notify(
        "username",
        Kind::Text(TextRule {
            expected: "a string with the SMTP user name such as \"cronbox\"",
            check: check_smtp_user,
            pattern: "^\\S+$",
        }),
        Default::Unset("none (no SMTP authentication)"),
        "kind = \"email\": the user name the server authenticates (with password_file).",
    ),
    notify(
        "password_file",
        Kind::Path {
            example: "a string with a file path such as \"/etc/cronbox/smtp.pass\"",
        },
        Default::Unset("none (no SMTP authentication)"),
        "kind = \"email\": a file holding the SMTP password (its first line), read at each delivery; never shown, logged or stored.",
    ),
];

/// The keys of the values that are inline tables (`on_file = { dir = ..., ... }`),
/// described as the file's keys are: each a [`Key`] that no table accepts on its
/// own (`tables` empty), named without its parent (`dir`; messages say
/// `on_file.dir`), checked by its kind (`inline.rs`), its default applied when
/// unset, documented in `config/reference.toml` at its parent and given to the
/// JSON Schema. A [`Default::Required`] hint, when not empty, is the whole
/// message for a table that lacks the key. Empty for other kinds.
pub(super) fn sub_keys(kind: Kind) -> &'static [Key] {
    match kind {
        Kind::After => AFTER_KEYS,
        Kind::OnFile => ON_FILE_KEYS,
        Kind::Ping => PING_KEYS,
        Kind::Heartbeat => HEARTBEAT_KEYS,
        Kind::FileAction => MOVE_TO_KEYS,
        _ => &[],
    }
}

/// A key of an inline table (see [`sub_keys`]).
const fn sub(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Key {
    Key {
        name,
        tables: &[],
        kind,
        default,
        inherit: Inherit::No,
        secret: false,
        doc,
    }
}

/// A sub-key that must be set; `hint` as for [`Default::Required`].
const fn needed(hint: &'static str) -> Default {
    Default::Required {
        defaults: false,
        hint,
    }
}

/// Any string: the value is checked against the file's names by the caller.
fn any_text(_: &str) -> Result<(), String> {
    Ok(())
}

/// `on_file.dir`: an absolute directory.
fn check_watched_dir(text: &str) -> Result<(), String> {
    absolute(
        text,
        "on_file.dir must be an absolute path such as \"/srv/inbox\"",
    )
}

/// `move_to`: an absolute directory.
fn check_move_to(text: &str) -> Result<(), String> {
    absolute(
        text,
        "move_to must be an absolute directory such as \"/srv/inbox/done\"",
    )
}

fn absolute(text: &str, rule: &str) -> Result<(), String> {
    if text.starts_with('/') && !text.contains('\0') {
        Ok(())
    } else {
        Err(rule.to_owned())
    }
}

/// `on_file.pattern`: a glob on a file's name.
fn check_glob(text: &str) -> Result<(), String> {
    if text.is_empty() || text.contains('/') {
        return Err(
            "on_file.pattern is a glob on file names, such as \"*.csv\": not empty, without \"/\""
                .to_owned(),
        );
    }
    Ok(())
}

/// A healthchecks check: its UUID or slug, fit for a URL path segment.
fn check_ping_check(text: &str) -> Result<(), String> {
    let fits = !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fits {
        Ok(())
    } else {
        Err(
            "it must be a check's UUID or slug: letters, digits, \"-\" and \"_\" (at most 100)"
                .to_owned(),
        )
    }
}

/// The shortest heartbeat period: healthchecks.io's shortest period of a check.
pub(super) const MIN_HEARTBEAT: Duration = Duration::from_secs(60);

/// `after = { job, on }`.
const AFTER_KEYS: &[Key] = &[
    sub(
        "job",
        Kind::Text(TextRule {
            expected: "a string naming a job of this file such as \"backup-db\"",
            check: any_text,
            pattern: super::json_schema::JOB_NAME_PATTERN,
        }),
        needed("after needs the parent job: add job = \"NAME\" (a [jobs.NAME] of this file)"),
        "The parent job: a [jobs.NAME] of this file, not the job itself.",
    ),
    sub(
        "on",
        Kind::Choice(Choice {
            noun: "after.on",
            values: &[
                ("success", "the parent's run succeeded"),
                ("failure", "the parent's run failed, after its last attempt"),
                ("always", "either"),
            ],
        }),
        Default::Str("success"),
        "Which ends of the parent's runs start this job.",
    ),
];

/// `on_file = { dir, pattern, settle, recursive, rescan }`.
const ON_FILE_KEYS: &[Key] = &[
    sub(
        "dir",
        Kind::Text(TextRule {
            expected: "a string with an absolute path such as \"/srv/inbox\"",
            check: check_watched_dir,
            pattern: "^/",
        }),
        needed(ON_FILE_NEEDS),
        "The directory watched, absolute.",
    ),
    sub(
        "pattern",
        Kind::Text(TextRule {
            expected: "a string with a glob on file names such as \"*.csv\"",
            check: check_glob,
            pattern: "^[^/]+$",
        }),
        needed(ON_FILE_NEEDS),
        "A glob on the file's name: \"*\" any characters, \"?\" one.",
    ),
    sub(
        "settle",
        ANY_DURATION,
        Default::Duration(super::files::DEFAULT_SETTLE),
        "A file is taken once its size and mtime stayed the same this long.",
    ),
    sub(
        "recursive",
        Kind::Bool,
        Default::Bool(false),
        "Whether files in subdirectories of dir count too.",
    ),
    sub(
        "rescan",
        Kind::Duration(DurationRule {
            min: Some(ONE_SECOND),
            whole_seconds: None,
            max: None,
        }),
        Default::Duration(super::files::DEFAULT_RESCAN),
        "How often the directory is listed again without an inotify event (inotify misses events on network mounts).",
    ),
];

const ON_FILE_NEEDS: &str =
    "on_file needs dir and pattern, such as { dir = \"/srv/inbox\", pattern = \"*.csv\" }";

const PING_CHANNEL: Key = sub(
    "channel",
    Kind::Text(TextRule {
        expected: "a string naming a [notify.NAME] channel of kind \"healthchecks\" such as \"hc\"",
        check: any_text,
        pattern: ".",
    }),
    needed(""),
    "A [notify.NAME] channel of kind \"healthchecks\".",
);

const PING_CHECK: Key = sub(
    "check",
    Kind::Text(TextRule {
        expected: "a string with a check's UUID or slug such as \"5f1c9a3e-7d2b-4c6e-9f0a-1b2c3d4e5f60\"",
        check: check_ping_check,
        pattern: "^[A-Za-z0-9_-]{1,100}$",
    }),
    needed(""),
    "The check there: its UUID or slug (letters, digits, \"-\" and \"_\").",
);

/// A job's `healthchecks = { channel, check }`.
const PING_KEYS: &[Key] = &[PING_CHANNEL, PING_CHECK];

/// The daemon's `heartbeat = { channel, check, every }`.
const HEARTBEAT_KEYS: &[Key] = &[
    PING_CHANNEL,
    PING_CHECK,
    sub(
        "every",
        Kind::Duration(DurationRule {
            min: Some(Bound {
                value: MIN_HEARTBEAT,
                shown: "a minute",
                why: ", the shortest period of a healthchecks check; write \"1m\" or more",
            }),
            whole_seconds: None,
            max: None,
        }),
        needed(""),
        "How often the daemon pings, at least \"1m\".",
    ),
];

/// `after_success` / `after_failure = { move_to }`.
const MOVE_TO_KEYS: &[Key] = &[sub(
    "move_to",
    Kind::Text(TextRule {
        expected: "a string with an absolute directory such as \"/srv/inbox/done\"",
        check: check_move_to,
        pattern: "^/",
    }),
    needed(""),
    "Move the file into this absolute directory (it must exist), under its name.",
)];

/// The words `after_success` and `after_failure` take besides `{ move_to }`, with
/// whether `after_failure` takes them too.
pub(super) const FILE_ACTION_WORDS: &[(&str, bool)] = &[("keep", true), ("delete", false)];

/// The default text of the keys only email channels take.
const EMAIL_ONLY: &str = "none (required when kind = \"email\")";

/// An SMTP user name: not empty, no white space.
fn check_smtp_user(text: &str) -> Result<(), String> {
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err("write the user name without spaces, such as \"cronbox\"".to_owned());
    }
    Ok(())
}

/// The events a job's channels are told about when `notify_on` is not set.
pub const DEFAULT_NOTIFY_ON: &[&str] = &["failure", "recovery"];
/// Repeats of an event within this time are folded (`notify_cooldown`).
pub const DEFAULT_NOTIFY_COOLDOWN: Duration = Duration::from_secs(3600);
/// How long one delivery may take (`[notify.NAME] timeout`).
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of each output stream a message carries (`tail_lines`).
pub const DEFAULT_TAIL_LINES: u64 = 20;
/// The most `tail_lines` accepts.
pub const MAX_TAIL_LINES: u64 = 1000;
/// Bytes of each output stream a message carries at most (`tail_size`): 4 KiB.
pub const DEFAULT_TAIL_SIZE: u64 = 4096;
/// The most `tail_size` accepts: 64 KiB (chat services refuse longer messages).
pub const MAX_TAIL_SIZE: u64 = 64 * 1024;
/// The events `notify_on` accepts.
pub const NOTIFY_EVENTS: &[&str] = &[
    "failure", "recovery", "success", "missed", "skipped", "overdue",
];

/// The keys `table` accepts, in documented order.
pub(super) fn keys_of(table: Table) -> impl Iterator<Item = &'static Key> {
    indexed(table).map(|(_, key)| key)
}

/// The keys `table` accepts, in documented order, with their index in [`KEYS`].
pub(super) fn indexed(table: Table) -> impl Iterator<Item = (usize, &'static Key)> {
    KEYS.iter()
        .enumerate()
        .filter(move |(_, key)| key.allowed_in(table))
}

/// The index in [`KEYS`] of the key `name` of `table`, if it accepts one.
pub(super) fn index_of(table: Table, name: &str) -> Option<usize> {
    indexed(table).find_map(|(index, key)| (key.name == name).then_some(index))
}

/// [`index_of`] for code that names a key: in a const context (`const { key(..) }`)
/// a name the table does not accept is a compile error.
pub(super) const fn key(table: Table, name: &str) -> usize {
    let mut index = 0;
    while index < KEYS.len() {
        if same(KEYS[index].name.as_bytes(), name.as_bytes()) && accepts(KEYS[index].tables, table)
        {
            return index;
        }
        index += 1;
    }
    panic!("no such key in this table")
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn accepts(tables: &[Table], table: Table) -> bool {
    let mut i = 0;
    while i < tables.len() {
        if tables[i] as u8 == table as u8 {
            return true;
        }
        i += 1;
    }
    false
}

/// The index in [`KEYS`] of a job key, checked at compile time: `job_key!("image")`.
macro_rules! job_key {
    ($name:literal) => {
        const { $crate::config::schema::key($crate::config::schema::Table::Job, $name) }
    };
}

/// The index in [`KEYS`] of a `[daemon]` key, checked at compile time.
macro_rules! daemon_key {
    ($name:literal) => {
        const { $crate::config::schema::key($crate::config::schema::Table::Daemon, $name) }
    };
}

/// The index in [`KEYS`] of a `[notify.NAME]` key, checked at compile time.
macro_rules! notify_key {
    ($name:literal) => {
        const { $crate::config::schema::key($crate::config::schema::Table::Notify, $name) }
    };
}

/// The index in [`KEYS`] of a `[daemon.http]` key, checked at compile time.
macro_rules! http_key {
    ($name:literal) => {
        const { $crate::config::schema::key($crate::config::schema::Table::Http, $name) }
    };
}

pub(super) use {daemon_key, http_key, job_key, notify_key};

/// The names of the keys `table` accepts, in documented order.
pub(super) fn names_of(table: Table) -> Vec<&'static str> {
    keys_of(table).map(|key| key.name).collect()
}

/// Whether values under a key called `name` (in any table but `[daemon]`) may be
/// secrets, which no message or snippet shows: `env`, `env_file`, `secrets`.
pub(super) fn is_secret(name: &str) -> bool {
    KEYS.iter().any(|key| key.secret && key.name == name)
}
