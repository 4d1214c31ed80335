//! The benchmark harness: cronbox measured side by side with its alternatives
//! and the Docker engine's own floor, in one run, on this machine (issue 5).
//!
//! Run it with `scripts/bench.sh`, or `cargo bench --bench harness -- [--quick]
//! [--only a,b] [--out DIR] [--budget pi]`. `--budget pi` runs the daemon-side
//! measures unconfined and then confined to a Raspberry Pi's budget (`pi.rs`,
//! `budget.rs`). It measures the `cronbox` binary cargo builds with
//! it (release settings), or the one `CRONBOX_BIN` names (to compare a patched
//! build). Not part of `cargo test`: without the `--bench` flag that `cargo
//! bench` passes, it prints a note and exits.
//!
//! Every container it starts (directly, through `docker run`, or through
//! cronbox's jobs) carries the label `cronbox-bench=<this run>`; they are all
//! removed at the end, pass or fail. The image is built offline by importing
//! `/bin/busybox` (Debian's busybox-static) through the API, as the tests do.
//!
//! Measures (see BENCHMARKS.md for what each one means and the goals):
//! `per-run`, `lateness`, `burst`, `idle`, `big`, `flood`, `history`, `api`, `dashboard`,
//! `notify`, `files`.

#[path = "harness/api.rs"]
mod api;
#[path = "harness/budget.rs"]
mod budget;
#[path = "harness/dashboard.rs"]
mod dashboard;
#[path = "harness/files.rs"]
mod files;
#[path = "../tests/support/fixtures.rs"]
mod fixtures;
#[path = "harness/notify.rs"]
mod notify;
#[path = "harness/pi.rs"]
mod pi;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, EventsOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The image every measure runs: a static busybox imported offline.
const IMAGE: &str = "cronbox-bench/busybox:1";
/// The label on every container this harness starts, directly or through cronbox.
const LABEL: &str = "cronbox-bench";
/// A second label naming the measure, so that events can be told apart.
const PHASE_LABEL: &str = "cronbox-bench.phase";
/// The periods of the jobs that tick during the output flood, in seconds (each
/// above the 3 s by which a run is made ready ahead of its tick).
const TICKERS_S: [u64; 3] = [4, 5, 7];
/// The engine's socket.
const DOCKER_SOCK: &str = "/var/run/docker.sock";

type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// How much of each measure to do: the issue's counts, or `--quick` ones.
#[derive(Debug, Clone)]
struct Sizes {
    per_run: usize,
    lateness_jobs: usize,
    lateness_window: i64,
    burst_jobs: usize,
    burst_slots: usize,
    idle_jobs: usize,
    idle_secs: u64,
    strace_secs: u64,
    check_jobs: usize,
    next_jobs: usize,
    next_count: usize,
    big_reps: usize,
    flood_bytes: u64,
    flood_reps: usize,
    history_attempts: u64,
    history_reps: usize,
    /// Requests per endpoint in the `api` measure.
    api_requests: usize,
    /// Files written one at a time in the `files` measure's latency part.
    files_latency: usize,
    /// Files of the `files` measure's backlog.
    files_backlog: usize,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            per_run: 30,
            lateness_jobs: 50,
            lateness_window: 120,
            burst_jobs: 100,
            burst_slots: 8,
            idle_jobs: 1000,
            idle_secs: 60,
            strace_secs: 15,
            check_jobs: 10_000,
            next_jobs: 1000,
            next_count: 100,
            big_reps: 5,
            flood_bytes: 1 << 30,
            flood_reps: 2,
            history_attempts: 1_000_000,
            history_reps: 7,
            api_requests: 300,
            files_latency: 100,
            files_backlog: 10_000,
        }
    }

    fn quick() -> Sizes {
        Sizes {
            per_run: 5,
            lateness_jobs: 10,
            lateness_window: 20,
            burst_jobs: 24,
            idle_secs: 10,
            strace_secs: 3,
            big_reps: 3,
            flood_bytes: 128 << 20,
            flood_reps: 1,
            history_attempts: 100_000,
            history_reps: 3,
            api_requests: 60,
            files_latency: 20,
            files_backlog: 500,
            ..Sizes::full()
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
struct Row {
    measure: String,
    cronbox: String,
    baseline: String,
    ratio: String,
    goal: String,
    met: Option<bool>,
}

struct Bench {
    bin: PathBuf,
    sizes: Sizes,
    quick: bool,
    out: PathBuf,
    /// This run's value of the [`LABEL`] label.
    id: String,
    tmp: tempfile::TempDir,
    docker: Docker,
    rows: Vec<Row>,
    raw: serde_json::Map<String, Value>,
    started: Instant,
    /// `--budget pi`: the kernel confinement of the pass that uses it (see `pi.rs`).
    budget: Option<budget::Budget>,
    /// Where the daemons' schedules, databases and logs go: the temporary
    /// directory, or the throttled file system in the confined pass.
    data: PathBuf,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "cronbox bench harness: not run under `cargo test`; use scripts/bench.sh or `cargo bench --bench harness`"
        );
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_owned).collect());
    let pi = match args.iter().position(|a| a == "--budget") {
        None => false,
        Some(i) if args.get(i + 1).map(String::as_str) == Some("pi") => true,
        Some(_) => {
            eprintln!("bench: --budget takes one value: pi");
            std::process::exit(2);
        }
    };
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| PathBuf::from("target/bench"), PathBuf::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async move {
        match Bench::new(quick, out).await {
            Ok(mut bench) => {
                // Ctrl-C stops the measures; the daemons (dropped with them), the
                // containers and any confinement are then removed as on success.
                let interrupted = tokio::select! {
                    () = bench.run_selected(only.as_deref(), pi) => false,
                    _ = tokio::signal::ctrl_c() => true,
                };
                if interrupted {
                    eprintln!("bench: interrupted; cleaning up");
                    bench.fail("interrupted", "Ctrl-C before the measures ended");
                }
                if let Some(mut b) = bench.budget.take() {
                    b.teardown();
                }
                let code = bench.finish().await;
                i32::from(!code)
            }
            Err(e) => {
                eprintln!("bench: cannot start: {e}");
                2
            }
        }
    });
    std::process::exit(code);
}

impl Bench {
    async fn new(quick: bool, out: PathBuf) -> Res<Bench> {
        // The binary cargo built with this harness (release settings), unless told otherwise.
        let bin = std::env::var_os("CRONBOX_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_cronbox")),
            PathBuf::from,
        );
        let bin = std::path::absolute(&bin).map_err(err("CRONBOX_BIN"))?;
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: build it with `cargo build --release` (scripts/bench.sh does)",
                bin.display()
            ));
        }
        let docker = Docker::connect_with_unix_defaults()
            .map_err(err("connecting to the Docker engine"))?
            .negotiate_version()
            .await
            .map_err(err("asking the Docker engine its version"))?;
        std::fs::create_dir_all(&out).map_err(err("creating the output directory"))?;
        let id = format!(
            "{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
        );
        let tmp = tempfile::Builder::new()
            .prefix("cronbox-bench-")
            .tempdir()
            .map_err(err("temp dir"))?;
        let data = tmp.path().to_owned();
        Ok(Bench {
            data,
            budget: None,
            bin,
            sizes: if quick { Sizes::quick() } else { Sizes::full() },
            quick,
            out,
            id,
            tmp,
            docker,
            rows: Vec::new(),
            raw: serde_json::Map::new(),
            started: Instant::now(),
        })
    }

    async fn run_all(&mut self, only: Option<&[String]>) {
        let wanted = |name: &str| only.is_none_or(|o| o.iter().any(|n| n == name));
        eprintln!(
            "bench: {} mode, cronbox {}, label {LABEL}={}",
            if self.quick { "quick" } else { "full" },
            self.bin.display(),
            self.id
        );
        self.raw.insert("machine".into(), machine());
        self.raw.insert(
            "mode".into(),
            json!(if self.quick { "quick" } else { "full" }),
        );
        if let Err(e) = self.prepare_image().await {
            self.fail("image", &e);
            return;
        }
        type Phase =
            fn(&mut Bench) -> std::pin::Pin<Box<dyn std::future::Future<Output = Res<()>> + '_>>;
        let phases: [(&str, Phase); 12] = [
            ("per-run", |b| Box::pin(b.per_run())),
            ("lateness", |b| Box::pin(b.lateness())),
            ("burst", |b| Box::pin(b.burst())),
            ("indexed", |b| Box::pin(b.indexed())),
            ("idle", |b| Box::pin(b.idle_and_history())),
            ("big", |b| Box::pin(b.big_schedule())),
            ("flood", |b| Box::pin(b.flood())),
            ("history", |b| Box::pin(b.history_queries())),
            ("api", |b| Box::pin(b.api())),
            ("dashboard", |b| Box::pin(b.dashboard())),
            ("notify", |b| Box::pin(b.notify())),
            ("files", |b| Box::pin(b.files())),
        ];
        for (name, phase) in phases {
            if !wanted(name) {
                continue;
            }
            let t = Instant::now();
            eprintln!(
                "bench: [{:>5.0} s] {name} ...",
                self.started.elapsed().as_secs_f64()
            );
            if let Err(e) = phase(self).await {
                self.fail(name, &e);
            }
            self.cleanup_containers().await;
            eprintln!("bench: {name} done in {:.1} s", t.elapsed().as_secs_f64());
            self.write_raw();
        }
    }

    fn fail(&mut self, measure: &str, e: &str) {
        eprintln!("bench: {measure} FAILED: {e}");
        self.raw
            .insert(format!("{measure}.error"), Value::String(e.to_owned()));
        self.rows.push(Row {
            measure: measure.to_owned(),
            cronbox: format!("error: {e}"),
            baseline: String::new(),
            ratio: String::new(),
            goal: String::new(),
            met: Some(false),
        });
    }

    fn row(
        &mut self,
        measure: &str,
        cronbox: String,
        baseline: String,
        ratio: String,
        goal: &str,
        met: Option<bool>,
    ) {
        self.rows.push(Row {
            measure: measure.to_owned(),
            cronbox,
            baseline,
            ratio,
            goal: goal.to_owned(),
            met,
        });
    }

    fn write_raw(&self) {
        let mut raw = self.raw.clone();
        raw.insert(
            "elapsed_s".into(),
            json!(self.started.elapsed().as_secs_f64()),
        );
        let text = serde_json::to_string_pretty(&Value::Object(raw)).unwrap_or_default();
        let _ = std::fs::write(self.out.join("results.json"), text);
    }

    /// Print the table, write the raw figures, remove every container; true when
    /// every measure ran (a missed goal is a result, not a failure of the harness).
    async fn finish(&mut self) -> bool {
        self.cleanup_containers().await;
        let table = if self.raw.contains_key("budget") {
            pi::budget_table(&self.rows)
        } else {
            table(&self.rows)
        };
        println!("\n{table}");
        let total = self.started.elapsed().as_secs_f64();
        println!(
            "harness time: {total:.0} s ({} mode); raw figures in {}",
            if self.quick { "quick" } else { "full" },
            self.out.join("results.json").display()
        );
        self.write_raw();
        let _ = std::fs::write(self.out.join("results.md"), &table);
        !self.raw.keys().any(|k| k.ends_with(".error"))
    }

    /// A daemon's file or directory: on the throttled file system when confined.
    fn path(&self, name: &str) -> PathBuf {
        self.data.join(name)
    }

    /// A file of the harness's own (never confined).
    fn scratch(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// A command running `program`, in the confined cgroups when there are some.
    fn command(&self, program: &Path) -> Command {
        match &self.budget {
            Some(b) => b.command(program),
            None => Command::new(program),
        }
    }

    /// Remove every container of this run (by label), whatever state it is in.
    async fn cleanup_containers(&self) {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{LABEL}={}", self.id)])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let Ok(list) = self.docker.list_containers(Some(options)).await else {
            eprintln!("bench: could not list containers to clean up");
            return;
        };
        for c in list {
            if let Some(id) = c.id {
                let _ = self
                    .docker
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                    )
                    .await;
            }
        }
    }

    // ---------------------------------------------------------------- image

    async fn prepare_image(&self) -> Res<()> {
        if self.docker.inspect_image(IMAGE).await.is_ok() {
            return Ok(());
        }
        let rootfs = fixtures::busybox_rootfs(Path::new("/bin/busybox")).map_err(err(
            "reading /bin/busybox (install Debian's busybox-static)",
        ))?;
        let (repo, tag) = IMAGE.rsplit_once(':').unwrap_or((IMAGE, "latest"));
        cronbox::engine::Engine::connect()
            .import_rootfs(repo, tag, rootfs)
            .await
            .map_err(err("importing the bench image"))?;
        eprintln!("bench: imported {IMAGE} from /bin/busybox");
        Ok(())
    }

    // ------------------------------------------------------------- configs

    fn labels_toml(&self, phase: &str) -> String {
        format!(
            "labels = {{ \"{LABEL}\" = \"{}\", \"{PHASE_LABEL}\" = \"{phase}-{}\" }}",
            self.id, self.id
        )
    }

    /// Write a schedule file in its own directory (the daemon watches it).
    fn write_config(&self, name: &str, daemon: &str, jobs: &str) -> Res<(PathBuf, PathBuf)> {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).map_err(err("config dir"))?;
        let db = dir.join("cronbox.db");
        let config = dir.join("cronbox.toml");
        let text = format!(
            "[daemon]\ndatabase = \"{}\"\ntimezone = \"UTC\"\non_shutdown = \"stop\"\n{daemon}\n\n{jobs}",
            db.display()
        );
        std::fs::write(&config, text).map_err(err("writing config"))?;
        Ok((config, db))
    }

    fn start_daemon(&self, config: &Path, docker_host: Option<&str>) -> Res<Daemon> {
        let log = config.with_extension("log");
        let file = std::fs::File::create(&log).map_err(err("daemon log"))?;
        let mut cmd = self.command(&self.bin);
        cmd.args(["daemon", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .env("CRONBOX_LOG", "info");
        if let Some(host) = docker_host {
            cmd.env("DOCKER_HOST", host);
        }
        let child = cmd.spawn().map_err(err("starting the daemon"))?;
        Ok(Daemon {
            child: Some(child),
            log,
            started: Instant::now(),
        })
    }

    // ------------------------------------------------------------- per-run

    /// `cronbox run` vs `docker run --rm` vs create/start/wait/remove in-process.
    async fn per_run(&mut self) -> Res<()> {
        let n = self.sizes.per_run;
        let jobs = format!(
            "[jobs.trivial]\nschedule = \"0 0 1 1 *\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n{}\n",
            self.labels_toml("per-run")
        );
        let (config, db) = self.write_config("per-run", "", &jobs)?;
        let bin = self.bin.clone();
        let id = self.id.clone();
        let cronbox_run = || -> Res<f64> {
            let t = Instant::now();
            let status = Command::new(&bin)
                .args(["run", "trivial", "--config"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(err("cronbox run"))?;
            let took = t.elapsed().as_secs_f64();
            if !status.success() {
                return Err(format!("cronbox run exited with {status}"));
            }
            Ok(took)
        };
        let docker_run = || -> Res<f64> {
            let t = Instant::now();
            let status = Command::new("docker")
                .args(["run", "--rm", "--label"])
                .arg(format!("{LABEL}={id}"))
                .args([IMAGE, "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(err("docker run"))?;
            let took = t.elapsed().as_secs_f64();
            if !status.success() {
                return Err(format!("docker run exited with {status}"));
            }
            Ok(took)
        };
        let (mut c, mut d, mut f) = (Vec::new(), Vec::new(), Vec::new());
        // One warm-up round (not counted), then rounds in rotating order so that
        // a slow patch of the shared machine falls on each of the three alike.
        for round in 0..=n {
            for k in 0..3 {
                match (round + k) % 3 {
                    0 => {
                        let t = tokio::task::block_in_place(cronbox_run)?;
                        if round > 0 {
                            c.push(t);
                        }
                    }
                    1 => {
                        let t = tokio::task::block_in_place(docker_run)?;
                        if round > 0 {
                            d.push(t);
                        }
                    }
                    _ => {
                        let t = floor_once(&self.docker, &self.id, "per-run", &["true"]).await?;
                        if round > 0 {
                            f.push(t);
                        }
                    }
                }
            }
        }
        let recorded = sql_json(
            &db,
            "SELECT count(*) AS n, sum(status = 'succeeded') AS ok FROM runs",
        )?;
        let (mc, md, mf) = (median(&c), median(&d), median(&f));
        let paired: Vec<f64> = c.iter().zip(&d).map(|(a, b)| a / b).collect();
        self.raw.insert(
            "per_run".into(),
            json!({"n": n, "cronbox_run_s": c, "docker_run_s": d, "floor_s": f,
                   "median_s": {"cronbox": mc, "docker": md, "floor": mf},
                   "paired_ratio_to_docker_median": median(&paired),
                   "runs_recorded": recorded}),
        );
        let r_docker = mc / md;
        let r_floor = mc / mf;
        self.row(
            &format!("per-run `true`, median of {n}: vs docker run"),
            ms(mc),
            format!("`docker run --rm`: {}", ms(md)),
            format!("{r_docker:.2}"),
            "≤ 1.00",
            Some(r_docker <= 1.0),
        );
        self.row(
            &format!("per-run `true`, median of {n}: vs engine floor"),
            ms(mc),
            format!("floor (bollard create/start/wait/remove): {}", ms(mf)),
            format!("{r_floor:.2}"),
            "≤ 1.15",
            Some(r_floor <= 1.15),
        );
        Ok(())
    }

    // ------------------------------------------------------------ lateness

    /// 50 jobs, each firing once at its own second within two minutes; the daemon
    /// talks to the engine through a socket proxy that timestamps each request.
    async fn lateness(&mut self) -> Res<()> {
        let n = self.sizes.lateness_jobs;
        let window = self.sizes.lateness_window;
        let lead = 8;
        let now = unix_now().ceil() as i64;
        let first = now + lead;
        // Tick i at its own whole second, spread over the window: @every P fires at
        // multiples of P since the epoch, so P is a divisor of that second larger
        // than the window (it fires once within it).
        let mut ticks: Vec<(i64, i64)> = Vec::new();
        let mut used = HashSet::new();
        for i in 0..n {
            let mut x = first + (i as i64 * window) / n as i64;
            loop {
                if !used.contains(&x)
                    && let Some(p) = divisor_between(x, window + 30, 5_000_000)
                {
                    used.insert(x);
                    ticks.push((x, p));
                    break;
                }
                x += 1;
            }
        }
        let mut jobs = String::new();
        for (i, (_, p)) in ticks.iter().enumerate() {
            let _ = write!(
                jobs,
                "[jobs.lat-{i:03}]\nschedule = \"@every {p}s\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n{}\n\n",
                self.labels_toml("lateness")
            );
        }
        let (config, db) = self.write_config("lateness", "", &jobs)?;
        let sock = self.scratch("proxy.sock");
        let requests = start_proxy(&sock).await?;
        let phase = format!("lateness-{}", self.id);
        let events = collect_events(self.docker.clone(), &phase);
        // The same instants, slept for by a bare tokio timer in this process: how
        // late this loaded machine wakes anything, in the same run.
        let timer = {
            let instants: Vec<i64> = ticks.iter().map(|t| t.0).collect();
            tokio::spawn(async move {
                let mut late = Vec::new();
                for x in instants {
                    let wait = x as f64 - unix_now();
                    if wait > 0.0 {
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    }
                    late.push((unix_now() - x as f64) * 1000.0);
                }
                late
            })
        };
        let daemon = self.start_daemon(&config, Some(&format!("unix://{}", sock.display())))?;
        let ready = daemon.wait_ready(Duration::from_secs(30)).await?;
        if unix_now() > first as f64 - 0.5 {
            return Err(format!(
                "the daemon took {:.1} s to start; the first tick passed",
                ready.as_secs_f64()
            ));
        }
        let last = ticks.iter().map(|t| t.0).max().unwrap_or(first);
        tokio::time::sleep(Duration::from_secs_f64(
            (last as f64 - unix_now()).max(0.0) + 1.0,
        ))
        .await;
        wait_for_runs(&db, n, Duration::from_secs(60)).await?;
        let timer_late = timer.await.map_err(err("timer task"))?;
        daemon.stop().await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        events.task.abort();

        let runs = sql_json(
            &db,
            "SELECT r.id, r.job, r.scheduled_at, r.started_at AS run_at, a.started_at AS attempt_at,
                    a.container_id, a.outcome, a.exit_code
             FROM runs r LEFT JOIN attempts a ON a.run_id = r.id AND a.attempt = 1 ORDER BY r.id",
        )?;
        let requests = requests.lock().map_err(err("proxy log"))?.clone();
        let started = events.seen.lock().map_err(err("events"))?.clone();
        let mut stages: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut per_job = Vec::new();
        for run in &runs {
            let tick = ts(&run["scheduled_at"])?;
            let name_prefix = format!(
                "cronbox-{}-{}-1-",
                run["job"].as_str().unwrap_or_default(),
                run["id"]
            );
            // A container made ready ahead of its tick is named after the tick.
            let ready_prefix = format!(
                "cronbox-{}-t{}-",
                run["job"].as_str().unwrap_or_default(),
                tick.round() as i64
            );
            let cid = run["container_id"].as_str().unwrap_or_default().to_owned();
            let create = requests
                .iter()
                .find(|(_, path)| {
                    path.contains("/containers/create")
                        && (path.contains(&name_prefix) || path.contains(&ready_prefix))
                })
                .map(|(t, _)| *t);
            let start = requests
                .iter()
                .find(|(_, path)| {
                    !cid.is_empty() && path.contains(&cid) && path.ends_with("/start")
                })
                .map(|(t, _)| *t);
            let request = |suffix: &str| {
                requests
                    .iter()
                    .find(|(_, path)| {
                        !cid.is_empty()
                            && path.contains(&cid)
                            && path.split('?').next().is_some_and(|p| p.ends_with(suffix))
                    })
                    .map(|(t, _)| *t)
            };
            let (attach, wait) = (request("/attach"), request("/wait"));
            let running = started.iter().find(|(_, id)| *id == cid).map(|(t, _)| *t);
            let ms_after = |t: Option<f64>| t.map(|t| (t - tick) * 1000.0);
            let row = [
                ("run recorded (runs.started_at)", ts(&run["run_at"]).ok()),
                (
                    "attempt recorded (attempts.started_at)",
                    ts(&run["attempt_at"]).ok(),
                ),
                ("create request (proxy)", create),
                ("attach request (proxy)", attach),
                ("wait request (proxy)", wait),
                ("start request (proxy)", start),
                ("running (engine start event)", running),
            ];
            let mut j = serde_json::Map::new();
            j.insert("job".into(), run["job"].clone());
            j.insert("tick".into(), run["scheduled_at"].clone());
            for (stage, t) in row {
                if let Some(v) = ms_after(t) {
                    stages.entry(stage).or_default().push(v);
                    j.insert(stage.into(), json!(v));
                }
            }
            per_job.push(Value::Object(j));
        }
        let ok = runs
            .iter()
            .filter(|r| r["outcome"] == "exited" && r["exit_code"] == 0)
            .count();
        let summary: serde_json::Map<String, Value> = stages
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    json!({"n": v.len(), "p50_ms": pct(v, 50.0), "p99_ms": pct(v, 99.0), "max_ms": pct(v, 100.0)}),
                )
            })
            .collect();
        self.raw.insert(
            "lateness".into(),
            json!({"jobs": n, "window_s": window, "runs": runs.len(), "runs_ok": ok,
                   "source": "tick = runs.scheduled_at; run/attempt recorded from SQLite (ms); create/start request from a Unix-socket proxy between the daemon and dockerd (µs); running from the engine's container start event (timeNano)",
                   "stages_ms": summary, "bare_timer_ms": timer_late, "per_job": per_job}),
        );
        let p = |stage: &str, q: f64| stages.get(stage).map_or(f64::NAN, |v| pct(v, q));
        let (t50, t99) = (pct(&timer_late, 50.0), pct(&timer_late, 99.0));
        let got = stages.get("start request (proxy)").map_or(0, Vec::len);
        let start99 = p("start request (proxy)", 99.0);
        let mut note = String::new();
        if got < n || ok < n {
            note = format!(" ({got}/{n} seen, {ok}/{n} exited 0)");
        }
        self.row(
            &format!("dispatch: tick → start request, {n} jobs over {window} s"),
            format!(
                "p50 {:.1} ms, p99 {:.1} ms{note}",
                p("start request (proxy)", 50.0),
                start99
            ),
            format!("bare tokio timer: p50 {t50:.1} ms, p99 {t99:.1} ms"),
            format!("{:.0}×", start99 / t99.max(0.1)),
            "p99 ≤ 20 ms",
            Some(start99 <= 20.0 && got == n && ok == n),
        );
        for (stage, label) in [
            (
                "attempt recorded (attempts.started_at)",
                "dispatch: tick → attempt recorded (SQLite)",
            ),
            (
                "create request (proxy)",
                "dispatch: tick → create request (negative: made ready ahead)",
            ),
            (
                "running (engine start event)",
                "dispatch: tick → container running",
            ),
        ] {
            self.row(
                label,
                format!("p50 {:.1} ms, p99 {:.1} ms", p(stage, 50.0), p(stage, 99.0)),
                "—".into(),
                "—".into(),
                "—",
                None,
            );
        }
        Ok(())
    }

    // --------------------------------------------------------------- burst

    /// 100 jobs due at the same instant with max_concurrent = 8, vs the same 100
    /// containers through 8 parallel workers in-process.
    async fn burst(&mut self) -> Res<()> {
        let n = self.sizes.burst_jobs;
        let slots = self.sizes.burst_slots;
        // The floor first: it also warms the engine for what follows.
        let t = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..slots {
            let (docker, id, next) = (self.docker.clone(), self.id.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < n {
                    floor_once(&docker, &id, "burst-floor", &["true"]).await?;
                }
                Ok::<(), String>(())
            }));
        }
        for w in workers {
            w.await.map_err(err("floor worker"))??;
        }
        let floor = t.elapsed().as_secs_f64();

        let (period, tick) = period_with_tick(unix_now() + 7.0, unix_now() + 11.0, 600)
            .ok_or("no @every period puts a tick in the next seconds")?;
        let mut jobs = String::new();
        for i in 0..n {
            let _ = write!(
                jobs,
                "[jobs.burst-{i:03}]\nschedule = \"@every {period}s\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n{}\n\n",
                self.labels_toml("burst")
            );
        }
        let (config, db) =
            self.write_config("burst", &format!("max_concurrent = {slots}"), &jobs)?;
        let daemon = self.start_daemon(&config, None)?;
        daemon.wait_ready(Duration::from_secs(30)).await?;
        if unix_now() > tick as f64 - 0.5 {
            return Err("the daemon was not ready before the burst's tick".into());
        }
        tokio::time::sleep(Duration::from_secs_f64((tick as f64 - unix_now()).max(0.0))).await;
        wait_for_runs(&db, n, Duration::from_secs(300)).await?;
        daemon.stop().await?;
        let stats = sql_json(
            &db,
            "SELECT count(*) AS runs, sum(r.status = 'succeeded') AS succeeded,
                    (SELECT count(*) FROM attempts WHERE outcome = 'exited' AND exit_code = 0) AS attempts_ok,
                    (SELECT count(*) FROM attempts) AS attempts,
                    min(r.scheduled_at) AS tick, max(r.finished_at) AS last_finished,
                    (SELECT max(waited_ms) FROM attempts) AS max_waited_ms
             FROM runs r",
        )?;
        let s = stats.first().ok_or("no burst statistics")?;
        let cronbox = ts(&s["last_finished"])? - ts(&s["tick"])?;
        let all =
            s["runs"] == n && s["succeeded"] == n && s["attempts_ok"] == n && s["attempts"] == n;
        self.raw.insert(
            "burst".into(),
            json!({"jobs": n, "max_concurrent": slots, "cronbox_s": cronbox, "floor_s": floor,
                   "cronbox_measured": "max(runs.finished_at) - tick", "floor_measured": "wall time of 8 workers, create/start/wait/remove",
                   "db": s}),
        );
        let ratio = cronbox / floor;
        self.row(
            &format!("burst: {n} jobs at one instant, max_concurrent = {slots}"),
            format!(
                "{cronbox:.2} s, {}/{n} runs recorded succeeded",
                s["succeeded"]
            ),
            format!("floor, {slots} workers: {floor:.2} s"),
            format!("{ratio:.2}"),
            "≤ 1.20, every run recorded",
            Some(ratio <= 1.2 && all),
        );
        Ok(())
    }

    // ------------------------------------------------------------- indexed

    /// One run of 32 completions with parallelism 8 (issue 17), vs the same 32
    /// containers through 8 parallel workers in-process.
    async fn indexed(&mut self) -> Res<()> {
        const COMPLETIONS: usize = 32;
        const PARALLELISM: usize = 8;
        let t = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..PARALLELISM {
            let (docker, id, next) = (self.docker.clone(), self.id.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < COMPLETIONS {
                    floor_once(&docker, &id, "indexed-floor", &["true"]).await?;
                }
                Ok::<(), String>(())
            }));
        }
        for w in workers {
            w.await.map_err(err("floor worker"))??;
        }
        let floor = t.elapsed().as_secs_f64();

        let (period, tick) = period_with_tick(unix_now() + 7.0, unix_now() + 11.0, 600)
            .ok_or("no @every period puts a tick in the next seconds")?;
        let jobs = format!(
            "[jobs.indexed]\nschedule = \"@every {period}s\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\ncompletions = {COMPLETIONS}\nparallelism = {PARALLELISM}\n{}\n",
            self.labels_toml("indexed")
        );
        // max_concurrent defaults to the CPUs: as many slots as places, as the floor has workers.
        let (config, db) =
            self.write_config("indexed", &format!("max_concurrent = {PARALLELISM}"), &jobs)?;
        let daemon = self.start_daemon(&config, None)?;
        daemon.wait_ready(Duration::from_secs(30)).await?;
        if unix_now() > tick as f64 - 0.5 {
            return Err("the daemon was not ready before the indexed run's tick".into());
        }
        tokio::time::sleep(Duration::from_secs_f64((tick as f64 - unix_now()).max(0.0))).await;
        wait_for_runs(&db, 1, Duration::from_secs(300)).await?;
        daemon.stop().await?;
        let stats = sql_json(
            &db,
            "SELECT r.status AS status, r.scheduled_at AS tick, r.finished_at AS finished,
                    (SELECT count(*) FROM attempts WHERE outcome = 'exited' AND exit_code = 0) AS attempts_ok,
                    (SELECT count(*) FROM attempts) AS attempts,
                    (SELECT count(DISTINCT completion_index) FROM attempts) AS indexes
             FROM runs r",
        )?;
        let s = stats.first().ok_or("no indexed statistics")?;
        let cronbox = ts(&s["finished"])? - ts(&s["tick"])?;
        let all = s["status"] == "succeeded"
            && s["attempts_ok"] == COMPLETIONS
            && s["attempts"] == COMPLETIONS
            && s["indexes"] == COMPLETIONS;
        self.raw.insert(
            "indexed".into(),
            json!({"completions": COMPLETIONS, "parallelism": PARALLELISM, "max_concurrent": PARALLELISM, "cronbox_s": cronbox, "floor_s": floor,
                   "cronbox_measured": "runs.finished_at - tick", "floor_measured": "wall time of 8 workers, create/start/wait/remove",
                   "db": s}),
        );
        let ratio = cronbox / floor;
        self.row(
            &format!("indexed: one run, completions = {COMPLETIONS}, parallelism = {PARALLELISM}"),
            format!(
                "{cronbox:.2} s, {}/{COMPLETIONS} attempts recorded succeeded",
                s["attempts_ok"]
            ),
            format!("floor, {PARALLELISM} workers: {floor:.2} s"),
            format!("{ratio:.2}"),
            "≤ 1.20, every attempt recorded",
            Some(ratio <= 1.2 && all),
        );
        Ok(())
    }

    // ---------------------------------------------------------------- idle

    /// 1,000 jobs, nothing due for the whole window. The history database for the
    /// last measure is generated meanwhile (the daemon's own CPU time and context
    /// switches are what is counted, so the load does not change them).
    async fn idle_and_history(&mut self) -> Res<()> {
        let secs = self.sizes.idle_secs;
        let n = self.sizes.idle_jobs;
        let now = unix_now() as i64;
        let hour = (now / 3600) % 24;
        let mut jobs = String::new();
        for i in 0..n {
            // An hour that is neither this one nor the next: nothing is due.
            let h = (hour + 2 + (i as i64 % 21)) % 24;
            let m = (i * 7) % 60;
            let schedule = match i % 5 {
                0 => format!("{m} {h} * * *"),
                1 => format!("{m} {h} * * {}", i % 7),
                2 => format!("{m} {h} {} * *", 1 + i % 28),
                3 => format!("*/15 {h} * * 1-5"),
                _ => {
                    let mut p = 7200 + (i as i64 * 37) % 80_000;
                    while (now / p + 1) * p - now < 3600 {
                        p += 1;
                    }
                    format!("@every {p}s")
                }
            };
            let _ = write!(
                jobs,
                "[jobs.idle-{i:04}]\nschedule = \"{schedule}\"\nimage = \"{IMAGE}\"\ncommand = [\"sh\", \"-c\", \"echo {i}\"]\nretries = {}\n{}\n\n",
                i % 3,
                self.labels_toml("idle")
            );
        }
        // The same daemon with one job, for what the 1,000 jobs add.
        // Both with the HTTP server on (its default), each on a port of its own.
        let listen = || -> Res<String> {
            Ok(format!(
                "\n[daemon.http]\nlisten = \"127.0.0.1:{}\"\n",
                api::free_port()?
            ))
        };
        let (one, _) = self.write_config(
            "idle-one",
            &listen()?,
            &format!(
                "[jobs.idle-one]\nschedule = \"0 {} * * *\"\nimage = \"{IMAGE}\"\n{}\n",
                (hour + 2) % 24,
                self.labels_toml("idle")
            ),
        )?;
        let daemon = self.start_daemon(&one, None)?;
        daemon.wait_ready(Duration::from_secs(60)).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let one_rss = (
            status_kb(daemon.pid(), "VmRSS").unwrap_or(0),
            status_kb(daemon.pid(), "RssAnon").unwrap_or(0),
        );
        daemon.stop().await?;

        let (config, _) = self.write_config("idle", &listen()?, &jobs)?;
        let daemon = self.start_daemon(&config, None)?;
        daemon.wait_ready(Duration::from_secs(60)).await?;
        let pid = daemon.pid();
        // Let start-up work (the first prune, the engine check) settle.
        tokio::time::sleep(Duration::from_secs(if self.quick { 2 } else { 5 })).await;

        // The history database is built meanwhile (see above).
        let history = {
            let big = self.scratch("history-big.db");
            let small = self.scratch("history-small.db");
            let attempts = self.sizes.history_attempts;
            tokio::spawn(async move {
                let t = Instant::now();
                generate_history(&big, attempts).await?;
                let big_s = t.elapsed().as_secs_f64();
                generate_history(&small, 1000).await?;
                Ok::<f64, String>(big_s)
            })
        };

        let clk = clk_tck();
        let cpu0 = cpu_ticks(pid)?;
        let threads0 = threads(pid);
        let perf = Command::new("perf")
            .args(["stat", "-x,", "-e", "context-switches,cpu-migrations", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(self.scratch("idle-perf.txt"))
            .args(["--", "sleep"])
            .arg(secs.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        let t0 = Instant::now();
        let mut rss = Vec::new();
        while t0.elapsed() < Duration::from_secs(secs) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss.push(status_kb(pid, "VmRSS").unwrap_or(0));
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu1 = cpu_ticks(pid)?;
        let threads1 = threads(pid);
        let vm_rss = status_kb(pid, "VmRSS").unwrap_or(0);
        let vm_hwm = status_kb(pid, "VmHWM").unwrap_or(0);
        let (rss_anon, rss_file) = (
            status_kb(pid, "RssAnon").unwrap_or(0),
            status_kb(pid, "RssFile").unwrap_or(0),
        );
        if let Some(mut perf) = perf {
            tokio::task::block_in_place(|| perf.wait()).ok();
        }
        let perf_text = std::fs::read_to_string(self.scratch("idle-perf.txt")).unwrap_or_default();
        // `<not counted>`: the process never ran while perf watched it.
        let perf_switches = perf_text
            .lines()
            .find(|l| l.contains("context-switches"))
            .and_then(|l| l.split(',').next())
            .map(|v| v.trim().parse::<f64>().unwrap_or(0.0));

        // strace, in a window of its own: it stops the process at every syscall.
        let strace = if Command::new("strace").arg("-V").output().is_ok() {
            let out = self.scratch("idle-strace.txt");
            let child = Command::new("strace")
                .args([
                    "-f",
                    "-c",
                    "-e",
                    "trace=epoll_wait,epoll_pwait,futex,clock_nanosleep,nanosleep,poll,ppoll",
                    "-o",
                ])
                .arg(&out)
                .arg("-p")
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok();
            tokio::time::sleep(Duration::from_secs(self.sizes.strace_secs)).await;
            if let Some(mut child) = child {
                let _ = Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status();
                tokio::task::block_in_place(|| child.wait()).ok();
            }
            std::fs::read_to_string(out).unwrap_or_default()
        } else {
            String::new()
        };
        daemon.stop().await?;

        let cpu_pct = (cpu1 - cpu0) as f64 / clk / elapsed * 100.0;
        let mut per_thread = Vec::new();
        let (mut vol, mut nonvol) = (0u64, 0u64);
        for (tid, (comm, v1, n1)) in &threads1 {
            let (v0, n0) = threads0.get(tid).map_or((0, 0), |(_, v, n)| (*v, *n));
            let (dv, dn) = (v1.saturating_sub(v0), n1.saturating_sub(n0));
            vol += dv;
            nonvol += dn;
            per_thread.push(json!({"tid": tid, "comm": comm, "voluntary": dv, "nonvoluntary": dn, "new": !threads0.contains_key(tid)}));
        }
        let wakeups = (vol + nonvol) as f64 / elapsed;
        let rss_max = rss.iter().copied().max().unwrap_or(vm_rss);
        self.raw.insert(
            "idle".into(),
            json!({"jobs": n, "window_s": elapsed, "cpu_ticks": cpu1 - cpu0, "clk_tck": clk,
                   "cpu_percent": cpu_pct, "vm_rss_kb": vm_rss, "vm_hwm_kb": vm_hwm, "rss_samples_kb": rss,
                   "rss_anon_kb": rss_anon, "rss_file_kb": rss_file,
                   "one_job": {"vm_rss_kb": one_rss.0, "rss_anon_kb": one_rss.1},
                   "ctx_switches": {"voluntary": vol, "nonvoluntary": nonvol, "per_second": wakeups,
                                    "threads_before": threads0.len(), "threads_after": threads1.len(),
                                    "per_thread": per_thread, "perf_stat_context_switches": perf_switches},
                   "strace_window_s": self.sizes.strace_secs, "strace_c": strace}),
        );
        let mib = |kb: u64| kb as f64 / 1024.0;
        self.row(
            &format!("idle: {n} jobs, {elapsed:.0} s, RSS"),
            format!(
                "VmRSS {:.1} MiB (max {:.1}; anon {:.1}, file {:.1}), VmHWM {:.1} MiB",
                mib(vm_rss),
                mib(rss_max),
                mib(rss_anon),
                mib(rss_file),
                mib(vm_hwm)
            ),
            format!(
                "1 job: VmRSS {:.1} MiB (anon {:.1})",
                mib(one_rss.0),
                mib(one_rss.1)
            ),
            format!("{:.2}", vm_rss as f64 / one_rss.0.max(1) as f64),
            "≤ 20 MiB",
            Some(mib(rss_max.max(vm_rss)) <= 20.0),
        );
        self.row(
            &format!("idle: {n} jobs, {elapsed:.0} s, CPU"),
            format!("{cpu_pct:.3} % of a core ({} ticks)", cpu1 - cpu0),
            "—".into(),
            "—".into(),
            "≤ 0.1 %",
            Some(cpu_pct <= 0.1),
        );
        self.row(
            &format!("idle: {n} jobs, {elapsed:.0} s, wake-ups"),
            format!(
                "{wakeups:.2} context switches/s ({vol} voluntary, {nonvol} involuntary; perf: {})",
                perf_switches.map_or_else(|| "n/a".to_owned(), |p| format!("{p:.0}"))
            ),
            "—".into(),
            "—".into(),
            "no periodic busy wake-ups (≤ 1/s)",
            Some(wakeups <= 1.0),
        );

        let big_s = history.await.map_err(err("history generation"))??;
        self.raw.insert("history_generation_s".into(), json!(big_s));
        Ok(())
    }

    // --------------------------------------------------------- big schedule

    async fn big_schedule(&mut self) -> Res<()> {
        let reps = self.sizes.big_reps;
        let big_jobs = |count: usize| -> String {
            let zones = [
                "UTC",
                "Europe/Paris",
                "America/New_York",
                "Asia/Tokyo",
                "Australia/Lord_Howe",
                "America/Havana",
                "Europe/Berlin",
            ];
            let mut text = String::new();
            for i in 0..count {
                let schedule = match i % 8 {
                    0 => format!("{} {} * * *", i % 60, i % 24),
                    1 => format!("*/{} * * * *", 1 + i % 30),
                    2 => format!("{} {}-{} * * mon-fri", i % 60, i % 12, 12 + i % 12),
                    3 => format!("0 {} 13 * fri", i % 24),
                    4 => format!("@every {}s", 60 + i),
                    5 => "@daily".to_owned(),
                    6 => format!("15,45 {} * jan-jun *", i % 24),
                    _ => format!("30 2 {} * *", 1 + i % 28),
                };
                let _ = write!(
                    text,
                    "[jobs.job-{i:05}]\nschedule = \"{schedule}\"\ntimezone = \"{}\"\nimage = \"{IMAGE}\"\ncommand = [\"sh\", \"-c\", \"echo job {i}\"]\nretries = {}\nbackoff = \"30s\"\n\n",
                    zones[i % zones.len()],
                    i % 4
                );
            }
            text
        };
        let (check_big, _) =
            self.write_config("big-check", "", &big_jobs(self.sizes.check_jobs))?;
        // The same number of jobs in one chain of `after` (issue 15: the cycle check
        // is linear), each job after the one before it.
        let chain = (0..self.sizes.check_jobs).fold(String::new(), |mut text, i| {
            let trigger = match i {
                0 => "schedule = \"@daily\"".to_owned(),
                _ => format!("after = {{ job = \"job-{:05}\" }}", i - 1),
            };
            let _ = write!(
                text,
                "[jobs.job-{i:05}]\n{trigger}\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n\n"
            );
            text
        });
        let (check_chain, _) = self.write_config("big-chain", "", &chain)?;
        let (next_big, _) = self.write_config("big-next", "", &big_jobs(self.sizes.next_jobs))?;
        let (one, _) = self.write_config("big-one", "", &big_jobs(1))?;
        let count = self.sizes.next_count.to_string();
        let cases: [(&str, Vec<String>, &Path, &Path); 3] = [
            (
                "check",
                vec!["check".into()],
                check_big.as_path(),
                one.as_path(),
            ),
            (
                "check-after",
                vec!["check".into()],
                check_chain.as_path(),
                one.as_path(),
            ),
            (
                "next",
                vec!["next".into(), "--count".into(), count.clone()],
                next_big.as_path(),
                one.as_path(),
            ),
        ];
        let mut raw = serde_json::Map::new();
        let mut rows = Vec::new();
        for (name, args, big, small) in cases {
            let (mut tb, mut rb, mut ts_, mut rs) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for rep in 0..=reps {
                for (config, times, rss) in [(big, &mut tb, &mut rb), (small, &mut ts_, &mut rs)] {
                    let (t, kb) = tokio::task::block_in_place(|| {
                        time_v(
                            self.command(Path::new("/usr/bin/time")),
                            &self.bin,
                            &args,
                            config,
                            &self.scratch("time-v.txt"),
                        )
                    })?;
                    if rep > 0 {
                        times.push(t);
                        rss.push(kb);
                    }
                }
            }
            let jobs = if name.starts_with("check") {
                self.sizes.check_jobs
            } else {
                self.sizes.next_jobs
            };
            raw.insert(
                name.into(),
                json!({"jobs": jobs, "wall_s": tb, "max_rss_kb": rb, "one_job_wall_s": ts_, "one_job_max_rss_kb": rs}),
            );
            let (mb, ms1) = (median(&tb), median(&ts_));
            let rss = rb.iter().copied().max().unwrap_or(0) as f64 / 1024.0;
            let rss1 = rs.iter().copied().max().unwrap_or(0) as f64 / 1024.0;
            let what = if name == "check" {
                format!("big schedule: `cronbox check`, {jobs} jobs")
            } else if name == "check-after" {
                format!("big schedule: `cronbox check`, {jobs} jobs in one `after` chain")
            } else {
                format!("big schedule: `cronbox next --count {count}`, {jobs} jobs")
            };
            rows.push((
                what,
                format!("{}, max RSS {rss:.1} MiB", ms(mb)),
                format!("1 job: {}, {rss1:.1} MiB", ms(ms1)),
                format!("{:.1}", mb / ms1),
                "< 1 s, RSS ≤ 64 MiB",
                Some(mb < 1.0 && rss <= 64.0),
            ));
        }
        self.raw.insert("big_schedule".into(), Value::Object(raw));
        for (what, c, b, r, g, m) in rows {
            self.row(&what, c, b, r, g, m);
        }
        Ok(())
    }

    // --------------------------------------------------------------- flood

    /// A job printing 1 GiB to stdout through the daemon (default max_output), vs
    /// `docker run` attached with its output to /dev/null.
    async fn flood(&mut self) -> Res<()> {
        let bytes = self.sizes.flood_bytes;
        // 16 KiB lines: the engine's json-file log then stores about as many bytes
        // as the job prints (short lines would multiply it).
        let script = format!("yes \"$(head -c 16383 /dev/zero | tr '\\0' x)\" | head -c {bytes}");
        let mut docker_s = Vec::new();
        let mut cronbox_s = Vec::new();
        let mut rss_max = 0u64;
        let mut hwm_max = 0u64;
        let mut stored = Vec::new();
        let mut ticker_late = Vec::new();
        for rep in 0..self.sizes.flood_reps {
            let id = self.id.clone();
            let t = tokio::task::block_in_place(|| {
                let t = Instant::now();
                let status = Command::new("docker")
                    .args(["run", "--rm", "--label"])
                    .arg(format!("{LABEL}={id}"))
                    .args([IMAGE, "sh", "-c", &script])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                (t.elapsed().as_secs_f64(), status)
            });
            match t.1 {
                Ok(s) if s.success() => docker_s.push(t.0),
                other => return Err(format!("docker run (flood) failed: {other:?}")),
            }

            let (period, tick) = period_with_tick(unix_now() + 3.0, unix_now() + 6.0, 3600)
                .ok_or("no @every period puts a tick in the next seconds")?;
            // Jobs ticking every few seconds meanwhile (TICKERS_S): how late the
            // flood makes the scheduler (tick -> run recorded).
            let labels = self.labels_toml("flood");
            let mut jobs = format!(
                "[jobs.flood]\nschedule = \"@every {period}s\"\nimage = \"{IMAGE}\"\ncommand = [\"sh\", \"-c\", '''{script}''']\n{labels}\n"
            );
            for p in TICKERS_S {
                let _ = write!(
                    jobs,
                    "\n[jobs.ticker-{p}]\nschedule = \"@every {p}s\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n{labels}\n"
                );
            }
            let (config, db) = self.write_config(&format!("flood-{rep}"), "", &jobs)?;
            let daemon = self.start_daemon(&config, None)?;
            daemon.wait_ready(Duration::from_secs(30)).await?;
            let pid = daemon.pid();
            let deadline = Instant::now() + Duration::from_secs(600);
            let mut samples = Vec::new();
            let mut last_poll = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                samples.push(status_kb(pid, "VmRSS").unwrap_or(0));
                if unix_now() > tick as f64 + 1.0
                    && last_poll.elapsed() > Duration::from_millis(500)
                {
                    last_poll = Instant::now();
                    let done = sql_json(
                        &db,
                        "SELECT count(*) AS n FROM runs WHERE job = 'flood' AND status != 'running'",
                    )?;
                    if done.first().is_some_and(|r| r["n"] == 1) {
                        break;
                    }
                }
                if Instant::now() > deadline {
                    return Err("the flood run did not finish within 10 minutes".into());
                }
            }
            let hwm = status_kb(pid, "VmHWM").unwrap_or(0);
            daemon.stop().await?;
            let r = sql_json(
                &db,
                "SELECT r.status, r.started_at, r.finished_at, a.exit_code, a.stdout_dropped,
                        (SELECT sum(length(data)) FROM output o WHERE o.attempt_id = a.id AND o.stream = 'stdout') AS stored
                 FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.job = 'flood'",
            )?;
            let r = r.first().ok_or("the flood run was not recorded")?.clone();
            let (from, to) = (ts(&r["started_at"])?, ts(&r["finished_at"])?);
            for t in sql_json(
                &db,
                "SELECT scheduled_at, started_at FROM runs WHERE job LIKE 'ticker-%'",
            )? {
                let tick = ts(&t["scheduled_at"])?;
                if tick >= from && tick <= to {
                    ticker_late.push((ts(&t["started_at"])? - tick) * 1000.0);
                }
            }
            if r["status"] != "succeeded" {
                return Err(format!("the flood run did not succeed: {r:?}"));
            }
            cronbox_s.push(ts(&r["finished_at"])? - ts(&r["started_at"])?);
            rss_max = rss_max.max(samples.iter().copied().max().unwrap_or(0));
            hwm_max = hwm_max.max(hwm);
            stored.push(json!({"db": r, "rss_samples_kb": samples, "vm_hwm_kb": hwm}));
        }
        let gib = bytes as f64 / f64::from(1u32 << 30);
        let mb = bytes as f64 / 1e6;
        let (mc, md) = (median(&cronbox_s), median(&docker_s));
        let (tc, td) = (mb / mc, mb / md);
        self.raw.insert(
            "flood".into(),
            json!({"bytes": bytes, "cronbox_s": cronbox_s, "docker_run_s": docker_s,
                   "cronbox_measured": "runs.finished_at - runs.started_at (daemon)",
                   "docker_measured": "wall time of `docker run --rm` attached, stdout to /dev/null",
                   "cronbox_mb_s": tc, "docker_mb_s": td, "runs": stored,
                   "ticker_periods_s": TICKERS_S, "ticker_late_ms": ticker_late}),
        );
        self.row(
            &format!("output flood: {gib:.3} GiB to stdout, throughput"),
            format!("{tc:.0} MB/s ({})", secs_list(&cronbox_s)),
            format!(
                "`docker run` > /dev/null: {td:.0} MB/s ({})",
                secs_list(&docker_s)
            ),
            format!("{:.2}", tc / td),
            "≥ 0.50",
            Some(tc / td >= 0.5),
        );
        let mib = |kb: u64| kb as f64 / 1024.0;
        self.row(
            "output flood: daemon RSS throughout",
            format!(
                "max VmRSS {:.1} MiB, VmHWM {:.1} MiB",
                mib(rss_max),
                mib(hwm_max)
            ),
            "—".into(),
            "—".into(),
            "≤ 64 MiB",
            Some(mib(rss_max.max(hwm_max)) <= 64.0),
        );
        let worst = ticker_late.iter().copied().fold(f64::NAN, f64::max);
        self.row(
            &format!("output flood: jobs every {TICKERS_S:?} s meanwhile, tick → run recorded"),
            format!("worst {worst:.1} ms over {} ticks", ticker_late.len()),
            "—".into(),
            "—".into(),
            "≤ 1 s",
            Some(!ticker_late.is_empty() && worst <= 1000.0),
        );
        Ok(())
    }

    // ------------------------------------------------------------- history

    /// `cronbox history JOB --limit 20` and the README's sqlite3 queries on the
    /// generated database (built during the idle measure, or here).
    async fn history_queries(&mut self) -> Res<()> {
        let big = self.scratch("history-big.db");
        let small = self.scratch("history-small.db");
        if !big.exists() {
            generate_history(&big, self.sizes.history_attempts).await?;
        }
        if !small.exists() {
            generate_history(&small, 1000).await?;
        }
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .map_err(err("reading README.md"))?;
        let queries = readme_queries(&readme);
        if queries.len() != 4 {
            return Err(format!(
                "expected four sql blocks under \"Querying the history with sqlite3\" in README.md, found {}",
                queries.len()
            ));
        }
        let attempts = sql_json(&big, "SELECT count(*) AS n FROM attempts")?;
        let mut cases: Vec<(String, Vec<String>, bool)> = vec![(
            "`cronbox history backup-db --limit 20`".into(),
            vec![
                "history".into(),
                "backup-db".into(),
                "--limit".into(),
                "20".into(),
                "--database".into(),
            ],
            true,
        )];
        let names = [
            "README query 1 (last runs of a job)",
            "README query 2 (failed runs this week)",
            "README query 3 (stdout of the latest attempt)",
            "README query 4 (when the job's last ticks fired)",
        ];
        for (name, q) in names.iter().zip(&queries) {
            cases.push(((*name).into(), vec![q.clone()], false));
        }
        let mut raw = serde_json::Map::new();
        let mut rows = Vec::new();
        for (name, args, is_cronbox) in cases {
            let run = |db: &Path| -> Res<(f64, usize)> {
                let mut cmd = if is_cronbox {
                    let mut c = Command::new(&self.bin);
                    c.args(&args).arg(db);
                    c
                } else {
                    let mut c = Command::new("sqlite3");
                    c.arg(db).args(&args);
                    c
                };
                let t = Instant::now();
                let out = cmd
                    .stdin(Stdio::null())
                    .output()
                    .map_err(err("running a history query"))?;
                let took = t.elapsed().as_secs_f64();
                if !out.status.success() {
                    return Err(format!(
                        "{name} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                Ok((took, out.stdout.iter().filter(|b| **b == b'\n').count()))
            };
            let (mut tb, mut tsm) = (Vec::new(), Vec::new());
            let mut lines = 0;
            for rep in 0..=self.sizes.history_reps {
                let (a, l) = tokio::task::block_in_place(|| run(&big))?;
                let (b, _) = tokio::task::block_in_place(|| run(&small))?;
                if rep > 0 {
                    tb.push(a);
                    tsm.push(b);
                }
                lines = l;
            }
            let (mb, msm) = (median(&tb), median(&tsm));
            raw.insert(
                name.clone(),
                json!({"big_s": tb, "small_s": tsm, "lines_out": lines}),
            );
            rows.push((
                format!(
                    "history, {} attempts: {name}",
                    attempts.first().map_or(Value::Null, |r| r["n"].clone())
                ),
                ms(mb),
                format!("same on 1,000 attempts: {}", ms(msm)),
                format!("{:.1}", mb / msm),
                "< 50 ms",
                Some(mb < 0.050),
            ));
        }
        raw.insert("queries".into(), json!(queries));
        self.raw.insert("history".into(), Value::Object(raw));
        for (what, c, b, r, g, m) in rows {
            self.row(&what, c, b, r, g, m);
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ daemon

/// A `cronbox daemon` subprocess; stopped with SIGTERM (its `on_shutdown =
/// "stop"` then stops its containers), killed if it does not exit.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
    started: Instant,
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Wait until its log says the scheduler started; how long that took.
    async fn wait_ready(&self, timeout: Duration) -> Res<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains("scheduler started") {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the daemon did not start within {timeout:?}; its log:\n{log}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(mut self) -> Res<ExitStatus> {
        let status = tokio::task::block_in_place(|| terminate(self.child.take()));
        status.ok_or_else(|| "the daemon did not exit on SIGTERM".to_owned())
    }
}

fn terminate(child: Option<Child>) -> Option<ExitStatus> {
    let mut child = child?;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for Daemon {
    fn drop(&mut self) {
        terminate(self.child.take());
    }
}

// ----------------------------------------------------------- engine floor

/// One container through the API in-process: create (the same host config as
/// cronbox's: Init, no-new-privileges), start, wait, remove. Seconds.
async fn floor_once(docker: &Docker, id: &str, phase: &str, cmd: &[&str]) -> Res<f64> {
    let t = Instant::now();
    let body = ContainerCreateBody {
        image: Some(IMAGE.to_owned()),
        cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
        labels: Some(HashMap::from([
            (LABEL.to_owned(), id.to_owned()),
            (PHASE_LABEL.to_owned(), format!("{phase}-{id}")),
        ])),
        host_config: Some(HostConfig {
            init: Some(true),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(err("floor: create"))?;
    docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await
        .map_err(err("floor: start"))?;
    let wait = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut waiting = docker.wait_container(&created.id, Some(wait));
    while let Some(item) = waiting.next().await {
        item.map_err(err("floor: wait"))?;
    }
    docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .map_err(err("floor: remove"))?;
    Ok(t.elapsed().as_secs_f64())
}

// ------------------------------------------------------------- proxy, events

type Log = Arc<Mutex<Vec<(f64, String)>>>;

/// A Unix-socket proxy in front of dockerd that notes the time and path of every
/// POST the client sends (create, start, ...), then forwards the bytes unchanged.
async fn start_proxy(path: &Path) -> Res<Log> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path).map_err(err("proxy socket"))?;
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(upstream) = tokio::net::UnixStream::connect(DOCKER_SOCK).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let at = unix_now();
                        sniff(&buf[..n], at, &seen);
                        if uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = uw.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    Ok(log)
}

fn sniff(chunk: &[u8], at: f64, log: &Log) {
    const POST: &[u8] = b"POST /";
    let mut i = 0;
    while i + POST.len() <= chunk.len() {
        if &chunk[i..i + POST.len()] == POST {
            let rest = &chunk[i + 5..];
            let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
            let path = String::from_utf8_lossy(&rest[..end]).into_owned();
            if let Ok(mut log) = log.lock() {
                log.push((at, path));
            }
            i += POST.len();
        } else {
            i += 1;
        }
    }
}

struct Events {
    task: tokio::task::JoinHandle<()>,
    /// (engine time, container id) of each start event.
    seen: Arc<Mutex<Vec<(f64, String)>>>,
}

/// Collect the engine's container `start` events for one measure (by label).
fn collect_events(docker: Docker, phase: &str) -> Events {
    let seen: Arc<Mutex<Vec<(f64, String)>>> = Arc::default();
    let into = seen.clone();
    let filters = HashMap::from([
        ("type".to_owned(), vec!["container".to_owned()]),
        ("event".to_owned(), vec!["start".to_owned()]),
        ("label".to_owned(), vec![format!("{PHASE_LABEL}={phase}")]),
    ]);
    let task = tokio::spawn(async move {
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        let mut stream = docker.events(Some(options));
        while let Some(Ok(event)) = stream.next().await {
            let t = event.time_nano.map_or(0.0, |n| n as f64 / 1e9);
            let id = event.actor.and_then(|a| a.id).unwrap_or_default();
            if let Ok(mut seen) = into.lock() {
                seen.push((t, id));
            }
        }
    });
    Events { task, seen }
}

// ---------------------------------------------------------------- history db

/// A history database with `attempts` attempts, made by cronbox's migrations and
/// filled in one transaction: 100 jobs (one of them `backup-db`, the README's),
/// 95% of the attempts first attempts of runs spread over the last 90 days (the
/// default history_max_age; at most 10,000 runs per job, the default
/// history_limit), 5% retries; ~2.6% of runs failed; a little output (every
/// attempt of backup-db, every tenth of the others, stderr for failures).
async fn generate_history(db: &Path, attempts: u64) -> Res<()> {
    let _ = std::fs::remove_file(db);
    let store = cronbox::store::Store::open(db)
        .await
        .map_err(err("creating the history database"))?;
    store.close().await;
    let runs = attempts * 19 / 20;
    let jobs = 100u64;
    let now = unix_now().floor() as u64;
    let span = 90 * 86_400u64;
    let step = span / (runs / jobs).max(1);
    let start = now - span;
    let at = |extra: &str| {
        format!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', {start} + (i / {jobs}) * {step} + (i % {jobs}) * 3 + {extra}, 'unixepoch')"
        )
    };
    let sql = format!(
        "PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {runs} - 1)
INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at, reason, pid)
SELECT i + 1,
       CASE WHEN i % {jobs} = 0 THEN 'backup-db' ELSE printf('job-%03d', i % {jobs}) END,
       'schedule', {sched},
       CASE WHEN i % 38 = 0 THEN 'failed' ELSE 'succeeded' END,
       {started},
       {finished},
       CASE WHEN i % 38 = 0 THEN '2 attempt(s) failed; the last: exited with exit code 1' END,
       NULL
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {runs} - 1),
     k(attempt) AS (VALUES (1), (2))
INSERT INTO attempts (run_id, attempt, container_id, image, started_at, finished_at, exit_code,
                      oom_killed, outcome, error, waited_ms)
SELECT i + 1, attempt, lower(hex(randomblob(32))), 'cronbox/busybox:latest',
       {a_started}, {a_finished},
       CASE WHEN i % 19 = 0 AND (attempt = 1 OR i % 38 = 0) THEN 1 ELSE 0 END,
       0, 'exited', NULL, 0
FROM n CROSS JOIN k WHERE attempt = 1 OR i % 19 = 0
ORDER BY i, attempt;
INSERT INTO output (attempt_id, stream, seq, at, data)
SELECT a.id, 'stdout', 0, a.finished_at,
       CAST(printf('run %d attempt %d: dumped %d rows in %d ms' || char(10), a.run_id, a.attempt, a.id * 7919 % 100000, a.id % 1500) AS BLOB)
FROM attempts a WHERE a.id % 10 = 0 OR (a.run_id - 1) % {jobs} = 0;
INSERT INTO output (attempt_id, stream, seq, at, data)
SELECT a.id, 'stderr', 0, a.finished_at, CAST('error: connection refused' || char(10) AS BLOB)
FROM attempts a WHERE a.exit_code = 1;
INSERT INTO schedule_state (job, horizon) SELECT job, max(scheduled_at) FROM runs GROUP BY job;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
",
        sched = at("0"),
        started = at("0.012"),
        finished = at("1.5 + (CASE WHEN i % 19 = 0 THEN 61.5 ELSE 0 END)"),
        a_started = at("0.02 + (attempt - 1) * 61.5"),
        a_finished = at("1.2 + (attempt - 1) * 61.5"),
    );
    sqlite_script(db, &sql).await
}

/// Run `sql` with the sqlite3 shell on `db`; an error with what it printed.
async fn sqlite_script(db: &Path, sql: &str) -> Res<()> {
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(err("sqlite3 (install Debian's sqlite3)"))?;
    child
        .stdin
        .take()
        .ok_or("sqlite3 stdin")?
        .write_all(sql.as_bytes())
        .map_err(err("feeding sqlite3"))?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .map_err(err("sqlite3"))?
        .map_err(err("sqlite3"))?;
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(format!(
            "generating the history database failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// The SQL blocks of the README's "Querying the history with sqlite3" section.
fn readme_queries(readme: &str) -> Vec<String> {
    let Some(start) = readme.find("## Querying the history with sqlite3") else {
        return Vec::new();
    };
    let section = &readme[start..];
    let section = section[3..]
        .find("\n## ")
        .map_or(section, |end| &section[..end + 3]);
    fixtures::sql_blocks(section)
        .into_iter()
        .map(|q| q.trim().to_owned())
        .collect()
}

// --------------------------------------------------------------- helpers

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// A divisor of `x` in `lo..=hi`.
fn divisor_between(x: i64, lo: i64, hi: i64) -> Option<i64> {
    (lo..=hi.min(x)).find(|p| x % p == 0)
}

/// An `@every` period of at least `min` seconds whose next tick falls in `[lo, hi]`.
fn period_with_tick(lo: f64, hi: f64, min: i64) -> Option<(i64, i64)> {
    let lo = lo.ceil() as i64;
    let hi = hi.floor() as i64;
    (min..min * 200)
        .find_map(|p| {
            let tick = (lo + p - 1) / p * p;
            (tick <= hi).then_some((p, tick))
        })
        .or_else(|| {
            // None of those has a multiple in the window (it happens): a longer
            // period whose k-th multiple since the epoch lands in it; k = 1, the
            // period `lo` itself, always does.
            (1..=(lo / min).max(1)).rev().find_map(|k| {
                let p = (lo + k - 1) / k;
                (p >= min && k * p <= hi).then_some((p, k * p))
            })
        })
}

/// Run `sqlite3 -json` on `db`; one JSON object per row.
fn sql_json(db: &Path, query: &str) -> Res<Vec<serde_json::Map<String, Value>>> {
    let out = Command::new("sqlite3")
        .arg("-json")
        .arg(db)
        .arg(query)
        .output()
        .map_err(err("sqlite3"))?;
    if !out.status.success() {
        return Err(format!(
            "sqlite3 {query}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&text).map_err(err("sqlite3 -json output"))
}

/// Wait until `n` runs are recorded and none is still running.
async fn wait_for_runs(db: &Path, n: usize, timeout: Duration) -> Res<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = sql_json(
            db,
            "SELECT count(*) AS total, sum(status = 'running') AS running FROM runs",
        )?;
        if let Some(r) = r.first() {
            if r["total"].as_u64() == Some(n as u64) && r["running"].as_u64() == Some(0) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("runs not finished after {timeout:?}: {r:?}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A database timestamp as Unix seconds.
fn ts(v: &Value) -> Res<f64> {
    let text = v.as_str().ok_or_else(|| format!("not a timestamp: {v}"))?;
    let t = chrono::DateTime::parse_from_rfc3339(text).map_err(err("timestamp"))?;
    Ok(t.timestamp_micros() as f64 / 1e6)
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Nearest-rank percentile (p99 of 50 samples is the largest).
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

fn ms(secs: f64) -> String {
    format!("{:.1} ms", secs * 1000.0)
}

fn secs_list(v: &[f64]) -> String {
    v.iter()
        .map(|s| format!("{s:.2} s"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Res<u64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(err("/proc/PID/stat"))?;
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command: state is field 3, utime 14, stime 15.
    Ok(field(11) + field(12))
}

/// A `kB` field of /proc/PID/status.
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Every thread: (name, voluntary, involuntary context switches).
fn threads(pid: u32) -> BTreeMap<u32, (String, u64, u64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let get = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        out.insert(
            tid,
            (
                comm.trim().to_owned(),
                get("voluntary_ctxt_switches"),
                get("nonvoluntary_ctxt_switches"),
            ),
        );
    }
    out
}

/// Run `cronbox ARGS --config CONFIG` under `/usr/bin/time -v`: wall seconds
/// (measured here) and maximum RSS in kB (from time's report).
/// `time` is `/usr/bin/time` as a command (confined or not).
fn time_v(
    mut time: Command,
    bin: &Path,
    args: &[String],
    config: &Path,
    report: &Path,
) -> Res<(f64, u64)> {
    let t = Instant::now();
    let status = time
        .arg("-v")
        .arg("-o")
        .arg(report)
        .arg(bin)
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(err("/usr/bin/time (install Debian's time package)"))?;
    let took = t.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!(
            "cronbox {args:?} on {} exited with {status}",
            config.display()
        ));
    }
    let text = std::fs::read_to_string(report).map_err(err("time -v report"))?;
    let kb = text
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no maximum RSS in time -v's report")?;
    Ok((took, kb))
}

/// What the figures came from.
fn machine() -> Value {
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    json!({
        "nproc": run("nproc", &[]),
        "cpu": cpu,
        "memory": mem,
        "kernel": run("uname", &["-r"]),
        "docker": run("docker", &["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"]),
        "date": run("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

/// The results as a Markdown table.
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measure | cronbox | baseline | ratio | goal | met? |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**NO**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {met} |",
            r.measure, r.cronbox, r.baseline, r.ratio, r.goal
        );
    }
    out
}
