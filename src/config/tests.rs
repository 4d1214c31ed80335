use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::*;
use crate::schedule::Schedule;

const PATH: &str = "/etc/cronbox/cronbox.toml";
pub(super) const REFERENCE: &str = include_str!("../../config/reference.toml");

fn utc_env() -> Environment {
    Environment {
        state_directory: None,
        local_timezone: Tz::UTC,
        local_timezone_source: ZoneSource::Tz(String::new()),
        cpus: 4,
    }
}

pub(super) fn parse_ok(text: &str) -> Config {
    parse_ok_with(text, &utc_env())
}

fn parse_ok_with(text: &str, env: &Environment) -> Config {
    match parse(Path::new(PATH), text, env) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config, got:\n{err}\n--- input:\n{text}"),
    }
}

pub(super) fn parse_err(text: &str) -> ConfigError {
    match parse(Path::new(PATH), text, &utc_env()) {
        Ok(config) => panic!("expected an error, got {config:#?}\n--- input:\n{text}"),
        Err(err) => err,
    }
}

/// One expected problem: line, column, job, fragments the message must contain.
pub(super) type Expected = (usize, usize, Option<&'static str>, &'static [&'static str]);

pub(super) fn check_problems(name: &str, text: &str, expected: &[Expected]) {
    let err = parse_err(text);
    assert_eq!(err.path, Path::new(PATH), "{name}");
    assert_eq!(
        err.problems.len(),
        expected.len(),
        "case {name}: wrong number of problems:\n{err}"
    );
    for (problem, &(line, column, job, fragments)) in err.problems.iter().zip(expected) {
        assert_eq!(
            problem.location,
            Some(Location { line, column }),
            "case {name}: wrong location for {problem:?}"
        );
        assert_eq!(
            problem.job.as_deref(),
            job,
            "case {name}: wrong job for {problem:?}"
        );
        for fragment in fragments {
            assert!(
                problem.message.contains(fragment),
                "case {name}: message {:?} lacks {fragment:?}",
                problem.message
            );
        }
        assert!(
            !problem.message.contains('\n'),
            "case {name}: multi-line message"
        );
    }
}

const FULL: &str = r#"
[daemon]
database = "/var/lib/cronbox/cronbox.db"
timezone = "Europe/Paris"

[jobs.backup-db]
schedule = "30 2 * * *"
timezone = "Europe/Paris"
image = "postgres:16-alpine"
command = ["sh", "-c", "pg_dump -h db app > /backup/app.sql"]
env = { PGUSER = "app" }
volumes = ["/srv/backup:/backup"]
pull = "missing"
retries = 3
backoff = "10s"
backoff_max = "10m"
"#;

const MINIMAL: &str = "[jobs.tick]\nschedule = \"@every 10m\"\nimage = \"alpine\"\n";

// ---------------------------------------------------------------- valid files

#[test]
fn full_example() {
    let config = parse_ok(FULL);
    assert_eq!(config.path, Path::new(PATH));
    assert_eq!(
        config.daemon,
        DaemonConfig {
            database: PathBuf::from("/var/lib/cronbox/cronbox.db"),
            timezone: Tz::Europe__Paris,
            timezone_source: ZoneSource::DaemonKey,
            max_concurrent: 4,
            require_limits: false,
            on_shutdown: OnShutdown::Detach,
            log_format: LogFormat::Text,
            registry_auth: None,
            engine: None,
            history_max_age: DEFAULT_HISTORY_MAX_AGE,
            history_limit: DEFAULT_HISTORY_LIMIT,
            heartbeat: None,
            public_url: None,
            http: HttpConfig::default(),
        }
    );
    assert_eq!(config.jobs.len(), 1);
    let job = config.job("backup-db").expect("job");
    assert_eq!(job.name, "backup-db");
    assert_eq!(job.schedule.expression(), "30 2 * * *");
    assert_eq!(job.schedule.timezone(), Tz::Europe__Paris);
    assert_eq!(job.timezone, Tz::Europe__Paris);
    assert_eq!(job.image, "postgres:16-alpine");
    assert_eq!(
        job.command,
        Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "pg_dump -h db app > /backup/app.sql".to_owned()
        ])
    );
    assert_eq!(
        job.env,
        BTreeMap::from([("PGUSER".to_owned(), "app".to_owned())])
    );
    assert_eq!(
        job.volumes,
        vec![Volume {
            host: PathBuf::from("/srv/backup"),
            container: PathBuf::from("/backup"),
            read_only: false,
        }]
    );
    assert_eq!(job.pull, PullPolicy::Missing);
    assert_eq!(job.retries, 3);
    assert_eq!(job.backoff, Duration::from_secs(10));
    assert_eq!(job.backoff_max, Duration::from_secs(600));
}

#[test]
fn minimal_job_gets_defaults() {
    let config = parse_ok(MINIMAL);
    let job = config.job("tick").expect("job");
    assert_eq!(job.schedule.expression(), "@every 10m");
    assert_eq!(job.timezone, Tz::UTC);
    assert_eq!(job.image, "alpine");
    assert_eq!(job.command, None);
    assert!(job.env.is_empty());
    assert!(job.volumes.is_empty());
    assert_eq!(job.pull, PullPolicy::Missing);
    assert_eq!(job.retries, DEFAULT_RETRIES);
    assert_eq!(job.backoff, DEFAULT_BACKOFF);
    assert_eq!(job.backoff_max, DEFAULT_BACKOFF_MAX);
    assert_eq!(config.daemon.database, Path::new("./cronbox.db"));
}

#[test]
fn valid_variants() {
    // (name, text, check)
    type Check = fn(&Config);
    let cases: &[(&str, &str, Check)] = &[
        ("empty file", "", |c| assert!(c.jobs.is_empty())),
        ("comments only", "# nothing yet\n\n", |c| {
            assert!(c.jobs.is_empty())
        }),
        ("empty jobs table", "[jobs]\n", |c| {
            assert!(c.jobs.is_empty())
        }),
        ("empty daemon table", "[daemon]\n", |c| {
            assert_eq!(c.daemon.timezone, Tz::UTC)
        }),
        (
            "read-only and rw volumes",
            "[jobs.a]\nschedule='@daily'\nimage='x'\nvolumes=['/a:/b:ro', '/c:/d:rw', '/e/f:/g/h']\n",
            |c| {
                let v = &c.jobs[0].volumes;
                assert!(v[0].read_only && !v[1].read_only && !v[2].read_only);
                assert_eq!(v[0].to_bind(), "/a:/b:ro");
                assert_eq!(v[1].to_bind(), "/c:/d");
                assert_eq!(v[2].to_string(), "/e/f:/g/h");
            },
        ),
        (
            "pull policies",
            "[jobs.a]\nschedule='@daily'\nimage='x'\npull='always'\n[jobs.b]\nschedule='@daily'\nimage='x'\npull='never'\n",
            |c| {
                assert_eq!(c.jobs[0].pull, PullPolicy::Always);
                assert_eq!(c.jobs[1].pull, PullPolicy::Never);
            },
        ),
        (
            "env as sub-table and dotted keys",
            "[jobs.a]\nschedule='@daily'\nimage='x'\nenv.A='1'\n[jobs.b]\nschedule='@daily'\nimage='x'\n[jobs.b.env]\nB=''\n",
            |c| {
                assert_eq!(c.jobs[0].env["A"], "1");
                assert_eq!(c.jobs[1].env["B"], "");
            },
        ),
        (
            "inline job tables and dotted job keys",
            "[jobs]\na = { schedule = '@hourly', image = 'x' }\nb.schedule = '@daily'\nb.image = 'y'\n",
            |c| assert_eq!(c.jobs.len(), 2),
        ),
        (
            "retries 0, hex and large",
            "[jobs.a]\nschedule='@daily'\nimage='x'\nretries=0\n[jobs.b]\nschedule='@daily'\nimage='x'\nretries=0x10\n[jobs.c]\nschedule='@daily'\nimage='x'\nretries=4294967295\n",
            |c| {
                assert_eq!(c.jobs[0].retries, 0);
                assert_eq!(c.jobs[1].retries, 16);
                assert_eq!(c.jobs[2].retries, u32::MAX);
            },
        ),
        (
            "backoff equal to backoff_max",
            "[jobs.a]\nschedule='@daily'\nimage='x'\nbackoff='1m'\nbackoff_max='60s'\n",
            |c| assert_eq!(c.jobs[0].backoff, c.jobs[0].backoff_max),
        ),
        (
            "job names at the edges",
            "[jobs.0]\nschedule='@daily'\nimage='x'\n[jobs.a_-9]\nschedule='@daily'\nimage='x'\n[jobs.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nschedule='@daily'\nimage='x'\n",
            |c| assert_eq!(c.jobs.len(), 3),
        ),
    ];
    for (name, text, check) in cases {
        let config = match parse(Path::new(PATH), text, &utc_env()) {
            Ok(config) => config,
            Err(err) => panic!("case {name}: {err}"),
        };
        check(&config);
    }
}

#[test]
fn jobs_are_sorted_and_found_by_name() {
    let text = "[jobs.zeta]\nschedule='@daily'\nimage='x'\n[jobs.alpha]\nschedule='@daily'\nimage='x'\n[jobs.mid]\nschedule='@daily'\nimage='x'\n";
    let config = parse_ok(text);
    let names: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["alpha", "mid", "zeta"]);
    assert_eq!(config.job("mid").map(|j| j.name.as_str()), Some("mid"));
    assert!(config.job("nope").is_none());
}

#[test]
fn database_paths() {
    let state = Environment {
        state_directory: Some(PathBuf::from("/var/lib/cronbox")),
        ..utc_env()
    };
    // (config path, text, environment, expected database)
    let cases: &[(&str, &str, &Environment, &str)] = &[
        (PATH, "", &utc_env(), "./cronbox.db"),
        (PATH, "", &state, "/var/lib/cronbox/cronbox.db"),
        (
            PATH,
            "[daemon]\ndatabase = 'data/h.db'\n",
            &state,
            "/etc/cronbox/data/h.db",
        ),
        (
            PATH,
            "[daemon]\ndatabase = '../h.db'\n",
            &utc_env(),
            "/etc/cronbox/../h.db",
        ),
        (
            PATH,
            "[daemon]\ndatabase = '/srv/h.db'\n",
            &state,
            "/srv/h.db",
        ),
        (
            "cronbox.toml",
            "[daemon]\ndatabase = 'h.db'\n",
            &utc_env(),
            "h.db",
        ),
        (
            "conf/cronbox.toml",
            "[daemon]\ndatabase = 'h.db'\n",
            &utc_env(),
            "conf/h.db",
        ),
    ];
    for (path, text, env, expected) in cases {
        let config = parse(Path::new(path), text, env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.daemon.database,
            Path::new(expected),
            "{path} {text:?}"
        );
    }
}

#[test]
fn timezones_are_inherited() {
    let env = Environment {
        local_timezone: Tz::Asia__Tokyo,
        local_timezone_source: ZoneSource::System,
        ..utc_env()
    };
    let no_daemon = parse_ok_with(MINIMAL, &env);
    assert_eq!(no_daemon.daemon.timezone, Tz::Asia__Tokyo);
    assert_eq!(no_daemon.daemon.timezone_source, ZoneSource::System);
    assert_eq!(no_daemon.jobs[0].timezone, Tz::Asia__Tokyo);
    assert_eq!(no_daemon.jobs[0].schedule.timezone(), Tz::Asia__Tokyo);

    let text = format!(
        "[daemon]\ntimezone = 'Europe/Paris'\n{MINIMAL}[jobs.own]\nschedule='@daily'\nimage='x'\ntimezone='America/New_York'\n"
    );
    let config = parse_ok_with(&text, &env);
    assert_eq!(config.daemon.timezone, Tz::Europe__Paris);
    assert_eq!(config.daemon.timezone_source, ZoneSource::DaemonKey);
    let tick = config.job("tick").expect("tick");
    assert_eq!(tick.timezone, Tz::Europe__Paris);
    assert_eq!(tick.schedule.timezone(), Tz::Europe__Paris);
    let own = config.job("own").expect("own");
    assert_eq!(own.timezone, Tz::America__New_York);
    assert_eq!(own.schedule.timezone(), Tz::America__New_York);
}

#[test]
fn a_tz_naming_no_zone_refuses_only_the_jobs_that_need_the_default() {
    let why = "TZ=\"CET-1CEST,M3.5.0,M10.5.0/3\" is a POSIX TZ rule";
    let env = Environment {
        local_timezone: Tz::UTC,
        local_timezone_source: ZoneSource::Unusable(why.to_owned()),
        ..utc_env()
    };
    let job = |name: &str, zone: &str| {
        format!("[jobs.{name}]\nschedule = '@daily'\nimage = 'x'\n{zone}\n")
    };
    let own_zone = job("own", "timezone = 'Europe/Paris'");
    let no_zone = job("plain", "");
    // (file, the jobs refused, each at its [jobs.NAME] line)
    let cases: Vec<(String, &[(&str, usize)])> = vec![
        (own_zone.clone(), &[]),
        (format!("[daemon]\ntimezone = 'UTC'\n{no_zone}"), &[]),
        (format!("[defaults]\ntimezone = 'UTC'\n{no_zone}"), &[]),
        (no_zone.clone(), &[("plain", 1)]),
        (format!("{own_zone}{no_zone}"), &[("plain", 5)]),
    ];
    for (text, refused) in cases {
        match parse(Path::new(PATH), &text, &env) {
            Ok(config) => {
                assert!(refused.is_empty(), "{text}: accepted");
                let source = &config.daemon.timezone_source;
                if text.contains("[daemon]") {
                    assert_eq!(source, &ZoneSource::DaemonKey, "{text}");
                } else {
                    assert_eq!(source, &ZoneSource::Unusable(why.to_owned()), "{text}");
                }
            }
            Err(error) => {
                let got: Vec<(&str, usize)> = error
                    .problems
                    .iter()
                    .map(|p| {
                        assert!(
                            p.message
                                .contains("sets no timezone and there is no default zone")
                                && p.message.contains(why),
                            "{}",
                            p.message
                        );
                        (
                            p.job.as_deref().unwrap_or("-"),
                            p.location.map_or(0, |l| l.line),
                        )
                    })
                    .collect();
                assert_eq!(got, refused, "{text}");
            }
        }
    }
}

#[test]
fn reference_file_is_a_valid_config_documenting_every_key() {
    let config = parse_ok(REFERENCE);
    assert_eq!(
        config
            .jobs
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>(),
        [
            "backup-db",
            "heartbeat",
            "import-orders",
            "verify-backup",
            "weekly-report"
        ]
    );
    let backup = config.job("backup-db").expect("backup-db");
    assert_eq!(backup.retries, 3);
    assert_eq!(backup.volumes.len(), 2);
    // [defaults] applies, and the job's own values win.
    assert_eq!(backup.memory, Some(1 << 30));
    assert_eq!(backup.pids_limit, Some(100));
    assert_eq!(backup.labels.len(), 2);
    let heartbeat = config.job("heartbeat").expect("heartbeat");
    assert_eq!(heartbeat.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(heartbeat.memory, Some(512 << 20));
    assert_eq!(heartbeat.env["LANG"], "C.UTF-8");
    let report = config.job("weekly-report").expect("weekly-report");
    assert_eq!(report.env.len(), 3, "{:?}", report.env);
    assert_eq!(report.timeout, Some(Duration::from_secs(3 * 3600)));
    assert_eq!(backup.catch_up, CatchUp::Latest);
    assert_eq!(
        backup.starting_deadline,
        Some(Duration::from_secs(6 * 3600))
    );
    assert_eq!(heartbeat.starting_deadline, None);
    assert_eq!(config.daemon.on_shutdown, OnShutdown::Detach);
    assert_eq!(config.daemon.history_max_age, DEFAULT_HISTORY_MAX_AGE);
    assert_eq!(config.daemon.history_limit, DEFAULT_HISTORY_LIMIT);
    assert!(REFERENCE.contains("\n[defaults]\n"));
    assert!(
        REFERENCE.contains("[daemon] settings take effect at the next start"),
        "reference.toml must say when [daemon] settings apply"
    );
    // Every key the validator knows is documented, with an example.
    for key in schema::KEYS.iter().map(|key| key.name) {
        assert!(
            REFERENCE.contains(&format!("\n# {key}: ")),
            "reference.toml does not document {key}"
        );
        assert!(
            REFERENCE.contains(&format!("\n{key} = ")),
            "reference.toml has no example of {key}"
        );
    }
}

#[test]
fn retry_policy_carries_the_jobs_settings() {
    let mut job = std::sync::Arc::unwrap_or_clone(parse_ok(MINIMAL).jobs.remove(0));
    job.retries = 4;
    job.backoff = Duration::from_secs(10);
    job.backoff_max = Duration::from_secs(60);
    job.success_exit_codes = vec![0, 3];
    job.fatal_exit_codes = vec![2];
    let policy = job.retry_policy();
    assert_eq!(
        (policy.retries, policy.backoff, policy.backoff_max),
        (4, Duration::from_secs(10), Duration::from_secs(60))
    );
    assert_eq!(policy.success_exit_codes, [0, 3]);
    assert_eq!(policy.fatal_exit_codes, [2]);
}

#[test]
fn pull_policy_names() {
    for policy in PullPolicy::ALL {
        assert_eq!(PullPolicy::from_name(policy.as_str()), Some(policy));
        assert_eq!(policy.to_string(), policy.as_str());
    }
    assert_eq!(PullPolicy::from_name("Always"), None);
    assert_eq!(PullPolicy::default(), PullPolicy::Missing);
}

#[test]
fn job_name_rule() {
    for good in ["a", "0", "backup-db", "a_b", "x-", &"a".repeat(63)] {
        assert!(is_valid_job_name(good), "{good:?}");
    }
    for bad in ["", "Backup", "-x", "_x", "a b", "a.b", "é", &"a".repeat(64)] {
        assert!(!is_valid_job_name(bad), "{bad:?}");
    }
}

// ---------------------------------------------------------------- bad files

#[test]
fn bad_files_report_position_job_and_advice() {
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "unknown top-level key",
            "title = 'x'\n",
            &[(
                1,
                1,
                None,
                &[
                    "unknown top-level key \"title\"",
                    "expected one of: daemon, notify, defaults, jobs",
                ],
            )],
        ),
        (
            "top-level table that looks like a job",
            "[backup]\nimage = 'x'\nschedule = '@daily'\n",
            &[(
                1,
                2,
                None,
                &["unknown top-level key \"backup\"", "write [jobs.backup]"],
            )],
        ),
        (
            "misspelled jobs",
            "[job.a]\nimage = 'x'\n",
            &[(
                1,
                2,
                None,
                &["unknown top-level key \"job\"", "did you mean \"jobs\"?"],
            )],
        ),
        (
            "unknown daemon key",
            "[daemon]\ndatabse = 'x.db'\n",
            &[(
                2,
                1,
                None,
                &[
                    "unknown key \"databse\"",
                    "unknown key \"databse\" in [daemon] (did you mean \"database\"?)",
                    "expected one of: database, timezone",
                ],
            )],
        ),
        (
            "daemon not a table",
            "daemon = 'x'\n",
            &[(
                1,
                1,
                None,
                &["daemon must be a table", "found a string \"x\""],
            )],
        ),
        (
            "empty database",
            "[daemon]\ndatabase = ''\n",
            &[(2, 12, None, &["database must not be empty"])],
        ),
        (
            "database with tilde",
            "[daemon]\ndatabase = '~/c.db'\n",
            &[(2, 12, None, &["\"~\"", "full path"])],
        ),
        (
            "database not a string",
            "[daemon]\ndatabase = 3\n",
            &[(
                2,
                12,
                None,
                &["database must be a string", "found an integer 3"],
            )],
        ),
        (
            "unknown job key",
            "[jobs.backup-db]\nschedule = '@daily'\nimage = 'x'\nretires = 3\n",
            &[(
                4,
                1,
                Some("backup-db"),
                &[
                    "unknown key \"retires\"",
                    "did you mean \"retries\"?",
                    "expected one of: schedule, after, on_file, after_success, after_failure, timezone, image, command, env, volumes, pull, retries, backoff, backoff_max",
                ],
            )],
        ),
        (
            "unknown daemon time zone",
            "[daemon]\ntimezone = 'Europe/Pariss'\n",
            &[(
                2,
                12,
                None,
                &[
                    "unknown time zone \"Europe/Pariss\"",
                    "did you mean \"Europe/Paris\"?",
                    "use an IANA name such as \"Europe/Paris\"",
                ],
            )],
        ),
        (
            "unknown job time zone",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ntimezone = 'paris'\n",
            &[(
                4,
                12,
                Some("a"),
                &[
                    "unknown time zone \"paris\"",
                    "did you mean \"Europe/Paris\"?",
                ],
            )],
        ),
        (
            "time zone in the wrong case",
            "[daemon]\ntimezone = 'europe/london'\n",
            &[(2, 12, None, &["did you mean \"Europe/London\"?"])],
        ),
        (
            "time zone not a string",
            "[daemon]\ntimezone = 1\n",
            &[(
                2,
                12,
                None,
                &["timezone must be a string", "found an integer 1"],
            )],
        ),
        (
            "bad duration",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = 'soon'\nbackoff_max = '10'\n",
            &[
                (4, 11, Some("a"), &["bad duration \"soon\" for backoff: "]),
                (5, 15, Some("a"), &["bad duration \"10\" for backoff_max: "]),
            ],
        ),
        (
            "duration as a bare integer",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = 30\n",
            &[(
                4,
                11,
                Some("a"),
                &[
                    "backoff must be a duration string",
                    "found an integer 30",
                    "backoff = \"30s\"",
                ],
            )],
        ),
        (
            "zero duration",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = '0s'\n",
            &[(4, 11, Some("a"), &["bad duration \"0s\" for backoff"])],
        ),
        (
            "backoff_max below backoff",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = '1m'\nbackoff_max = '30s'\n",
            &[(
                5,
                15,
                Some("a"),
                &[
                    "backoff_max (30s) is shorter than backoff (1m)",
                    "at least backoff",
                ],
            )],
        ),
        (
            "backoff above the default backoff_max",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = '20m'\n",
            &[(
                4,
                11,
                Some("a"),
                &[
                    "backoff (20m) is longer than the default backoff_max (10m)",
                    "set backoff_max",
                ],
            )],
        ),
        (
            "empty command",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncommand = []\n",
            &[(
                4,
                11,
                Some("a"),
                &["command must not be empty", "remove the line"],
            )],
        ),
        (
            "command as a string with spaces",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncommand = 'echo hi'\n",
            &[(
                4,
                11,
                Some("a"),
                &[
                    "command must be an array of strings",
                    "found a string \"echo hi\"",
                    "[\"sh\", \"-c\", \"echo hi\"]",
                ],
            )],
        ),
        (
            "command as a single word",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncommand = 'echo'\n",
            &[(
                4,
                11,
                Some("a"),
                &[
                    "command must be an array of strings",
                    "command = [\"echo\"]",
                ],
            )],
        ),
        (
            "command with non-string elements",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncommand = ['echo', 3, true]\n",
            &[
                (
                    4,
                    20,
                    Some("a"),
                    &["command[1] must be a string", "found an integer 3"],
                ),
                (
                    4,
                    23,
                    Some("a"),
                    &["command[2] must be a string", "found a boolean true"],
                ),
            ],
        ),
        (
            "command with an empty program",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncommand = ['', 'x']\n",
            &[(4, 12, Some("a"), &["command[0]", "must not be empty"])],
        ),
        (
            "uppercase job name",
            "[jobs.Backup]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                1,
                7,
                Some("Backup"),
                &[
                    "invalid job name",
                    "lowercase",
                    "did you mean \"backup\"?",
                    "[a-z0-9][a-z0-9_-]*",
                ],
            )],
        ),
        (
            "job name starting with a dash",
            "[jobs.-x]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                1,
                7,
                Some("-x"),
                &[
                    "invalid job name",
                    "must start with a lowercase letter or a digit",
                    "did you mean \"x\"?",
                ],
            )],
        ),
        (
            "job name with a space",
            "[jobs.\"a b\"]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                1,
                7,
                Some("a b"),
                &["invalid job name", "did you mean \"a-b\"?"],
            )],
        ),
        (
            "job name too long",
            "[jobs.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                1,
                7,
                Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                &["longer than 63 characters"],
            )],
        ),
        (
            "bad pull value",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\npull = 'sometimes'\n",
            &[(
                4,
                8,
                Some("a"),
                &[
                    "unknown pull policy \"sometimes\"",
                    "missing",
                    "always",
                    "never",
                ],
            )],
        ),
        (
            "pull not a string",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\npull = true\n",
            &[(
                4,
                8,
                Some("a"),
                &["pull must be one of the strings", "found a boolean true"],
            )],
        ),
        (
            "negative retries",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nretries = -1\n",
            &[(4, 11, Some("a"), &["retries must be 0 or more, found -1"])],
        ),
        (
            "retries as a string",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nretries = \"3\"\n",
            &[(
                4,
                11,
                Some("a"),
                &[
                    "retries must be an integer",
                    "found a string \"3\"",
                    "remove the quotes: retries = 3",
                ],
            )],
        ),
        (
            "retries as a float",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nretries = 1.5\n",
            &[(
                4,
                11,
                Some("a"),
                &[
                    "retries must be an integer of 0 or more",
                    "found a float 1.5",
                ],
            )],
        ),
        (
            "retries too large",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nretries = 4294967296\n",
            &[(4, 11, Some("a"), &["retries 4294967296 is too large"])],
        ),
        (
            "bad volumes",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nvolumes = [\n  'data:/data',\n  '/srv',\n  '/a:/b:rx',\n  '/a:b',\n  '/a:/b:ro:x',\n  '/a:/',\n  ':/b',\n  3,\n]\n",
            &[
                (
                    5,
                    3,
                    Some("a"),
                    &[
                        "bad volume \"data:/data\"",
                        "host path \"data\" is not absolute",
                        "named Docker volumes",
                    ],
                ),
                (6, 3, Some("a"), &["bad volume \"/srv\"", "missing \":\""]),
                (
                    7,
                    3,
                    Some("a"),
                    &[
                        "bad volume \"/a:/b:rx\"",
                        "unknown mode \"rx\"",
                        "\"ro\"",
                        "\"rw\"",
                    ],
                ),
                (8, 3, Some("a"), &["container path \"b\" is not absolute"]),
                (9, 3, Some("a"), &["too many \":\""]),
                (10, 3, Some("a"), &["root \"/\""]),
                (11, 3, Some("a"), &["host path is empty"]),
                (
                    12,
                    3,
                    Some("a"),
                    &["volumes[7] must be a string", "found an integer 3"],
                ),
            ],
        ),
        (
            "same container path twice",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nvolumes = ['/a:/data', '/b:/data:ro']\n",
            &[(
                4,
                24,
                Some("a"),
                &["mounts container path \"/data\" a second time"],
            )],
        ),
        (
            "volumes not an array",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nvolumes = '/a:/b'\n",
            &[(4, 11, Some("a"), &["volumes must be an array of strings"])],
        ),
        (
            "env problems",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nenv = { PORT = 5432, 'A=B' = 'x', N = { x = 'y' } }\n",
            &[
                (
                    4,
                    16,
                    Some("a"),
                    &[
                        "env.PORT must be a string",
                        "found an integer (env values are never shown)",
                        "quote the value: PORT = \"...\"",
                    ],
                ),
                (
                    4,
                    22,
                    Some("a"),
                    &["invalid environment variable name \"A=B\""],
                ),
                (
                    4,
                    39,
                    Some("a"),
                    &["env.N must be a string", "found a table"],
                ),
            ],
        ),
        (
            "env not a table",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nenv = ['A=b']\n",
            &[(
                4,
                7,
                Some("a"),
                &["env must be a table of strings", "found an array"],
            )],
        ),
        (
            "missing image",
            "[jobs.backup-db]\nschedule = '@daily'\n",
            &[(
                1,
                7,
                Some("backup-db"),
                &["missing required key \"image\"", "image = \"alpine:3.20\""],
            )],
        ),
        (
            "missing schedule",
            "[jobs.backup-db]\nimage = 'x'\n",
            &[(
                1,
                7,
                Some("backup-db"),
                &["missing required key \"schedule\"", "\"@daily\""],
            )],
        ),
        (
            "empty job table",
            "[jobs.a]\n",
            &[
                (1, 7, Some("a"), &["missing required key \"schedule\""]),
                (1, 7, Some("a"), &["missing required key \"image\""]),
            ],
        ),
        (
            "empty image",
            "[jobs.a]\nschedule = '@daily'\nimage = ''\n",
            &[(3, 9, Some("a"), &["image must not be empty"])],
        ),
        (
            "image with arguments",
            "[jobs.a]\nschedule = '@daily'\nimage = 'alpine echo hi'\n",
            &[(3, 9, Some("a"), &["contains spaces", "command"])],
        ),
        (
            "image not a string",
            "[jobs.a]\nschedule = '@daily'\nimage = ['alpine']\n",
            &[(
                3,
                9,
                Some("a"),
                &["image must be a string", "found an array"],
            )],
        ),
        (
            "schedule not a string",
            "[jobs.a]\nschedule = 5\nimage = 'x'\n",
            &[(
                2,
                12,
                Some("a"),
                &["schedule must be a string", "found an integer 5"],
            )],
        ),
        (
            "jobs written as an array of tables",
            "[[jobs]]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                1,
                3,
                None,
                &[
                    "jobs must be a table of named jobs",
                    "found an array",
                    "not [[jobs]]",
                ],
            )],
        ),
        (
            "a job that is not a table",
            "[jobs]\na = 'x'\n",
            &[(
                2,
                1,
                Some("a"),
                &["a job must be a table", "found a string \"x\""],
            )],
        ),
        (
            "several problems in one file, in file order",
            "[daemon]\ntimezone = 'Mars/Olympus'\ncolor = 'red'\n\n[jobs.Bad]\nschedule = 'every day'\nimage = 'x'\nretries = -2\n\n[jobs.ok]\nschedule = '@daily'\nimage = 'y'\npull = 'sometimes'\nvolumes = ['rel:/x']\n",
            &[
                (2, 12, None, &["unknown time zone \"Mars/Olympus\""]),
                (3, 1, None, &["unknown key \"color\""]),
                (5, 7, Some("Bad"), &["invalid job name"]),
                (6, 12, Some("Bad"), &["bad schedule \"every day\""]),
                (8, 11, Some("Bad"), &["retries must be 0 or more"]),
                (13, 8, Some("ok"), &["unknown pull policy"]),
                (14, 12, Some("ok"), &["bad volume \"rel:/x\""]),
            ],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
}

#[test]
fn bad_schedule_carries_the_schedule_modules_message() {
    for expr in ["30 2 * *", "@fortnightly", "@every soon", ""] {
        let reason = match Schedule::parse(expr, Tz::UTC) {
            Ok(_) => continue,
            Err(err) => err.to_string(),
        };
        let text = format!("[jobs.a]\nschedule = {expr:?}\nimage = 'x'\n");
        let err = parse_err(&text);
        assert_eq!(err.problems.len(), 1, "{err}");
        let problem = &err.problems[0];
        assert_eq!(
            problem.location,
            Some(Location {
                line: 2,
                column: 12
            })
        );
        assert_eq!(problem.job.as_deref(), Some("a"));
        assert_eq!(problem.message, format!("bad schedule {expr:?}: {reason}"));
    }
}

#[test]
fn bad_duration_carries_the_schedule_modules_message() {
    for (key, text) in [
        ("backoff", "soon"),
        ("backoff_max", "10"),
        ("backoff", "0s"),
    ] {
        let reason = crate::schedule::parse_duration(text).expect_err("invalid duration");
        let err = parse_err(&format!(
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\n{key} = {text:?}\n"
        ));
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(
            err.problems[0].message,
            format!("bad duration {text:?} for {key}: {reason}")
        );
        assert_eq!(
            err.problems[0].location,
            Some(Location {
                line: 4,
                column: key.len() + 4
            })
        );
    }
}

#[test]
fn schedule_is_checked_even_when_the_job_time_zone_is_bad() {
    let err = parse_err("[jobs.a]\nschedule = '@fortnightly'\nimage = 'x'\ntimezone = 'Nowhere'\n");
    assert_eq!(err.problems.len(), 2, "{err}");
}

#[test]
fn display_format() {
    let err = parse_err(
        "[jobs.backup-db]\nschedule = '@daily'\nimage = 'x'\nretires = 3\n\n[daemon]\ntimezone = 'Europe/Pariss'\n",
    );
    assert_eq!(
        err.to_string(),
        "/etc/cronbox/cronbox.toml:4:1: job \"backup-db\": unknown key \"retires\" (did you mean \"retries\"?); \
         expected one of: schedule, after, on_file, after_success, after_failure, timezone, image, command, env, volumes, pull, retries, backoff, backoff_max, \
         timeout, deadline, completions, parallelism, max_failed_indexes, stop_signal, stop_grace, concurrency, catch_up, starting_deadline, random_delay, success_exit_codes, \
         fatal_exit_codes, memory, cpus, \
         pids_limit, read_only, tmpfs, network, user, workdir, entrypoint, hostname, cap_add, cap_drop, labels, \
         privileged, env_file, secrets, max_output, params, notify, notify_on, notify_cooldown, expect_success_within, healthchecks\n\
         /etc/cronbox/cronbox.toml:7:12: unknown time zone \"Europe/Pariss\" (did you mean \"Europe/Paris\"?); \
         use an IANA name such as \"Europe/Paris\", \"America/New_York\" or \"UTC\""
    );
    // Usable as a std error (e.g. through anyhow).
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().contains("retires"));
}

#[test]
fn syntax_errors_keep_the_toml_message_and_a_caret_snippet() {
    let err = parse_err("[jobs.a]\nimage = alpine\nschedule = '@daily'\nretries = 3x\n");
    assert_eq!(err.problems.len(), 2, "{err}");
    let first = &err.problems[0];
    assert_eq!(first.location, Some(Location { line: 2, column: 9 }));
    assert_eq!(first.job, None);
    assert!(
        first
            .message
            .starts_with("TOML syntax error: string values must be quoted"),
        "{first:?}"
    );
    assert_eq!(
        first.snippet.as_deref(),
        Some("  |\n2 | image = alpine\n  |         ^^^^^^")
    );
    assert_eq!(
        err.problems[1].location,
        Some(Location {
            line: 4,
            column: 11
        })
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with(
            "/etc/cronbox/cronbox.toml:2:9: TOML syntax error: string values must be quoted"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("\n2 | image = alpine\n  |         ^^^^^^\n"),
        "{shown}"
    );

    // The message is the toml crate's own, at the position it gives.
    let text = "[jobs.a\nimage = 'x'\n";
    let toml_err = toml::de::DeTable::parse(text).expect_err("invalid");
    let err = parse_err(text);
    assert_eq!(err.problems.len(), 1);
    assert_eq!(
        err.problems[0].message,
        format!("TOML syntax error: {}", toml_err.message())
    );
    assert!(
        toml_err
            .to_string()
            .starts_with("TOML parse error at line 1, column 8")
    );
    assert_eq!(
        err.problems[0].location,
        Some(Location { line: 1, column: 8 })
    );

    // Duplicate keys are syntax errors too.
    let err = parse_err("[jobs.a]\nimage = 'x'\nimage = 'y'\n");
    assert_eq!(
        err.problems[0].location,
        Some(Location { line: 3, column: 1 })
    );
    assert!(err.problems[0].message.contains("duplicate key"));
}

#[test]
fn cascading_syntax_errors_are_capped() {
    let text = format!("x = [1,2\n{}", "[jobs.a]\nimage='x'\n".repeat(20));
    let err = parse_err(&text);
    assert!(err.problems.len() <= 11, "{err}");
    let last = err.problems.last().expect("problems");
    if err.problems.len() == 11 {
        assert_eq!(last.location, None);
        assert!(last.message.contains("more TOML syntax error"));
    }
}

#[test]
fn missing_file_names_path_and_os_error() {
    let path = Path::new("/nonexistent/cronbox-test/cronbox.toml");
    let err = load(path, &utc_env()).expect_err("missing file");
    assert_eq!(err.path, path);
    assert_eq!(err.problems.len(), 1);
    let problem = &err.problems[0];
    assert_eq!(problem.location, None);
    assert_eq!(problem.job, None);
    let os_error = std::io::Error::from(std::io::ErrorKind::NotFound).kind();
    assert_eq!(os_error, std::io::ErrorKind::NotFound);
    assert!(
        problem.message.contains("cannot read the config file"),
        "{problem:?}"
    );
    assert!(problem.message.contains("os error 2"), "{problem:?}");
    assert!(problem.message.contains("--config"), "{problem:?}");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/cronbox-test/cronbox.toml: cannot read the config file: "),
        "{err}"
    );

    // A directory is not readable as a file either.
    let err = load(&std::env::temp_dir(), &utc_env()).expect_err("directory");
    assert!(err.problems[0].message.contains("--config"), "{err}");
}

#[test]
fn load_reads_the_file() {
    let dir = std::env::temp_dir().join(format!("cronbox-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[daemon]\ndatabase = 'h.db'\n[jobs.a]\nschedule='@daily'\nimage='x'\n",
    )
    .expect("write");
    let config = load(&good, &utc_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.path, good);
    assert_eq!(config.daemon.database, dir.join("h.db"));

    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"# ok\n# caf\xe9\n").expect("write");
    let err = load(&latin1, &utc_env()).expect_err("not UTF-8");
    assert_eq!(err.problems.len(), 1);
    assert_eq!(
        err.problems[0].location,
        Some(Location { line: 2, column: 6 })
    );
    assert!(err.problems[0].message.contains("UTF-8"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn snippets_align_and_stay_short() {
    assert_eq!(
        error::snippet(&error::Lines::new("a = 1\n\tb = x y\n"), 11..12, &[]),
        "  |\n2 |  b = x y\n  |      ^"
    );
    let long = format!("a = [{}x]", "1, ".repeat(100));
    let at = long.find('x').expect("x");
    let shown = error::snippet(&error::Lines::new(&long), at..at + 1, &[]);
    let lines: Vec<&str> = shown.lines().collect();
    assert!(
        lines[1].starts_with("1 | ...") && lines[1].len() < 140,
        "{shown}"
    );
    let caret = lines[2].find('^').expect("caret");
    assert_eq!(&lines[1][caret..=caret], "x", "{shown}");
    // Past the end, at an empty span, across lines: still one caret or more, no panic.
    for (text, span) in [("", 0..0), ("a", 5..9), ("ab\ncd", 1..4), ("é", 1..1)] {
        assert!(error::snippet(&error::Lines::new(text), span, &[]).contains('^'));
    }
}

#[test]
fn locations_count_characters_and_never_panic() {
    let text = "é = 1\nab\n";
    assert_eq!(
        Location::of_offset(text, 0),
        Location { line: 1, column: 1 }
    );
    assert_eq!(
        Location::of_offset(text, 2),
        Location { line: 1, column: 2 }
    );
    assert_eq!(
        Location::of_offset(text, 1),
        Location { line: 1, column: 1 }
    );
    assert_eq!(
        Location::of_offset(text, 7),
        Location { line: 2, column: 1 }
    );
    assert_eq!(
        Location::of_offset(text, 1000),
        Location { line: 3, column: 1 }
    );
    assert_eq!(Location::of_offset("", 5), Location { line: 1, column: 1 });
}

// ---------------------------------------------------------------- execution control keys

/// The head of a valid job `a`; a key added after it is on line 4.
const JOB_A: &str = "[jobs.a]\nschedule = '@daily'\nimage = 'x'\n";

/// Job `a` with `extra` lines added.
fn job_a(extra: &str) -> Job {
    parse_ok(&format!("{JOB_A}{extra}\n"))
        .jobs
        .into_iter()
        .find(|job| job.name == "a")
        .map(std::sync::Arc::unwrap_or_clone)
        .expect("job a")
}

const MIB: u64 = 1024 * 1024;

#[test]
fn new_keys_have_their_documented_defaults() {
    let config = parse_ok(MINIMAL);
    assert_eq!(config.daemon.max_concurrent, 4, "the caller's CPU count");
    assert!(!config.daemon.require_limits);
    let job = &config.jobs[0];
    assert_eq!(job.timeout, None);
    assert_eq!(job.deadline, None);
    assert_eq!(job.stop_signal, "SIGTERM");
    assert_eq!(job.stop_signal, DEFAULT_STOP_SIGNAL);
    assert_eq!(job.stop_grace, Duration::from_secs(10));
    assert_eq!(job.concurrency, Concurrency::Forbid);
    assert_eq!(job.success_exit_codes, [0]);
    assert!(job.fatal_exit_codes.is_empty());
    assert_eq!(job.memory, None);
    assert_eq!(job.cpus, None);
    assert_eq!(job.pids_limit, None);
    assert!(!job.read_only);
    assert!(job.tmpfs.is_empty());
    assert_eq!(job.network, None);
    assert_eq!(job.user, None);
    assert_eq!(job.workdir, None);
    assert_eq!(job.entrypoint, None);
    assert_eq!(job.hostname, None);
    assert!(job.cap_add.is_empty() && job.cap_drop.is_empty());
    assert!(job.labels.is_empty());
    assert!(!job.privileged);
    assert_eq!(job.env_file, None);
    assert!(job.secrets.is_empty());
    assert_eq!(job.max_output, MIB);
    assert_eq!(job.max_output, DEFAULT_MAX_OUTPUT);
    assert!(job.limits_requested().is_empty());
    assert_eq!(job.locations.get("memory"), None);
    assert_eq!(
        job.locations.get("schedule"),
        Some(Location {
            line: 2,
            column: 12
        })
    );
    assert_eq!(job.locations.job(), Some(Location { line: 1, column: 7 }));

    // No CPU count known: one container at a time.
    let env = Environment {
        cpus: 0,
        ..utc_env()
    };
    assert_eq!(parse_ok_with("", &env).daemon.max_concurrent, 1);
}

#[test]
fn every_new_key_in_one_job() {
    let text = r#"
[daemon]
max_concurrent = 2
require_limits = true

[jobs.full]
schedule = "@hourly"
image = "postgres:16"
timeout = "30m"
deadline = "2h"
stop_signal = "int"
stop_grace = "20s"
concurrency = "replace"
success_exit_codes = [3, 0, 3]
fatal_exit_codes = [2, 64]
memory = "1GiB"
cpus = 1.5
pids_limit = 100
read_only = true
tmpfs = ["/scratch:size=64m,mode=1777", "/cache"]
network = "backend"
user = "70:70"
workdir = "/backup"
entrypoint = ["nice", "-n", "10"]
hostname = "backup-1.internal"
cap_add = ["cap_dac_override"]
cap_drop = ["ALL"]
labels = { "com.example.team" = "ops" }
privileged = true
env_file = "backup.env"
secrets = { pg_password = "secrets/pg", "api.key" = "/etc/api.key" }
max_output = "256KiB"
"#;
    let config = parse_ok(text);
    assert_eq!(config.daemon.max_concurrent, 2);
    assert!(config.daemon.require_limits);
    let job = config.job("full").expect("job");
    assert_eq!(job.timeout, Some(Duration::from_secs(30 * 60)));
    assert_eq!(job.deadline, Some(Duration::from_secs(2 * 3600)));
    assert_eq!(job.stop_signal, "SIGINT");
    assert_eq!(job.stop_grace, Duration::from_secs(20));
    assert_eq!(job.concurrency, Concurrency::Replace);
    assert_eq!(job.success_exit_codes, [0, 3]);
    assert_eq!(job.fatal_exit_codes, [2, 64]);
    assert_eq!(job.memory, Some(1 << 30));
    assert_eq!(job.cpus, Some(1.5));
    assert_eq!(job.pids_limit, Some(100));
    assert!(job.read_only);
    assert_eq!(job.tmpfs, ["/scratch:size=64m,mode=1777", "/cache"]);
    assert_eq!(job.network.as_deref(), Some("backend"));
    assert_eq!(job.user.as_deref(), Some("70:70"));
    assert_eq!(job.workdir.as_deref(), Some("/backup"));
    assert_eq!(
        job.entrypoint.as_deref(),
        Some(&["nice".to_owned(), "-n".to_owned(), "10".to_owned()][..])
    );
    assert_eq!(job.hostname.as_deref(), Some("backup-1.internal"));
    assert_eq!(job.cap_add, ["DAC_OVERRIDE"]);
    assert_eq!(job.cap_drop, ["ALL"]);
    assert_eq!(job.labels["com.example.team"], "ops");
    assert!(job.privileged);
    assert_eq!(
        job.env_file.as_deref(),
        Some(Path::new("/etc/cronbox/backup.env"))
    );
    assert_eq!(
        job.secrets,
        BTreeMap::from([
            ("api.key".to_owned(), PathBuf::from("/etc/api.key")),
            (
                "pg_password".to_owned(),
                PathBuf::from("/etc/cronbox/secrets/pg")
            ),
        ])
    );
    assert_eq!(job.max_output, 256 * 1024);
    assert_eq!(job.limits_requested(), ["memory", "cpus", "pids_limit"]);
    assert_eq!(
        Job::secret_target("pg_password"),
        Path::new("/run/secrets/pg_password")
    );
    assert_eq!(
        job.locations.get("memory"),
        Some(Location {
            line: 16,
            column: 10
        })
    );
    assert!(!job.locations.from_defaults("memory"));
}

#[test]
fn good_values_of_new_keys() {
    // (line added to job `a`, check)
    type Check = fn(&Job);
    let cases: &[(&str, Check)] = &[
        ("timeout = '1s'", |j| {
            assert_eq!(j.timeout, Some(Duration::from_secs(1)))
        }),
        ("timeout = '365d'", |j| {
            assert_eq!(j.timeout, Some(MAX_TIME_LIMIT))
        }),
        ("deadline = '1h 30m'", |j| {
            assert_eq!(j.deadline, Some(Duration::from_secs(5400)))
        }),
        ("stop_signal = 'SIGTERM'", |j| {
            assert_eq!(j.stop_signal, "SIGTERM")
        }),
        ("stop_signal = 'TERM'", |j| {
            assert_eq!(j.stop_signal, "SIGTERM")
        }),
        ("stop_signal = 'sigterm'", |j| {
            assert_eq!(j.stop_signal, "SIGTERM")
        }),
        ("stop_signal = '15'", |j| {
            assert_eq!(j.stop_signal, "SIGTERM")
        }),
        ("stop_signal = 'SigUsr1'", |j| {
            assert_eq!(j.stop_signal, "SIGUSR1")
        }),
        ("stop_signal = 'winch'", |j| {
            assert_eq!(j.stop_signal, "SIGWINCH")
        }),
        ("stop_signal = 'RTMIN'", |j| {
            assert_eq!(j.stop_signal, "SIGRTMIN")
        }),
        ("stop_signal = 'sigrtmin+3'", |j| {
            assert_eq!(j.stop_signal, "SIGRTMIN+3")
        }),
        ("stop_signal = 'RTMAX-2'", |j| {
            assert_eq!(j.stop_signal, "SIGRTMAX-2")
        }),
        ("stop_signal = '64'", |j| {
            assert_eq!(j.stop_signal, "SIGRTMAX")
        }),
        ("stop_signal = 'IOT'", |j| {
            assert_eq!(j.stop_signal, "SIGABRT")
        }),
        ("stop_grace = '1s'", |j| {
            assert_eq!(j.stop_grace, Duration::from_secs(1))
        }),
        ("stop_grace = '1h'", |j| {
            assert_eq!(j.stop_grace, Duration::from_secs(3600))
        }),
        ("stop_grace = '2m'", |j| {
            assert_eq!(j.stop_grace, Duration::from_secs(120))
        }),
        ("concurrency = 'allow'", |j| {
            assert_eq!(j.concurrency, Concurrency::Allow)
        }),
        ("concurrency = 'forbid'", |j| {
            assert_eq!(j.concurrency, Concurrency::Forbid)
        }),
        ("success_exit_codes = [255, 0]", |j| {
            assert_eq!(j.success_exit_codes, [0, 255])
        }),
        ("success_exit_codes = [1]", |j| {
            assert_eq!(j.success_exit_codes, [1])
        }),
        ("fatal_exit_codes = [1, 0x7f]", |j| {
            assert_eq!(j.fatal_exit_codes, [1, 127])
        }),
        ("fatal_exit_codes = []", |j| {
            assert!(j.fatal_exit_codes.is_empty())
        }),
        ("memory = '6MiB'", |j| assert_eq!(j.memory, Some(6 * MIB))),
        ("memory = '256m'", |j| assert_eq!(j.memory, Some(256 * MIB))),
        ("memory = '512MB'", |j| {
            assert_eq!(j.memory, Some(512_000_000))
        }),
        ("memory = '1.5 GiB'", |j| {
            assert_eq!(j.memory, Some(1536 * MIB))
        }),
        ("memory = '7000000B'", |j| {
            assert_eq!(j.memory, Some(7_000_000))
        }),
        ("cpus = 0.5", |j| assert_eq!(j.cpus, Some(0.5))),
        ("cpus = 2", |j| assert_eq!(j.cpus, Some(2.0))),
        ("cpus = 0.01", |j| assert_eq!(j.cpus, Some(0.01))),
        ("cpus = 1024", |j| assert_eq!(j.cpus, Some(1024.0))),
        ("pids_limit = 1", |j| assert_eq!(j.pids_limit, Some(1))),
        ("read_only = false", |j| assert!(!j.read_only)),
        ("tmpfs = []", |j| assert!(j.tmpfs.is_empty())),
        ("tmpfs = ['/tmp', '/run:size=1m']", |j| {
            assert_eq!(j.tmpfs, ["/tmp", "/run:size=1m"])
        }),
        ("tmpfs = ['/tmp/', '/run//:size=1m']", |j| {
            assert_eq!(j.tmpfs, ["/tmp", "/run:size=1m"])
        }),
        ("network = 'none'", |j| {
            assert_eq!(j.network.as_deref(), Some("none"))
        }),
        ("network = 'host'", |j| {
            assert_eq!(j.network.as_deref(), Some("host"))
        }),
        ("network = 'bridge'", |j| {
            assert_eq!(j.network.as_deref(), Some("bridge"))
        }),
        ("network = 'my_net.v2-a'", |j| {
            assert_eq!(j.network.as_deref(), Some("my_net.v2-a"))
        }),
        ("user = '1000'", |j| {
            assert_eq!(j.user.as_deref(), Some("1000"))
        }),
        ("user = 'nobody'", |j| {
            assert_eq!(j.user.as_deref(), Some("nobody"))
        }),
        ("user = 'app:staff'", |j| {
            assert_eq!(j.user.as_deref(), Some("app:staff"))
        }),
        ("workdir = '/'", |j| {
            assert_eq!(j.workdir.as_deref(), Some("/"))
        }),
        ("entrypoint = ['/bin/sh']", |j| {
            assert_eq!(j.entrypoint, Some(vec!["/bin/sh".to_owned()]))
        }),
        ("hostname = 'a'", |j| {
            assert_eq!(j.hostname.as_deref(), Some("a"))
        }),
        ("hostname = 'Backup-01'", |j| {
            assert_eq!(j.hostname.as_deref(), Some("Backup-01"))
        }),
        (
            "cap_add = ['NET_ADMIN', 'net_admin', 'CAP_SYS_TIME', 'all']",
            |j| assert_eq!(j.cap_add, ["NET_ADMIN", "SYS_TIME", "ALL"]),
        ),
        ("cap_drop = ['cap_net_raw', 'Mknod']", |j| {
            assert_eq!(j.cap_drop, ["NET_RAW", "MKNOD"])
        }),
        ("labels = { a = '1', 'com.example.b' = '' }", |j| {
            assert_eq!(j.labels.len(), 2)
        }),
        ("labels = { 'cronboxx' = 'not reserved' }", |j| {
            assert_eq!(j.labels.len(), 1)
        }),
        ("privileged = false", |j| assert!(!j.privileged)),
        ("env_file = '/etc/x.env'", |j| {
            assert_eq!(j.env_file.as_deref(), Some(Path::new("/etc/x.env")))
        }),
        ("env_file = '../x.env'", |j| {
            assert_eq!(
                j.env_file.as_deref(),
                Some(Path::new("/etc/cronbox/../x.env"))
            )
        }),
        ("secrets = {}", |j| assert!(j.secrets.is_empty())),
        ("secrets = { 'a-b_c.1' = 'f' }", |j| {
            assert_eq!(j.secrets["a-b_c.1"], Path::new("/etc/cronbox/f"))
        }),
        ("max_output = '4KiB'", |j| assert_eq!(j.max_output, 4096)),
        ("max_output = '1GiB'", |j| assert_eq!(j.max_output, 1 << 30)),
        ("max_output = '64k'", |j| assert_eq!(j.max_output, 65536)),
    ];
    for (line, check) in cases {
        let text = format!("{JOB_A}{line}\n");
        let config = match parse(Path::new(PATH), &text, &utc_env()) {
            Ok(config) => config,
            Err(err) => panic!("case {line}: {err}"),
        };
        check(&config.jobs[0]);
    }
}

#[test]
fn bad_values_of_new_keys_are_placed_with_the_job() {
    // (line 4 of job `a`, column of the problem, fragments of the message)
    let cases: &[(&str, usize, &[&str])] = &[
        ("timeout = '0s'", 11, &["bad duration \"0s\" for timeout"]),
        (
            "timeout = 30",
            11,
            &["timeout must be a duration string", "timeout = \"30s\""],
        ),
        (
            "timeout = '366d'",
            11,
            &["timeout \"366d\" is longer than 365 days", "no limit"],
        ),
        (
            "deadline = 'never'",
            12,
            &["bad duration \"never\" for deadline"],
        ),
        (
            "deadline = true",
            12,
            &["deadline must be a duration string", "found a boolean true"],
        ),
        (
            "stop_signal = 'SIGTREM'",
            15,
            &[
                "unknown signal \"SIGTREM\"",
                "did you mean \"SIGTERM\"?",
                "\"SIGINT\"",
                "from 1 to 64",
            ],
        ),
        ("stop_signal = 'KILLME'", 15, &["unknown signal \"KILLME\""]),
        ("stop_signal = '0'", 15, &["unknown signal \"0\""]),
        ("stop_signal = '65'", 15, &["unknown signal \"65\""]),
        (
            "stop_signal = '32'",
            15,
            &["unknown signal \"32\"", "other than 32 and 33"],
        ),
        ("stop_signal = '-15'", 15, &["unknown signal \"-15\""]),
        ("stop_signal = 'RTMIN+31'", 15, &["unknown signal"]),
        ("stop_signal = 'RTMAX+1'", 15, &["unknown signal"]),
        ("stop_signal = ''", 15, &["unknown signal \"\""]),
        (
            "stop_signal = 15",
            15,
            &["stop_signal must be a string", "stop_signal = \"15\""],
        ),
        (
            "stop_grace = '500ms'",
            14,
            &["stop_grace \"500ms\" is shorter than 1s"],
        ),
        (
            "stop_grace = '1500ms'",
            14,
            &["not a whole number of seconds", "\"2s\""],
        ),
        (
            "stop_grace = '2h'",
            14,
            &["stop_grace \"2h\" is longer than 1h"],
        ),
        (
            "stop_grace = '0s'",
            14,
            &["bad duration \"0s\" for stop_grace"],
        ),
        (
            "concurrency = 'Forbid'",
            15,
            &[
                "unknown concurrency \"Forbid\"",
                "forbid",
                "allow",
                "replace",
            ],
        ),
        (
            "concurrency = 1",
            15,
            &["concurrency must be one of the strings"],
        ),
        (
            "success_exit_codes = []",
            22,
            &["success_exit_codes must not be empty"],
        ),
        (
            "success_exit_codes = 0",
            22,
            &["must be an array of exit codes", "success_exit_codes = [0]"],
        ),
        (
            "success_exit_codes = [0, 256]",
            26,
            &[
                "success_exit_codes[1] must be an exit code from 0 to 255",
                "found an integer 256",
            ],
        ),
        (
            "fatal_exit_codes = [-1]",
            21,
            &["fatal_exit_codes[0] must be an exit code from 0 to 255"],
        ),
        (
            "fatal_exit_codes = ['1']",
            21,
            &["fatal_exit_codes[0]", "found a string \"1\""],
        ),
        (
            "fatal_exit_codes = [0]",
            20,
            &["exit code(s) 0 listed in both success_exit_codes (by default) and fatal_exit_codes"],
        ),
        (
            "memory = '5MiB'",
            10,
            &["memory \"5MiB\" is below the minimum of 6MiB", "Docker"],
        ),
        (
            "memory = '0'",
            10,
            &["bad size \"0\" for memory", "unit is missing"],
        ),
        ("memory = '0MiB'", 10, &["below the minimum of 6MiB"]),
        (
            "memory = '-1GiB'",
            10,
            &["bad size \"-1GiB\" for memory", "cannot be negative"],
        ),
        (
            "memory = 'lots'",
            10,
            &["bad size \"lots\"", "does not start with a number"],
        ),
        ("memory = '256'", 10, &["unit is missing"]),
        ("memory = '1TiB'", 10, &["unknown unit \"TiB\"", "KiB"]),
        ("memory = '1.2.3GiB'", 10, &["does not start with a number"]),
        ("memory = '99999999999GiB'", 10, &["too large"]),
        (
            "memory = 268435456",
            10,
            &["memory must be a size string with a unit", "\"268435456B\""],
        ),
        ("cpus = 0", 8, &["cpus must be greater than 0, found 0"]),
        (
            "cpus = -1.5",
            8,
            &["cpus must be greater than 0, found -1.5"],
        ),
        (
            "cpus = 0.001",
            8,
            &["cpus 0.001 is below the minimum of 0.01"],
        ),
        (
            "cpus = 1025",
            8,
            &["cpus 1025 is above the maximum of 1024"],
        ),
        ("cpus = nan", 8, &["cpus must be a finite number"]),
        ("cpus = inf", 8, &["cpus must be a finite number"]),
        (
            "cpus = '0.5'",
            8,
            &["cpus must be a number, found a string", "cpus = 0.5"],
        ),
        (
            "cpus = 'half'",
            8,
            &["cpus must be a number of CPUs", "found a string \"half\""],
        ),
        (
            "pids_limit = 0",
            14,
            &["pids_limit must be at least 1, found 0", "no limit"],
        ),
        (
            "pids_limit = -1",
            14,
            &["pids_limit must be at least 1, found -1"],
        ),
        (
            "pids_limit = 1.5",
            14,
            &[
                "pids_limit must be an integer of 1 or more",
                "found a float 1.5",
            ],
        ),
        (
            "pids_limit = '100'",
            14,
            &["remove the quotes: pids_limit = 100"],
        ),
        (
            "read_only = 'true'",
            13,
            &["read_only must be a boolean", "read_only = true"],
        ),
        (
            "read_only = 1",
            13,
            &["read_only must be true or false, found an integer 1"],
        ),
        (
            "privileged = 'yes'",
            14,
            &["privileged must be true or false"],
        ),
        (
            "tmpfs = '/cache'",
            9,
            &["tmpfs must be an array of strings", "tmpfs = [\"/cache\"]"],
        ),
        (
            "tmpfs = ['cache']",
            10,
            &["bad tmpfs \"cache\"", "not absolute"],
        ),
        ("tmpfs = ['/']", 10, &["bad tmpfs \"/\"", "root"]),
        ("tmpfs = ['/c:']", 10, &["bad tmpfs \"/c:\"", "options"]),
        ("tmpfs = ['/c:size=1m,,mode=1777']", 10, &["empty item"]),
        (
            "tmpfs = ['/c', '/c/']",
            16,
            &["tmpfs \"/c/\" mounts container path \"/c/\" a second time"],
        ),
        ("tmpfs = [1]", 10, &["tmpfs[0] must be a string"]),
        (
            "network = ''",
            11,
            &["bad network \"\"", "Docker's default network"],
        ),
        (
            "network = 'my net'",
            11,
            &["bad network \"my net\"", "[a-zA-Z0-9][a-zA-Z0-9_.-]*"],
        ),
        ("network = '-net'", 11, &["bad network \"-net\""]),
        (
            "network = 'container:db'",
            11,
            &["\"container:NAME\") is not supported"],
        ),
        ("network = 1", 11, &["network must be a string"]),
        ("user = ''", 8, &["bad user \"\"", "it is empty"]),
        (
            "user = '1000:'",
            8,
            &["bad user \"1000:\"", "not a valid user or group"],
        ),
        ("user = 'a b'", 8, &["bad user \"a b\""]),
        (
            "user = 1000",
            8,
            &["user must be a string such as \"1000\""],
        ),
        (
            "workdir = 'work'",
            11,
            &["bad workdir \"work\"", "must start with \"/\""],
        ),
        ("workdir = ''", 11, &["bad workdir \"\""]),
        (
            "entrypoint = []",
            14,
            &[
                "entrypoint must not be empty",
                "keep the image's entrypoint",
            ],
        ),
        (
            "entrypoint = '/bin/sh -c'",
            14,
            &["entrypoint must be an array of strings", "its own string"],
        ),
        ("entrypoint = 'tini'", 14, &["entrypoint = [\"tini\"]"]),
        (
            "entrypoint = ['', 'x']",
            15,
            &["entrypoint[0], the program to run, must not be empty"],
        ),
        (
            "entrypoint = ['a', 2]",
            20,
            &["entrypoint[1] must be a string"],
        ),
        ("hostname = ''", 12, &["bad hostname \"\"", "it is empty"]),
        (
            "hostname = 'a_b'",
            12,
            &["bad hostname \"a_b\"", "RFC 1123"],
        ),
        ("hostname = '-a'", 12, &["starts or ends with \"-\""]),
        ("hostname = 'a..b'", 12, &["empty label"]),
        ("hostname = 'a.'", 12, &["empty label"]),
        (
            "hostname = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
            12,
            &["a label is longer than 63 characters"],
        ),
        (
            "hostname = 'aaaaaaaaaa.aaaaaaaaaa.aaaaaaaaaa.aaaaaaaaaa.aaaaaaaaaa.aaaaaaaaaa'",
            12,
            &["longer than 64 characters"],
        ),
        (
            "cap_add = ['NET_ADMN']",
            12,
            &[
                "unknown capability \"NET_ADMN\" in cap_add",
                "did you mean \"NET_ADMIN\"?",
            ],
        ),
        (
            "cap_drop = ['CAP_FOO']",
            13,
            &["unknown capability \"CAP_FOO\" in cap_drop"],
        ),
        (
            "cap_drop = 'ALL'",
            12,
            &["cap_drop must be an array", "cap_drop = [\"ALL\"]"],
        ),
        ("cap_add = [true]", 12, &["cap_add[0] must be a string"]),
        (
            "labels = ['a=b']",
            10,
            &["labels must be a table of strings"],
        ),
        (
            "labels = { 'cronbox.job' = 'x' }",
            12,
            &["label \"cronbox.job\" starts with \"cronbox.\"", "reserved"],
        ),
        ("labels = { 'CronBox.x' = 'x' }", 12, &["reserved"]),
        (
            "labels = { a = 1 }",
            16,
            &["labels.a must be a string", "quote it: \"1\""],
        ),
        (
            "labels = { com.example = 'x' }",
            12,
            &[
                "labels.com must be a string, found a table",
                "must be quoted",
            ],
        ),
        ("labels = { '' = 'x' }", 12, &["invalid label name \"\""]),
        ("env_file = ''", 12, &["env_file must not be empty"]),
        ("env_file = '~/x.env'", 12, &["\"~\"", "full path"]),
        (
            "env_file = ['a']",
            12,
            &["env_file must be a string with a file path"],
        ),
        ("secrets = 'x'", 11, &["secrets must be a table"]),
        (
            "secrets = { '..' = '/x' }",
            13,
            &["invalid secret name \"..\""],
        ),
        (
            "secrets = { 'a/b' = '/x' }",
            13,
            &["invalid secret name \"a/b\"", "[A-Za-z0-9_.-]+"],
        ),
        ("secrets = { a = '' }", 17, &["secrets.a must not be empty"]),
        ("secrets = { a = 1 }", 17, &["secrets.a must be a string"]),
        (
            "max_output = '1KiB'",
            14,
            &["max_output \"1KiB\" is below the minimum of 4KiB"],
        ),
        ("max_output = '0B'", 14, &["below the minimum of 4KiB"]),
        (
            "max_output = '2GiB'",
            14,
            &["max_output \"2GiB\" is above the maximum of 1GiB"],
        ),
        (
            "max_output = 'big'",
            14,
            &["bad size \"big\" for max_output"],
        ),
        (
            "max_output = 1024",
            14,
            &["max_output must be a size string with a unit"],
        ),
    ];
    for &(line, column, fragments) in cases {
        let text = format!("{JOB_A}{line}\n");
        check_problems(line, &text, &[(4, column, Some("a"), fragments)]);
    }
}

#[test]
fn bad_daemon_values() {
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "max_concurrent zero",
            "[daemon]\nmax_concurrent = 0\n",
            &[(2, 18, None, &["max_concurrent must be at least 1, found 0"])],
        ),
        (
            "max_concurrent negative",
            "[daemon]\nmax_concurrent = -3\n",
            &[(2, 18, None, &["max_concurrent must be at least 1"])],
        ),
        (
            "max_concurrent as a string",
            "[daemon]\nmax_concurrent = '4'\n",
            &[(2, 18, None, &["remove the quotes: max_concurrent = 4"])],
        ),
        (
            "max_concurrent as a float",
            "[daemon]\nmax_concurrent = 1.5\n",
            &[(
                2,
                18,
                None,
                &["max_concurrent must be an integer of 1 or more"],
            )],
        ),
        (
            "require_limits as a string",
            "[daemon]\nrequire_limits = 'yes'\n",
            &[(2, 18, None, &["require_limits must be true or false"])],
        ),
        (
            "unknown daemon key lists the new ones",
            "[daemon]\nmax_concurent = 2\n",
            &[(
                2,
                1,
                None,
                &[
                    "did you mean \"max_concurrent\"?",
                    "expected one of: database, timezone, max_concurrent, require_limits",
                ],
            )],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
}

#[test]
fn rules_across_keys() {
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "exit code both success and fatal",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nsuccess_exit_codes = [0, 1, 2]\nfatal_exit_codes = [2, 1, 9]\n",
            &[(
                5,
                20,
                Some("a"),
                &["exit code(s) 1, 2 listed in both success_exit_codes and fatal_exit_codes"],
            )],
        ),
        (
            "capability both added and dropped",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncap_drop = ['NET_RAW']\ncap_add = ['cap_net_raw']\n",
            &[(
                4,
                12,
                Some("a"),
                &["capability NET_RAW listed in both cap_add and cap_drop"],
            )],
        ),
        (
            "ALL in both lists",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncap_add = ['ALL']\ncap_drop = ['all']\n",
            &[(5, 12, Some("a"), &["capability ALL listed in both"])],
        ),
        (
            "tmpfs over a volume",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nvolumes = ['/srv:/data']\ntmpfs = ['/data/:size=1m']\n",
            &[(
                5,
                10,
                Some("a"),
                &[
                    "tmpfs \"/data/:size=1m\" mounts container path \"/data\" that volume \"/srv:/data\" also mounts",
                ],
            )],
        ),
        (
            "volume over a secret",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nsecrets = { pw = '/etc/pw' }\nvolumes = ['/srv:/run/secrets/pw']\n",
            &[(
                4,
                18,
                Some("a"),
                &[
                    "secret \"pw\" mounts container path \"/run/secrets/pw\" that volume \"/srv:/run/secrets/pw\" also mounts",
                ],
            )],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
    // Allowed combinations.
    let job = job_a("cap_drop = ['ALL']\ncap_add = ['NET_BIND_SERVICE']");
    assert_eq!((job.cap_drop.len(), job.cap_add.len()), (1, 1));
    let job = job_a("cap_add = ['ALL']\ncap_drop = ['SYS_ADMIN']");
    assert_eq!(job.cap_drop, ["SYS_ADMIN"]);
    let job = job_a("success_exit_codes = [0, 1]\nfatal_exit_codes = [2]");
    assert_eq!(job.fatal_exit_codes, [2]);
    let job = job_a("read_only = true\ntmpfs = ['/tmp:size=1m']\nvolumes = ['/a:/data']");
    assert!(job.read_only);
}

// ---------------------------------------------------------------- [defaults]

#[test]
fn defaults_apply_to_every_job_that_does_not_set_the_key() {
    let text = r#"
[defaults]
image = "alpine:3.20"
timezone = "Asia/Tokyo"
command = ["true"]
timeout = "1h"
memory = "512MiB"
retries = 2
volumes = ["/srv/common:/common:ro"]
tmpfs = ["/cache"]
cap_drop = ["ALL"]
secrets = { token = "token.txt" }
env = { LANG = "C.UTF-8", MODE = "default" }
labels = { "com.example.owner" = "ops", "com.example.tier" = "batch" }
concurrency = "allow"
stop_signal = "int"

[jobs.plain]
schedule = "0 3 * * *"

[jobs.own]
schedule = "@hourly"
image = "postgres:16"
timezone = "UTC"
command = ["pg_dump"]
timeout = "3h"
memory = "2GiB"
retries = 0
volumes = ["/srv/own:/own"]
tmpfs = []
cap_drop = ["NET_RAW"]
secrets = { other = "/etc/other" }
env = { MODE = "own", EXTRA = "1" }
labels = { "com.example.tier" = "critical" }
concurrency = "forbid"
stop_signal = "TERM"
"#;
    let config = parse_ok(text);
    let plain = config.job("plain").expect("plain");
    assert_eq!(plain.image, "alpine:3.20");
    assert_eq!(plain.timezone, Tz::Asia__Tokyo);
    assert_eq!(plain.schedule.timezone(), Tz::Asia__Tokyo);
    assert_eq!(plain.command, Some(vec!["true".to_owned()]));
    assert_eq!(plain.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(plain.memory, Some(512 * MIB));
    assert_eq!(plain.retries, 2);
    assert_eq!(plain.volumes.len(), 1);
    assert_eq!(plain.tmpfs, ["/cache"]);
    assert_eq!(plain.cap_drop, ["ALL"]);
    assert_eq!(plain.secrets["token"], Path::new("/etc/cronbox/token.txt"));
    assert_eq!(plain.env.len(), 2);
    assert_eq!(plain.env["MODE"], "default");
    assert_eq!(plain.labels.len(), 2);
    assert_eq!(plain.concurrency, Concurrency::Allow);
    assert_eq!(plain.stop_signal, "SIGINT");
    assert!(plain.locations.from_defaults("memory"));
    assert_eq!(
        plain.locations.get("memory"),
        Some(Location {
            line: 7,
            column: 10
        })
    );
    assert!(!plain.locations.from_defaults("schedule"));

    // A job's own value replaces the default wholesale; env and labels merge.
    let own = config.job("own").expect("own");
    assert_eq!(own.image, "postgres:16");
    assert_eq!(own.timezone, Tz::UTC);
    assert_eq!(own.command, Some(vec!["pg_dump".to_owned()]));
    assert_eq!(own.timeout, Some(Duration::from_secs(3 * 3600)));
    assert_eq!(own.memory, Some(2 << 30));
    assert_eq!(own.retries, 0);
    assert_eq!(own.volumes.len(), 1);
    assert_eq!(own.volumes[0].container, Path::new("/own"));
    assert!(own.tmpfs.is_empty());
    assert_eq!(own.cap_drop, ["NET_RAW"]);
    assert_eq!(
        own.secrets.keys().collect::<Vec<_>>(),
        [&"other".to_owned()]
    );
    assert_eq!(
        own.env,
        BTreeMap::from([
            ("EXTRA".to_owned(), "1".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("MODE".to_owned(), "own".to_owned()),
        ])
    );
    assert_eq!(
        own.labels,
        BTreeMap::from([
            ("com.example.owner".to_owned(), "ops".to_owned()),
            ("com.example.tier".to_owned(), "critical".to_owned()),
        ])
    );
    assert_eq!(own.concurrency, Concurrency::Forbid);
    assert_eq!(own.stop_signal, "SIGTERM");
    assert!(!own.locations.from_defaults("memory"));
    assert!(!own.locations.from_defaults("env"));
}

#[test]
fn defaults_image_satisfies_the_required_key_and_defaults_may_be_empty() {
    let config = parse_ok("[defaults]\nimage = 'busybox'\n[jobs.a]\nschedule = '@daily'\n");
    assert_eq!(config.jobs[0].image, "busybox");
    let config = parse_ok(&format!("[defaults]\n{MINIMAL}"));
    assert_eq!(config.jobs.len(), 1);
    // [defaults] alone, with no jobs, is valid and checked.
    parse_ok("[defaults]\nmemory = '1GiB'\n");
}

#[test]
fn problems_in_defaults_are_reported_once_at_their_own_place() {
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "bad default value, two jobs inherit it",
            "[defaults]\nmemory = '1MiB'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\n[jobs.b]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                2,
                10,
                None,
                &["memory \"1MiB\" is below the minimum of 6MiB"],
            )],
        ),
        (
            "bad default that a job overrides: still reported, without the job",
            "[defaults]\nstop_signal = 'NOPE'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nstop_signal = 'HUP'\n",
            &[(2, 15, None, &["unknown signal \"NOPE\""])],
        ),
        (
            "bad default image: no missing-image problem in the jobs",
            "[defaults]\nimage = ''\n[jobs.a]\nschedule = '@daily'\n",
            &[(2, 9, None, &["image must not be empty"])],
        ),
        (
            "unknown key in defaults",
            "[defaults]\nmemroy = '1GiB'\n",
            &[(
                2,
                1,
                None,
                &[
                    "unknown key \"memroy\" in [defaults] (did you mean \"memory\"?)",
                    "expected one of: timezone, image,",
                ],
            )],
        ),
        (
            "schedule in defaults",
            "[defaults]\nschedule = '@daily'\n",
            &[(
                2,
                1,
                None,
                &["schedule cannot be set in [defaults]", "[jobs.NAME]"],
            )],
        ),
        (
            "defaults not a table",
            "defaults = 3\n",
            &[(
                1,
                1,
                None,
                &[
                    "defaults must be a table, written [defaults]",
                    "found an integer 3",
                ],
            )],
        ),
        (
            "misspelled defaults table",
            "[default]\nmemory = '1GiB'\n",
            &[(
                1,
                2,
                None,
                &[
                    "unknown top-level key \"default\"",
                    "did you mean \"defaults\"?",
                ],
            )],
        ),
        (
            "several problems inside defaults and a job",
            "[defaults]\ncpus = 0\nenv = { A = 1 }\nlabels = { 'cronbox.x' = 'y' }\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\npids_limit = 0\n",
            &[
                (2, 8, None, &["cpus must be greater than 0"]),
                (3, 13, None, &["env.A must be a string"]),
                (4, 12, None, &["reserved for cronbox's own labels"]),
                (8, 14, Some("a"), &["pids_limit must be at least 1"]),
            ],
        ),
        (
            "defaults inconsistent on their own",
            "[defaults]\nbackoff = '20m'\nfatal_exit_codes = [0]\ncap_add = ['NET_RAW']\ncap_drop = ['NET_RAW']\n",
            &[
                (
                    2,
                    11,
                    None,
                    &["backoff (20m) is longer than the default backoff_max (10m)"],
                ),
                (
                    3,
                    20,
                    None,
                    &[
                        "exit code(s) 0 listed in both success_exit_codes (by default) and fatal_exit_codes",
                    ],
                ),
                (5, 12, None, &["capability NET_RAW listed in both"]),
            ],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
}

#[test]
fn rules_across_a_jobs_keys_and_the_defaults() {
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "job backoff_max below the default backoff",
            "[defaults]\nbackoff = '1m'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff_max = '30s'\n",
            &[(
                6,
                15,
                Some("a"),
                &["backoff_max (30s) is shorter than backoff (1m, set in [defaults])"],
            )],
        ),
        (
            "job backoff above the default backoff_max",
            "[defaults]\nbackoff_max = '1m'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = '2m'\n",
            &[(
                6,
                11,
                Some("a"),
                &["backoff (2m) is longer than the backoff_max set in [defaults] (1m)"],
            )],
        ),
        (
            "job fatal codes against default success codes",
            "[defaults]\nsuccess_exit_codes = [0, 1]\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nfatal_exit_codes = [1]\n",
            &[(
                6,
                20,
                Some("a"),
                &[
                    "exit code(s) 1 listed in both success_exit_codes (set in [defaults]) and fatal_exit_codes",
                ],
            )],
        ),
        (
            "job success codes against default fatal codes",
            "[defaults]\nfatal_exit_codes = [3]\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nsuccess_exit_codes = [0, 3]\n",
            &[(
                6,
                22,
                Some("a"),
                &["and fatal_exit_codes (set in [defaults])"],
            )],
        ),
        (
            "job cap_add against default cap_drop",
            "[defaults]\ncap_drop = ['SYS_TIME']\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\ncap_add = ['SYS_TIME']\n",
            &[(
                6,
                11,
                Some("a"),
                &["capability SYS_TIME listed in both cap_add and cap_drop (set in [defaults])"],
            )],
        ),
        (
            "job volume against a default tmpfs",
            "[defaults]\ntmpfs = ['/data']\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nvolumes = ['/srv:/data']\n",
            &[(
                6,
                12,
                Some("a"),
                &[
                    "volume \"/srv:/data\" mounts container path \"/data\" that tmpfs \"/data\" (set in [defaults]) also mounts",
                ],
            )],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
    // The job fixes what the defaults would get wrong.
    let config = parse_ok(
        "[defaults]\nbackoff = '1m'\nbackoff_max = '5m'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nbackoff = '10m'\nbackoff_max = '1h'\n",
    );
    assert_eq!(config.jobs[0].backoff, Duration::from_secs(600));
}

// ---------------------------------------------------------------- host paths, API for check

#[test]
fn host_paths_list_every_path_with_its_place() {
    let text = "[defaults]\nenv_file = 'common.env'\n\n[jobs.b]\nschedule = '@daily'\nimage = 'x'\nvolumes = ['/srv/b:/b', '/etc/ssl:/ssl:ro']\nsecrets = { z = '/etc/z', a = 'keys/a' }\n\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nenv_file = '/etc/a.env'\n";
    let config = parse_ok(text);
    let at = |line, column| Location { line, column };
    let expected = [
        ("a", "env_file", "/etc/a.env", at(13, 12), false),
        ("b", "volumes", "/srv/b", at(7, 12), false),
        ("b", "volumes", "/etc/ssl", at(7, 25), false),
        ("b", "env_file", "/etc/cronbox/common.env", at(2, 12), true),
        ("b", "secrets", "/etc/cronbox/keys/a", at(8, 31), false),
        ("b", "secrets", "/etc/z", at(8, 17), false),
    ];
    let got = config.host_paths();
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (path, (job, key, host, location, from_defaults)) in got.iter().zip(expected) {
        assert_eq!(
            path,
            &HostPath {
                job: job.to_owned(),
                key,
                path: PathBuf::from(host),
                location,
                from_defaults,
            }
        );
    }
    assert!(parse_ok(MINIMAL).host_paths().is_empty());
}

#[test]
fn check_can_report_more_problems_in_the_same_format() {
    let config = parse_ok(&format!("{JOB_A}volumes = ['/nope:/data']\n"));
    let problems: Vec<Problem> = config
        .host_paths()
        .into_iter()
        .map(|p| {
            Problem::at(
                p.location,
                Some(&p.job),
                format!("volume host path {} does not exist", p.path.display()),
            )
        })
        .chain([Problem::at(
            Location { line: 1, column: 1 },
            None,
            "first in the file",
        )])
        .collect();
    let err = ConfigError::new(&config.path, problems);
    assert_eq!(
        err.to_string(),
        "/etc/cronbox/cronbox.toml:1:1: first in the file\n\
         /etc/cronbox/cronbox.toml:4:12: job \"a\": volume host path /nope does not exist"
    );
    let err = ConfigError::new(
        "x.toml",
        vec![Problem::at(Location { line: 2, column: 3 }, Some("j"), "m")],
    );
    assert_eq!(err.path, Path::new("x.toml"));
    assert_eq!(err.problems[0].snippet, None);
}

#[test]
fn limits_requested_names_the_limits_set() {
    assert_eq!(job_a("memory = '1GiB'").limits_requested(), ["memory"]);
    assert_eq!(
        job_a("pids_limit = 5\ncpus = 1").limits_requested(),
        ["cpus", "pids_limit"]
    );
    assert_eq!(
        parse_ok(&format!("[defaults]\ncpus = 0.5\n{MINIMAL}")).jobs[0].limits_requested(),
        ["cpus"]
    );
}

#[test]
fn concurrency_names() {
    for value in Concurrency::ALL {
        assert_eq!(Concurrency::from_name(value.as_str()), Some(value));
        assert_eq!(value.to_string(), value.as_str());
    }
    assert_eq!(Concurrency::from_name("Allow"), None);
    assert_eq!(Concurrency::default(), Concurrency::Forbid);
}

// ---------------------------------------------------------------- missed ticks, shutdown, history

#[test]
fn catch_up_on_shutdown_and_history_have_their_documented_defaults() {
    let config = parse_ok(MINIMAL);
    assert_eq!(config.daemon.on_shutdown, OnShutdown::Detach);
    assert_eq!(config.daemon.history_max_age, DEFAULT_HISTORY_MAX_AGE);
    assert_eq!(
        config.daemon.history_max_age,
        Duration::from_secs(90 * 86_400)
    );
    assert_eq!(config.daemon.history_limit, DEFAULT_HISTORY_LIMIT);
    assert_eq!(config.daemon.history_limit, 10_000);
    assert_eq!(MIN_HISTORY_MAX_AGE, Duration::from_secs(3600));
    let job = &config.jobs[0];
    assert_eq!(job.catch_up, CatchUp::Latest);
    assert_eq!(job.starting_deadline, None);
    assert_eq!(job.locations.get("catch_up"), None);
    assert_eq!(job.locations.get("starting_deadline"), None);
    // An empty [daemon] table gets the same defaults.
    assert_eq!(parse_ok("[daemon]\n").daemon, parse_ok("").daemon);
}

#[test]
fn catch_up_and_on_shutdown_names() {
    for value in CatchUp::ALL {
        assert_eq!(CatchUp::from_name(value.as_str()), Some(value));
        assert_eq!(value.to_string(), value.as_str());
    }
    assert_eq!(
        CatchUp::ALL.map(CatchUp::as_str),
        ["latest", "none"],
        "documented order"
    );
    assert_eq!(CatchUp::from_name("Latest"), None);
    assert_eq!(CatchUp::default(), CatchUp::Latest);
    for value in OnShutdown::ALL {
        assert_eq!(OnShutdown::from_name(value.as_str()), Some(value));
        assert_eq!(value.to_string(), value.as_str());
    }
    assert_eq!(
        OnShutdown::ALL.map(OnShutdown::as_str),
        ["detach", "stop"],
        "documented order"
    );
    assert_eq!(OnShutdown::from_name("STOP"), None);
    assert_eq!(OnShutdown::default(), OnShutdown::Detach);
}

#[test]
fn good_values_of_catch_up_and_starting_deadline() {
    // (line added to job `a`, check)
    type Check = fn(&Job);
    let cases: &[(&str, Check)] = &[
        ("catch_up = 'latest'", |j| {
            assert_eq!(j.catch_up, CatchUp::Latest)
        }),
        ("catch_up = 'none'", |j| {
            assert_eq!(j.catch_up, CatchUp::None)
        }),
        ("starting_deadline = '1ms'", |j| {
            assert_eq!(j.starting_deadline, Some(Duration::from_millis(1)))
        }),
        ("starting_deadline = '90s'", |j| {
            assert_eq!(j.starting_deadline, Some(Duration::from_secs(90)))
        }),
        ("starting_deadline = '1h 30m'", |j| {
            assert_eq!(j.starting_deadline, Some(Duration::from_secs(5400)))
        }),
        ("starting_deadline = '365d'", |j| {
            assert_eq!(j.starting_deadline, Some(MAX_TIME_LIMIT))
        }),
        ("catch_up = 'none'\nstarting_deadline = '10m'", |j| {
            // Still meaningful: it bounds the wait for a max_concurrent slot.
            assert_eq!(j.catch_up, CatchUp::None);
            assert_eq!(j.starting_deadline, Some(Duration::from_secs(600)));
        }),
        ("starting_deadline = '5m'", |j| {
            assert_eq!(
                j.locations.get("starting_deadline"),
                Some(Location {
                    line: 4,
                    column: 21
                })
            );
            assert!(!j.locations.from_defaults("starting_deadline"));
        }),
    ];
    for (line, check) in cases {
        let text = format!("{JOB_A}{line}\n");
        let config = match parse(Path::new(PATH), &text, &utc_env()) {
            Ok(config) => config,
            Err(err) => panic!("case {line}: {err}"),
        };
        check(&config.jobs[0]);
    }
}

#[test]
fn bad_values_of_catch_up_and_starting_deadline_are_placed_with_the_job() {
    // (line 4 of job `a`, column of the problem, fragments of the message)
    let cases: &[(&str, usize, &[&str])] = &[
        (
            "catch_up = 'all'",
            12,
            &[
                "unknown catch_up \"all\"",
                "expected one of: latest (",
                "none (",
            ],
        ),
        ("catch_up = 'Latest'", 12, &["unknown catch_up \"Latest\""]),
        ("catch_up = ''", 12, &["unknown catch_up \"\""]),
        (
            "catch_up = true",
            12,
            &[
                "catch_up must be one of the strings \"latest\" or \"none\"",
                "found a boolean true",
            ],
        ),
        (
            "catch_up = ['latest']",
            12,
            &["catch_up must be one of the strings", "found an array"],
        ),
        (
            "starting_deadline = '0s'",
            21,
            &["bad duration \"0s\" for starting_deadline", "zero"],
        ),
        (
            "starting_deadline = '366d'",
            21,
            &["starting_deadline \"366d\" is longer than 365 days"],
        ),
        (
            "starting_deadline = 'soon'",
            21,
            &["bad duration \"soon\" for starting_deadline"],
        ),
        (
            "starting_deadline = 60",
            21,
            &[
                "starting_deadline must be a duration string",
                "starting_deadline = \"60s\"",
            ],
        ),
        (
            "starting_deadline = -1",
            21,
            &["starting_deadline must be a duration string"],
        ),
        (
            "starting_deadlin = '1m'",
            1,
            &["unknown key \"starting_deadlin\" (did you mean \"starting_deadline\"?)"],
        ),
        (
            "catchup = 'none'",
            1,
            &["unknown key \"catchup\" (did you mean \"catch_up\"?)"],
        ),
        (
            "on_shutdown = 'stop'",
            1,
            &["unknown key \"on_shutdown\"", "catch_up, starting_deadline"],
        ),
    ];
    for &(line, column, fragments) in cases {
        let text = format!("{JOB_A}{line}\n");
        check_problems(line, &text, &[(4, column, Some("a"), fragments)]);
    }
}

#[test]
fn good_daemon_values_of_shutdown_and_history() {
    // ([daemon] lines, check)
    type Check = fn(&DaemonConfig);
    let cases: &[(&str, Check)] = &[
        ("on_shutdown = 'detach'", |d| {
            assert_eq!(d.on_shutdown, OnShutdown::Detach)
        }),
        ("on_shutdown = 'stop'", |d| {
            assert_eq!(d.on_shutdown, OnShutdown::Stop)
        }),
        ("log_format = 'json'", |d| {
            assert_eq!(d.log_format, LogFormat::Json)
        }),
        ("log_format = 'text'", |d| {
            assert_eq!(d.log_format, LogFormat::Text)
        }),
        ("history_max_age = '1h'", |d| {
            assert_eq!(d.history_max_age, MIN_HISTORY_MAX_AGE)
        }),
        ("history_max_age = '60m'", |d| {
            assert_eq!(d.history_max_age, Duration::from_secs(3600))
        }),
        ("history_max_age = '30d'", |d| {
            assert_eq!(d.history_max_age, Duration::from_secs(30 * 86_400))
        }),
        ("history_max_age = '2w 3d'", |d| {
            assert_eq!(d.history_max_age, Duration::from_secs(17 * 86_400))
        }),
        ("history_max_age = '3650d'", |d| {
            assert_eq!(d.history_max_age, Duration::from_secs(3650 * 86_400))
        }),
        ("history_limit = 1", |d| assert_eq!(d.history_limit, 1)),
        ("history_limit = 500", |d| assert_eq!(d.history_limit, 500)),
        ("history_limit = 0x10", |d| assert_eq!(d.history_limit, 16)),
        ("history_limit = 1_000_000", |d| {
            assert_eq!(d.history_limit, 1_000_000)
        }),
        ("history_limit = 4294967295", |d| {
            assert_eq!(d.history_limit, u32::MAX)
        }),
        (
            "on_shutdown = 'stop'\nhistory_max_age = '7d'\nhistory_limit = 100",
            |d| {
                assert_eq!(
                    (d.on_shutdown, d.history_max_age, d.history_limit),
                    (OnShutdown::Stop, Duration::from_secs(7 * 86_400), 100)
                );
                // The other daemon settings keep their defaults.
                assert_eq!(d.max_concurrent, 4);
                assert!(!d.require_limits);
            },
        ),
    ];
    for (lines, check) in cases {
        let text = format!("[daemon]\n{lines}\n{MINIMAL}");
        let config = match parse(Path::new(PATH), &text, &utc_env()) {
            Ok(config) => config,
            Err(err) => panic!("case {lines}: {err}"),
        };
        check(&config.daemon);
    }
}

#[test]
fn bad_daemon_values_of_shutdown_and_history() {
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "unknown on_shutdown",
            "[daemon]\non_shutdown = 'kill'\n",
            &[(
                2,
                15,
                None,
                &[
                    "unknown on_shutdown \"kill\"",
                    "expected one of: detach (",
                    "stop (",
                ],
            )],
        ),
        (
            "on_shutdown in the wrong case",
            "[daemon]\non_shutdown = 'Stop'\n",
            &[(2, 15, None, &["unknown on_shutdown \"Stop\""])],
        ),
        (
            "on_shutdown as a boolean",
            "[daemon]\non_shutdown = false\n",
            &[(
                2,
                15,
                None,
                &[
                    "on_shutdown must be one of the strings \"detach\" or \"stop\"",
                    "found a boolean false",
                ],
            )],
        ),
        (
            "history_max_age below 1h",
            "[daemon]\nhistory_max_age = '59m'\n",
            &[(
                2,
                19,
                None,
                &["history_max_age \"59m\" is shorter than 1h, the least accepted"],
            )],
        ),
        (
            "history_max_age just below 1h",
            "[daemon]\nhistory_max_age = '3599s 999ms'\n",
            &[(2, 19, None, &["is shorter than 1h"])],
        ),
        (
            "history_max_age zero",
            "[daemon]\nhistory_max_age = '0d'\n",
            &[(
                2,
                19,
                None,
                &["bad duration \"0d\" for history_max_age", "zero"],
            )],
        ),
        (
            "history_max_age without a unit",
            "[daemon]\nhistory_max_age = 90\n",
            &[(
                2,
                19,
                None,
                &[
                    "history_max_age must be a duration string",
                    "history_max_age = \"90s\"",
                ],
            )],
        ),
        (
            "history_max_age not a duration",
            "[daemon]\nhistory_max_age = 'forever'\n",
            &[(
                2,
                19,
                None,
                &["bad duration \"forever\" for history_max_age"],
            )],
        ),
        (
            "history_limit zero",
            "[daemon]\nhistory_limit = 0\n",
            &[(
                2,
                17,
                None,
                &[
                    "history_limit must be at least 1, found 0",
                    "finished runs are kept per job",
                ],
            )],
        ),
        (
            "history_limit negative",
            "[daemon]\nhistory_limit = -10\n",
            &[(
                2,
                17,
                None,
                &["history_limit must be at least 1, found -10"],
            )],
        ),
        (
            "history_limit too large",
            "[daemon]\nhistory_limit = 4294967296\n",
            &[(
                2,
                17,
                None,
                &["history_limit 4294967296 is too large; the most is 4294967295"],
            )],
        ),
        (
            "history_limit as a string",
            "[daemon]\nhistory_limit = '100'\n",
            &[(2, 17, None, &["remove the quotes: history_limit = 100"])],
        ),
        (
            "history_limit as a float",
            "[daemon]\nhistory_limit = 1e4\n",
            &[(
                2,
                17,
                None,
                &["history_limit must be an integer of 1 or more", "a float"],
            )],
        ),
        (
            "misspelled daemon key lists the new ones",
            "[daemon]\nhistory_max_ages = '1d'\n",
            &[(
                2,
                1,
                None,
                &[
                    "unknown key \"history_max_ages\" in [daemon] (did you mean \"history_max_age\"?)",
                    "expected one of: database, timezone, max_concurrent, require_limits, on_shutdown, log_format, registry_auth, engine, history_max_age, history_limit",
                ],
            )],
        ),
        (
            "a job key in [daemon]",
            "[daemon]\ncatch_up = 'none'\n",
            &[(2, 1, None, &["unknown key \"catch_up\" in [daemon]"])],
        ),
        (
            "every problem in [daemon] at once",
            "[daemon]\non_shutdown = 'never'\nhistory_max_age = '1m'\nhistory_limit = 0\n",
            &[
                (2, 15, None, &["unknown on_shutdown \"never\""]),
                (3, 19, None, &["history_max_age \"1m\" is shorter than 1h"]),
                (4, 17, None, &["history_limit must be at least 1"]),
            ],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
}

#[test]
fn defaults_carry_catch_up_and_starting_deadline() {
    let text = r#"
[defaults]
catch_up = "none"
starting_deadline = "15m"

[jobs.plain]
schedule = "@hourly"
image = "x"

[jobs.own]
schedule = "@daily"
image = "x"
catch_up = "latest"
starting_deadline = "2h"
"#;
    let config = parse_ok(text);
    let plain = config.job("plain").expect("plain");
    assert_eq!(plain.catch_up, CatchUp::None);
    assert_eq!(plain.starting_deadline, Some(Duration::from_secs(15 * 60)));
    assert!(plain.locations.from_defaults("catch_up"));
    assert!(plain.locations.from_defaults("starting_deadline"));
    assert_eq!(
        plain.locations.get("starting_deadline"),
        Some(Location {
            line: 4,
            column: 21
        })
    );
    let own = config.job("own").expect("own");
    assert_eq!(own.catch_up, CatchUp::Latest);
    assert_eq!(own.starting_deadline, Some(Duration::from_secs(2 * 3600)));
    assert!(!own.locations.from_defaults("catch_up"));
    assert_eq!(
        own.locations.get("catch_up"),
        Some(Location {
            line: 13,
            column: 12
        })
    );

    // A bad default is reported once, at its own place, without a job name, however
    // many jobs inherit it (or override it).
    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "bad catch_up in [defaults]",
            "[defaults]\ncatch_up = 'all'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\n[jobs.b]\nschedule = '@daily'\nimage = 'x'\ncatch_up = 'none'\n",
            &[(2, 12, None, &["unknown catch_up \"all\""])],
        ),
        (
            "bad starting_deadline in [defaults]",
            "[defaults]\nstarting_deadline = '400d'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\n[jobs.b]\nschedule = '@daily'\nimage = 'x'\n",
            &[(
                2,
                21,
                None,
                &["starting_deadline \"400d\" is longer than 365 days"],
            )],
        ),
        (
            "good default, bad job value",
            "[defaults]\nstarting_deadline = '1m'\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\nstarting_deadline = 'later'\n",
            &[(
                6,
                21,
                Some("a"),
                &["bad duration \"later\" for starting_deadline"],
            )],
        ),
        (
            "daemon key in [defaults]",
            "[defaults]\nhistory_limit = 5\n",
            &[(2, 1, None, &["unknown key \"history_limit\" in [defaults]"])],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
}

#[test]
fn locations_after_multibyte_characters() {
    let err = parse_err(&format!(
        "{JOB_A}labels = {{ 'é→x' = 'ü', 'cronbox.y' = 'z' }}\n"
    ));
    assert_eq!(
        err.problems[0].location,
        Some(Location {
            line: 4,
            column: 25
        }),
        "{err}"
    );
    let text = "[jobs.é]\nschedule = '@daily'\nimage = 'x'\n";
    let err = parse_err(text);
    assert_eq!(
        err.problems[0].location,
        Some(Location { line: 1, column: 7 })
    );
}

// ---------------------------------------------------------------- value parsers

#[test]
fn sizes() {
    use super::values::{format_size, parse_size};
    let good: &[(&str, u64)] = &[
        ("0B", 0),
        ("1b", 1),
        ("1k", 1024),
        ("1K", 1024),
        ("1KiB", 1024),
        ("1kib", 1024),
        ("1KB", 1000),
        ("1kb", 1000),
        ("1m", MIB),
        ("1M", MIB),
        ("1MiB", MIB),
        ("1MB", 1_000_000),
        ("1g", 1 << 30),
        ("1GiB", 1 << 30),
        ("1GB", 1_000_000_000),
        ("256MiB", 256 * MIB),
        (" 64 KiB ", 64 * 1024),
        ("1.5GiB", 1536 * MIB),
        ("0.5k", 512),
        (".5k", 512),
        ("1.k", 1024),
        ("1.0000000001B", 1),
        ("007m", 7 * MIB),
        ("8589934591GiB", 8_589_934_591 << 30),
    ];
    for &(text, bytes) in good {
        assert_eq!(parse_size(text), Ok(bytes), "{text:?}");
    }
    for bad in [
        "",
        " ",
        "256",
        "MiB",
        ".",
        "-1k",
        "1 2k",
        "1.2.3k",
        "1TiB",
        "1kibi",
        "1e3k",
        "0x10k",
        "9223372036854775808B",
        "8589934592GiB",
        "99999999999999999999999GiB",
    ] {
        assert!(parse_size(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(parse_size("9223372036854775807B"), Ok(i64::MAX as u64));
    for (bytes, shown) in [
        (6 * MIB, "6MiB"),
        (4096, "4KiB"),
        (1 << 30, "1GiB"),
        (1500, "1500B"),
        (0, "0B"),
    ] {
        assert_eq!(format_size(bytes), shown);
    }
}

#[test]
fn signals() {
    use super::values::normalize_signal;
    let good: &[(&str, &str)] = &[
        ("SIGTERM", "SIGTERM"),
        ("TERM", "SIGTERM"),
        ("sigterm", "SIGTERM"),
        ("15", "SIGTERM"),
        ("015", "SIGTERM"),
        (" SIGHUP ", "SIGHUP"),
        ("1", "SIGHUP"),
        ("9", "SIGKILL"),
        ("31", "SIGSYS"),
        ("sys", "SIGSYS"),
        ("stkflt", "SIGSTKFLT"),
        ("CLD", "SIGCHLD"),
        ("poll", "SIGIO"),
        ("34", "SIGRTMIN"),
        ("35", "SIGRTMIN+1"),
        ("49", "SIGRTMIN+15"),
        ("50", "SIGRTMAX-14"),
        ("63", "SIGRTMAX-1"),
        ("64", "SIGRTMAX"),
        ("RTMIN+0", "SIGRTMIN"),
        ("RTMIN+16", "SIGRTMAX-14"),
        ("rtmin+30", "SIGRTMAX"),
        ("SIGRTMAX-30", "SIGRTMIN"),
        ("RTMAX-0", "SIGRTMAX"),
    ];
    for &(text, name) in good {
        assert_eq!(normalize_signal(text).as_deref(), Some(name), "{text:?}");
    }
    for bad in [
        "",
        "0",
        "32",
        "33",
        "65",
        "100",
        "-1",
        "+15",
        "SIG",
        "SIGSIGTERM",
        "TERMINATE",
        "RTMIN+31",
        "RTMAX-31",
        "RTMIN-1",
        "RTMAX+1",
        "RTMIN+",
        "RTMIN+x",
        "RTMIN+001",
        "1.5",
    ] {
        assert_eq!(normalize_signal(bad), None, "{bad:?} accepted");
    }
    // Every number from 1 to 64 but 32 and 33 has a name, which reads back the same.
    for number in (1..=64).filter(|n| ![32, 33].contains(n)) {
        let name = normalize_signal(&number.to_string()).expect("named");
        assert_eq!(normalize_signal(&name), Some(name.clone()));
        assert_eq!(normalize_signal(&name.to_lowercase()), Some(name));
    }
}

#[test]
fn capabilities_hostnames_networks_users() {
    use super::values::{
        CAPABILITIES, check_hostname, check_network, check_secret_name, check_user,
        normalize_capability,
    };
    for cap in CAPABILITIES {
        assert_eq!(normalize_capability(cap).as_deref(), Some(cap));
        assert_eq!(
            normalize_capability(&format!("cap_{}", cap.to_lowercase())).as_deref(),
            Some(cap)
        );
    }
    assert_eq!(normalize_capability("All").as_deref(), Some("ALL"));
    assert_eq!(normalize_capability("CAP_ALL").as_deref(), Some("ALL"));
    for bad in ["", "CAP_", "NET", "NETADMIN", "cap-net-admin"] {
        assert_eq!(normalize_capability(bad), None, "{bad:?}");
    }
    for good in [
        "a",
        "a-b",
        "A1",
        "x.y.z",
        &"a".repeat(63),
        &format!("{}.b", "a".repeat(62)),
    ] {
        assert!(check_hostname(good).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        "-a",
        "a-",
        "a_b",
        "a b",
        ".a",
        "a.",
        &"a".repeat(64),
        &format!("{}.bc", "a".repeat(62)),
    ] {
        assert!(check_hostname(bad).is_err(), "{bad:?}");
    }
    for good in ["none", "bridge", "host", "n", "0", "a_b.c-d", "Net"] {
        assert!(check_network(good).is_ok(), "{good:?}");
    }
    for bad in ["", "_a", ".a", "-a", "a b", "a/b", "container:x", "é"] {
        assert!(check_network(bad).is_err(), "{bad:?}");
    }
    for good in [
        "0",
        "1000",
        "1000:1000",
        "nobody",
        "app:app",
        "_svc",
        "a.b-c",
        "www-data:0",
    ] {
        assert!(check_user(good).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        ":",
        "a:",
        ":a",
        "a:b:c",
        "a b",
        "-a",
        "é",
        &"a".repeat(33),
    ] {
        assert!(check_user(bad).is_err(), "{bad:?}");
    }
    for good in ["a", "A-b_c.1", "..a", "a.."] {
        assert!(check_secret_name(good).is_ok(), "{good:?}");
    }
    for bad in ["", ".", "..", "a/b", "a b", "é", &"a".repeat(256)] {
        assert!(check_secret_name(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------- dotenv

#[test]
fn dotenv_accepts_the_documented_syntax() {
    let pairs = |text: &str| -> Vec<(String, String)> {
        dotenv::parse(text).unwrap_or_else(|problems| panic!("{text:?}: {problems:?}"))
    };
    let one = |text: &str| -> String {
        let got = pairs(text);
        assert_eq!(got.len(), 1, "{text:?}: {got:?}");
        got[0].1.clone()
    };
    assert!(pairs("").is_empty());
    assert!(pairs("\n\n  \n# comment\n  # indented comment\n").is_empty());
    let cases: &[(&str, &str)] = &[
        ("A=b", "b"),
        ("A=", ""),
        ("A = b", "b"),
        ("A=  spaced out  ", "spaced out"),
        ("  A=b", "b"),
        ("export A=b", "b"),
        ("export\tA=b", "b"),
        ("A=b # comment", "b"),
        ("A=b\t# comment", "b"),
        ("A=b#not-a-comment", "b#not-a-comment"),
        ("A=#not-a-comment", "#not-a-comment"),
        ("A= # only a comment", ""),
        ("A='single $HOME \\n # kept'", "single $HOME \\n # kept"),
        ("A='x' # comment", "x"),
        ("A=''", ""),
        ("A=\"a\\nb\"", "a\nb"),
        ("A=\"q\\\"q\"", "q\"q"),
        ("A=\"back\\\\slash\"", "back\\slash"),
        ("A=\"# not a comment\"  # a comment", "# not a comment"),
        ("A=\"it's\"", "it's"),
        ("A='say \"hi\"'", "say \"hi\""),
        ("A=a=b=c", "a=b=c"),
        ("A=a'b\"c", "a'b\"c"),
        ("A=é ü", "é ü"),
        ("A=b\r", "b"),
        ("\u{feff}A=b", "b"),
        ("_a1=b", "b"),
    ];
    for &(text, value) in cases {
        assert_eq!(one(text), value, "{text:?}");
    }
    assert_eq!(pairs("export=1"), [("export".to_owned(), "1".to_owned())]);
    assert_eq!(pairs("export = 1"), [("export".to_owned(), "1".to_owned())]);
    assert_eq!(
        pairs("A=1\r\n\r\nB=2\r\nA=3\n"),
        [
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
            ("A".to_owned(), "3".to_owned()),
        ]
    );
}

#[test]
fn dotenv_problems_name_the_line_and_never_a_value() {
    // (file text, expected (line, message fragment) problems, secret fragments that must
    // not appear in any message)
    type Case<'a> = (&'a str, &'a [(usize, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        ("hunter2secret", &[(1, "expected NAME=value")], &["hunter2"]),
        (
            "two words",
            &[(1, "expected NAME=value")],
            &["two", "words"],
        ),
        ("OK=1\nPASSWORD", &[(2, "no \"=\"")], &["PASSWORD"]),
        ("export TOKEN", &[(1, "expected NAME=value")], &["TOKEN"]),
        (
            "1BAD=s3cr3t",
            &[(1, "invalid variable name")],
            &["s3cr3t", "1BAD"],
        ),
        (
            "MY-KEY=pa55word",
            &[(1, "invalid variable name")],
            &["pa55word", "MY-KEY"],
        ),
        (
            "=orphan-value",
            &[(1, "variable name before \"=\" is missing")],
            &["orphan"],
        ),
        (
            "pass word=xyzzy",
            &[(1, "invalid variable name")],
            &["xyzzy", "pass w"],
        ),
        (
            "K='Unterminated s3cret",
            &[(1, "K: missing closing single quote")],
            &["Unterminated", "s3cret"],
        ),
        (
            "K=\"Unterminated s3cret",
            &[(1, "K: missing closing double quote")],
            &["Unterminated", "s3cret"],
        ),
        (
            "K=\"ends in Backslash\\",
            &[(1, "K: missing closing double quote")],
            &["Backslash", "ends in"],
        ),
        (
            "K=\"Bad \\t escape t0ken\"",
            &[(1, "K: unsupported escape sequence")],
            &["t0ken", "Bad", "\\t"],
        ),
        (
            "K='Qv4lue'trailing-s3cret",
            &[(1, "K: unexpected text after the closing quote")],
            &["s3cret", "Qv4lue", "trailing"],
        ),
        (
            "K=\"Qv4lue\" more-s3cret",
            &[(1, "K: unexpected text after the closing quote")],
            &["s3cret", "Qv4lue"],
        ),
        (
            "K=Nul\u{0}s3cret",
            &[(1, "K: the value contains a NUL character")],
            &["s3cret", "Nul"],
        ),
        (
            "A=1\nBad line with s3cret\nB='Xv\n\n# ok\nC=\"Yv\\q\"",
            &[
                (2, "expected NAME=value"),
                (3, "B: missing closing single quote"),
                (6, "C: unsupported escape sequence"),
            ],
            &["s3cret", "line with", "Xv", "Yv", "\\q"],
        ),
    ];
    for &(text, expected, secrets) in cases {
        let problems = dotenv::parse(text).expect_err(text);
        assert_eq!(problems.len(), expected.len(), "{text:?}: {problems:?}");
        for (problem, &(line, fragment)) in problems.iter().zip(expected) {
            assert_eq!(problem.line, line, "{text:?}: {problem:?}");
            assert!(problem.message.contains(fragment), "{text:?}: {problem:?}");
            assert!(!problem.message.contains('\n'));
            assert_eq!(
                problem.to_string(),
                format!("line {line}: {}", problem.message)
            );
        }
        for problem in &problems {
            for secret in secrets {
                assert!(
                    !problem.message.contains(secret),
                    "{text:?}: message {:?} leaks {secret:?}",
                    problem.message
                );
            }
        }
    }
}

#[test]
fn dotenv_messages_never_contain_value_text() {
    // Values built from characters that appear in no message, around every kind of
    // mistake: no message may contain any 4-character piece of any value.
    let value = "Zq9xKv7Wj";
    let lines = [
        value.to_owned(),
        format!("K='{value}"),
        format!("K=\"{value}"),
        format!("K=\"{value}\\x\""),
        format!("K='{value}'{value}"),
        format!("K=\"{value}\"{value}"),
        format!("{value}-x={value}"),
        format!("9{value}={value}"),
        format!("K={value}\u{0}{value}"),
        format!("export {value} {value}"),
    ];
    for line in &lines {
        let problems = dotenv::parse(line).expect_err(line);
        for problem in problems {
            for start in 0..value.len() - 3 {
                let piece = &value[start..start + 4];
                assert!(
                    !problem.message.contains(piece),
                    "{line:?}: {:?} contains {piece:?}",
                    problem.message
                );
            }
        }
    }
    assert!(dotenv::is_valid_name("_A9"));
    assert!(!dotenv::is_valid_name("9A"));
    assert!(!dotenv::is_valid_name(""));
}

// ---------------------------------------------------------------- never panic

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parses `text` and checks the result is coherent, whatever it is.
fn parse_anything(text: &str) {
    match parse(Path::new(PATH), text, &utc_env()) {
        Ok(config) => {
            assert!(config.jobs.windows(2).all(|w| w[0].name < w[1].name));
            for job in &config.jobs {
                assert!(is_valid_job_name(&job.name));
                assert!(job.backoff <= job.backoff_max);
                assert!(!job.success_exit_codes.is_empty());
                assert!(
                    job.fatal_exit_codes
                        .iter()
                        .all(|code| !job.success_exit_codes.contains(code))
                );
                assert!(job.stop_grace >= MIN_STOP_GRACE && job.stop_grace.subsec_nanos() == 0);
                assert!((MIN_MAX_OUTPUT..=MAX_MAX_OUTPUT).contains(&job.max_output));
                assert!(job.memory.is_none_or(|m| m >= MIN_MEMORY));
                assert!(job.cpus.is_none_or(|c| (MIN_CPUS..=MAX_CPUS).contains(&c)));
                assert!(job.pids_limit.is_none_or(|p| p >= 1));
                assert!(job.stop_signal.starts_with("SIG"));
                assert!(job.labels.keys().all(|k| !k.starts_with("cronbox.")));
                for path in config.host_paths() {
                    assert!(path.location.line >= 1 && path.location.column >= 1);
                }
            }
        }
        Err(err) => {
            assert!(!err.problems.is_empty(), "{text:?}");
            let lines = text.split('\n').count();
            for problem in &err.problems {
                let Some(location) = problem.location else {
                    assert!(problem.message.contains("TOML syntax error"), "{problem:?}");
                    continue;
                };
                assert!(location.line >= 1 && location.line <= lines, "{problem:?}");
                assert!(location.column >= 1, "{problem:?}");
            }
            let _ = err.to_string();
        }
    }
}

#[test]
fn fuzz_truncations_of_the_reference() {
    let boundaries: Vec<usize> = (0..=REFERENCE.len())
        .filter(|&i| REFERENCE.is_char_boundary(i))
        .collect();
    // About 2500 cuts, whatever the size of the reference.
    for &end in boundaries.iter().step_by((boundaries.len() / 2500).max(1)) {
        parse_anything(&REFERENCE[..end]);
    }
    for start in (0..REFERENCE.len()).step_by(97) {
        if REFERENCE.is_char_boundary(start) {
            parse_anything(&REFERENCE[start..]);
        }
    }
}

#[test]
fn fuzz_mutations_and_random_text() {
    const PIECES: &[&str] = &[
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        "=",
        "\"",
        "'",
        "'''",
        "\"\"\"",
        ",",
        ".",
        "\n",
        " ",
        "#",
        "\\",
        "-",
        "1",
        "-1",
        "1e999",
        "0x",
        "jobs",
        "daemon",
        "a",
        "é",
        "\u{0}",
        "\r",
        "\t",
        "schedule",
        "image",
        "command",
        "volumes",
        "env",
        "retries",
        "backoff",
        "true",
        "1979-05-27",
        "@every",
        "*",
        ":",
        "/",
        "\u{feff}",
        "[defaults]",
        "defaults",
        "memory",
        "'1GiB'",
        "max_output",
        "stop_signal",
        "'TERM'",
        "cap_add",
        "cap_drop",
        "'ALL'",
        "labels",
        "secrets",
        "tmpfs",
        "timeout",
        "success_exit_codes",
        "fatal_exit_codes",
        "[0]",
        "0.5",
        "nan",
    ];
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let base: Vec<char> = REFERENCE.chars().collect();
    for _ in 0..1500 {
        // Mutate the reference: replace, insert or delete a few spots.
        let mut text = base.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(text.len() + 1);
            let piece: Vec<char> = PIECES[rng.below(PIECES.len())].chars().collect();
            match rng.below(3) {
                0 if at < text.len() => {
                    text.splice(at..at + 1, piece);
                }
                1 if at < text.len() => {
                    let end = (at + 1 + rng.below(8)).min(text.len());
                    text.drain(at..end);
                }
                _ => {
                    text.splice(at..at, piece);
                }
            }
        }
        parse_anything(&text.iter().collect::<String>());

        // Pure noise from TOML-ish pieces.
        let noise: String = (0..rng.below(60))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect();
        parse_anything(&noise);
    }
}

#[test]
fn fuzz_dotenv_never_panics_and_never_leaks() {
    const PIECES: &[&str] = &[
        "A", "_", "9", "=", " ", "\t", "'", "\"", "\\", "n", "#", "export ", "\n", "\r\n", "é",
        "\u{0}", "\u{feff}", "-", ".", "$", "Qz",
    ];
    let mut rng = Rng(0xd07e_4e11_5ec2_e7ed);
    for _ in 0..3000 {
        let text: String = (0..rng.below(30))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect();
        match dotenv::parse(&text) {
            Ok(pairs) => {
                for (name, value) in pairs {
                    assert!(dotenv::is_valid_name(&name), "{text:?}");
                    assert!(!value.contains('\0'), "{text:?}");
                }
            }
            Err(problems) => {
                let lines = text.split('\n').count();
                for problem in problems {
                    assert!(problem.line >= 1 && problem.line <= lines, "{text:?}");
                    // "Qz" appears in no wording: only in values, bad names, or the
                    // valid name a message may start with.
                    let wording = problem
                        .message
                        .split_once(": ")
                        .filter(|(name, _)| dotenv::is_valid_name(name))
                        .map_or(problem.message.as_str(), |(_, rest)| rest);
                    assert!(!wording.contains("Qz"), "{text:?}: {problem}");
                    assert!(!problem.message.contains('\n'), "{text:?}");
                }
            }
        }
    }
}

#[test]
fn fuzz_hostile_shapes() {
    let deep_arrays = format!("a = {}{}", "[".repeat(2000), "]".repeat(2000));
    let deep_tables = format!("a = {}{}", "{ b = ".repeat(500), "}".repeat(500));
    let long_key = format!(
        "[jobs.{}]\nschedule='@daily'\nimage='x'\n",
        "k".repeat(100_000)
    );
    let many_jobs: String = (0..2000)
        .map(|i| format!("[jobs.j{i}]\nschedule='@daily'\nimage='x'\n"))
        .collect();
    for text in [
        deep_arrays.as_str(),
        deep_tables.as_str(),
        "[jobs.a]\nschedule='@daily'\nimage='x'\nretries=99999999999999999999999999999999999999999\n",
        "[jobs.a]\nschedule='@daily'\nimage='x'\nbackoff='99999999999999999999y'\n",
        "[jobs.a]\nschedule='\u{0}'\nimage='\u{0}'\ncommand=['\u{0}']\nenv={'\u{0}'='\u{0}'}\n",
        "\u{feff}[jobs.a]\nschedule='@daily'\nimage='x'\n",
        "[jobs.a]\r\nschedule='@daily'\r\nimage='x'\r\nretries=-1\r\n",
        long_key.as_str(),
        "jobs = 5",
        "jobs = []",
        "daemon = []",
        "[jobs.a.b.c]\nd = 1\n",
    ] {
        parse_anything(text);
    }
    let config = parse_ok(&many_jobs);
    assert_eq!(config.jobs.len(), 2000);
}

// ---------------------------------------------------------------- hostile files

/// A unique temp dir for one test, removed by the caller.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cronbox-config-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A temp dir for the test `name` (removed by the caller) holding a FIFO and a file
/// one byte larger than `cap` that takes no room on disk.
fn fifo_and_big_file(name: &str, cap: u64) -> (PathBuf, PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let (fifo, big) = (dir.join("fifo"), dir.join("big"));
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", fifo.display());
    std::fs::File::create(&big)
        .and_then(|file| file.set_len(cap + 1))
        .expect("a sparse file");
    (dir, fifo, big)
}

#[test]
fn load_reads_only_a_regular_file_of_at_most_the_size_cap() {
    let (dir, fifo, big) = fifo_and_big_file("load", MAX_CONFIG_SIZE);
    let at_cap = dir.join("at-cap.toml");
    // Exactly the cap: a valid file padded with a comment.
    let head = "[jobs.a]\nschedule = '@daily'\nimage = 'x'\n#";
    let padding = "x".repeat(MAX_CONFIG_SIZE as usize - head.len());
    std::fs::write(&at_cap, format!("{head}{padding}")).expect("write");
    // Opening a FIFO for reading would wait for a writer: nothing here may block.
    let cases: [(&Path, &[&str]); 4] = [
        (
            &fifo,
            &["it is a named pipe (FIFO), not a regular file", "--config"],
        ),
        (
            Path::new("/dev/zero"),
            &["it is a character device, not a regular file"],
        ),
        (&dir, &["it is a directory, not a regular file"]),
        (
            &big,
            &["it is larger than 4MiB, the most cronbox reads", "--config"],
        ),
    ];
    for (path, fragments) in cases {
        let err = load(path, &utc_env()).expect_err("refused");
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].location, None, "{err}");
        for fragment in fragments {
            assert!(err.problems[0].message.contains(fragment), "{err}");
        }
        assert!(
            err.to_string().starts_with(&format!(
                "{}: cannot read the config file: ",
                path.display()
            )),
            "{err}"
        );
    }
    let config = load(&at_cap, &utc_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.jobs.len(), 1);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn env_files_are_read_under_the_same_rule() {
    let (dir, fifo, big) = fifo_and_big_file("env-file", MAX_ENV_FILE_SIZE);
    let latin1 = dir.join("latin1.env");
    std::fs::write(&latin1, b"A=caf\xe9\n").expect("write");
    let good = dir.join("good.env");
    std::fs::write(&good, "A=1\n").expect("write");
    for (path, why) in [
        (
            fifo.as_path(),
            "it is a named pipe (FIFO), not a regular file",
        ),
        (
            Path::new("/dev/zero"),
            "it is a character device, not a regular file",
        ),
        (
            big.as_path(),
            "it is larger than 1MiB, the most cronbox reads",
        ),
        (latin1.as_path(), "it is not UTF-8 text"),
    ] {
        let err = file::read_to_string(path, MAX_ENV_FILE_SIZE).expect_err("refused");
        assert_eq!(err.to_string(), why, "{}", path.display());
        // The reason never holds any of the file's bytes.
        assert!(!err.to_string().contains("caf"), "{err}");
    }
    let missing =
        file::read_to_string(&dir.join("missing.env"), MAX_ENV_FILE_SIZE).expect_err("missing");
    assert!(missing.to_string().contains("os error 2"), "{missing}");
    assert_eq!(
        file::read_to_string(&good, MAX_ENV_FILE_SIZE).expect("read"),
        "A=1\n"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// The bench harness's largest schedule (benches/harness.rs, `big_schedule`: 10,000
/// jobs) fits well under [`MAX_CONFIG_SIZE`].
#[test]
fn the_size_cap_leaves_room_for_ten_thousand_jobs() {
    let text: String = (0..10_000)
        .map(|i| {
            format!(
                "[jobs.job-{i:05}]\nschedule = \"15,45 {} * jan-jun *\"\ntimezone = \"Australia/Lord_Howe\"\nimage = \"cronbox-test/busybox:2\"\ncommand = [\"sh\", \"-c\", \"echo job {i}\"]\nretries = {}\nbackoff = \"30s\"\n\n",
                i % 24,
                i % 4
            )
        })
        .collect();
    assert!(
        (text.len() as u64) < MAX_CONFIG_SIZE / 2,
        "{} bytes",
        text.len()
    );
    assert_eq!(parse_ok(&text).jobs.len(), 10_000);
}

#[test]
fn a_large_file_of_syntax_errors_shows_the_first_ten_and_counts_the_rest() {
    // About 200 KB, 25,000 lines with an error each (several on some): placing each
    // error from the start of the file made this quadratic.
    let line = "x = = 1\n";
    let text = line.repeat(200_000 / line.len());
    let err = parse_err(&text);
    assert_eq!(err.problems.len(), 11, "{err}");
    for (i, problem) in err.problems[..10].iter().enumerate() {
        assert!(
            problem.message.starts_with("TOML syntax error"),
            "{problem:?}"
        );
        let location = problem.location.expect("placed");
        assert!(location.line >= 1 && location.line <= i + 1, "{problem:?}");
        assert!(problem.snippet.is_some(), "{problem:?}");
    }
    assert!(
        err.problems
            .windows(2)
            .take(9)
            .all(|w| w[0].location <= w[1].location)
    );
    let last = &err.problems[10];
    assert_eq!(last.location, None);
    let more: usize = last
        .message
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count: {last:?}"));
    assert!(more >= 25_000 - 10, "{last:?}");
    assert!(
        last.message
            .ends_with("more TOML syntax error(s) not shown; fix the ones above first")
    );

    // One long line of errors: columns too are counted once, not from the line's start.
    let text = format!("a = [{}]\n", ",".repeat(100_000));
    let err = parse_err(&text);
    assert!(err.problems.len() <= 11, "{err}");
    assert_eq!(
        err.problems[0].location,
        Some(Location { line: 1, column: 6 })
    );
}

#[test]
fn keys_nested_too_deep_are_placed() {
    let deep = |n: usize| vec!["a"; n].join(".");
    let cases = [
        ("header", format!("[{}]\nx = 1\n", deep(200)), 1, 2, 200),
        ("array header", format!("[[{}]]\n", deep(90)), 1, 3, 90),
        (
            "dotted key",
            format!("[jobs.a]\n{} = 1\n", deep(200)),
            2,
            1,
            200,
        ),
        (
            "in an inline table",
            format!("x = 1\ny = {{ {} = 1 }}\n", deep(81)),
            2,
            7,
            81,
        ),
        (
            "spaced",
            format!("\n\n[ {} ]\n", vec!["a"; 100].join(" . ")),
            3,
            3,
            100,
        ),
    ];
    for (name, text, line, column, parts) in cases {
        let err = parse_err(&text);
        let problem = &err.problems[0];
        assert_eq!(
            problem.location,
            Some(Location { line, column }),
            "{name}: {err}"
        );
        assert!(
            problem
                .message
                .contains(&format!("nested {parts} levels deep, more than the 80")),
            "{name}: {err}"
        );
        let snippet = problem.snippet.as_deref().expect("a snippet");
        assert!(snippet.contains(&format!("{line} | ")), "{name}: {snippet}");
        assert!(
            err.problems.iter().all(|p| p.location.is_some()),
            "{name}: {err}"
        );
    }
    // Two deep keys: each at its own place.
    let text = format!("[{}]\n[b.{}]\n", deep(100), deep(100));
    let err = parse_err(&text);
    let places: Vec<_> = err.problems.iter().map(|p| p.location).collect();
    assert_eq!(
        places,
        [
            Some(Location { line: 1, column: 2 }),
            Some(Location { line: 2, column: 2 })
        ],
        "{err}"
    );
    // 80 parts is not too deep (the keys are then unknown, which is another matter).
    let err = parse_err(&format!("[{}]\n", deep(80)));
    assert!(!err.to_string().contains("levels deep"), "{err}");
}

#[test]
fn values_of_env_env_file_and_secrets_never_appear_in_messages() {
    // (case, text after a valid job head, the secret, the line of the first problem,
    // whether a snippet is shown with *** in the secret's place).
    let cases: [(&str, &str, &str, usize, bool); 18] = [
        (
            "duplicate key in an inline env",
            "env = { API_KEY = \"s3cr3t-1\", API_KEY = \"s3cr3t-2\" }",
            "s3cr3t",
            4,
            true,
        ),
        (
            "stray brace",
            "env = { API_KEY = \"s3cr3t\" }}",
            "s3cr3t",
            4,
            true,
        ),
        (
            "not a string",
            "env = { PIN = 48151623 }",
            "48151623",
            4,
            false,
        ),
        ("a float", "env = { PIN = 4815.1623 }", "4815", 4, false),
        (
            "a datetime",
            "env = { DAY = 1979-05-27T07:32:00Z }",
            "1979",
            4,
            false,
        ),
        (
            "unquoted",
            "[jobs.a.env]\nAPI_KEY = s3cr3t value",
            "s3cr3t",
            5,
            true,
        ),
        (
            "unterminated",
            "[jobs.a.env]\nAPI_KEY = \"s3cr3t",
            "s3cr3t",
            5,
            true,
        ),
        (
            "a value alone on its line",
            "[jobs.a.env]\ns3cr3t",
            "s3cr3t",
            5,
            true,
        ),
        (
            "dotted key",
            "env.API_KEY = \"s3cr3t\" \"more\"",
            "s3cr3t",
            4,
            true,
        ),
        (
            "multi-line string",
            "env = { A = \"\"\"s3cr3t-a\ns3cr3t-b\"\"\" }}",
            "s3cr3t",
            5,
            true,
        ),
        (
            "comment after it",
            "env = { A = \"x\" } } # s3cr3t",
            "s3cr3t",
            4,
            true,
        ),
        (
            "env is a string",
            "env = \"API_KEY=s3cr3t\"",
            "s3cr3t",
            4,
            false,
        ),
        (
            "env_file not a string",
            "env_file = 48151623",
            "48151623",
            4,
            false,
        ),
        (
            "env_file with ~",
            "env_file = \"~/s3cr3t.env\"",
            "s3cr3t",
            4,
            false,
        ),
        (
            "env_file syntax",
            "env_file = \"s3cr3t\" x",
            "s3cr3t",
            4,
            true,
        ),
        (
            "secrets not a table",
            "secrets = \"s3cr3t\"",
            "s3cr3t",
            4,
            false,
        ),
        (
            "a secret not a string",
            "secrets = { db = 48151623 }",
            "48151623",
            4,
            false,
        ),
        (
            "a secret with ~",
            "secrets = { db = \"~/s3cr3t\" }}",
            "s3cr3t",
            4,
            true,
        ),
    ];
    for (name, body, secret, line, masked_snippet) in cases {
        let text = format!("{JOB_A}{body}\n");
        let err = parse_err(&text);
        let shown = err.to_string();
        assert!(
            !shown.contains(secret),
            "{name}: the value is shown:\n{shown}"
        );
        assert_eq!(
            err.problems[0].location.map(|l| l.line),
            Some(line),
            "{name}:\n{shown}"
        );
        let snippet = err.problems[0].snippet.as_deref();
        assert_eq!(
            snippet.is_some_and(|s| s.contains("***")),
            masked_snippet,
            "{name}:\n{shown}"
        );
    }
    // The same in [defaults], where no job is named.
    let err = parse_err("[defaults]\nenv = { TOKEN = \"s3cr3t\" }}\n");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    // The carets stay under the error: here the second API_KEY, after a masked value.
    let err = parse_err(&format!(
        "{JOB_A}env = {{ API_KEY = \"s3cr3t\", API_KEY = \"x\" }}\n"
    ));
    assert_eq!(
        err.problems[0].snippet.as_deref(),
        Some("  |\n4 | env = { API_KEY = ***, API_KEY = *** }\n  |                        ^^^^^^^")
    );
    // A job named "env" is not a secret table, and other values are shown as before.
    let err = parse_err("[jobs.env]\nimage = 'alpine\n");
    assert!(err.to_string().contains("'alpine"), "{err}");
    let err = parse_err(&format!("{JOB_A}labels = {{ team = \"ops\" }}}}\n"));
    assert!(err.to_string().contains("\"ops\""), "{err}");
}

#[test]
fn names_with_control_characters_are_quoted_and_each_problem_is_one_line() {
    // (case, text, a fragment of the message as shown).
    let cases: [(&str, &str, &str); 7] = [
        (
            "job name",
            "[jobs.\"a\\nb\"]\nschedule = '@daily'\nimage = 'x'\n",
            "job \"a\\nb\": invalid job name",
        ),
        (
            "job name that looks like another problem",
            "[jobs.\"x\\n/etc/other.toml:1:1: fake\"]\nschedule = '@daily'\nimage = 'x'\n",
            "job \"x\\n/etc/other.toml:1:1: fake\": invalid job name",
        ),
        (
            "env key",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nenv = { \"A\\nB\" = 1 }\n",
            "env.\"A\\nB\" must be a string",
        ),
        (
            "label key",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nlabels = { \"a\\u001b[2Jb\" = 1 }\n",
            "labels.\"a\\u{1b}[2Jb\" must be a string",
        ),
        (
            "label with dots",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nlabels = { \"com.example\" = 1 }\n",
            "labels.\"com.example\" must be a string",
        ),
        (
            "secret name",
            "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nsecrets = { \"a\\rb\" = '' }\n",
            "secrets.\"a\\rb\" must not be empty",
        ),
        (
            "top-level table that looks like a job",
            "[\"x\\ny\"]\nimage = 'x'\n",
            "write [jobs.\"x\\ny\"]",
        ),
    ];
    for (name, text, fragment) in cases {
        let err = parse_err(text);
        let shown = err.to_string();
        assert!(
            shown.contains(fragment),
            "{name}: {fragment:?} missing in:\n{shown}"
        );
        // One line per problem, each starting with the path: nothing else is a line.
        assert_eq!(
            shown.lines().count(),
            err.problems.len(),
            "{name}:\n{shown}"
        );
        assert!(
            shown.lines().all(|l| l.starts_with(PATH)),
            "{name}:\n{shown}"
        );
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{name}:\n{shown}"
        );
    }
    // A plain name stays bare.
    let err = parse_err("[jobs.a]\nschedule = '@daily'\nimage = 'x'\nenv = { PORT = 1 }\n");
    assert!(
        err.to_string().contains("env.PORT must be a string"),
        "{err}"
    );
    // Control characters in a snippet's line are replaced, never printed.
    let err = parse_err("a = 1 \u{1b}[2J\n");
    let shown = err.to_string();
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
}

#[test]
fn the_engine_is_a_unix_socket_or_a_tcp_address() {
    let good = [
        (
            "unix:///run/podman/podman.sock",
            "unix:///run/podman/podman.sock",
        ),
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
        ("http://docker.lan:2375/", "http://docker.lan:2375/"),
    ];
    for (value, want) in good {
        let text = format!("[daemon]\nengine = '{value}'\n{MINIMAL}");
        let config = match parse(Path::new(PATH), &text, &utc_env()) {
            Ok(config) => config,
            Err(err) => panic!("case {value}: {err}"),
        };
        assert_eq!(config.daemon.engine.as_deref(), Some(want), "{value}");
    }
    let unset = parse(Path::new(PATH), MINIMAL, &utc_env()).expect("minimal");
    assert_eq!(
        unset.daemon.engine, None,
        "unset: $DOCKER_HOST, else the local socket"
    );

    let cases: &[(&str, &str, &[Expected])] = &[
        (
            "a relative socket path",
            "[daemon]\nengine = 'unix://run/podman/podman.sock'\n",
            &[(
                2,
                10,
                None,
                &[
                    "bad engine \"unix://run/podman/podman.sock\"",
                    "must be absolute",
                    "unix:///run/podman/podman.sock",
                ],
            )],
        ),
        (
            "a bare path",
            "[daemon]\nengine = '/run/podman/podman.sock'\n",
            &[(
                2,
                10,
                None,
                &["bad engine", "names no unix://, tcp:// or http:// address"],
            )],
        ),
        (
            "a tcp address without a port",
            "[daemon]\nengine = 'tcp://docker.lan'\n",
            &[(2, 10, None, &["bad engine", "needs a host and a port"])],
        ),
        (
            "port 0",
            "[daemon]\nengine = 'tcp://docker.lan:0'\n",
            &[(2, 10, None, &["bad engine", "needs a host and a port"])],
        ),
        (
            "not a string",
            "[daemon]\nengine = 2375\n",
            &[(2, 10, None, &["engine"])],
        ),
    ];
    for (name, text, expected) in cases {
        check_problems(name, text, expected);
    }
}
