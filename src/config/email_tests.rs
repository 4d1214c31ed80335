//! `[notify.NAME]` channels of `kind = "email"`: the server URL and its TLS,
//! sender, recipients and login read with their defaults; every refusal at its
//! line and column (a missing key, a key of the other kinds, a bad address, a
//! URL with credentials, a login without its password file).

use std::path::PathBuf;

use super::tests::{check_problems, parse_ok};
use super::{ChannelKind, SmtpSecurity};

const JOB: &str = "[jobs.a]\nschedule = \"@daily\"\nimage = \"x\"\nnotify = [\"mail\"]\n";

fn mail(smtp: &str, extra: &str) -> String {
    format!(
        "[notify.mail]\nkind = \"email\"\nsmtp = \"{smtp}\"\nfrom = \"cronbox@nuc.example.org\"\nto = [\"ops@example.org\", \"Ops Two <two@example.org>\"]\n{extra}"
    )
}

#[test]
fn email_channels_are_read_with_their_tls_and_ports() {
    let cases = [
        ("smtp://mail.example.org", "", SmtpSecurity::StartTls, 587),
        ("smtp://mail.example.org:25", "", SmtpSecurity::StartTls, 25),
        ("smtps://mail.example.org", "", SmtpSecurity::Tls, 465),
        (
            "smtp://mail.example.org:2525",
            "starttls = false\n",
            SmtpSecurity::Plain,
            2525,
        ),
    ];
    for (smtp, extra, security, port) in cases {
        let config = parse_ok(&format!("{}{JOB}", mail(smtp, extra)));
        let channel = &config.channels[0];
        assert_eq!(channel.kind, ChannelKind::Email, "{smtp}");
        assert_eq!(channel.url, None);
        let email = channel.email.as_ref().expect("email settings");
        assert_eq!(email.host, "mail.example.org");
        assert_eq!((email.security, email.port), (security, port), "{smtp}");
        assert_eq!(email.from, "cronbox@nuc.example.org");
        assert_eq!(email.to, ["ops@example.org", "Ops Two <two@example.org>"]);
        assert_eq!(email.login, None);
        assert_eq!(config.jobs[0].notify, ["mail"]);
    }
    let config = parse_ok(&mail(
        "smtp://mail.example.org",
        "username = \"cronbox\"\npassword_file = \"smtp.pass\"\n",
    ));
    let email = config.channels[0].email.as_ref().expect("email settings");
    assert_eq!(
        email.login,
        Some((
            "cronbox".to_owned(),
            PathBuf::from("/etc/cronbox/smtp.pass")
        ))
    );
}

#[test]
fn bad_email_channels_are_refused_at_their_place() {
    check_problems(
        "no smtp, from, to",
        "[notify.mail]\nkind = \"email\"\n",
        &[
            (1, 9, None, &["without smtp", "smtp = \"smtp://"]),
            (1, 9, None, &["without from"]),
            (1, 9, None, &["without to", "to = [\"ops@example.org\"]"]),
        ],
    );
    check_problems(
        "a url on an email channel",
        &mail("smtp://h", "url = \"http://h/\"\n"),
        &[(6, 7, None, &["url is not used by an email channel"])],
    );
    check_problems(
        "an email key on a webhook",
        "[notify.ops]\nkind = \"webhook\"\nurl = \"http://h/\"\nto = [\"ops@example.org\"]\n",
        &[(
            4,
            6,
            None,
            &["to is for channels of kind = \"email\"", "[notify.ops]"],
        )],
    );
    check_problems(
        "another scheme",
        &mail("https://mail.example.org", ""),
        &[(3, 8, None, &["is not smtp or smtps"])],
    );
    check_problems(
        "credentials in the URL",
        &mail("smtp://cronbox:pw5ecret@mail.example.org", ""),
        &[(3, 8, None, &["holds credentials", "password_file"])],
    );
    let err = super::tests::parse_err(&mail("smtp://cronbox:pw5ecret@mail.example.org", ""));
    assert!(
        !err.to_string().contains("pw5ecret"),
        "the password is shown: {err}"
    );
    check_problems(
        "a bad sender",
        "[notify.mail]\nkind = \"email\"\nsmtp = \"smtp://h\"\nfrom = \"nobody\"\nto = [\"ops@example.org\"]\n",
        &[(4, 8, None, &["bad from \"nobody\"", "not a mail address"])],
    );
    check_problems(
        "a bad and a repeated recipient",
        "[notify.mail]\nkind = \"email\"\nsmtp = \"smtp://h\"\nfrom = \"c@example.org\"\nto = [\"a@example.org\", \"b\", \"a@example.org\"]\n",
        &[
            (5, 24, None, &["bad to[1] \"b\""]),
            (5, 29, None, &["lists \"a@example.org\" twice"]),
        ],
    );
    check_problems(
        "no recipient",
        "[notify.mail]\nkind = \"email\"\nsmtp = \"smtp://h\"\nfrom = \"c@example.org\"\nto = []\n",
        &[(5, 6, None, &["to must not be empty"])],
    );
    check_problems(
        "a user without a password",
        &mail("smtp://h", "username = \"cronbox\"\n"),
        &[(6, 12, None, &["username without password_file"])],
    );
    check_problems(
        "a password without a user",
        &mail("smtp://h", "password_file = \"p\"\n"),
        &[(6, 17, None, &["password_file without username"])],
    );
}
