//! The Debian package (issue 14), installed for real on this machine: built
//! once by `scripts/dev.sh package` (a release build, reused when fresh; the
//! first one takes minutes), checked by lintian (no error), installed with
//! `dpkg -i` (files, conffile, service user, state directory, enabled unit,
//! stripped binary, completions, man page, `cronbox check` of the installed
//! schedule), then removed (the schedule and the history stay) and purged (both
//! go; the system user stays). Needs root (dpkg): run as another user it says
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
];

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
