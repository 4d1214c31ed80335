//! A private dockerd for the tests that stop, kill and restart the engine: the
//! machine's shared dockerd (/var/run/docker.sock) is never touched. Included
//! with `#[path]` by `tests/engine_restart.rs`, next to `mod common`.
//!
//! Each engine lives in a temp dir DIR: its socket `DIR/docker.sock` stays the
//! same across restarts, its data and exec roots are one "generation" under
//! `DIR/gN`, and `DIR/gN/dockerd.log` keeps its log. It runs in a network
//! namespace of its own (`unshare --net`), because dockerd with `--bridge=none`
//! deletes the host's `docker0`, which the shared engine needs; its containers
//! must use `network = "none"`. Its containers' cgroups sit under a parent of
//! their own, so nothing is mixed with the shared engine's.
//!
//! It needs root (the tests that use it say so and check nothing otherwise).
//! Dropping it (pass or fail) stops dockerd (SIGTERM, then SIGKILL), kills
//! every process that names DIR (containerd, shims) and the containers under
//! those shims, unmounts everything under DIR (dockerd bind-mounts its data
//! root onto itself and mounts overlays under it), removes the cgroups and DIR.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cronbox::engine::Engine;

/// How long dockerd may take to answer after its start, or to exit after SIGTERM.
const BOUND: Duration = Duration::from_secs(60);

/// A dockerd of the test's own (see the module's doc).
pub struct PrivateDockerd {
    dir: PathBuf,
    generation: u32,
    process: Option<Child>,
    /// Whether the host had `docker0` when this started (it must keep it).
    had_docker0: bool,
}

impl PrivateDockerd {
    /// Start a dockerd on fresh roots, with the test image imported. `None`
    /// (said on stderr) when this process is not root: only root starts dockerd.
    pub async fn start() -> Option<PrivateDockerd> {
        // SAFETY: geteuid(2) takes nothing and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!(
                "SKIPPED: this test starts a private dockerd, which needs root; run it as root (scripts/dev.sh test as root) to check the engine restarts"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("cbx-dockerd-")
            .tempdir_in("/tmp")
            .expect("temp dir")
            .keep();
        let mut dockerd = PrivateDockerd {
            dir,
            generation: 0,
            process: None,
            had_docker0: docker0_exists(),
        };
        dockerd.generation = dockerd.seed_generation().await;
        dockerd.process = Some(dockerd.launch().await);
        Some(dockerd)
    }

    /// The engine's address, `unix://DIR/docker.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// A client of this engine.
    pub fn engine(&self) -> Engine {
        Engine::connect_to(&self.host())
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    fn roots(&self, generation: u32) -> PathBuf {
        self.dir.join(format!("g{generation}"))
    }

    /// SIGTERM dockerd, as `systemctl stop docker` does, and wait until it has
    /// exited (it stops its running containers first).
    pub async fn stop_gracefully(&mut self) {
        let mut process = self.process.take().expect("dockerd runs");
        signal(process.id(), libc::SIGTERM);
        let status = wait_exit(&mut process, BOUND)
            .await
            .unwrap_or_else(|| panic!("dockerd did not exit within {BOUND:?} of SIGTERM"));
        eprintln!("private dockerd stopped gracefully: {status}");
    }

    /// Start dockerd again on the roots it had.
    pub async fn start_again(&mut self) {
        assert!(self.process.is_none(), "dockerd is stopped first");
        self.process = Some(self.launch().await);
    }

    /// SIGKILL dockerd and what it started (containerd, the shims and their
    /// containers), then start a new dockerd on the same socket with fresh
    /// roots, its state lost: it knows no container, and has the test image
    /// (imported before it answers on the socket).
    pub async fn kill_and_replace(&mut self) {
        let next = self.seed_generation().await;
        let mut process = self.process.take().expect("dockerd runs");
        signal(process.id(), libc::SIGKILL);
        let _ = wait_exit(&mut process, BOUND).await;
        kill_processes_naming(&self.roots(self.generation));
        self.generation = next;
        self.process = Some(self.launch().await);
    }

    /// Make the next generation's roots, with the test image in them: its
    /// dockerd is started on a side socket, given the image, and stopped.
    async fn seed_generation(&self) -> u32 {
        let generation = self.generation + 1;
        let roots = self.roots(generation);
        let side = roots.join("seed.sock");
        let mut process = launch(&roots, &side, &self.cgroup_name()).await;
        let engine = Engine::connect_to(&format!("unix://{}", side.display()));
        let rootfs = crate::common::fixtures::busybox_rootfs(Path::new("/bin/busybox"))
            .expect("read /bin/busybox (Debian's busybox-static)");
        let (repo, tag) = crate::common::IMAGE
            .split_once(':')
            .expect("the test image has a tag");
        engine
            .import_rootfs(repo, tag, rootfs)
            .await
            .expect("import the test image into the private engine");
        signal(process.id(), libc::SIGTERM);
        wait_exit(&mut process, BOUND)
            .await
            .expect("the seeding dockerd exits on SIGTERM");
        generation
    }

    /// Start dockerd on the current generation's roots, on the engine's socket.
    async fn launch(&self) -> Child {
        launch(
            &self.roots(self.generation),
            &self.socket(),
            &self.cgroup_name(),
        )
        .await
    }

    /// The cgroup (in every hierarchy) its containers' cgroups are made under.
    fn cgroup_name(&self) -> String {
        let name = self.dir.file_name().unwrap_or_default().to_string_lossy();
        name.into_owned()
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            signal(process.id(), libc::SIGTERM);
            let began = std::time::Instant::now();
            while process.try_wait().ok().flatten().is_none() && began.elapsed() < BOUND {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = process.kill();
            let _ = process.wait();
        }
        kill_processes_naming(&self.dir);
        unmount_under(&self.dir);
        remove_cgroups(&self.cgroup_name());
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
        if self.had_docker0 && !docker0_exists() && !std::thread::panicking() {
            panic!(
                "the host lost its docker0 interface: the shared engine needs it; tell whoever runs the machine"
            );
        }
    }
}

/// Start dockerd on `roots` (data, exec root, pid file and log), listening on
/// `socket`, its containers' cgroups under `/cgroup`, and wait until it answers.
async fn launch(roots: &Path, socket: &Path, cgroup: &str) -> Child {
    std::fs::create_dir_all(roots).expect("roots");
    let log_path = roots.join("dockerd.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("dockerd log");
    let mut process = Command::new("unshare")
        .arg("--net")
        .arg("dockerd")
        .arg("-H")
        .arg(format!("unix://{}", socket.display()))
        .arg("--data-root")
        .arg(roots.join("data"))
        .arg("--exec-root")
        .arg(roots.join("exec"))
        .arg("--pidfile")
        .arg(roots.join("dockerd.pid"))
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
        .arg(format!("--cgroup-parent=/{cgroup}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start `unshare --net dockerd` (util-linux and docker.io, as root)");
    let engine = Engine::connect_to(&format!("unix://{}", socket.display()));
    let began = std::time::Instant::now();
    loop {
        if let Ok(Some(status)) = process.try_wait() {
            panic!(
                "the private dockerd exited ({status}):\n{}",
                log_tail(&log_path)
            );
        }
        if socket.exists() && engine.check().await.is_ok() {
            return process;
        }
        if began.elapsed() > BOUND {
            signal(process.id(), libc::SIGKILL);
            panic!(
                "the private dockerd did not answer within {BOUND:?}:\n{}",
                log_tail(&log_path)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn log_tail(log: &Path) -> String {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn docker0_exists() -> bool {
    Path::new("/sys/class/net/docker0").exists()
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) takes no pointer; a process already gone is ESRCH.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Wait (polling, without blocking the runtime) until `process` exits.
async fn wait_exit(process: &mut Child, bound: Duration) -> Option<std::process::ExitStatus> {
    let began = std::time::Instant::now();
    while began.elapsed() < bound {
        if let Ok(Some(status)) = process.try_wait() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Processes as (pid, parent pid, command line).
fn processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, ppid, cmdline))
        })
        .collect()
}

/// SIGKILL every process whose command line names `dir` (dockerd, containerd,
/// the shims), and first the containers those shims run: each one's init is
/// PID 1 of its PID namespace, so killing it ends the whole container.
fn kill_processes_naming(dir: &Path) {
    let dir = dir.display().to_string();
    let all = processes();
    let named: Vec<u32> = all
        .iter()
        .filter(|(_, _, cmdline)| cmdline.contains(&dir))
        .map(|(pid, _, _)| *pid)
        .collect();
    let shims: Vec<u32> = all
        .iter()
        .filter(|(pid, _, cmdline)| named.contains(pid) && cmdline.contains("containerd-shim"))
        .map(|(pid, _, _)| *pid)
        .collect();
    for (pid, _, _) in all.iter().filter(|(_, ppid, _)| shims.contains(ppid)) {
        signal(*pid, libc::SIGKILL);
    }
    for pid in &named {
        signal(*pid, libc::SIGKILL);
    }
    let began = std::time::Instant::now();
    while named
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
        && began.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `umount -l` every mount under `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let prefix = dir.display().to_string();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|point| *point == prefix || point.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    for point in points {
        let _ = Command::new("umount").arg("-l").arg(point).status();
    }
}

/// Remove the cgroup `name` and the containers' cgroups under it, in every
/// hierarchy (cgroup v1 and v2 alike: `rmdir` of an empty cgroup).
fn remove_cgroups(name: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots: Vec<PathBuf> = hierarchies
        .filter_map(|h| Some(h.ok()?.path().join(name)))
        .collect();
    roots.push(Path::new("/sys/fs/cgroup").join(name));
    for root in roots.iter().filter(|r| r.is_dir()) {
        if let Ok(children) = std::fs::read_dir(root) {
            for child in children.filter_map(Result::ok) {
                if child.path().is_dir() {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
        }
        let _ = std::fs::remove_dir(root);
    }
}
