//! The Debian package (issue 14), installed for real on this machine: built
//! once by `scripts/dev.sh package` (a release build, reused when fresh; the
//! first one takes minutes), checked by lintian (no error), installed with
//! `dpkg -i` (files, conffile, service user, state directory, enabled unit,
//! stripped binary, completions, man page, `cronbox check` of the installed
//! schedule), its postinst run again as if systemd ran (in a mount namespace
//! of its own: the service is started when the engine the schedule names
//! answers the user cronbox, else enabled but not started, saying why), then
//! removed (the schedule and the history stay) and purged (both go; the system
//! user stays). The Podman drop-in the package ships passes `systemd-analyze
//! verify` on Debian's podman.socket. Needs root (dpkg): run as another user it says
//! SKIPPED and checks nothing. Refuses to run where a cronbox package is already
//! installed, rather than replace it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run `program args`, with what it said when it fails.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Run `program args` and return its stdout; panic with its stderr if it fails.
fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn installed() -> bool {
    run("dpkg-query", &["-W", "-f=${Status}", "cronbox"])
        .stdout
        .starts_with(b"install ok")
}

/// Purges the package when dropped, so a failed assertion leaves nothing installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "cronbox"]);
    }
}

/// The package is VERSION-1 (cargo-deb's default revision); lintian wants the
/// changelog's latest entry to be that version.
#[test]
fn the_debian_changelog_starts_with_this_version() {
    let changelog =
        std::fs::read_to_string(repo().join("debian/changelog")).expect("debian/changelog");
    let want = format!("cronbox ({}-1) ", env!("CARGO_PKG_VERSION"));
    assert!(
        changelog.starts_with(&want),
        "debian/changelog must start with an entry for {want:?}: add one when the version changes"
    );
}

/// Build the package with `scripts/dev.sh package`; its path is the last line it prints.
fn build() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/dev.sh"))
        .arg("package")
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/dev.sh package");
    assert!(
        out.status.success(),
        "scripts/dev.sh package: {}\n{}",
        out.status,
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let path = stdout
        .lines()
        .rev()
        .find(|line| line.trim_end().ends_with(".deb"))
        .unwrap_or_else(|| panic!("no .deb path in the output of dev.sh package:\n{stdout}"));
    let path = repo().join(path.trim());
    assert!(path.is_file(), "{} is not a file", path.display());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        name.as_deref()
            .is_some_and(|n| n.starts_with(&format!("cronbox_{version}")) && n.ends_with(".deb")),
        "{name:?}: not cronbox_VERSION_ARCH.deb"
    );
    path
}

/// lintian's findings of kind E (errors); all of them are printed.
fn lintian_errors(deb: &Path) -> Vec<String> {
    let out = Command::new("lintian")
        .args(["--no-tag-display-limit"])
        .arg(deb)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run lintian ({e}): install Debian's lintian (scripts/dev.sh test does)")
        });
    let said = text(&out.stdout);
    eprintln!("lintian on {}:\n{said}{}", deb.display(), text(&out.stderr));
    said.lines()
        .filter(|line| line.starts_with("E:"))
        .map(str::to_owned)
        .collect()
}

const FILES: &[&str] = &[
    "/usr/bin/cronbox",
    "/etc/cronbox/cronbox.toml",
    "/usr/lib/systemd/system/cronbox.service",
    "/usr/share/bash-completion/completions/cronbox",
    "/usr/share/zsh/vendor-completions/_cronbox",
    "/usr/share/fish/vendor_completions.d/cronbox.fish",
    "/usr/share/man/man1/cronbox.1.gz",
    "/usr/share/man/man1/cronbox-daemon.1.gz",
    "/usr/share/doc/cronbox/README.md",
    "/usr/share/doc/cronbox/reference.toml",
    PODMAN_DROP_IN,
];

/// Where the package puts the drop-in for Debian's podman.socket (README:
/// "Podman with the Debian package").
const PODMAN_DROP_IN: &str = "/usr/share/cronbox/podman.socket.d/cronbox.conf";

/// Debian's unit for rootful Podman's API socket (package podman).
const PODMAN_SOCKET: &str = "/lib/systemd/system/podman.socket";

/// `systemd-analyze verify` of `podman.socket` with `drop_in` as
/// `podman.socket.d/cronbox.conf`: its stderr, empty when all is well. `None`
/// (said) when Debian's podman.socket is not installed.
fn verify_podman_drop_in(drop_in: &Path) -> Option<String> {
    if !Path::new(PODMAN_SOCKET).is_file() {
        eprintln!(
            "SKIPPED: {PODMAN_SOCKET} is missing: install Debian's podman (scripts/dev.sh test does)"
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = dir.path().join("podman.socket");
    std::fs::copy(PODMAN_SOCKET, &unit).expect("copy podman.socket");
    std::fs::create_dir(dir.path().join("podman.socket.d")).expect("drop-in dir");
    std::fs::copy(drop_in, dir.path().join("podman.socket.d/cronbox.conf")).expect("copy drop-in");
    let out = run("systemd-analyze", &["verify", &unit.to_string_lossy()]);
    let said = text(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    Some(said)
}

#[test]
fn the_podman_socket_drop_in_passes_systemd_analyze_verify() {
    let drop_in = repo().join("systemd/podman.socket.d/cronbox.conf");
    let Some(said) = verify_podman_drop_in(&drop_in) else {
        return;
    };
    assert!(said.is_empty(), "systemd-analyze verify: {said}");
    let text = std::fs::read_to_string(&drop_in).expect("read the drop-in");
    for line in ["SocketGroup=cronbox", "/run/podman"] {
        assert!(text.contains(line), "the drop-in lacks {line:?}:\n{text}");
    }
    // The check reads drop-ins: a wrong key in it is reported.
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("cronbox.conf");
    std::fs::write(&broken, format!("{text}NoSuchKey=1\n")).expect("write");
    let said = verify_podman_drop_in(&broken).unwrap_or_default();
    assert!(said.contains("NoSuchKey"), "{said}");
}

const ENABLED: &str = "/etc/systemd/system/multi-user.target.wants/cronbox.service";

fn assert_installed_as_a_daemon() {
    let listed = ok("dpkg", &["-L", "cronbox"]);
    for file in FILES {
        assert!(
            listed.lines().any(|l| l == *file),
            "dpkg -L lacks {file}:\n{listed}"
        );
        assert!(Path::new(file).is_file(), "{file} not installed");
    }
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "cronbox"]);
    assert!(
        conffiles.contains("/etc/cronbox/cronbox.toml"),
        "not a conffile: {conffiles}"
    );
    let groups = ok("id", &["-nG", "cronbox"]);
    assert!(
        groups.split_whitespace().any(|g| g == "docker"),
        "cronbox's groups: {groups}"
    );
    let owner = ok("stat", &["-c", "%U:%G %a", "/var/lib/cronbox"]);
    assert_eq!(owner.trim(), "cronbox:cronbox 750");
    // deb-systemd-helper enables without a running systemd; nothing was started here.
    assert!(
        Path::new(ENABLED).is_symlink(),
        "the unit is not enabled ({ENABLED})"
    );
    let sections = ok("readelf", &["-S", "-W", "/usr/bin/cronbox"]);
    assert!(
        !sections.contains(".symtab") && !sections.contains(".debug_"),
        "the binary is not stripped:\n{sections}"
    );
}

fn assert_the_installed_files_work() {
    let check = run(
        "/usr/bin/cronbox",
        &["check", "--config", "/etc/cronbox/cronbox.toml"],
    );
    assert!(
        check.status.success(),
        "cronbox check of the installed schedule: {}\n{}{}",
        check.status,
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("database /var/lib/cronbox/cronbox.db"));
    let verify = run(
        "systemd-analyze",
        &["verify", "/usr/lib/systemd/system/cronbox.service"],
    );
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        text(&verify.stderr)
    );
    let complete = ok(
        "bash",
        &[
            "-c",
            "source /usr/share/bash-completion/completions/cronbox && complete -p cronbox",
        ],
    );
    assert!(complete.contains("cronbox"), "{complete}");
    let page = ok("zcat", &["/usr/share/man/man1/cronbox.1.gz"]);
    assert!(page.contains(".TH cronbox 1"), "{page}");
    assert!(page.contains("cronbox\\-history(1)"), "{page}");
    if let Some(said) = verify_podman_drop_in(Path::new(PODMAN_DROP_IN)) {
        assert!(said.is_empty(), "systemd-analyze verify: {said}");
    }
}

/// The README's command, in "Podman with the Debian package", that sets the
/// installed schedule's engine to rootful Podman's socket (without `sudo `).
fn readme_podman_engine_command() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split("\n### ")
        .find(|s| s.starts_with("Podman with the Debian package"))
        .expect("README: no section \"Podman with the Debian package\"");
    let line = section
        .lines()
        .find(|l| l.starts_with("sudo sed -i") && l.contains("/etc/cronbox/cronbox.toml"))
        .expect("README: no `sudo sed -i ... /etc/cronbox/cronbox.toml` in the Podman section");
    line["sudo ".len()..].to_owned()
}

/// Run the installed postinst's `configure` as if systemd ran: in a mount
/// namespace of its own, with an empty /run holding /run/systemd/system (and,
/// when `docker`, the shared engine's socket bound back in at
/// /run/docker.sock), and stand-ins for `systemctl` and `deb-systemd-invoke`
/// that only write down their arguments. Its output and what it invoked.
fn configure_as_if_systemd_ran(docker: bool) -> (Output, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let invoked = dir.path().join("invoked");
    for tool in ["systemctl", "deb-systemd-invoke"] {
        let path = bin.join(tool);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"{tool} $*\" >> '{}'\n", invoked.display()),
        )
        .expect("write a stand-in");
        ok("chmod", &["755", &path.to_string_lossy()]);
    }
    let script = format!(
        r#"set -e
sock='{sock}'
if [ {docker} = true ]; then touch "$sock"; mount --bind /run/docker.sock "$sock"; fi
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system
if [ {docker} = true ]; then touch /run/docker.sock; mount --bind "$sock" /run/docker.sock; fi
PATH='{bin}':"$PATH" exec /var/lib/dpkg/info/cronbox.postinst configure
"#,
        sock = dir.path().join("docker.sock").display(),
        bin = bin.display(),
    );
    let out = run(
        "unshare",
        &["--mount", "--propagation", "private", "sh", "-c", &script],
    );
    let invoked = std::fs::read_to_string(&invoked).unwrap_or_default();
    (out, invoked)
}

/// postinst starts the service only when the engine the schedule names
/// answers the user cronbox: with Docker's socket answering it starts it; with
/// the README's Podman engine and no Podman there it says the service is
/// enabled but not started, naming the engine, and starts nothing.
fn assert_postinst_starts_only_what_can_run() {
    let (out, invoked) = configure_as_if_systemd_ran(true);
    let said = text(&out.stderr);
    assert!(out.status.success(), "postinst configure: {said}");
    assert!(
        invoked.contains("deb-systemd-invoke start cronbox.service"),
        "Docker answers the user cronbox: the service is started; invoked:\n{invoked}\n{said}"
    );
    assert!(!said.contains("not started"), "{said}");

    ok("sh", &["-c", &readme_podman_engine_command()]);
    let schedule = std::fs::read_to_string("/etc/cronbox/cronbox.toml").expect("schedule");
    assert!(
        schedule.contains("\nengine = \"unix:///run/podman/podman.sock\""),
        "the README's command sets the engine:\n{schedule}"
    );
    ok(
        "/usr/bin/cronbox",
        &["check", "--config", "/etc/cronbox/cronbox.toml"],
    );
    let (out, invoked) = configure_as_if_systemd_ran(false);
    let said = text(&out.stderr);
    assert!(out.status.success(), "postinst configure: {said}");
    assert!(
        said.contains(
            "cronbox: the service is enabled but not started: the engine at unix:///run/podman/podman.sock does not answer"
        ),
        "{said}"
    );
    assert!(said.contains("systemctl start cronbox"), "{said}");
    assert!(
        !invoked.contains("deb-systemd-invoke start"),
        "nothing answers: nothing is started; invoked:\n{invoked}"
    );
    assert!(Path::new(ENABLED).is_symlink(), "the unit stays enabled");
}

#[test]
fn the_debian_package_installs_checks_removes_and_purges() {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED: this test installs the Debian package with dpkg, which needs root; run it as root (scripts/dev.sh test as root)"
        );
        return;
    }
    assert!(
        !installed(),
        "a cronbox package is installed on this machine; this test installs and purges its own: remove it first (dpkg --purge cronbox)"
    );
    let deb = build();
    let errors = lintian_errors(&deb);
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));

    let guard = Installed;
    let deb = deb.to_string_lossy().into_owned();
    ok("dpkg", &["-i", &deb]);
    assert_installed_as_a_daemon();
    assert_the_installed_files_work();
    assert_postinst_starts_only_what_can_run();
    // History the service would have written.
    std::fs::write("/var/lib/cronbox/cronbox.db", b"history").expect("write state");

    ok("dpkg", &["--remove", "cronbox"]);
    assert!(
        !Path::new("/usr/bin/cronbox").exists(),
        "binary left on remove"
    );
    assert!(
        Path::new("/etc/cronbox/cronbox.toml").is_file(),
        "remove must keep the schedule (a conffile)"
    );
    assert!(
        Path::new("/var/lib/cronbox/cronbox.db").is_file(),
        "remove must keep the history"
    );

    ok("dpkg", &["--purge", "cronbox"]);
    drop(guard);
    for gone in ["/etc/cronbox", "/var/lib/cronbox", ENABLED] {
        assert!(
            !Path::new(gone).exists() && !Path::new(gone).is_symlink(),
            "{gone} left after purge"
        );
    }
    assert!(
        !installed(),
        "cronbox is still installed after dpkg --purge"
    );
    // The system user stays, as Debian keeps system users: no later user
    // inherits files it owned.
    ok("getent", &["passwd", "cronbox"]);
}
