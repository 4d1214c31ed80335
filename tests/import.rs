//! `cronbox import ofelia` and `cronbox import crontab`, the real binary, on
//! the fixtures in tests/fixtures/import (every supported key and option, and
//! lines that cannot be imported): the lines reported, the output accepted by
//! `cronbox check`, and `cronbox next` on it giving, for a year, the fire
//! times croner (an independent implementation) computes from the source
//! schedules read in their own dialect (Ofelia: seconds first, robfig's day
//! rule; cron: cronie's).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::path::Path;
use std::process::{Command, Output};

const OFELIA: &str = include_str!("fixtures/import/ofelia.ini");
const CRONTAB: &str = include_str!("fixtures/import/crontab");

fn cronbox(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .current_dir(dir)
        // Jobs without a zone take the default zone: make it UTC.
        .env("TZ", "UTC")
        .env_remove("CRONBOX_CONFIG")
        .output()
        .expect("run cronbox")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The fixture in a temp dir, with the host paths it names created; then
/// imported. Returns the dir, the imported file and the import's output.
fn imported(kind: &str, fixture: &str) -> (tempfile::TempDir, std::path::PathBuf, Output) {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["backup", "certs"] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
    }
    std::fs::write(dir.path().join("report.env"), "REPORT=weekly\n").expect("env file");
    let source = dir.path().join(kind);
    let root = dir.path().display().to_string();
    std::fs::write(&source, fixture.replace("@DIR@", &root)).expect("write fixture");
    let out = cronbox(dir.path(), &["import", kind, &source.display().to_string()]);
    let file = dir.path().join("cronbox.toml");
    std::fs::write(&file, &out.stdout).expect("write the import");
    (dir, file, out)
}

/// The line numbers `import` reported as not imported.
fn skipped_lines(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter(|l| l.contains(": not imported: "))
        .filter_map(|l| l.split(':').nth(1)?.parse().ok())
        .collect()
}

fn check(dir: &Path, file: &Path) {
    let out = cronbox(dir, &["check", "--config", &file.display().to_string()]);
    assert!(
        out.status.success(),
        "check refused the import:\n{}\n{}",
        text(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    assert!(
        text(&out.stdout).contains(": OK, "),
        "{}",
        text(&out.stdout)
    );
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
}

/// `cronbox next` for `job`: `count` fire times after [`start`].
fn next(dir: &Path, file: &Path, job: &str, count: usize) -> Vec<DateTime<Utc>> {
    let out = cronbox(
        dir,
        &[
            "next",
            "--config",
            &file.display().to_string(),
            "--job",
            job,
            "--count",
            &count.to_string(),
            "--from",
            &start().to_rfc3339(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|line| {
            let time = line
                .split("\"time\":\"")
                .nth(1)
                .and_then(|t| t.strip_suffix("\"}"))
                .expect(line);
            DateTime::parse_from_rfc3339(time)
                .expect(time)
                .with_timezone(&Utc)
        })
        .collect()
}

/// croner's fire times of `pattern` in `zone` for the year after [`start`]
/// (at most `limit`), with the given day-of-month/day-of-week rule.
fn croner_times(pattern: &str, zone: Tz, both_days: bool, limit: usize) -> Vec<DateTime<Utc>> {
    let cron = croner::parser::CronParser::builder()
        .dom_and_dow(both_days)
        .build()
        .parse(pattern)
        .expect(pattern);
    let end = start() + chrono::TimeDelta::days(365);
    let mut at = start().with_timezone(&zone);
    let mut times = Vec::new();
    while times.len() < limit {
        at = cron.find_next_occurrence(&at, false).expect(pattern);
        let utc = at.with_timezone(&Utc);
        if utc > end {
            break;
        }
        times.push(utc);
    }
    times
}

/// The imported job fires when croner says the source does, for a year.
fn same_times(dir: &Path, file: &Path, job: &str, source: (&str, Tz, bool)) {
    let (pattern, zone, both_days) = source;
    let want = croner_times(pattern, zone, both_days, 100_000);
    assert!(!want.is_empty(), "{pattern}");
    let got = next(dir, file, job, want.len());
    assert_eq!(got.len(), want.len(), "{job}");
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{job} ({pattern} in {zone}): fire time {i} is {} in cronbox, {} in the source",
            got[i], want[i]
        );
    }
}

#[test]
fn ofelia_imports_fire_as_ofelia_would() {
    let (dir, file, out) = imported("ofelia", OFELIA);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        skipped_lines(&stderr),
        [4, 5, 49, 50, 51, 52, 53, 55, 59, 63, 68, 72],
        "{stderr}"
    );
    for section in [
        "job-exec \"flush-logs\"",
        "job-local \"touch\"",
        "job-service-run \"swarm\"",
    ] {
        assert!(stderr.contains(section), "{section} not named:\n{stderr}");
    }
    check(dir.path(), &file);
    let toml = std::fs::read_to_string(&file).expect("read");
    assert!(
        toml.contains("# From [job-run \"db-backup\"], line 7 of "),
        "{toml}"
    );
    let db_backup = toml.split("[jobs.db-backup]\n").nth(1).expect("db-backup");
    for setting in [
        "schedule = \"30 4 * * *\"",
        "image = \"postgres:16-alpine\"",
        "command = [\"sh\", \"-c\", \"pg_dump -h db app > /backup/app.sql\"]",
        "entrypoint = [\"/usr/bin/env\"]",
        "user = \"70:70\"",
        "network = \"backend\"",
        "hostname = \"backup\"",
        "env = { PGUSER = \"app\", PGHOST = \"db\" }",
        "concurrency = \"forbid\"",
        "pull = \"missing\"",
        "timeout = \"1h 30m\"",
    ] {
        assert!(
            db_backup.contains(setting),
            "{setting} missing:\n{db_backup}"
        );
    }
    assert!(db_backup.contains("/backup:/backup\", \""), "{db_backup}");
    // Seconds first, robfig's day rule, CRON_TZ: croner reads the source.
    let utc = Tz::UTC;
    same_times(dir.path(), &file, "db-backup", ("0 30 4 * * *", utc, false));
    same_times(
        dir.path(),
        &file,
        "office-hours",
        ("0 */20 9-17 * * mon-fri", utc, true),
    );
    // robfig: "*/2" is restricted, so either day field may match.
    same_times(
        dir.path(),
        &file,
        "odd-days",
        ("0 0 6 */2 * mon", utc, false),
    );
    same_times(
        dir.path(),
        &file,
        "new-york",
        ("0 15 4 * * *", Tz::America__New_York, false),
    );
    // */10 seconds: the same instants as @every 10s (a week of them, so
    // that day and week boundaries are crossed).
    let week = 7 * 24 * 60 * 6;
    let want = croner_times("*/10 * * * * *", utc, false, week);
    assert_eq!(want.len(), week);
    assert_eq!(
        want.last().map(|t| *t - start()),
        Some(chrono::TimeDelta::days(7))
    );
    assert_eq!(
        next(dir.path(), &file, "every-ten-seconds", want.len()),
        want
    );
    // @every keeps its period (cronbox counts it from the Unix epoch; Ofelia
    // from its start: the same spacing).
    let beats = next(dir.path(), &file, "heartbeat", 1000);
    assert!(beats.windows(2).all(|w| (w[1] - w[0]).num_seconds() == 90));
    assert_eq!(beats[0].timestamp() % 90, 0);
}

#[test]
fn crontab_imports_fire_as_cron_would() {
    let (dir, file, out) = imported("crontab", CRONTAB);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        skipped_lines(&stderr),
        [4, 13, 14, 15, 16, 17, 18],
        "{stderr}"
    );
    assert!(!stderr.contains("from-cron") && !stderr.contains("ops@example.com"));
    check(dir.path(), &file);
    let toml = std::fs::read_to_string(&file).expect("read");
    let office = toml.split("[jobs.office]\n").nth(1).expect("office");
    let root = dir.path().display().to_string();
    for setting in [
        "schedule = \"*/15 9-17 * * mon-fri\"".to_owned(),
        "image = \"busybox:1.36\"".to_owned(),
        "command = [\"+%s\"]".to_owned(),
        "concurrency = \"forbid\"".to_owned(),
        "env = { API_TOKEN = \"from-cron\" }".to_owned(),
        format!("env_file = \"{root}/report.env\""),
        "user = \"1000:1000\"".to_owned(),
        "workdir = \"/work\"".to_owned(),
        "memory = \"64m\"".to_owned(),
        "cpus = 0.5".to_owned(),
        "read_only = true".to_owned(),
        "entrypoint = [\"/bin/date\"]".to_owned(),
    ] {
        assert!(office.contains(&setting), "{setting} missing:\n{office}");
    }
    assert!(toml.contains("# From line 6 of "), "{toml}");
    assert!(
        toml.contains(&format!("volumes = [\"{root}/backup:/data:ro\"]")),
        "{toml}"
    );
    // cronie's rules are cronbox's: both day fields when one starts with '*'.
    let utc = Tz::UTC;
    same_times(dir.path(), &file, "postgres", ("30 2 * * *", utc, true));
    same_times(
        dir.path(),
        &file,
        "office",
        ("*/15 9-17 * * mon-fri", utc, true),
    );
    same_times(dir.path(), &file, "busybox", ("0 0 13 * fri", utc, false));
    same_times(
        dir.path(),
        &file,
        "busybox-2",
        ("15 4 * * *", Tz::America__New_York, true),
    );
    same_times(
        dir.path(),
        &file,
        "busybox-3",
        ("0 6 1 * *", Tz::Asia__Tokyo, true),
    );
}

#[test]
fn a_file_that_imports_whole_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("crontab");
    std::fs::write(&source, "0 4 * * * docker run --rm busybox:1.36 true\n").expect("write");
    let out = cronbox(
        dir.path(),
        &["import", "crontab", &source.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let missing = cronbox(dir.path(), &["import", "ofelia", "no-such.ini"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot import no-such.ini"));
    let device = cronbox(dir.path(), &["import", "crontab", "/dev/zero"]);
    assert_eq!(device.status.code(), Some(2));
    assert!(text(&device.stderr).contains("cannot import /dev/zero: not a regular file"));
}
