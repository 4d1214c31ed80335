//! Notification mail end to end with real parts: a real SMTP server (Debian's
//! python3-aiosmtpd, run by the test on a loopback port with a small handler
//! that saves each message, with AUTH when asked), the real daemon as a
//! subprocess, the real engine and SQLite. A failing job with retries sends
//! exactly one failure mail, its Message-ID derived from the row's id; a refused
//! login is retried and delivered once the password file is right; the password
//! never reaches the log, the database or an error; smtp:// requires STARTTLS
//! unless the channel turns it off, and verifies the server's certificate
//! (signed by a test authority, trusted through `SSL_CERT_FILE`) before it logs
//! in; `check` reports a missing password_file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::subprocess::{cronbox, daemon, kill, one_pending_failure};
use common::{TestEnv, wait_for_sql};

const PASSWORD: &str = "pa55-Secr3t-smtp";
const WRONG: &str = "wr0ng-Secr3t-smtp";

/// The SMTP server: saves each message as DIR/N.eml, the envelope's recipients
/// first (`X-Rcpt-To:`), then the message as received. With a user and a
/// password, AUTH (PLAIN or LOGIN, over plain text) is required.
const SERVER: &str = r#"
import os, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out = int(sys.argv[1]), sys.argv[2]
user = sys.argv[3].encode() if len(sys.argv) > 3 else None
password = sys.argv[4].encode() if len(sys.argv) > 4 else None

class Saver:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Saver.count += 1
        path = os.path.join(out, f"{Saver.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Rcpt-To: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"

def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == user and data.password == password
    return AuthResult(success=ok, handled=False)

options = {}
if user is not None:
    options = dict(authenticator=check, auth_required=True, auth_require_tls=False)
if os.environ.get("TLS_CERT"):
    # STARTTLS offered and required before anything else, AUTH only over TLS.
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
    options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
controller = Controller(Saver(), hostname="127.0.0.1", port=port, **options)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// A running SMTP server, killed when dropped.
struct Smtp {
    child: Child,
    port: u16,
    mails: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's python3 (the one python3-aiosmtpd is installed for), else `python3`.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

impl Smtp {
    /// Start the server on a free loopback port, with AUTH for `login` if given.
    fn start(login: Option<(&str, &str)>) -> Smtp {
        Smtp::start_with(login, None)
    }

    /// [`Smtp::start`], requiring STARTTLS with `tls` (certificate and key
    /// files) if given.
    fn start_with(login: Option<(&str, &str)>, tls: Option<(&Path, &Path)>) -> Smtp {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("smtp.py");
        std::fs::write(&script, SERVER).expect("script");
        let mails = dir.path().join("mails");
        std::fs::create_dir(&mails).expect("mails dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut command = Command::new(python());
        command.arg(&script).arg(port.to_string()).arg(&mails);
        if let Some((user, password)) = login {
            command.args([user, password]);
        }
        if let Some((cert, key)) = tls {
            command.env("TLS_CERT", cert).env("TLS_KEY", key);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let mut ready = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready)
            .expect("read");
        assert_eq!(
            ready.trim(),
            "ready",
            "the SMTP server did not start: install python3-aiosmtpd (scripts/dev.sh test does)"
        );
        Smtp {
            child,
            port,
            mails,
            _dir: dir,
        }
    }

    /// The messages saved so far, in order.
    fn mails(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.mails)
            .expect("mails dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
        });
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("mail"))
            .collect()
    }

    /// Wait (bounded: 3 minutes) for `count` messages.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..1800 {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the SMTP server got {:?}, waited for {count}", self.mails());
    }
}

/// A job that always fails (exit 3, "boom" on stderr) after one retry.
fn failing_job() -> &'static str {
    r#"
[jobs.flaky]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo working; echo boom >&2; exit 3"]
retries = 1
backoff = "1s"
notify = ["mail"]
"#
}

fn mail_channel(port: u16, extra: &str) -> String {
    format!(
        "[notify.mail]\nkind = \"email\"\nsmtp = \"smtp://127.0.0.1:{port}\"\nstarttls = false\nfrom = \"cronbox@nuc.example.org\"\nto = [\"ops@example.org\", \"Two <two@example.org>\"]\ntimeout = \"5s\"\n{extra}"
    )
}

/// A header of `mail` (its first occurrence), unfolded.
fn header(mail: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    let mut lines = mail.split("\r\n");
    let Some(first) = lines.by_ref().find(|l| l.starts_with(&prefix)) else {
        panic!("no {name} in {mail}");
    };
    let mut value = first[prefix.len()..].to_owned();
    for next in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        value.push_str(next);
    }
    value
}

#[tokio::test]
async fn a_failing_job_with_retries_sends_one_failure_mail_after_a_refused_login() {
    let smtp = Smtp::start(Some(("cronbox", PASSWORD)));
    let env = TestEnv::new(&format!(
        "[daemon.http]\nlisten = \"\"\n{}{}",
        mail_channel(
            smtp.port,
            "username = \"cronbox\"\npassword_file = \"smtp.pass\"\n"
        ),
        failing_job()
    ));
    let password_file = env.dir.path().join("smtp.pass");
    std::fs::write(&password_file, format!("{WRONG}\n")).expect("password");
    let log = env.dir.path().join("daemon.log");

    // The first daemon writes the routes; `cronbox run` ends the run failed after
    // its retry, which writes one notification in the same transaction.
    let run = one_pending_failure(&env, &log, "flaky").await;

    // A wrong password: refused, recorded naming the server only.
    let second = daemon(&env, &log);
    wait_for_sql(&env, "SELECT attempts FROM notifications", "1\n").await;
    kill(second);
    let error = env.sql("SELECT last_error FROM notifications");
    assert!(
        error.contains(&format!(
            "channel mail: 127.0.0.1:{} did not take the mail",
            smtp.port
        )),
        "{error}"
    );
    assert!(smtp.mails().is_empty());

    // The right password, read at the next attempt: one mail, once.
    std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("password");
    let third = daemon(&env, &log);
    wait_for_sql(
        &env,
        "SELECT state, attempts FROM notifications",
        "delivered|2\n",
    )
    .await;
    kill(third);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "exactly one failure mail: {mails:?}");
    let mail = &mails[0];
    let id = env.sql("SELECT id FROM notifications");
    assert_eq!(header(mail, "X-Rcpt-To"), "ops@example.org,two@example.org");
    assert_eq!(header(mail, "From"), "cronbox@nuc.example.org");
    assert!(
        header(mail, "Subject").starts_with("cronbox: flaky failed (exit code 3 after 2 attempts)"),
        "{mail}"
    );
    let message_id = header(mail, "Message-ID");
    assert!(
        message_id.starts_with(&format!("<cronbox.{}.", id.trim()))
            && message_id.ends_with("@nuc.example.org>"),
        "the row's id is in the Message-ID: {message_id}"
    );
    assert!(mail.contains("boom") && mail.contains("working"), "{mail}");

    // Neither password is anywhere: log, database, errors.
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("notification delivered"), "{logged}");
    let dump = env.sql(".dump");
    let run_output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    for secret in [PASSWORD, WRONG] {
        assert!(!logged.contains(secret), "a password was logged");
        assert!(!dump.contains(secret), "a password is in the database");
        assert!(!run_output.contains(secret), "a password was shown");
    }
    assert!(env.containers_gone().await);
}

// Multi-threaded: the SMTP server is another process, but the test waits on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_mails_now_starttls_is_required_and_check_reads_password_files() {
    let smtp = Smtp::start(None);
    let env = TestEnv::new(&format!(
        "{}[notify.tls]\nkind = \"email\"\nsmtp = \"smtp://127.0.0.1:{port}\"\nfrom = \"c@nuc.example.org\"\nto = [\"ops@example.org\"]\n\
         [notify.nopass]\nkind = \"email\"\nsmtp = \"smtp://127.0.0.1:{port}\"\nstarttls = false\nfrom = \"c@nuc.example.org\"\nto = [\"ops@example.org\"]\nusername = \"u\"\npassword_file = \"missing.pass\"\n{}",
        mail_channel(smtp.port, ""),
        failing_job(),
        port = smtp.port
    ));

    let sent = cronbox(&env, &["notify", "test", "mail", "--job", "flaky"]);
    let stdout = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(
        stdout,
        format!(
            "test message delivered to channel mail (127.0.0.1:{})\n",
            smtp.port
        )
    );
    let mails = smtp.wait_for(1).await;
    assert!(
        header(&mails[0], "Subject").starts_with("cronbox: flaky test message from cronbox"),
        "{}",
        mails[0]
    );

    // smtp:// without starttls = false: a server without STARTTLS gets nothing.
    let refused = cronbox(&env, &["notify", "test", "tls"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("STARTTLS is not supported") && stderr.contains("starttls = false"),
        "{stderr}"
    );
    assert_eq!(smtp.mails().len(), 1, "no mail in clear text");

    let checked = cronbox(&env, &["check"]);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(":17:9: channel nopass: password_file")
            && stderr.contains("missing.pass does not exist"),
        "{stderr}"
    );
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it
/// (openssl's command line, in `dir`): (CA certificate, server certificate,
/// server key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (scripts/dev.sh test installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=cronbox test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
    )
    .expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

// Multi-threaded: the SMTP server is another process, but the test waits on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_with_starttls_verifies_the_server_and_logs_in_over_tls() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(certs.path());
    let smtp = Smtp::start_with(Some(("cronbox", PASSWORD)), Some((&cert, &key)));
    let env = TestEnv::new(&format!(
        "[notify.mail]\nkind = \"email\"\nsmtp = \"smtp://127.0.0.1:{}\"\nfrom = \"cronbox@nuc.example.org\"\nto = [\"ops@example.org\"]\nusername = \"cronbox\"\npassword_file = \"smtp.pass\"\ntimeout = \"5s\"\n{}",
        smtp.port,
        failing_job()
    ));
    std::fs::write(env.dir.path().join("smtp.pass"), format!("{PASSWORD}\n")).expect("pass");
    let send = |trusted: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cronbox"));
        command
            .args(["notify", "test", "mail", "--config"])
            .arg(&env.config_path)
            .env("CRONBOX_LOG", "trace");
        if let Some(ca) = trusted {
            // The platform's verifier reads the trusted certificates from here.
            command.env("SSL_CERT_FILE", ca);
        }
        command.output().expect("cronbox")
    };

    // The server's certificate is signed by an authority the box does not trust.
    let refused = send(None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("channel mail")
            && stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "the password was shown");
    assert!(
        smtp.mails().is_empty(),
        "nothing sent to an unverified server"
    );

    // Trusted: STARTTLS, then the login over TLS, then the mail.
    let sent = send(Some(&ca));
    let stdout = String::from_utf8_lossy(&sent.stdout);
    let stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(sent.status.success(), "{stdout}{stderr}");
    assert!(!stderr.contains(PASSWORD), "the password was logged");
    let mails = smtp.wait_for(1).await;
    assert!(
        header(&mails[0], "Subject").starts_with("cronbox: "),
        "{}",
        mails[0]
    );
}
