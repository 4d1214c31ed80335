//! A Podman API service of the test's own: `podman system service` on a socket
//! in a temp dir DIR, with its storage (`DIR/root`, `DIR/runroot`), temp files,
//! events log and network configs all under DIR and a `containers.conf` of its
//! own, so that neither the shared Docker engine nor anyone's podman state is
//! touched. Included with `#[path]` by `tests/podman.rs`.
//!
//! Its containers must use `network = "none"`: Podman's bridge would edit the
//! host's firewall, which the shared Docker engine owns.
//!
//! [`Podman::start`] is `None` (said on stderr, with the reason) when Podman
//! cannot run here: no `podman` binary, not root (rootless Podman needs a user
//! session with subuids, which the CI machine has not), or a service that does
//! not answer. Dropping it (pass or fail) removes its containers and images,
//! stops the service, unmounts what it mounted under DIR and removes DIR.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cronbox::engine::Engine;

/// How long the service may take to answer after its start.
const BOUND: Duration = Duration::from_secs(60);

/// A Podman service of the test's own (see the module's doc).
pub struct Podman {
    dir: PathBuf,
    service: Option<Child>,
}

impl Podman {
    /// Start the service and import the test image `image` (`repo:tag`) from
    /// `rootfs`, or say why Podman cannot run here and return `None`.
    pub async fn start(image: &str, rootfs: Vec<u8>) -> Option<Podman> {
        if let Err(reason) = can_run() {
            eprintln!("SKIPPED: Podman cannot run here: {reason}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("cbx-podman-")
            .tempdir_in("/tmp")
            .expect("temp dir")
            .keep();
        for sub in ["root", "runroot", "tmp", "networks"] {
            std::fs::create_dir_all(dir.join(sub)).expect("podman dirs");
        }
        let mut podman = Podman { dir, service: None };
        // The containers' limits may not exceed the service's, which Podman
        // sets itself at its start (it lowers nproc): learn them from a first
        // start, and start again with them if they are lower than this process's.
        let mut limits = Limits::of(std::process::id());
        for round in 0..2 {
            std::fs::write(
                podman.dir.join("containers.conf"),
                containers_conf(&podman.dir, limits),
            )
            .expect("containers.conf");
            if let Err(reason) = podman.launch().await {
                eprintln!("SKIPPED: Podman cannot run here: {reason}");
                return None;
            }
            let pid = podman.service.as_ref().map_or(0, Child::id);
            let service = Limits::of(pid);
            if round == 1 || (service.nofile >= limits.nofile && service.nproc >= limits.nproc) {
                break;
            }
            podman.stop_service();
            limits = Limits {
                nofile: limits.nofile.min(service.nofile),
                nproc: limits.nproc.min(service.nproc),
            };
        }
        let (repo, tag) = image.rsplit_once(':').expect("repo:tag");
        podman
            .engine()
            .import_rootfs(repo, tag, rootfs)
            .await
            .expect("import the test image into Podman");
        Some(podman)
    }

    /// The service's address, `unix://DIR/podman.sock`: what `[daemon] engine` names.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("podman.sock").display())
    }

    /// A client of this service.
    pub fn engine(&self) -> Engine {
        Engine::connect_to(&self.host())
    }

    /// `podman` with this service's storage, temp dir and configuration.
    fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"]);
        command
    }

    /// Start the service and wait until it answers; the reason when it does not.
    async fn launch(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("service.log")).expect("service log");
        let service = self
            .command()
            .args(["system", "service", "--time=0", &self.host()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("`podman system service` does not start: {e}"))?;
        self.service = Some(service);
        if self.answers().await {
            return Ok(());
        }
        Err(format!(
            "its service did not answer on {} within {BOUND:?}; its log:\n{}",
            self.host(),
            std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default()
        ))
    }

    /// Stop the service (SIGKILL: it holds nothing that needs a clean end).
    fn stop_service(&mut self) {
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the service answers a ping within [`BOUND`].
    async fn answers(&mut self) -> bool {
        let engine = self.engine();
        for _ in 0..(BOUND.as_millis() / 200) {
            if engine.check().await.is_ok() {
                return true;
            }
            if let Some(child) = self.service.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for args in [
            &["rm", "--all", "--force", "--time", "0"][..],
            &["rmi", "--all", "--force"],
        ] {
            let _ = self
                .command()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        self.stop_service();
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why Podman cannot run here, if it cannot.
fn can_run() -> Result<(), String> {
    let version = Command::new("podman").arg("--version").output();
    match version {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(format!(
                "`podman --version` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Err(e) => {
            return Err(format!(
                "no podman binary ({e}); install Debian's podman and catatonit (scripts/dev.sh test does)"
            ));
        }
    }
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "the test runs a rootful Podman service, which needs root (rootless Podman needs a login session with subordinate ids)"
                .into(),
        );
    }
    Ok(())
}

/// The service's own `containers.conf`: everything under `dir`, and the
/// containers' `nofile`/`nproc` limits `limits`. Rootful Podman otherwise
/// raises them to 1048576 and 4194304, which a process without
/// CAP_SYS_RESOURCE (a CI runner in a container) may not, and every start fails
/// with "error setting rlimits".
fn containers_conf(dir: &Path, limits: Limits) -> String {
    let Limits { nofile, nproc } = limits;
    format!(
        "[containers]\n\
         default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n\
         [engine]\n\
         tmp_dir = \"{tmp}\"\n\
         events_logger = \"file\"\n\
         events_logfile_path = \"{events}\"\n\
         [network]\n\
         network_config_dir = \"{networks}\"\n",
        tmp = dir.join("tmp").display(),
        events = dir.join("events.log").display(),
        networks = dir.join("networks").display(),
    )
}

/// Hard limits of a process: open files and processes.
#[derive(Debug, Clone, Copy)]
struct Limits {
    nofile: u64,
    nproc: u64,
}

impl Limits {
    /// The hard limits of process `pid` (from `/proc/PID/limits`), each capped
    /// to what rootful Podman would set; 1024 where one cannot be read.
    fn of(pid: u32) -> Limits {
        let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
        let hard = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().nth(1))
                .map_or(1024, |value| value.parse::<u64>().unwrap_or(1 << 20))
                .min(1 << 20)
        };
        Limits {
            nofile: hard("Max open files"),
            nproc: hard("Max processes"),
        }
    }
}

/// Unmount (lazily, deepest first) everything mounted under `dir`: the storage
/// driver mounts its home on itself and the containers' overlays under it.
fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut under: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    under.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in under {
        let _ = Command::new("umount").args(["-l", point]).status();
    }
}
