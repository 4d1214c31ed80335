use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::*;
use crate::schedule::Schedule;

const PATH: &str = "/etc/cronbox/cronbox.toml";
const REFERENCE: &str = include_str!("../../config/reference.toml");

fn utc_env() -> Environment {
    Environment {
        state_directory: None,
        local_timezone: Tz::UTC,
    }
}

fn parse_ok(text: &str) -> Config {
    parse_ok_with(text, &utc_env())
}

fn parse_ok_with(text: &str, env: &Environment) -> Config {
    match parse(Path::new(PATH), text, env) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config, got:\n{err}\n--- input:\n{text}"),
    }
}

fn parse_err(text: &str) -> ConfigError {
    match parse(Path::new(PATH), text, &utc_env()) {
        Ok(config) => panic!("expected an error, got {config:#?}\n--- input:\n{text}"),
        Err(err) => err,
    }
}

/// One expected problem: line, column, job, fragments the message must contain.
type Expected = (usize, usize, Option<&'static str>, &'static [&'static str]);

fn check_problems(name: &str, text: &str, expected: &[Expected]) {
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
        local_timezone: Tz::UTC,
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
        state_directory: None,
        local_timezone: Tz::Asia__Tokyo,
    };
    let no_daemon = parse_ok_with(MINIMAL, &env);
    assert_eq!(no_daemon.daemon.timezone, Tz::Asia__Tokyo);
    assert_eq!(no_daemon.jobs[0].timezone, Tz::Asia__Tokyo);
    assert_eq!(no_daemon.jobs[0].schedule.timezone(), Tz::Asia__Tokyo);

    let text = format!(
        "[daemon]\ntimezone = 'Europe/Paris'\n{MINIMAL}[jobs.own]\nschedule='@daily'\nimage='x'\ntimezone='America/New_York'\n"
    );
    let config = parse_ok_with(&text, &env);
    assert_eq!(config.daemon.timezone, Tz::Europe__Paris);
    let tick = config.job("tick").expect("tick");
    assert_eq!(tick.timezone, Tz::Europe__Paris);
    assert_eq!(tick.schedule.timezone(), Tz::Europe__Paris);
    let own = config.job("own").expect("own");
    assert_eq!(own.timezone, Tz::America__New_York);
    assert_eq!(own.schedule.timezone(), Tz::America__New_York);
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
        ["backup-db", "heartbeat", "weekly-report"]
    );
    let backup = config.job("backup-db").expect("backup-db");
    assert_eq!(backup.retries, 3);
    assert_eq!(backup.volumes.len(), 2);
    for key in [
        "database",
        "timezone",
        "schedule",
        "image",
        "command",
        "env",
        "volumes",
        "pull",
        "retries",
        "backoff",
        "backoff_max",
    ] {
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
    let mut job = parse_ok(MINIMAL).jobs.remove(0);
    job.retries = 4;
    job.backoff = Duration::from_secs(10);
    job.backoff_max = Duration::from_secs(60);
    let policy = job.retry_policy();
    assert_eq!(
        (policy.retries, policy.backoff, policy.backoff_max),
        (4, Duration::from_secs(10), Duration::from_secs(60))
    );
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

#[test]
fn environment_from_process_does_not_fail() {
    let env = Environment::from_process();
    if let Some(dir) = &env.state_directory {
        assert!(!dir.as_os_str().is_empty());
        assert!(!dir.to_string_lossy().contains(':'));
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
                    "expected one of: daemon, jobs",
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
                    "expected one of: schedule, timezone, image, command, env, volumes, pull, retries, backoff, backoff_max",
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
                        "found an integer 5432",
                        "quote it: PORT = \"5432\"",
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
         expected one of: schedule, timezone, image, command, env, volumes, pull, retries, backoff, backoff_max\n\
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
        error::snippet("a = 1\n\tb = x y\n", 11..12),
        "  |\n2 |  b = x y\n  |      ^"
    );
    let long = format!("a = [{}x]", "1, ".repeat(100));
    let at = long.find('x').expect("x");
    let shown = error::snippet(&long, at..at + 1);
    let lines: Vec<&str> = shown.lines().collect();
    assert!(
        lines[1].starts_with("1 | ...") && lines[1].len() < 140,
        "{shown}"
    );
    let caret = lines[2].find('^').expect("caret");
    assert_eq!(&lines[1][caret..=caret], "x", "{shown}");
    // Past the end, at an empty span, across lines: still one caret or more, no panic.
    for (text, span) in [("", 0..0), ("a", 5..9), ("ab\ncd", 1..4), ("é", 1..1)] {
        assert!(error::snippet(text, span).contains('^'));
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
    for &end in boundaries.iter().step_by(3) {
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
