//! `[notify.NAME]` channels and the jobs' `notify`, `notify_on` and
//! `notify_cooldown`: values accepted, defaults, and each refusal at its line
//! and column with its job; a URL (a token) never in a message or `Debug`.

use std::path::Path;
use std::time::Duration;

use super::tests::{check_problems, parse_err, parse_ok};
use super::{UrlSource, WebhookFormat};

const JOB: &str = "[jobs.a]\nschedule = \"@daily\"\nimage = \"x\"\n";

#[test]
fn channels_and_job_settings_are_read_with_their_defaults() {
    let config = parse_ok(&format!(
        "[notify.ops]\nkind = \"webhook\"\nurl_file = \"ops.url\"\n\
         [notify.chat]\nkind = \"webhook\"\nurl = \"https://hooks.example.org/T/B?token=abc\"\nformat = \"slack\"\nheaders = {{ Authorization = \"Bearer xyz\" }}\ntimeout = \"3s\"\n\
         {JOB}notify = [\"ops\", \"chat\"]\n[jobs.b]\nschedule = \"@daily\"\nimage = \"x\"\n"
    ));
    let [chat, ops] = [&config.channels[0], &config.channels[1]];
    assert_eq!(ops.name, "ops");
    assert_eq!(
        ops.url,
        Some(UrlSource::File(
            Path::new("/etc/cronbox/ops.url").to_path_buf()
        ))
    );
    assert_eq!(ops.format, WebhookFormat::Json);
    assert_eq!(ops.timeout, Duration::from_secs(10));
    assert!(ops.headers.is_empty());
    assert_eq!(chat.format, WebhookFormat::Slack);
    assert_eq!(chat.timeout, Duration::from_secs(3));
    let shown = format!("{chat:?}");
    assert!(
        !shown.contains("token=abc") && !shown.contains("xyz"),
        "{shown}"
    );
    let (a, b) = (&config.jobs[0], &config.jobs[1]);
    assert_eq!(a.notify, ["ops", "chat"]);
    assert_eq!(a.notify_on, ["failure", "recovery"]);
    assert_eq!(a.notify_cooldown, Duration::from_secs(3600));
    assert!(b.notify.is_empty(), "no channel unless asked");
}

#[test]
fn defaults_give_every_job_its_channels() {
    let config = parse_ok(&format!(
        "[notify.ops]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n\
         [defaults]\nnotify = [\"ops\"]\nnotify_on = [\"failure\", \"missed\"]\nnotify_cooldown = \"1s\"\n{JOB}"
    ));
    let job = &config.jobs[0];
    assert_eq!(job.notify, ["ops"]);
    assert_eq!(job.notify_on, ["failure", "missed"]);
    assert_eq!(job.notify_cooldown, Duration::from_secs(1));
}

#[test]
fn bad_channels_and_bad_references_are_refused_at_their_place() {
    let ops = "[notify.ops]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n";
    check_problems(
        "an unknown channel",
        &format!("{ops}{JOB}notify = [\"opz\"]\n"),
        &[(
            7,
            11,
            Some("a"),
            &[
                "unknown notification channel \"opz\"",
                "did you mean \"ops\"?",
            ],
        )],
    );
    check_problems(
        "no channel at all",
        &format!("{JOB}notify = [\"ops\"]\n"),
        &[(
            4,
            11,
            Some("a"),
            &["unknown notification channel \"ops\"", "[notify.ops]"],
        )],
    );
    check_problems(
        "an unknown event",
        &format!("{ops}{JOB}notify_on = [\"failure\", \"failed\"]\n"),
        &[(
            7,
            25,
            Some("a"),
            &["unknown event \"failed\"", "known: failure, recovery"],
        )],
    );
    check_problems(
        "a channel named twice",
        &format!("{ops}{JOB}notify = [\"ops\", \"ops\"]\n"),
        &[(7, 18, Some("a"), &["lists \"ops\" twice"])],
    );
    check_problems(
        "an unknown kind",
        "[notify.x]\nkind = \"pager\"\nurl = \"http://h/\"\n",
        &[(2, 8, None, &["unknown channel kind \"pager\"", "webhook"])],
    );
    check_problems(
        "no kind, no url",
        "[notify.x]\nformat = \"json\"\n",
        &[
            (
                1,
                9,
                None,
                &["[notify.x] has no kind", "kind = \"webhook\""],
            ),
            (1, 9, None, &["[notify.x] has no url", "url_file"]),
        ],
    );
    check_problems(
        "both url and url_file",
        "[notify.x]\nkind = \"webhook\"\nurl = \"http://h/\"\nurl_file = \"u\"\n",
        &[(3, 7, None, &["sets both url and url_file"])],
    );
    check_problems(
        "an unknown key",
        "[notify.x]\nkind = \"webhook\"\nurl = \"http://h/\"\nformt = \"json\"\n",
        &[(
            4,
            1,
            None,
            &[
                "unknown key \"formt\" in [notify.x]",
                "did you mean \"format\"?",
            ],
        )],
    );
    check_problems(
        "an unknown format",
        "[notify.x]\nkind = \"webhook\"\nurl = \"http://h/\"\nformat = \"teams\"\n",
        &[(4, 10, None, &["\"teams\"", "slack"])],
    );
}

#[test]
fn a_bad_url_is_refused_without_showing_it() {
    for (url, why) in [
        ("ftp://h.example.org/s3cret", "is not http or https"),
        ("not a url s3cret", "not a URL"),
        ("mailto:ops@s3cret.example.org", "is not http or https"),
    ] {
        let text = format!("[notify.x]\nkind = \"webhook\"\nurl = \"{url}\"\n");
        let err = parse_err(&text);
        let message = err.to_string();
        assert!(message.contains(why), "{url}: {message}");
        assert!(
            !message.contains("s3cret"),
            "{url}: the URL is shown: {message}"
        );
        assert_eq!(
            err.problems[0].location.map(|l| l.line),
            Some(3),
            "{message}"
        );
    }
}

#[test]
fn a_job_pings_a_healthchecks_channel_and_only_such_a_channel() {
    let hc = "[notify.hc]\nkind = \"healthchecks\"\nurl = \"https://hc-ping.com/\"\n";
    let config = parse_ok(&format!(
        "{hc}{JOB}healthchecks = {{ channel = \"hc\", check = \"5f1c-uuid\" }}\n"
    ));
    let ping = config.jobs[0].healthchecks.as_ref().expect("a ping");
    assert_eq!(
        (ping.channel.as_str(), ping.check.as_str()),
        ("hc", "5f1c-uuid")
    );
    assert_eq!(config.channels[0].kind, super::ChannelKind::Healthchecks);
    let ops = "[notify.ops]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n";
    check_problems(
        "a webhook channel for pings",
        &format!("{hc}{ops}{JOB}healthchecks = {{ channel = \"ops\", check = \"x\" }}\n"),
        &[(
            10,
            28,
            Some("a"),
            &["\"ops\" is not a channel of kind \"healthchecks\""],
        )],
    );
    check_problems(
        "a healthchecks channel for messages",
        &format!("{hc}{JOB}notify = [\"hc\"]\n"),
        &[(
            7,
            11,
            Some("a"),
            &["\"hc\" is a healthchecks channel", "healthchecks = {"],
        )],
    );
    check_problems(
        "a check with a slash",
        &format!("{hc}{JOB}healthchecks = {{ channel = \"hc\", check = \"a/b\" }}\n"),
        &[(7, 42, Some("a"), &["UUID or slug"])],
    );
    check_problems(
        "no check",
        &format!("{hc}{JOB}healthchecks = {{ channel = \"hc\" }}\n"),
        &[(7, 16, Some("a"), &["check is missing"])],
    );
}

#[test]
fn the_output_tail_of_messages_is_the_channels_to_choose() {
    let config = parse_ok(
        "[notify.ops]\nkind = \"webhook\"\nurl = \"http://h/\"\n\
         [notify.short]\nkind = \"webhook\"\nurl = \"http://h/\"\ntail_lines = 3\ntail_size = \"1KiB\"\n",
    );
    let [ops, short] = [&config.channels[0], &config.channels[1]];
    assert_eq!(
        ops.tail,
        super::Tail {
            lines: 20,
            bytes: 4096
        }
    );
    assert_eq!(
        short.tail,
        super::Tail {
            lines: 3,
            bytes: 1024
        }
    );
    check_problems(
        "too many lines",
        "[notify.x]\nkind = \"webhook\"\nurl = \"http://h/\"\ntail_lines = 5000\n",
        &[(4, 14, None, &["tail_lines", "1000"])],
    );
    check_problems(
        "too large",
        "[notify.x]\nkind = \"webhook\"\nurl = \"http://h/\"\ntail_size = \"1MiB\"\n",
        &[(4, 13, None, &["tail_size", "64KiB"])],
    );
}

#[test]
fn the_daemon_heartbeat_pings_a_healthchecks_channel_at_least_every_minute() {
    let hc = "[notify.hc]\nkind = \"healthchecks\"\nurl = \"https://hc-ping.com/\"\n";
    let config = parse_ok(&format!(
        "[daemon]\nheartbeat = {{ channel = \"hc\", check = \"b-1\", every = \"5m\" }}\n{hc}"
    ));
    assert_eq!(
        config.daemon.heartbeat,
        Some(super::Heartbeat {
            channel: "hc".into(),
            check: "b-1".into(),
            every: Duration::from_secs(300),
        })
    );
    let ops = "[notify.ops]\nkind = \"webhook\"\nurl = \"http://h/\"\n";
    check_problems(
        "a webhook channel",
        &format!(
            "[daemon]\nheartbeat = {{ channel = \"ops\", check = \"b\", every = \"5m\" }}\n{ops}"
        ),
        &[(
            2,
            25,
            None,
            &["heartbeat.channel \"ops\" is not a channel of kind \"healthchecks\""],
        )],
    );
    check_problems(
        "too often",
        &format!(
            "[daemon]\nheartbeat = {{ channel = \"hc\", check = \"b\", every = \"30s\" }}\n{hc}"
        ),
        &[(2, 52, None, &["shorter than a minute", "\"1m\""])],
    );
    check_problems(
        "no period",
        &format!("[daemon]\nheartbeat = {{ channel = \"hc\", check = \"b\" }}\n{hc}"),
        &[(2, 13, None, &["every is missing"])],
    );
}

#[test]
fn a_channel_its_checked_values_do_not_make_is_reported_not_left_out() {
    use super::checker::Checker;
    use super::error::{Lines, Location};
    let text = "[notify.ops]\nkind = \"webhook\"\n";
    let mut checker = Checker::new(Lines::new(text), Path::new("/etc/cronbox/cronbox.toml"));
    let key = toml::Spanned::new(8..11, std::borrow::Cow::Borrowed("ops"));
    assert_eq!(checker.built(None, &key, "[notify.ops]"), None);
    let [problem] = checker.problems.as_slice() else {
        panic!("one problem expected: {:?}", checker.problems);
    };
    assert_eq!(problem.location, Some(Location { line: 1, column: 9 }));
    assert!(
        problem
            .message
            .starts_with("[notify.ops] could not be set up from its values"),
        "{}",
        problem.message
    );
    assert_eq!(checker.reported, 1);
}

/// `cronbox check`'s whole report of `text` (messages and snippets), which must
/// name a problem and never show "hunter2".
fn report_hides_hunter2(text: &str) -> String {
    let report = parse_err(text).to_string();
    assert!(!report.is_empty(), "a problem in:\n{text}");
    assert!(!report.contains("hunter2"), "a secret is shown:\n{report}");
    report
}

#[test]
fn header_values_are_hidden_in_messages_and_snippets() {
    let ops = "[notify.ops]\nkind = \"webhook\"\nurl = \"https://hooks.example.org/\"\n";
    // Messages about the values.
    for (headers, why) in [
        (
            "headers = { Authorization = 31337 }",
            "headers.Authorization must be a string, found an integer",
        ),
        (
            "headers = { Authorization = [\"Bearer hunter2\"] }",
            "found an array",
        ),
        (
            "headers = \"Authorization: Bearer hunter2\"",
            "headers must be a table of strings such as { Authorization",
        ),
        (
            "headers = { \"Auth=orization\" = \"Bearer hunter2\" }",
            "invalid header name \"Auth=orization\" in headers",
        ),
    ] {
        let report = report_hides_hunter2(&format!("{ops}{headers}\n"));
        assert!(report.contains(why), "{headers}: {report}");
        assert!(!report.contains("31337"), "{report}");
    }
    // Snippets of syntax errors near them.
    for text in [
        format!("{ops}headers = {{ Authorization = \"Bearer hunter2\"\n"),
        format!("{ops}headers = {{ Authorization = \"Bearer hunter2 }}\n"),
        format!("{ops}timeout = [\"1s\"\nheaders = {{ Authorization = \"Bearer hunter2\" }}\n"),
        format!(
            "{ops}timeout = [\"1s\"\n[notify.ops.headers]\nAuthorization = \"Bearer hunter2\"\n"
        ),
        format!("{ops}headers = {{ Authorization = \"Bearer hunter2\" }} }}\n"),
    ] {
        report_hides_hunter2(&text);
    }
}

#[test]
fn smtp_passwords_are_hidden_in_messages_and_snippets() {
    let mail = |smtp: &str| {
        format!(
            "[notify.mail]\nkind = \"email\"\n{smtp}\nfrom = \"cronbox@nuc.example.org\"\nto = [\"ops@example.org\"]\n"
        )
    };
    // Messages: URLs refused for their credentials or for another reason.
    for (smtp, why) in [
        (
            "smtp = \"smtp://cronbox:hunter2@mail.example.org\"",
            "holds credentials",
        ),
        (
            "smtp = \"smtps://cronbox:hunter2@mail.example.org:465\"",
            "holds credentials",
        ),
        (
            "smtp = \"smtp://:hunter2@mail.example.org\"",
            "holds credentials",
        ),
        (
            "smtp = \"ftp://cronbox:hunter2@mail.example.org\"",
            "is not smtp or smtps",
        ),
        (
            "smtp = \"smtp://cronbox:hunter2@mail.example.org/x\"",
            "smtp",
        ),
        ("smtp = \"cronbox:hunter2 at mail\"", "smtp"),
    ] {
        let report = report_hides_hunter2(&mail(smtp));
        assert!(report.contains(why), "{smtp}: {report}");
    }
    // Snippets of syntax errors on or near the line.
    for smtp in [
        "smtp = \"smtp://cronbox:hunter2@mail.example.org",
        "smtp = \"smtp://cronbox:hunter2@mail.example.org\" x",
        "timeout = [\"1s\"\nsmtp = \"smtp://cronbox:hunter2@mail.example.org\"",
        "smtp = 'smtp://cronbox:hunter2@mail.example.org\"",
    ] {
        report_hides_hunter2(&mail(smtp));
    }
}
