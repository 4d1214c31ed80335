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
        "line 1: MAILTO: cron mails each job's output; cronbox has no mail",
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
