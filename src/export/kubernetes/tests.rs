//! Each cronbox key and the CronJob field it becomes (a table), the warnings
//! for what does not carry over, names and collisions, refusals.

use super::*;
use crate::config::{Environment, ZoneSource};
use chrono::TimeZone;
use chrono_tz::Tz;
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

fn env() -> Environment {
    Environment {
        state_directory: None,
        local_timezone: Tz::UTC,
        local_timezone_source: ZoneSource::Tz(String::new()),
        cpus: 2,
    }
}

fn config(text: &str) -> Config {
    crate::config::parse(Path::new("/etc/cronbox/cronbox.toml"), text, &env())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// 2025-06-01: the year after it has both of Europe's changes.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
        .single()
        .expect("date")
}

fn run(text: &str, daemon_keys: &[String]) -> Result<Manifest, ExportError> {
    let config = config(text);
    let jobs: Vec<&Job> = config.jobs.iter().map(|j| &**j).collect();
    export(
        &config,
        &jobs,
        &Options {
            namespace: Some("batch"),
            now: now(),
            daemon_keys,
            paused: &[],
        },
    )
}

/// The CronJob of the job `x` whose extra settings are `settings`.
fn cronjob_of(settings: &str) -> (Yaml, Vec<Warning>) {
    let text = format!("[jobs.x]\nschedule = \"0 4 * * *\"\nimage = \"alpine:3\"\n{settings}\n");
    let manifest = run(&text, &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let docs = YamlLoader::load_from_str(&manifest.yaml).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    (docs[0].clone(), manifest.warnings)
}

/// The node at a dotted path (`spec.jobTemplate.spec.template`), list items
/// by index; `~` stands for the container, `@` for the pod.
fn at<'a>(doc: &'a Yaml, path: &str) -> &'a Yaml {
    let path = path
        .replace('~', "spec.jobTemplate.spec.template.spec.containers.0")
        .replace('@', "spec.jobTemplate.spec.template.spec");
    path.split('.')
        .fold(doc, |node, step| match step.parse::<usize>() {
            Ok(i) => &node[i],
            Err(_) => &node[step],
        })
}

fn s(text: &str) -> Yaml {
    Yaml::String(text.to_owned())
}

fn strings(items: &[&str]) -> Yaml {
    Yaml::Array(items.iter().map(|i| s(i)).collect())
}

#[test]
fn each_key_maps_to_its_field() {
    let i = Yaml::Integer;
    let cases: Vec<(&str, &str, Yaml)> = vec![
        ("", "apiVersion", s("batch/v1")),
        ("", "kind", s("CronJob")),
        ("", "metadata.name", s("x")),
        ("", "metadata.namespace", s("batch")),
        ("", "spec.schedule", s("0 4 * * *")),
        ("", "spec.timeZone", s("UTC")),
        ("", "spec.concurrencyPolicy", s("Forbid")),
        ("", "spec.suspend", Yaml::Boolean(false)),
        ("", "spec.successfulJobsHistoryLimit", i(10)),
        ("", "spec.failedJobsHistoryLimit", i(10)),
        ("", "spec.jobTemplate.spec.backoffLimit", i(0)),
        (
            "",
            "spec.jobTemplate.spec.ttlSecondsAfterFinished",
            i(90 * 86_400),
        ),
        ("", "@.restartPolicy", s("Never")),
        ("", "@.terminationGracePeriodSeconds", i(10)),
        ("", "~.name", s("x")),
        ("", "~.image", s("alpine:3")),
        ("", "~.imagePullPolicy", s("IfNotPresent")),
        (
            "",
            "~.securityContext.allowPrivilegeEscalation",
            Yaml::Boolean(false),
        ),
        (
            "timezone = \"Europe/Paris\"",
            "spec.timeZone",
            s("Europe/Paris"),
        ),
        (
            "concurrency = \"allow\"",
            "spec.concurrencyPolicy",
            s("Allow"),
        ),
        (
            "concurrency = \"replace\"",
            "spec.concurrencyPolicy",
            s("Replace"),
        ),
        (
            "starting_deadline = \"5m\"",
            "spec.startingDeadlineSeconds",
            i(300),
        ),
        ("retries = 4", "spec.jobTemplate.spec.backoffLimit", i(4)),
        (
            "deadline = \"1h\"",
            "spec.jobTemplate.spec.activeDeadlineSeconds",
            i(3600),
        ),
        ("timeout = \"10m\"", "@.activeDeadlineSeconds", i(600)),
        (
            "stop_grace = \"30s\"",
            "@.terminationGracePeriodSeconds",
            i(30),
        ),
        (
            "fatal_exit_codes = [2, 64]",
            "spec.jobTemplate.spec.podFailurePolicy.rules.0",
            YamlLoader::load_from_str(
                "{action: FailJob, onExitCodes: {containerName: x, operator: In, values: [2, 64]}}",
            )
            .expect("yaml")[0]
                .clone(),
        ),
        ("pull = \"always\"", "~.imagePullPolicy", s("Always")),
        ("pull = \"never\"", "~.imagePullPolicy", s("Never")),
        (
            "entrypoint = [\"/bin/sh\", \"-c\"]",
            "~.command",
            strings(&["/bin/sh", "-c"]),
        ),
        (
            "command = [\"echo\", \"yes\"]",
            "~.args",
            strings(&["echo", "yes"]),
        ),
        ("workdir = \"/srv\"", "~.workingDir", s("/srv")),
        (
            "env = { B = \"2\", A = \"on\" }",
            "~.env",
            YamlLoader::load_from_str("[{name: A, value: 'on'}, {name: B, value: '2'}]")
                .expect("yaml")[0]
                .clone(),
        ),
        (
            "memory = \"256MiB\"",
            "~.resources.limits.memory",
            s("256Mi"),
        ),
        (
            "memory = \"256MiB\"",
            "~.resources.requests.memory",
            s("256Mi"),
        ),
        ("cpus = 0.5", "~.resources.limits.cpu", s("500m")),
        ("cpus = 2.0", "~.resources.requests.cpu", s("2")),
        (
            "read_only = true",
            "~.securityContext.readOnlyRootFilesystem",
            Yaml::Boolean(true),
        ),
        ("read_only = true", "~.volumeMounts.0.mountPath", s("/tmp")),
        (
            "read_only = true",
            "@.volumes.0.emptyDir.medium",
            s("Memory"),
        ),
        (
            "user = \"1000:2000\"",
            "~.securityContext.runAsUser",
            i(1000),
        ),
        (
            "user = \"1000:2000\"",
            "~.securityContext.runAsGroup",
            i(2000),
        ),
        (
            "cap_add = [\"NET_ADMIN\"]",
            "~.securityContext.capabilities.add",
            strings(&["NET_ADMIN"]),
        ),
        (
            "cap_drop = [\"ALL\"]",
            "~.securityContext.capabilities.drop",
            strings(&["ALL"]),
        ),
        (
            "privileged = true",
            "~.securityContext.privileged",
            Yaml::Boolean(true),
        ),
        (
            "privileged = true",
            "~.securityContext.allowPrivilegeEscalation",
            Yaml::BadValue,
        ),
        ("network = \"host\"", "@.hostNetwork", Yaml::Boolean(true)),
        ("network = \"bridge\"", "@.hostNetwork", Yaml::BadValue),
        ("hostname = \"worker\"", "@.hostname", s("worker")),
        (
            "volumes = [\"/srv/data:/data:ro\"]",
            "@.volumes.0.hostPath.path",
            s("/srv/data"),
        ),
        (
            "volumes = [\"/srv/data:/data:ro\"]",
            "~.volumeMounts.0.mountPath",
            s("/data"),
        ),
        (
            "volumes = [\"/srv/data:/data:ro\"]",
            "~.volumeMounts.0.readOnly",
            Yaml::Boolean(true),
        ),
        (
            "tmpfs = [\"/cache:size=64m,mode=1777\"]",
            "@.volumes.0.emptyDir.sizeLimit",
            s("64Mi"),
        ),
        (
            "tmpfs = [\"/cache:size=64m,mode=1777\"]",
            "~.volumeMounts.0.mountPath",
            s("/cache"),
        ),
        (
            "env_file = \"/etc/cronbox/x.env\"",
            "~.envFrom.0.secretRef.name",
            s("x-env"),
        ),
        (
            "secrets = { db = \"/etc/cronbox/db\" }",
            "@.volumes.0.secret.secretName",
            s("x-files"),
        ),
        (
            "secrets = { db = \"/etc/cronbox/db\" }",
            "~.volumeMounts.0.mountPath",
            s("/run/secrets/db"),
        ),
        (
            "secrets = { db = \"/etc/cronbox/db\" }",
            "~.volumeMounts.0.subPath",
            s("db"),
        ),
    ];
    for (settings, path, want) in cases {
        let (doc, _) = cronjob_of(settings);
        assert_eq!(at(&doc, path), &want, "{settings:?} at {path}");
    }
    let (doc, _) = cronjob_of("labels = { team = \"ops\" }");
    let labels = &at(&doc, "spec.jobTemplate.spec.template.metadata.labels");
    assert_eq!(labels["team"], s("ops"));
    assert_eq!(labels["cronbox/job"], s("x"));
    assert_eq!(labels["app.kubernetes.io/name"], s("x"));
    // The origin: on the CronJob, its Jobs and their pods; the file and job.
    for path in [
        "metadata.labels",
        "spec.jobTemplate.metadata.labels",
        "spec.jobTemplate.spec.template.metadata.labels",
    ] {
        let labels = at(&doc, path);
        assert_eq!(
            labels["app.kubernetes.io/created-by"],
            s("cronbox"),
            "{path}"
        );
        assert_eq!(labels["cronbox/job"], s("x"), "{path}");
    }
    assert_eq!(
        doc["metadata"]["annotations"]["cronbox/source"],
        s("/etc/cronbox/cronbox.toml [jobs.x]")
    );
}

#[test]
fn a_daylight_saving_change_is_warned_about_once_saying_what_kubernetes_does() {
    let skips = "Kubernetes skips a run whose time the clock jumps over (cronbox runs it once, right after the jump)";
    let twice = "Kubernetes runs twice a time the clock passes twice (cronbox once)";
    // (schedule, zone, the whole warning); the year after 2025-06-01.
    let cases = [
        (
            "30 2 * 3 *",
            "Europe/Berlin",
            format!(
                "job \"x\": schedule: its time 02:30 falls in a daylight-saving change of Europe/Berlin (first on 2026-03-29): {skips}"
            ),
        ),
        (
            "30 2 * 10 *",
            "Europe/Berlin",
            format!(
                "job \"x\": schedule: its time 02:30 falls in a daylight-saving change of Europe/Berlin (first on 2025-10-26): {twice}"
            ),
        ),
        (
            "30 2 * * *",
            "Europe/Berlin",
            format!(
                "job \"x\": schedule: its time 02:30 falls in a daylight-saving change of Europe/Berlin (first on 2025-10-26): {skips}; {twice}"
            ),
        ),
        (
            "0 2 * * sun",
            "America/New_York",
            format!(
                "job \"x\": schedule: its time 02:00 falls in a daylight-saving change of America/New_York (first on 2026-03-08): {skips}"
            ),
        ),
    ];
    for (schedule, zone, want) in cases {
        let text =
            format!("[jobs.x]\nschedule = \"{schedule}\"\ntimezone = \"{zone}\"\nimage = \"a\"\n");
        let manifest = run(&text, &[]).expect("export");
        let said: Vec<String> = manifest.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(said, [want], "{schedule} in {zone}");
    }
}

#[test]
fn schedules_are_expanded_and_every_is_read_in_utc() {
    let cases = [
        ("@daily", "Europe/Paris", "0 0 * * *", "Europe/Paris"),
        ("@every 15m", "Europe/Paris", "*/15 * * * *", "Etc/UTC"),
        ("@every 2h", "Asia/Kolkata", "0 */2 * * *", "Etc/UTC"),
        ("0 9 * * 7", "Asia/Tokyo", "0 9 * * 0", "Asia/Tokyo"),
    ];
    for (schedule, zone, want, want_zone) in cases {
        let text =
            format!("[jobs.x]\nschedule = \"{schedule}\"\ntimezone = \"{zone}\"\nimage = \"a\"\n");
        let manifest = run(&text, &[]).expect(schedule);
        let doc = &YamlLoader::load_from_str(&manifest.yaml).expect("yaml")[0];
        assert_eq!(doc["spec"]["schedule"], s(want), "{schedule}");
        assert_eq!(doc["spec"]["timeZone"], s(want_zone), "{schedule}");
    }
}

/// (settings, the keys warned about, a word of the message)
#[test]
fn what_kubernetes_cannot_express_is_warned_about_by_job_and_key() {
    let cases: [(&str, &[&str], &str); 18] = [
        ("", &[], ""),
        (
            "retries = 2\nbackoff = \"10s\"\nbackoff_max = \"6m\"",
            &[],
            "",
        ),
        ("retries = 2", &["backoff_max"], "6m"),
        (
            "retries = 2\nbackoff = \"1m\"",
            &["backoff", "backoff_max"],
            "10s",
        ),
        ("backoff = \"1m\"", &[], ""),
        (
            "success_exit_codes = [0, 3]",
            &["success_exit_codes"],
            "only exit code 0",
        ),
        ("network = \"none\"", &["network"], "always has a network"),
        ("network = \"backend\"", &["network"], "backend"),
        ("pids_limit = 100", &["pids_limit"], "podPidsLimit"),
        ("volumes = [\"/srv:/srv\"]", &["volumes"], "hostPath"),
        ("tmpfs = [\"/cache\"]", &["tmpfs"], "medium: Memory"),
        ("stop_signal = \"SIGINT\"", &["stop_signal"], "SIGINT"),
        ("catch_up = \"none\"", &["catch_up"], "never does"),
        (
            "random_delay = \"10m\"",
            &["random_delay"],
            "spread over 10m",
        ),
        (
            "starting_deadline = \"5s\"",
            &["starting_deadline"],
            "every 10s",
        ),
        ("user = \"www-data\"", &["user"], "numeric"),
        ("privileged = true", &["privileged"], "no-new-privileges"),
        (
            "schedule = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"",
            &["schedule"],
            "twice",
        ),
    ];
    for (settings, keys, word) in cases {
        let text = format!("[jobs.x]\nimage = \"a\"\n{settings}\n");
        let text = if settings.contains("schedule") {
            text
        } else {
            text.replace("[jobs.x]\n", "[jobs.x]\nschedule = \"0 4 * * *\"\n")
        };
        let manifest = run(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<&str> = manifest.warnings.iter().map(|w| w.key).collect();
        assert_eq!(got, keys, "{settings}: {:?}", manifest.warnings);
        for warning in &manifest.warnings {
            assert_eq!(warning.job.as_deref(), Some("x"));
            assert!(
                warning
                    .to_string()
                    .starts_with(&format!("job \"x\": {}: ", warning.key))
            );
        }
        if let Some(first) = manifest.warnings.first() {
            assert!(
                first.message.contains(word),
                "{settings}: {}",
                first.message
            );
        }
    }
}

#[test]
fn daemon_settings_are_warned_about_only_when_written() {
    let text = "[daemon]\nmax_concurrent = 2\nhistory_limit = 50\n[jobs.x]\nschedule = \"@daily\"\nimage = \"a\"\n";
    let quiet = run(text, &[]).expect("export");
    assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
    let keys = ["max_concurrent".to_owned(), "history_limit".to_owned()];
    let loud = run(text, &keys).expect("export");
    let got: Vec<String> = loud.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("[daemon] max_concurrent: 2 caps"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("[daemon] history_limit: each CronJob keeps at most 10"),
        "{got:?}"
    );
    // Below the cap, the limit carries over as it is.
    let small = run(&text.replace("50", "3"), &keys).expect("export");
    let doc = &YamlLoader::load_from_str(&small.yaml).expect("yaml")[0];
    assert_eq!(doc["spec"]["successfulJobsHistoryLimit"], Yaml::Integer(3));
    assert_eq!(small.warnings.len(), 1);
}

#[test]
fn secrets_are_references_with_the_commands_to_create_them() {
    let text = "[jobs.backup_db]\nschedule = \"@daily\"\nimage = \"a\"\nenv_file = \"/etc/cronbox/my env\"\nsecrets = { db_password = \"/etc/cronbox/pw\", token = \"tok\" }\n";
    let manifest = run(text, &[]).expect("export");
    let want = [
        "# Create its Secrets first (cronbox never prints what they hold):",
        "#   kubectl create secret generic backup-db-env -n batch --from-env-file='/etc/cronbox/my env'",
        "#   kubectl create secret generic backup-db-files -n batch --from-file=db_password=/etc/cronbox/pw --from-file=token=/etc/cronbox/tok",
    ];
    for line in want {
        assert!(
            manifest.yaml.lines().any(|l| l == line),
            "{line}\n{}",
            manifest.yaml
        );
    }
    let doc = &YamlLoader::load_from_str(&manifest.yaml).expect("yaml")[0];
    assert_eq!(doc["metadata"]["name"], s("backup-db"));
    assert_eq!(doc["metadata"]["labels"]["cronbox/job"], s("backup_db"));
}

#[test]
fn names_that_collide_and_schedules_without_equivalent_are_refused_together() {
    let text = "[jobs.a_b]\nschedule = \"@daily\"\nimage = \"a\"\n[jobs.a-b]\nschedule = \"@daily\"\nimage = \"a\"\n[jobs.c]\nschedule = \"@every 7m\"\nimage = \"a\"\n";
    let err = run(text, &[]).expect_err("refused");
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].contains("job \"a-b\" and job \"a_b\" would all be the CronJob \"a-b\""),
        "{err}"
    );
    assert!(
        err.problems[1].starts_with("job \"c\": schedule: @every 7m:"),
        "{err}"
    );
}

#[test]
fn an_invalid_namespace_is_refused() {
    let config = config("[jobs.x]\nschedule = \"@daily\"\nimage = \"a\"\n");
    let jobs: Vec<&Job> = config.jobs.iter().map(|j| &**j).collect();
    let options = Options {
        namespace: Some("Not_Valid"),
        now: now(),
        daemon_keys: &[],
        paused: &[],
    };
    let err = export(&config, &jobs, &options).expect_err("refused");
    assert!(err.problems[0].contains("namespace \"Not_Valid\""), "{err}");
}

#[test]
fn an_indexed_job_maps_to_an_indexed_kubernetes_job() {
    let (doc, _) = cronjob_of(
        "completions = 10\nparallelism = 3\nmax_failed_indexes = 2\nretries = 4\nfatal_exit_codes = [9]",
    );
    let spec = at(&doc, "spec.jobTemplate.spec");
    assert_eq!(spec["completionMode"], s("Indexed"));
    assert_eq!(spec["completions"], Yaml::Integer(10));
    assert_eq!(spec["parallelism"], Yaml::Integer(3));
    assert_eq!(spec["backoffLimitPerIndex"], Yaml::Integer(4));
    assert_eq!(spec["maxFailedIndexes"], Yaml::Integer(2));
    assert!(
        spec["backoffLimit"].is_badvalue(),
        "Kubernetes counts retries per index instead: {spec:?}"
    );
    assert_eq!(
        at(
            &doc,
            "spec.jobTemplate.spec.podFailurePolicy.rules.0.action"
        ),
        &s("FailIndex")
    );
    let env = at(&doc, "~.env");
    assert_eq!(env[0]["name"], s("CRONBOX_INDEX"));
    assert_eq!(
        env[0]["valueFrom"]["fieldRef"]["fieldPath"],
        s("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );
    assert_eq!(
        env[1],
        YamlLoader::load_from_str("{name: CRONBOX_COMPLETIONS, value: '10'}").expect("yaml")[0]
    );
    // Without max_failed_indexes, no maxFailedIndexes; a plain job keeps backoffLimit.
    let (doc, _) = cronjob_of("completions = 2");
    assert!(at(&doc, "spec.jobTemplate.spec.maxFailedIndexes").is_badvalue());
    let (plain, _) = cronjob_of("retries = 4");
    assert_eq!(
        at(&plain, "spec.jobTemplate.spec.backoffLimit"),
        &Yaml::Integer(4)
    );
    assert!(at(&plain, "spec.jobTemplate.spec.completionMode").is_badvalue());
    assert!(at(&plain, "~.env").is_badvalue());
}

#[test]
fn a_paused_job_is_suspended_and_the_others_are_not() {
    let config = config(
        "[jobs.idle]\nschedule = \"@daily\"\nimage = \"a\"\n[jobs.busy]\nschedule = \"@daily\"\nimage = \"a\"\n",
    );
    let jobs: Vec<&Job> = config.jobs.iter().map(|j| &**j).collect();
    let paused = ["idle".to_owned()];
    let options = Options {
        namespace: None,
        now: now(),
        daemon_keys: &[],
        paused: &paused,
    };
    let manifest = export(&config, &jobs, &options).expect("export");
    let docs = YamlLoader::load_from_str(&manifest.yaml).expect("yaml");
    let suspend: Vec<(Yaml, Yaml)> = docs
        .iter()
        .map(|d| (d["metadata"]["name"].clone(), d["spec"]["suspend"].clone()))
        .collect();
    assert_eq!(
        suspend,
        [
            (s("busy"), Yaml::Boolean(false)),
            (s("idle"), Yaml::Boolean(true))
        ]
    );
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
}

const CHANNELS: &str = "[notify.ops]\nkind = \"webhook\"\nurl = \"https://hooks.example.org/T0/secret-token\"\n[notify.hc]\nkind = \"healthchecks\"\nurl = \"https://hc-ping.com/\"\n";

/// (the job's settings, the keys warned about in order, words of those warnings)
#[test]
fn notifications_dead_man_alerts_and_pings_are_warned_about_with_advice() {
    let cases: [(&str, &[&str], &[&str]); 7] = [
        // Without channels, notify_on and notify_cooldown change nothing.
        (
            "notify_on = [\"success\"]\nnotify_cooldown = \"5m\"",
            &[],
            &[],
        ),
        (
            "notify = [\"ops\"]",
            &["notify"],
            &["channels \"ops\" are not told", "kube_job_status_failed"],
        ),
        (
            "notify = [\"ops\"]\nnotify_on = [\"failure\", \"recovery\"]\nnotify_cooldown = \"1h\"",
            &["notify"],
            &["Alertmanager"],
        ),
        (
            "notify = [\"ops\"]\nnotify_on = [\"failure\", \"missed\"]",
            &["notify", "notify_on"],
            &["\"failure\", \"missed\" are sent nowhere"],
        ),
        (
            "notify = [\"ops\"]\nnotify_cooldown = \"5m\"",
            &["notify", "notify_cooldown"],
            &["repeat_interval"],
        ),
        (
            "expect_success_within = \"26h\"",
            &["expect_success_within"],
            &["time() - kube_cronjob_status_last_successful_time{cronjob=\"x\"} > 93600"],
        ),
        (
            "healthchecks = { channel = \"hc\", check = \"5f1c9a3e-7d2b-4c6e-9f0a-1b2c3d4e5f60\" }",
            &["healthchecks"],
            &["channel \"hc\" is not pinged"],
        ),
    ];
    for (settings, keys, words) in cases {
        let text =
            format!("{CHANNELS}[jobs.x]\nschedule = \"0 4 * * *\"\nimage = \"a\"\n{settings}\n");
        let manifest = run(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<&str> = manifest.warnings.iter().map(|w| w.key).collect();
        assert_eq!(got, keys, "{settings}: {:?}", manifest.warnings);
        let said: Vec<String> = manifest.warnings.iter().map(ToString::to_string).collect();
        let said = said.join("\n");
        for word in words {
            assert!(said.contains(word), "{settings}: {word:?} not in {said}");
        }
        // Neither the channel's URL nor the check's id is ever shown.
        for secret in ["secret-token", "5f1c9a3e"] {
            assert!(!said.contains(secret) && !manifest.yaml.contains(secret));
        }
        assert!(manifest.warnings.iter().all(|w| {
            w.to_string()
                .starts_with(&format!("job \"x\": {}: ", w.key))
        }));
    }
}

#[test]
fn registry_auth_becomes_an_image_pull_secret_with_the_command_to_make_it() {
    let text = "[daemon]\nregistry_auth = \"/etc/cronbox/docker config.json\"\nheartbeat = { channel = \"hc\", check = \"c0ffee-check\", every = \"5m\" }\n[notify.hc]\nkind = \"healthchecks\"\nurl = \"https://hc-ping.com/\"\n[jobs.x]\nschedule = \"@daily\"\nimage = \"registry.example.org/x:1\"\n";
    // Not written in the file (as if by default): nothing of it.
    let quiet = run(text, &[]).expect("export");
    assert!(!quiet.yaml.contains("imagePullSecrets"), "{}", quiet.yaml);
    assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
    let keys = ["registry_auth".to_owned(), "heartbeat".to_owned()];
    let manifest = run(text, &keys).expect("export");
    let doc = &YamlLoader::load_from_str(&manifest.yaml).expect("yaml")[0];
    assert_eq!(
        at(doc, "@.imagePullSecrets"),
        &YamlLoader::load_from_str("[{name: cronbox-registry}]").expect("yaml")[0]
    );
    let command = "#   kubectl create secret docker-registry cronbox-registry -n batch --from-file=.dockerconfigjson='/etc/cronbox/docker config.json'";
    assert!(
        manifest.yaml.lines().any(|l| l == command),
        "{}",
        manifest.yaml
    );
    let said: Vec<String> = manifest.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].starts_with(
            "[daemon] registry_auth: Kubernetes pulls from private registries with imagePullSecrets: each pod names the Secret \"cronbox-registry\""
        ),
        "{said:?}"
    );
    assert!(said[1].starts_with("[daemon] heartbeat: "), "{said:?}");
    assert!(!said.join("\n").contains("c0ffee") && !manifest.yaml.contains("c0ffee"));
}
