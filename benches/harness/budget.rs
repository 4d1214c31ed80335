//! `--budget pi` (issue 16): the daemon-side measures run twice in one harness
//! run, first unconfined, then with every `cronbox` process the harness starts
//! confined by the kernel to a Raspberry Pi's budget: a quarter of one core
//! (CFS quota), 256 MiB of memory, and its data directory (schedule, database,
//! log) on an ext4 file system on a loop device whose writes are throttled to an
//! SD card's speed (10 MB/s, 300 write IOPS). The Docker engine stays
//! unconfined, as do the harness, its proxy and its `sqlite3` reads.
//!
//! Cgroup v1 (one hierarchy per controller) and v2 (unified) are detected from
//! `/proc/self/mounts`; every cgroup is created *below the harness's own* in each
//! hierarchy, so whatever limits the harness is under still apply. On v1 the
//! write throttle is set on the loop device at the root of the blkio hierarchy:
//! v1 charges buffered writeback to the flusher threads (the root group), not to
//! the writer, so only a rule on the device itself throttles SQLite's
//! checkpoints; the device is the harness's alone. On v2 it is `io.max` in the
//! confined cgroup (v2 charges writeback to the writer).
//!
//! Every cgroup, rule, loop device, mount and image file is removed by
//! [`Budget::teardown`] (also run from `Drop`, and after Ctrl-C by `main`); a
//! confinement the kernel refuses is skipped with a message saying which and why,
//! and the rest still applies. `scripts/bench.sh` removes what a killed harness
//! left (names start with `cronbox-bench-pi-`).

use super::Res;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// CPU: a quarter of one core, as 25 ms of every 100 ms period (the kernel's and
/// systemd's default period). `CRONBOX_BENCH_CPU_PERIOD_US` sets another period
/// (the quota stays a quarter of it): a shorter one spreads the same share more
/// finely (a throttled process waits at most 3/4 of a period).
const CPU_PERIOD_US: u64 = 100_000;

/// The CFS period and quota, in µs.
fn cpu_period_quota() -> (u64, u64) {
    let period = std::env::var("CRONBOX_BENCH_CPU_PERIOD_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|p| (4_000..=1_000_000).contains(p))
        .unwrap_or(CPU_PERIOD_US);
    (period, period / 4)
}
/// Memory: 256 MiB for all the confined processes together.
const MEMORY_BYTES: u64 = 256 << 20;
/// An SD card's sustained random writes: 10 MB/s, 300 write operations/s.
const WRITE_BPS: u64 = 10_000_000;
const WRITE_IOPS: u64 = 300;
/// The loop device's backing file (sparse): room for the api measure's copy of
/// the history database and the flood's stored output.
const IMAGE_BYTES: u64 = 3 << 30;

/// The name every cgroup, mount point and image file of this mode starts with.
pub(crate) const PREFIX: &str = "cronbox-bench-pi-";

/// What was set up; undone by [`Budget::teardown`].
#[derive(Default)]
pub(crate) struct Budget {
    /// The cgroups made, with the file a process writes its pid to.
    cgroups: Vec<(PathBuf, PathBuf)>,
    /// The throttle rules written: (file, "MAJ:MIN").
    rules: Vec<(PathBuf, String)>,
    image: Option<PathBuf>,
    loop_dev: Option<String>,
    mount: Option<PathBuf>,
    /// What applies, one line each, for the report.
    pub(crate) applied: Vec<String>,
    /// What the kernel refused, with the reason.
    pub(crate) skipped: Vec<String>,
    /// Files to read the confined group's peak memory and CPU throttling from.
    memory_peak: Option<PathBuf>,
    cpu_stat: Option<PathBuf>,
}

/// Which cgroup layout this machine has.
enum Layout {
    /// One hierarchy per controller: (controller, mount point).
    V1(Vec<(String, PathBuf)>),
    /// The unified hierarchy's mount point.
    V2(PathBuf),
}

impl Budget {
    /// Set up every confinement the kernel allows; `id` names this run.
    pub(crate) fn setup(id: &str, scratch: &Path) -> Budget {
        let mut b = Budget::default();
        let name = format!("{PREFIX}{id}");
        let layout = layout();
        match &layout {
            Some(Layout::V1(mounts)) => b.cgroups_v1(mounts, &name),
            Some(Layout::V2(root)) => b.cgroup_v2(root, &name),
            None => b
                .skipped
                .push("cgroups: no cgroup file system mounted; CPU and memory unconfined".into()),
        }
        if let Err(e) = b.disk(&name, scratch, &layout) {
            b.skipped.push(format!(
                "disk: {e}; the database stays on the unthrottled disk"
            ));
        }
        b
    }

    /// The directory the confined daemons keep their schedule, database and log in.
    pub(crate) fn data_dir(&self) -> Option<&Path> {
        self.mount.as_deref()
    }

    /// A command for `program` that joins the confined cgroups before it execs.
    pub(crate) fn command(&self, program: &Path) -> Command {
        if self.cgroups.is_empty() {
            return Command::new(program);
        }
        let procs: Vec<String> = self
            .cgroups
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                "for f in $CRONBOX_BENCH_CGROUPS; do echo $$ > \"$f\" || exit 97; done; exec \"$@\"",
            )
            .arg("sh")
            .arg(program)
            .env("CRONBOX_BENCH_CGROUPS", procs.join(" "));
        cmd
    }

    /// The cgroup's own figures over the confined pass: peak memory (with page
    /// cache) and how often the CPU quota throttled it.
    pub(crate) fn figures(&self) -> Value {
        let read = |p: &Option<PathBuf>| p.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
        let peak = read(&self.memory_peak).and_then(|t| t.trim().parse::<u64>().ok());
        let stat = read(&self.cpu_stat).unwrap_or_default();
        let field = |k: &str| {
            stat.lines()
                .find_map(|l| l.strip_prefix(k)?.trim().parse::<u64>().ok())
        };
        json!({"memory_peak_bytes": peak, "cpu_nr_periods": field("nr_periods"),
               "cpu_nr_throttled": field("nr_throttled"),
               "cpu_throttled_us": field("throttled_usec").or(field("throttled_time").map(|ns| ns / 1000))})
    }

    fn cgroups_v1(&mut self, mounts: &[(String, PathBuf)], name: &str) {
        let (period, quota) = cpu_period_quota();
        let limits: [(&str, Vec<(&str, String)>); 2] = [
            (
                "cpu",
                vec![
                    ("cpu.cfs_period_us", period.to_string()),
                    ("cpu.cfs_quota_us", quota.to_string()),
                ],
            ),
            (
                "memory",
                vec![("memory.limit_in_bytes", MEMORY_BYTES.to_string())],
            ),
        ];
        for (controller, files) in limits {
            let Some((_, mount)) = mounts.iter().find(|(c, _)| c == controller) else {
                self.skipped.push(format!(
                    "{controller}: no cgroup v1 {controller} hierarchy mounted"
                ));
                continue;
            };
            let dir = mount.join(own_path(controller)).join(name);
            match make_cgroup(&dir, &files) {
                Ok(()) => {
                    self.applied.push(format!(
                        "{controller}: cgroup v1 {} ({})",
                        dir.display(),
                        files
                            .iter()
                            .map(|(f, v)| format!("{f} = {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    if controller == "memory" {
                        self.memory_peak = Some(dir.join("memory.max_usage_in_bytes"));
                    } else {
                        self.cpu_stat = Some(dir.join("cpu.stat"));
                    }
                    self.cgroups.push((dir.clone(), dir.join("cgroup.procs")));
                }
                Err(e) => {
                    let _ = std::fs::remove_dir(&dir);
                    self.skipped.push(format!("{controller}: {e}"));
                }
            }
        }
    }

    fn cgroup_v2(&mut self, root: &Path, name: &str) {
        let parent = root.join(own_path(""));
        // Controllers must be enabled for the children of the harness's group;
        // the kernel refuses that when the group holds processes (unless it is the root).
        let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+cpu +memory +io");
        let enabled =
            std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        let dir = parent.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            self.skipped
                .push(format!("cgroup v2: cannot create {}: {e}", dir.display()));
            return;
        }
        self.cgroups.push((dir.clone(), dir.join("cgroup.procs")));
        let (period, quota) = cpu_period_quota();
        for (controller, file, value) in [
            ("cpu", "cpu.max", format!("{quota} {period}")),
            ("memory", "memory.max", MEMORY_BYTES.to_string()),
        ] {
            if !enabled.split_whitespace().any(|c| c == controller) {
                self.skipped.push(format!(
                    "{controller}: cgroup v2 controller not enabled below {} (the kernel refused +{controller} in cgroup.subtree_control)",
                    parent.display()
                ));
                continue;
            }
            match std::fs::write(dir.join(file), &value) {
                Ok(()) => {
                    self.applied.push(format!(
                        "{controller}: cgroup v2 {} ({file} = {value})",
                        dir.display()
                    ));
                    if controller == "memory" {
                        self.memory_peak = Some(dir.join("memory.peak"));
                    } else {
                        self.cpu_stat = Some(dir.join("cpu.stat"));
                    }
                }
                Err(e) => self
                    .skipped
                    .push(format!("{controller}: writing {file}: {e}")),
            }
        }
    }

    /// The loop device, its file system and the write throttle.
    fn disk(&mut self, name: &str, scratch: &Path, layout: &Option<Layout>) -> Res<()> {
        let image = scratch.join(format!("{name}.img"));
        let file = std::fs::File::create(&image)
            .map_err(|e| format!("creating {}: {e}", image.display()))?;
        self.image = Some(image.clone());
        file.set_len(IMAGE_BYTES)
            .map_err(|e| format!("sizing {}: {e}", image.display()))?;
        drop(file);
        let dev = run("losetup", &["-f", "--show", &image.display().to_string()])?;
        self.loop_dev = Some(dev.clone());
        run(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-E",
                "lazy_itable_init=0,lazy_journal_init=0",
                &dev,
            ],
        )?;
        let dir = scratch.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        run("mount", &[&dev, &dir.display().to_string()])?;
        self.mount = Some(dir.clone());
        let base = dev.trim_start_matches("/dev/");
        let majmin = std::fs::read_to_string(format!("/sys/block/{base}/dev"))
            .map_err(|e| format!("reading /sys/block/{base}/dev: {e}"))?
            .trim()
            .to_owned();
        let rules: Vec<(PathBuf, String)> = match layout {
            Some(Layout::V1(mounts)) => {
                let Some((_, blkio)) = mounts.iter().find(|(c, _)| c == "blkio") else {
                    return Err(
                        "no cgroup v1 blkio hierarchy to throttle the loop device in".into(),
                    );
                };
                vec![
                    (
                        blkio.join("blkio.throttle.write_bps_device"),
                        format!("{majmin} {WRITE_BPS}"),
                    ),
                    (
                        blkio.join("blkio.throttle.write_iops_device"),
                        format!("{majmin} {WRITE_IOPS}"),
                    ),
                ]
            }
            Some(Layout::V2(_)) => match self.cgroups.first() {
                Some((dir, _)) => vec![(
                    dir.join("io.max"),
                    format!("{majmin} wbps={WRITE_BPS} wiops={WRITE_IOPS}"),
                )],
                None => return Err("no cgroup v2 group to set io.max in".into()),
            },
            None => return Err("no cgroup file system to throttle the loop device with".into()),
        };
        for (file, rule) in rules {
            std::fs::write(&file, &rule).map_err(|e| {
                format!(
                    "the kernel refused the throttle `{rule}` in {}: {e}",
                    file.display()
                )
            })?;
            self.rules.push((file.clone(), majmin.clone()));
            self.applied
                .push(format!("disk: {} `{rule}`", file.display()));
        }
        self.applied.push(format!(
            "disk: ext4 on {dev} ({majmin}, a {} GiB sparse file), mounted at {}",
            IMAGE_BYTES >> 30,
            dir.display()
        ));
        Ok(())
    }

    /// Remove everything made, in reverse order; each step tried whatever the
    /// others did. Idempotent.
    pub(crate) fn teardown(&mut self) {
        for (dir, procs) in self.cgroups.drain(..).rev() {
            empty_cgroup(&procs);
            if let Err(e) = remove_dir_retrying(&dir) {
                eprintln!("bench: could not remove the cgroup {}: {e}", dir.display());
            }
        }
        for (file, majmin) in self.rules.drain(..) {
            // Writing a limit of 0 removes the rule (v1); "max" does on v2.
            let off = if file.ends_with("io.max") {
                format!("{majmin} wbps=max wiops=max")
            } else {
                format!("{majmin} 0")
            };
            let _ = std::fs::write(&file, off);
        }
        if let Some(dir) = self.mount.take() {
            let path = dir.display().to_string();
            if run("umount", &[&path]).is_err() {
                let _ = run("umount", &["-l", &path]);
            }
            let _ = std::fs::remove_dir(&dir);
        }
        if let Some(dev) = self.loop_dev.take()
            && let Err(e) = run("losetup", &["-d", &dev])
        {
            eprintln!("bench: could not detach {dev}: {e}");
        }
        if let Some(image) = self.image.take() {
            let _ = std::fs::remove_file(image);
        }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The cgroup layout, from the mounted file systems.
fn layout() -> Option<Layout> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let mut v1 = Vec::new();
    let mut v2 = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dir), Some(kind), Some(opts)) = (f.get(1), f.get(2), f.get(3)) else {
            continue;
        };
        match *kind {
            "cgroup" => {
                for c in ["cpu", "memory", "blkio"] {
                    if opts.split(',').any(|o| o == c) {
                        v1.push((c.to_owned(), PathBuf::from(dir)));
                    }
                }
            }
            "cgroup2" => v2 = Some(PathBuf::from(dir)),
            _ => {}
        }
    }
    // A hybrid machine mounts both; the controllers live where v1 has them.
    if !v1.is_empty() {
        Some(Layout::V1(v1))
    } else {
        v2.map(Layout::V2)
    }
}

/// The harness's own cgroup in the hierarchy of `controller` ("" for v2), relative.
fn own_path(controller: &str) -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(list), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let matches = if controller.is_empty() {
            list.is_empty()
        } else {
            list.split(',').any(|c| c == controller)
        };
        if matches {
            return PathBuf::from(path.trim_start_matches('/'));
        }
    }
    PathBuf::new()
}

fn make_cgroup(dir: &Path, files: &[(&str, String)]) -> Res<()> {
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (file, value) in files {
        std::fs::write(dir.join(file), value).map_err(|e| {
            format!(
                "the kernel refused {file} = {value} in {}: {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// Kill what is left in a confined cgroup: only processes this harness started
/// (through [`Budget::command`]) are ever in it.
fn empty_cgroup(procs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = std::fs::read_to_string(procs).unwrap_or_default();
        let pids: Vec<&str> = pids.split_whitespace().collect();
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn remove_dir_retrying(dir: &Path) -> std::io::Result<()> {
    let mut last = Ok(());
    for _ in 0..20 {
        last = std::fs::remove_dir(dir);
        if last.is_ok() || !dir.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// Run a command; its trimmed stdout, or an error with its stderr.
fn run(program: &str, args: &[&str]) -> Res<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
