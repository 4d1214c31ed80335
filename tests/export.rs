//! `cronbox export kubernetes`, the real binary: the reference schedule (every
//! key) validates against the Kubernetes OpenAPI schemas of 1.30 and of the
//! newest version `kubernetes-validate` (PyPI) knows, offline; what does not
//! carry over is warned about by job and key; secret values never appear;
//! --strict, --job and refusals set the exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REFERENCE: &str = include_str!("../config/reference.toml");
const ENV_FILE_VALUE: &str = "sekrit-env-file-value";
const SECRET_FILE_VALUE: &str = "sekrit-secret-file-value";

/// The venv `scripts/dev.sh` installs `kubernetes-validate` into.
fn validator_venv() -> PathBuf {
    std::env::var_os("CRONBOX_KUBERNETES_VALIDATE_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kubernetes-validate"),
        PathBuf::from,
    )
}

/// The validator, or a failure saying how to get it.
fn validator() -> PathBuf {
    let path = validator_venv().join("bin/kubernetes-validate");
    assert!(
        path.exists(),
        "kubernetes-validate is not installed at {}: run `scripts/dev.sh test`, which installs it from PyPI into a venv there (python3 -m venv target/kubernetes-validate && target/kubernetes-validate/bin/pip install kubernetes-validate), or set CRONBOX_KUBERNETES_VALIDATE_VENV to a venv that has it",
        path.display()
    );
    path
}

/// The newest Kubernetes version the validator has schemas for.
fn newest_known_version() -> String {
    let python = validator_venv().join("bin/python");
    let out = Command::new(&python)
        .args([
            "-c",
            "from kubernetes_validate.utils import latest_version; print(latest_version())",
        ])
        .output()
        .expect("run the validator's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Validate `yaml` (written to `dir`) against Kubernetes `version`, strictly
/// (unknown fields are errors), and say which resources passed.
fn validate(dir: &Path, yaml: &str, version: &str) -> String {
    let file = dir.join(format!("cronjobs-{version}.yaml"));
    std::fs::write(&file, yaml).expect("write the YAML");
    let out = Command::new(validator())
        .args(["--strict", "-k", version])
        .arg(&file)
        .output()
        .expect("run kubernetes-validate");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "against {version}:\n{said}\n{yaml}");
    said
}

/// The reference schedule in a temp dir, with its env_file and secret file
/// holding recognisable values.
fn reference_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("cronbox.toml");
    std::fs::write(&config, REFERENCE).expect("write config");
    std::fs::write(
        dir.path().join("backup-db.env"),
        format!("PGHOST=db\nDB_TOKEN={ENV_FILE_VALUE}\n"),
    )
    .expect("write env_file");
    std::fs::create_dir(dir.path().join("secrets")).expect("mkdir");
    std::fs::write(dir.path().join("secrets/pg_password"), SECRET_FILE_VALUE)
        .expect("write secret");
    (dir, config)
}

/// A schedule file holding `text` in a temp dir of its own.
fn config_in(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("cronbox.toml");
    std::fs::write(&config, text).expect("write config");
    (dir, config)
}

fn export(config: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(["export", "kubernetes", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .expect("run cronbox export")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// `(job, key)` of each warning line on stderr (`[daemon]` for the daemon's).
fn warned(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|line| line.split_once(": warning: ").map(|(_, w)| w))
        .map(|w| {
            if let Some(rest) = w.strip_prefix("[daemon] ") {
                let key = rest.split(':').next().unwrap_or_default();
                ("[daemon]".to_owned(), key.to_owned())
            } else {
                let rest = w.strip_prefix("job \"").expect(w);
                let (job, rest) = rest.split_once("\": ").expect(w);
                let key = rest.split(':').next().unwrap_or_default();
                (job.to_owned(), key.to_owned())
            }
        })
        .collect()
}

#[test]
fn the_reference_schedule_validates_against_kubernetes_1_30_and_the_newest() {
    let (dir, config) = reference_dir();
    let out = export(&config, &["--namespace", "batch"]);
    let (yaml, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(yaml.matches("\nkind: CronJob\n").count(), 3, "{yaml}");
    let newest = newest_known_version();
    for version in ["1.30", newest.as_str()] {
        let said = validate(dir.path(), &yaml, version);
        for name in ["backup-db", "heartbeat", "weekly-report"] {
            assert!(
                said.contains(&format!("passed for resource cronjob/{name}")),
                "{version}: {said}"
            );
        }
    }
    // Secret values never appear; the commands to make the Secrets do.
    for value in [ENV_FILE_VALUE, SECRET_FILE_VALUE] {
        assert!(
            !yaml.contains(value) && !stderr.contains(value),
            "{value} leaked"
        );
    }
    let env_file = dir.path().join("backup-db.env");
    assert!(
        yaml.contains(&format!(
            "#   kubectl create secret generic backup-db-env -n batch --from-env-file={}\n",
            env_file.display()
        )),
        "{yaml}"
    );
    assert!(yaml.contains("- secretRef:\n                    name: backup-db-env\n"));
    assert!(yaml.contains("subPath: pg_password"));
    // [daemon] registry_auth: every pod pulls with the Secret made from it.
    assert_eq!(
        yaml.matches("imagePullSecrets:\n            - name: cronbox-registry\n")
            .count(),
        3,
        "{yaml}"
    );
    assert!(yaml.contains("#   kubectl create secret docker-registry cronbox-registry -n batch --from-file=.dockerconfigjson=/etc/cronbox/docker-config.json\n"));
}

#[test]
fn what_does_not_carry_over_is_warned_about_by_job_and_key() {
    let (_dir, config) = reference_dir();
    let out = export(&config, &[]);
    let stderr = text(&out.stderr);
    let mut got = warned(&stderr);
    got.sort();
    let mut want: Vec<(String, String)> = [
        // 02:30 in Europe/Paris falls in both of the year's changes.
        ("backup-db", "schedule"),
        ("backup-db", "backoff_max"),
        ("backup-db", "random_delay"),
        ("backup-db", "stop_signal"),
        ("backup-db", "pids_limit"),
        ("backup-db", "network"),
        ("backup-db", "volumes"),
        ("backup-db", "tmpfs"),
        ("backup-db", "max_output"),
        ("backup-db", "params"),
        // A CronJob tells no one: cluster alerting instead.
        ("backup-db", "notify"),
        ("backup-db", "notify_on"),
        ("backup-db", "expect_success_within"),
        ("backup-db", "healthchecks"),
        ("heartbeat", "pids_limit"),
        // A job chain or a file trigger has no CronJob: left out.
        ("import-orders", "on_file"),
        ("verify-backup", "after"),
        ("weekly-report", "backoff"),
        ("weekly-report", "backoff_max"),
        ("weekly-report", "pids_limit"),
        ("weekly-report", "volumes"),
        ("[daemon]", "max_concurrent"),
        ("[daemon]", "history_limit"),
        ("[daemon]", "registry_auth"),
        ("[daemon]", "heartbeat"),
    ]
    .iter()
    .map(|(j, k)| ((*j).to_owned(), (*k).to_owned()))
    .collect();
    want.sort();
    assert_eq!(got, want, "{stderr}");
    assert_eq!(out.status.code(), Some(0));
    // --strict: the same output, exit code 2.
    let strict = export(&config, &["--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    assert_eq!(strict.stdout, out.stdout);
    // One job: heartbeat inherits pids_limit from [defaults], so it warns too.
    let one = export(&config, &["--job", "heartbeat", "--strict"]);
    assert_eq!(one.status.code(), Some(2));
    assert_eq!(text(&one.stdout).matches("kind: CronJob").count(), 1);
    assert!(text(&one.stdout).contains("schedule: \"*/10 * * * *\"\n  timeZone: Etc/UTC\n"));
}

#[test]
fn a_quiet_job_exits_0_with_strict_and_tricky_values_stay_strings() {
    let (dir, config) = config_in(
        r#"[daemon]
timezone = "UTC"
[jobs.tricky_values]
schedule = "0 4 * * 7"
image = "busybox:1.36"
command = ["sh", "-c", "echo $A"]
env = { A = "on", B = "1_000", C = "0o17", D = "2024-01-01", E = "", F = "a: b # c", G = "line\nbreak" }
user = "1000"
network = "host"
hostname = "tricky"
fatal_exit_codes = [1, 255]
"#,
    );
    let out = export(&config, &["--strict"]);
    let (yaml, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let newest = newest_known_version();
    for version in ["1.30", newest.as_str()] {
        validate(dir.path(), &yaml, version);
    }
    // Read back with YAML 1.1 rules (PyYAML, as Kubernetes' reader): strings.
    let python = validator_venv().join("bin/python");
    let script = "import sys, yaml, json\nd = yaml.safe_load(sys.stdin)\nc = d['spec']['jobTemplate']['spec']['template']['spec']['containers'][0]\nprint(json.dumps({e['name']: e['value'] for e in c['env']}, sort_keys=True))\nprint(d['spec']['schedule'])";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("write");
    let read = child.wait_with_output().expect("python");
    assert_eq!(
        text(&read.stdout),
        "{\"A\": \"on\", \"B\": \"1_000\", \"C\": \"0o17\", \"D\": \"2024-01-01\", \"E\": \"\", \"F\": \"a: b # c\", \"G\": \"line\\nbreak\"}\n0 4 * * 0\n"
    );
}

#[test]
fn jobs_that_cannot_be_exported_are_named_and_nothing_is_printed() {
    let (_dir, config) = config_in(
        "[daemon]\ntimezone = \"UTC\"\n[jobs.fast]\nschedule = \"@every 30s\"\nimage = \"a\"\n[jobs.ok]\nschedule = \"@daily\"\nimage = \"a\"\n[jobs.odd_name]\nschedule = \"@daily\"\nimage = \"a\"\n[jobs.odd-name]\nschedule = \"@daily\"\nimage = \"a\"\n",
    );
    let out = export(&config, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("cannot export: job \"fast\": schedule: @every 30s: the period is not a whole number of minutes"), "{stderr}");
    assert!(
        stderr.contains(
            "job \"odd-name\" and job \"odd_name\" would all be the CronJob \"odd-name\""
        ),
        "{stderr}"
    );
    // The others can still be exported one by one.
    let ok = export(&config, &["--job", "ok"]);
    assert_eq!(ok.status.code(), Some(0));
    // A namespace Kubernetes would refuse.
    let bad = export(&config, &["--job", "ok", "--namespace", "Batch_Jobs"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("namespace \"Batch_Jobs\""));
}

/// The files of `dir`: name, size and a hash of the contents.
fn snapshot(dir: &Path) -> Vec<(String, usize, u64)> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut files: Vec<(String, usize, u64)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let entry = entry.expect("entry");
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            let mut hasher = DefaultHasher::new();
            bytes.hash(&mut hasher);
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, bytes.len(), hasher.finish())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_job_paused_with_the_cli_is_exported_suspended_and_the_database_is_not_written() {
    // No HTTP server: `cronbox pause` writes the database itself.
    let (dir, config) = config_in(
        "[daemon]\ntimezone = \"UTC\"\ndatabase = \"history.db\"\n[daemon.http]\nlisten = \"\"\n[jobs.idle]\nschedule = \"@daily\"\nimage = \"alpine:3\"\n[jobs.busy]\nschedule = \"@hourly\"\nimage = \"alpine:3\"\n",
    );
    // Before any database exists, nothing is paused (and none is created).
    let before = export(&config, &["--strict"]);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before.stderr));
    assert_eq!(
        text(&before.stdout).matches("  suspend: false\n").count(),
        2
    );
    assert!(!dir.path().join("history.db").exists());
    let pause = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(["pause", "idle", "--config"])
        .arg(&config)
        .output()
        .expect("run cronbox pause");
    assert!(pause.status.success(), "{}", text(&pause.stderr));
    assert!(
        text(&pause.stdout).starts_with("job idle paused in the database"),
        "{}",
        text(&pause.stdout)
    );
    let files = snapshot(dir.path());
    let out = export(&config, &["--strict"]);
    let (yaml, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The database is as the pause left it. (A reader of a WAL database may
    // leave SQLite's empty -wal and its -shm index behind, as `check` does.)
    let after = snapshot(dir.path());
    let db = |files: &[(String, usize, u64)]| {
        files
            .iter()
            .find(|(name, ..)| name == "history.db")
            .cloned()
    };
    assert_eq!(db(&after), db(&files), "the export wrote the database");
    assert!(
        after
            .iter()
            .all(|(name, size, _)| name != "history.db-wal" || *size == 0),
        "the export wrote to the WAL: {after:?}"
    );
    let docs: Vec<&str> = yaml.split("---\n").filter(|d| !d.is_empty()).collect();
    let suspend = |name: &str| {
        let doc = docs
            .iter()
            .find(|d| d.contains(&format!("\n  name: {name}\n")))
            .unwrap_or_else(|| panic!("no CronJob {name}:\n{yaml}"));
        doc.lines()
            .find_map(|l| l.strip_prefix("  suspend: "))
            .unwrap_or_else(|| panic!("no suspend:\n{doc}"))
            .to_owned()
    };
    assert_eq!(suspend("idle"), "true", "{yaml}");
    assert_eq!(suspend("busy"), "false", "{yaml}");
    let newest = newest_known_version();
    for version in ["1.30", newest.as_str()] {
        let said = validate(dir.path(), &yaml, version);
        assert!(said.contains("passed for resource cronjob/idle"), "{said}");
    }
}

#[test]
fn a_privileged_job_validates_without_allow_privilege_escalation() {
    let (dir, config) = config_in(
        "[daemon]\ntimezone = \"UTC\"\n[jobs.raid-check]\nschedule = \"0 3 * * 0\"\nimage = \"alpine:3\"\nprivileged = true\ncap_add = [\"SYS_ADMIN\"]\nread_only = true\nuser = \"0:0\"\n",
    );
    let out = export(&config, &[]);
    let (yaml, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        warned(&stderr),
        [("raid-check".to_owned(), "privileged".to_owned())],
        "{stderr}"
    );
    assert!(
        yaml.contains("\n              securityContext:\n                privileged: true\n"),
        "{yaml}"
    );
    // Kubernetes refuses privileged with allowPrivilegeEscalation: false.
    assert!(!yaml.contains("allowPrivilegeEscalation"), "{yaml}");
    let newest = newest_known_version();
    for version in ["1.30", newest.as_str()] {
        let said = validate(dir.path(), &yaml, version);
        assert!(
            said.contains("passed for resource cronjob/raid-check"),
            "{said}"
        );
    }
}
