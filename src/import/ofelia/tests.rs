//! Ofelia sections and keys: what each becomes, and the lines reported.

use super::*;
use crate::import::draft::assert_valid as valid;

/// The `[jobs.x]` table imported from a `[job-run "x"]` with `keys`.
fn job_of(keys: &str) -> (String, Vec<String>) {
    let text = format!("[job-run \"x\"]\nschedule = @daily\nimage = alpine\n{keys}\n");
    let imported = import(&text, "ofelia.ini");
    valid(&imported.toml);
    let table = imported
        .toml
        .split("[jobs.x]\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let skipped = imported.skipped.iter().map(ToString::to_string).collect();
    (table, skipped)
}

#[test]
fn each_key_becomes_its_setting() {
    let cases = [
        ("", "concurrency = \"allow\"\npull = \"always\"\n"),
        ("no-overlap = true", "concurrency = \"forbid\""),
        ("no-overlap = false", "concurrency = \"allow\""),
        ("pull = false", "pull = \"missing\""),
        ("pull = true", "pull = \"always\""),
        (
            "command = sh -c 'echo $HOME | wc'",
            "command = [\"sh\", \"-c\", \"echo $HOME | wc\"]",
        ),
        (
            "entrypoint = /bin/sh -e",
            "entrypoint = [\"/bin/sh\", \"-e\"]",
        ),
        ("user = www-data", "user = \"www-data\""),
        ("network = backend", "network = \"backend\""),
        ("hostname = box", "hostname = \"box\""),
        (
            "volume = /a:/b\nvolume = /c:/d:ro",
            "volumes = [\"/a:/b\", \"/c:/d:ro\"]",
        ),
        (
            "environment = A=1\nenv = B=x=y",
            "env = { A = \"1\", B = \"x=y\" }",
        ),
        ("max-runtime = 90m", "timeout = \"1h 30m\""),
        ("delete = true\ntty = false", "pull = \"always\""),
        ("schedule = 0 */5 * * * *", "schedule = \"*/5 * * * *\""),
        (
            "schedule = CRON_TZ=Europe/Paris 0 0 3 * * *",
            "timezone = \"Europe/Paris\"",
        ),
        ("schedule = @every 1m30s", "schedule = \"@every 1m 30s\""),
    ];
    for (keys, want) in cases {
        let (table, skipped) = job_of(keys);
        assert!(table.contains(want), "{keys:?}: want {want:?} in\n{table}");
        assert!(skipped.is_empty(), "{keys:?}: {skipped:?}");
    }
}

#[test]
fn keys_that_do_not_carry_over_are_listed_at_their_line() {
    let cases = [
        ("delete = false", "line 4: delete: cronbox always removes"),
        (
            "tty = true",
            "line 4: tty: cronbox runs containers without a terminal",
        ),
        (
            "volume = data:/data",
            "line 4: volume: \"data\" is a Docker named volume",
        ),
        (
            "environment = SECRET",
            "line 4: environment: the variable \"SECRET\"",
        ),
        ("history-limit = 5", "line 4: history-limit: Ofelia keeps"),
        (
            "volumes-from = db",
            "line 4: volumes-from: cronbox mounts host paths only",
        ),
        (
            "mail-only-on-error = true",
            "line 4: mail-only-on-error: Ofelia's notification settings are not imported (they hold credentials): in cronbox that is a [notify.NAME] channel with kind = \"email\" (smtp, from, to, username, password_file), which jobs name in notify = [\"NAME\"]; a channel is told of the events the job's notify_on names",
        ),
        (
            "slack-webhook = https://hooks.slack.com/services/T0/B0/x",
            "line 4: slack-webhook: Ofelia's notification settings are not imported (they hold credentials): in cronbox that is a [notify.NAME] channel with kind = \"webhook\", format = \"slack\" and the webhook URL in url_file, which jobs name in notify = [\"NAME\"]; write it by hand",
        ),
        (
            "save-folder = /var/log/ofelia",
            "line 4: save-folder: Ofelia's saved reports are not imported: cronbox keeps every run's output",
        ),
        (
            "memory = 1g",
            "line 4: memory: not a job-run setting the import knows",
        ),
        (
            "no-overlap = maybe",
            "line 4: no-overlap: \"maybe\" is not true or false",
        ),
        ("user = ", "line 4: user: "),
    ];
    for (keys, want) in cases {
        let (_, skipped) = job_of(keys);
        assert_eq!(skipped.len(), 1, "{keys:?}: {skipped:?}");
        assert!(skipped[0].starts_with(want), "{keys:?}: {skipped:?}");
    }
}

#[test]
fn sections_that_cannot_be_jobs_are_named_with_their_lines() {
    let text = "[global]\nsmtp-host = mail\n[job-exec \"e\"]\nschedule = @daily\ncontainer = web\ncommand = x\n[job-local \"l\"]\ncommand = x\n[job-service-run \"s\"]\nimage = a\n[job-run \"c\"]\nschedule = @daily\ncontainer = db\n[job-run \"sec\"]\nschedule = 15 * * * * *\nimage = a\n[job-run \"none\"]\nimage = a\n";
    let imported = import(text, "ofelia.ini");
    assert_eq!(imported.jobs, 0);
    let got: Vec<String> = imported.skipped.iter().map(ToString::to_string).collect();
    let want = [
        "line 2: [global] smtp-host: Ofelia's notification settings are not imported (they hold credentials): in cronbox that is a [notify.NAME] channel with kind = \"email\"",
        "line 3: [job-exec \"e\"] (lines 3-6): it runs a command in a running container",
        "line 7: [job-local \"l\"] (lines 7-8): it runs a command on Ofelia's host",
        "line 9: [job-service-run \"s\"] (lines 9-10): it runs a Docker Swarm service",
        "line 11: [job-run \"c\"] (lines 11-13): it starts the existing container \"db\"",
        "line 14: [job-run \"sec\"] (lines 14-16): its schedule \"15 * * * * *\": fires at second 15",
        "line 17: [job-run \"none\"] (lines 17-18): it has no (usable) schedule",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (got, want) in got.iter().zip(want) {
        assert!(got.starts_with(want), "{got}\nwant {want}");
    }
}

#[test]
fn names_are_made_valid_and_unique() {
    let text = "[job-run \"Nightly Backup\"]\nschedule = @daily\nimage = a\n[job-run \"nightly-backup\"]\nschedule = @daily\nimage = a\n";
    let imported = import(text, "ofelia.ini");
    valid(&imported.toml);
    assert!(imported.toml.contains("[jobs.nightly-backup]\n"));
    assert!(imported.toml.contains("[jobs.nightly-backup-2]\n"));
    assert!(imported.skipped.is_empty());
    assert_eq!(imported.notes.len(), 2, "{:?}", imported.notes);
}
