//! crontab lines: schedules kept, zones from CRON_TZ/TZ, docker run options,
//! and the lines reported.

use super::*;
use crate::import::draft::assert_valid as valid;

#[test]
fn lines_become_jobs_with_their_zone_and_options() {
    let text = "\
# a comment
SHELL=/bin/sh
TOKEN='from cron'
30 2 * * * docker run --rm -e A=1 alpine echo hi
CRON_TZ=Asia/Tokyo
@daily docker run --name nightly -e TOKEN busybox date +\\%F
TZ=UTC
0 0 1 * * root /usr/bin/docker container run --read-only ghcr.io/acme/tool:1
";
    let imported = import(text, "crontab");
    valid(&imported.toml);
    assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
    assert_eq!(imported.jobs, 3);
    let want = [
        "# From line 4 of crontab.\n[jobs.alpine]\nschedule = \"30 2 * * *\"\nimage = \"alpine\"\ncommand = [\"echo\", \"hi\"]\nconcurrency = \"allow\"\nenv = { A = \"1\" }\n",
        "# From line 6 of crontab.\n[jobs.nightly]\nschedule = \"@daily\"\ntimezone = \"Asia/Tokyo\"\nimage = \"busybox\"\ncommand = [\"date\", \"+%F\"]\nconcurrency = \"forbid\"\nenv = { TOKEN = \"from cron\" }\n",
        "# From line 8 of crontab.\n# cron ran it as the host user \"root\".\n[jobs.tool]\nschedule = \"0 0 1 * *\"\ntimezone = \"UTC\"\nimage = \"ghcr.io/acme/tool:1\"\nconcurrency = \"allow\"\nread_only = true\n",
    ];
    for table in want {
        assert!(
            imported.toml.contains(table),
            "{table}\nin\n{}",
            imported.toml
        );
    }
    let notes: Vec<usize> = imported.notes.iter().map(|n| n.line).collect();
    assert_eq!(notes, [2, 3]);
}

#[test]
fn lines_that_cannot_be_imported_are_listed_with_why() {
    let text = "\
MAILTO=ops@example.com
CRON_TZ=Mars/Olympus
@reboot docker run alpine true
*/5 * * * * /usr/local/bin/backup.sh
0 3 * * * docker run alpine sh -c \"echo $HOME\"
0 4 * * * docker run alpine date > /tmp/x
0 5 * * * docker run -d alpine sleep 1
0 6 * * * docker run alpine date +%F
0 7 * * * docker ps
61 * * * * docker run alpine true
0 8 * * * docker run -e UNSET alpine true
0 9 * * *
";
    let imported = import(text, "crontab");
    assert_eq!(imported.jobs, 0, "{}", imported.toml);
    let got: Vec<String> = imported.skipped.iter().map(ToString::to_string).collect();
    let want = [
        "line 1: MAILTO: cron mailed each job's output through this host's mail system; cronbox mails through an SMTP server, on the events a job's notify_on names (failures and recoveries by default): the channel [notify.mail] is written commented out above the jobs; check its smtp and from, uncomment it and add notify = [\"mail\"] to the jobs below (README, \"Notifications\")",
        "line 2: CRON_TZ: \"Mars/Olympus\" is not a time zone",
        "line 3: @reboot runs once",
        "line 4: it runs \"/usr/local/bin/backup.sh\", not `docker run`",
        "line 5: not a single `docker run` command: the expansion '$'",
        "line 6: not a single `docker run` command: the shell operator '>'",
        "line 7: the docker run option -d is not one the import knows",
        "line 8: an unescaped % sends the rest of the line",
        "line 9: it runs docker, but not `docker run`",
        "line 10: job \"alpine\" not imported: schedule: ",
        "line 11: the variable \"UNSET\" takes its value",
        "line 12: a schedule without a command",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (got, want) in got.iter().zip(want) {
        assert!(got.starts_with(want), "{got}\nwant {want}");
    }
    // No variable's value is shown.
    assert!(!got.iter().any(|l| l.contains("ops@example.com")));
}

#[test]
fn mailto_becomes_a_commented_email_channel_that_works_once_uncommented() {
    let text = "\
MAILTO=ops@example.com, dba@example.com
MAILFROM=cron@nuc.example.org
0 1 * * * docker run alpine true
MAILTO=\"\"
0 2 * * * docker run busybox true
MAILTO=night@example.com
0 3 * * * docker run --name late alpine true
MAILTO=ops@example.com,dba@example.com
0 4 * * * docker run --name again alpine true
";
    let imported = import(text, "crontab");
    valid(&imported.toml);
    let skipped: Vec<usize> = imported.skipped.iter().map(|s| s.line).collect();
    assert_eq!(skipped, [1, 6, 8], "{:?}", imported.skipped);
    assert!(imported.skipped[1].reason.contains("[notify.mail-2]"));
    assert!(imported.skipped[2].reason.contains("[notify.mail]"));
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "line 2: MAILFROM: the from of the mail channels written commented out (with MAILTO)",
            "line 4: MAILTO is empty: cron mailed nothing for the jobs below; nothing to import",
        ]
    );
    let channel = "# [notify.mail]\n# kind = \"email\"\n# smtp = \"smtp://127.0.0.1:25\"   # this host's mail server, where cron's mail went\n# starttls = false\n# from = \"cron@nuc.example.org\"\n# to = [\"ops@example.com\", \"dba@example.com\"]\n";
    assert!(imported.toml.contains(channel), "{}", imported.toml);
    assert!(imported.toml.contains("# to = [\"night@example.com\"]\n"));
    // Each job under a MAILTO names its channel; the one under MAILTO="" none.
    let says = |job: &str, channel: Option<&str>| {
        let table = imported.toml.find(&format!("[jobs.{job}]")).expect(job);
        let comments = &imported.toml[..table];
        let comments = &comments[comments.rfind("# From").expect("origin")..];
        match channel {
            Some(c) => assert!(
                comments.contains(&format!("add notify = [\"{c}\"] to be told")),
                "{job}: {comments}"
            ),
            None => assert!(!comments.contains("notify"), "{job}: {comments}"),
        }
    };
    says("alpine", Some("mail"));
    says("busybox", None);
    says("late", Some("mail-2"));
    says("again", Some("mail"));
    // Uncommented as it says, with notify on a job, cronbox accepts it.
    let uncommented: String = imported
        .toml
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with(['[', 'k', 's', 'f', 't']) && !rest.starts_with("To ") =>
            {
                rest.to_owned()
            }
            _ => l.to_owned(),
        })
        .map(|l| {
            if l == "[jobs.alpine]" {
                format!("{l}\nnotify = [\"mail\"]")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        uncommented.contains("\n[notify.mail-2]\nkind = \"email\"\n"),
        "{uncommented}"
    );
    valid(&uncommented);
}
