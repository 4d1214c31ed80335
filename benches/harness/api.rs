//! The `api` measure (issue 10): the HTTP server of a daemon with 1,000 jobs
//! on the history database of a million attempts.
//!
//! - `GET /metrics`, `GET /api/v1/jobs` and `GET /api/v1/runs?job=...&limit=50`
//!   (the first page, and a page deep in the history through the `before`
//!   cursor): each asked `api_requests` times one after the other on one
//!   keep-alive connection, p50 and p99 of the answer's full arrival. Baseline:
//!   `GET /healthz` (the server's own floor) asked as often in the same run.
//! - The daemon's CPU over a window with no client (baseline), then over a
//!   window of the same length while a client holds 100 idle
//!   `GET /api/v1/events` streams open; and its RSS after all of it.
//! - Tick dispatch while a client floods the API (issue 10: "a busy or slow
//!   client never delays a tick"): jobs ticking every few seconds
//!   ([`TICKERS_S`]), tick → run dispatched (`runs.started_at`, taken by the
//!   run's task before its first write), over a window with no client
//!   (baseline), then over a window of the same length while [`FLOODERS`]
//!   clients POST `/api/v1/jobs/busy/runs` back to back on a `forbid` job whose
//!   run goes on (each answered 409 and recorded as a skipped run).

use super::*;

/// Idle event streams held open during the second CPU window.
const STREAMS: usize = 100;
/// Clients flooding `POST /api/v1/jobs/busy/runs` at once.
const FLOODERS: usize = 8;

impl Bench {
    pub(crate) async fn api(&mut self) -> Res<()> {
        // reqwest is built without a crypto provider of its own (cronbox's choice);
        // without one, building the client panics when `notify` has not run first.
        cronbox::notify::http::install_tls_provider();
        let big = self.scratch("history-big.db");
        if !big.exists() {
            generate_history(&big, self.sizes.history_attempts).await?;
        }
        let port = free_port()?;
        let (config, db) = self.write_config(
            "api",
            &format!("\n[daemon.http]\nlisten = \"127.0.0.1:{port}\"\n"),
            &self.api_jobs(self.sizes.idle_jobs),
        )?;
        std::fs::copy(&big, &db).map_err(err("copying the history database"))?;
        // On the throttled disk of `--budget pi`, written out before the daemon
        // starts, so that the copy's writeback does not fall inside the measure.
        std::fs::File::open(&db)
            .and_then(|f| f.sync_all())
            .map_err(err("syncing the copied history database"))?;
        let daemon = self.start_daemon(&config, None)?;
        daemon.wait_ready(Duration::from_secs(120)).await?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        wait_ready(&client, &base).await?;
        // Let start-up work (the first prune, the metrics' history load) settle.
        tokio::time::sleep(Duration::from_secs(if self.quick { 2 } else { 5 })).await;

        let n = self.sizes.api_requests;
        let floor = timed_gets(&client, &format!("{base}/healthz"), n).await?;
        let deep = deep_cursor(&db)?;
        let cases = [
            ("GET /metrics", "/metrics".to_owned()),
            ("GET /api/v1/jobs", "/api/v1/jobs".to_owned()),
            (
                "GET /api/v1/runs?job=backup-db&limit=50",
                "/api/v1/runs?job=backup-db&limit=50".to_owned(),
            ),
            (
                "GET /api/v1/runs?job=backup-db&limit=50&before=(mid-history)",
                format!("/api/v1/runs?job=backup-db&limit=50&before={deep}"),
            ),
        ];
        let mut raw = serde_json::Map::new();
        raw.insert("healthz_s".into(), json!(floor));
        for (name, path) in cases {
            let times = timed_gets(&client, &format!("{base}{path}"), n).await?;
            raw.insert(path.clone(), json!(times));
            let p99 = pct(&times, 99.0);
            self.row(
                &format!(
                    "api: {name} ({} jobs, {} attempts)",
                    self.sizes.idle_jobs, self.sizes.history_attempts
                ),
                format!("p50 {}, p99 {}", ms(median(&times)), ms(p99)),
                format!("GET /healthz p99 {}", ms(pct(&floor, 99.0))),
                format!("{:.1}", p99 / pct(&floor, 99.0)),
                "p99 < 50 ms",
                Some(p99 < 0.050),
            );
        }
        self.streams_cpu(&daemon, &client, &base, &mut raw).await?;
        daemon.stop().await?;
        self.flooded_ticks(&client, &mut raw).await?;
        self.raw.insert("api".into(), Value::Object(raw));
        Ok(())
    }

    /// Tick → run dispatched for jobs ticking every [`TICKERS_S`], over a
    /// window with no client, then over a window of the same length while
    /// [`FLOODERS`] clients ask for runs of a busy `forbid` job.
    async fn flooded_ticks(
        &mut self,
        client: &reqwest::Client,
        raw: &mut serde_json::Map<String, Value>,
    ) -> Res<()> {
        let port = free_port()?;
        let labels = self.labels_toml("api-flood");
        let mut jobs = format!(
            "[jobs.busy]\nschedule = \"0 0 1 1 *\"\nconcurrency = \"forbid\"\nimage = \"{IMAGE}\"\ncommand = [\"sleep\", \"3600\"]\n{labels}\n"
        );
        for p in TICKERS_S {
            let _ = write!(
                jobs,
                "\n[jobs.ticker-{p}]\nschedule = \"@every {p}s\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n{labels}\n"
            );
        }
        let (config, db) = self.write_config(
            "api-flood",
            &format!("\n[daemon.http]\nlisten = \"127.0.0.1:{port}\"\n"),
            &jobs,
        )?;
        let daemon = self.start_daemon(&config, None)?;
        daemon.wait_ready(Duration::from_secs(60)).await?;
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(client, &base).await?;
        let url = format!("{base}/api/v1/jobs/busy/runs");
        let started = client.post(&url).send().await.map_err(err(&url))?;
        if started.status() != reqwest::StatusCode::ACCEPTED {
            return Err(format!("POST {url} answered {}", started.status()));
        }
        let window = Duration::from_secs(self.sizes.idle_secs.max(20));
        let quiet = (unix_now(), unix_now() + window.as_secs_f64());
        tokio::time::sleep(window).await;
        let flood_from = unix_now();
        let stop = Instant::now() + window;
        let flooders: Vec<_> = (0..FLOODERS)
            .map(|_| tokio::spawn(flood(client.clone(), url.clone(), stop)))
            .collect();
        let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
        for flooder in flooders {
            for (status, n) in flooder.await.map_err(err("a flooding client"))?? {
                *answers.entry(status).or_default() += n;
            }
        }
        let flooded = (flood_from, unix_now());
        daemon.stop().await?;
        let ticks = sql_json(
            &db,
            "SELECT scheduled_at, started_at FROM runs WHERE job LIKE 'ticker-%'",
        )?;
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for t in ticks {
            let tick = ts(&t["scheduled_at"])?;
            let late = (ts(&t["started_at"])? - tick) * 1000.0;
            if tick >= quiet.0 && tick <= quiet.1 {
                without.push(late);
            } else if tick >= flooded.0 && tick <= flooded.1 {
                with.push(late);
            }
        }
        let requests: usize = answers.values().sum();
        let refused = answers.get(&409).copied().unwrap_or(0);
        raw.insert(
            "flooded_ticks".into(),
            json!({"ticker_periods_s": TICKERS_S, "window_s": window.as_secs(), "clients": FLOODERS,
                   "answers_by_status": answers, "source": "tick = runs.scheduled_at, dispatched = runs.started_at (ms)",
                   "late_ms_without_client": without, "late_ms_with_flood": with}),
        );
        let summary = |v: &[f64]| {
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms over {} ticks",
                pct(v, 50.0),
                pct(v, 99.0),
                pct(v, 100.0),
                v.len()
            )
        };
        let rate = requests as f64 / window.as_secs_f64();
        self.row(
            &format!(
                "api: tick → run dispatched, jobs every {TICKERS_S:?} s, while {FLOODERS} clients POST runs of a busy forbid job ({rate:.0} req/s, {refused}/{requests} answered 409)"
            ),
            summary(&with),
            format!("no client: {}", summary(&without)),
            format!("{:.1}", pct(&with, 99.0) / pct(&without, 99.0).max(0.1)),
            "worst ≤ 1 s (as during the output flood)",
            Some(!with.is_empty() && refused == requests && pct(&with, 100.0) <= 1000.0),
        );
        Ok(())
    }

    /// The daemon's CPU with no client, then with [`STREAMS`] idle event
    /// streams open, each over the idle window; then its RSS.
    async fn streams_cpu(
        &mut self,
        daemon: &Daemon,
        client: &reqwest::Client,
        base: &str,
        raw: &mut serde_json::Map<String, Value>,
    ) -> Res<()> {
        let pid = daemon.pid();
        let window = Duration::from_secs(self.sizes.idle_secs);
        let without = cpu_percent(pid, window).await?;
        let mut streams = Vec::with_capacity(STREAMS);
        for _ in 0..STREAMS {
            let response = client
                .get(format!("{base}/api/v1/events"))
                .send()
                .await
                .map_err(err("opening an event stream"))?;
            if !response.status().is_success() {
                return Err(format!("GET /api/v1/events answered {}", response.status()));
            }
            streams.push(response);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let with = cpu_percent(pid, window).await?;
        let rss = status_kb(pid, "VmRSS").unwrap_or(0);
        drop(streams);
        raw.insert(
            "idle_cpu_percent".into(),
            json!({"without_streams": without, "with_streams": with, "streams": STREAMS, "window_s": window.as_secs(), "vm_rss_kb": rss}),
        );
        self.row(
            &format!(
                "api: idle CPU with {STREAMS} event streams open, {} s",
                window.as_secs()
            ),
            format!("{with:.3} % of a core"),
            format!("no client: {without:.3} %"),
            "—".into(),
            "≤ 0.1 % (the idle goal)",
            Some(with <= 0.1),
        );
        let mib = rss as f64 / 1024.0;
        self.row(
            &format!(
                "api: RSS, server on, {} jobs, after the requests",
                self.sizes.idle_jobs
            ),
            format!("VmRSS {mib:.1} MiB"),
            "—".into(),
            "—".into(),
            "— (informative: the idle goal is the idle measure's, with the server on)",
            None,
        );
        Ok(())
    }

    /// `n` jobs that are not due during the measure: the first hundred named
    /// as the generated history's jobs (`backup-db`, `job-001`, ...), so the
    /// API lists their runs, the rest `api-NNNN`.
    fn api_jobs(&self, n: usize) -> String {
        let now = unix_now() as i64;
        let hour = (now / 3600) % 24;
        let mut jobs = String::new();
        for i in 0..n {
            let name = match i {
                0 => "backup-db".to_owned(),
                1..100 => format!("job-{i:03}"),
                _ => format!("api-{i:04}"),
            };
            let h = (hour + 2 + (i as i64 % 21)) % 24;
            let _ = write!(
                jobs,
                "[jobs.{name}]\nschedule = \"{} {h} * * *\"\nimage = \"{IMAGE}\"\ncommand = [\"true\"]\n{}\n\n",
                (i * 7) % 60,
                self.labels_toml("api")
            );
        }
        jobs
    }
}

/// A port on the loopback that nothing listens on now.
pub(crate) fn free_port() -> Res<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(err("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(err("finding a free port"))?
        .port();
    Ok(port)
}

/// Wait until `/readyz` answers 200.
pub(crate) async fn wait_ready(client: &reqwest::Client, base: &str) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{base}/readyz did not answer 200 within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET `url` `n` times in a row (after 5 unmeasured), each until its whole
/// body has arrived; the seconds each took. Any answer but 200 is an error.
async fn timed_gets(client: &reqwest::Client, url: &str, n: usize) -> Res<Vec<f64>> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let t = Instant::now();
        let response = client.get(url).send().await.map_err(err(url))?;
        let status = response.status();
        let body = response.bytes().await.map_err(err(url))?;
        if !status.is_success() {
            return Err(format!(
                "GET {url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        if i >= 5 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

/// A run id halfway through `backup-db`'s history: a `before` cursor that
/// pages deep.
fn deep_cursor(db: &Path) -> Res<i64> {
    let rows = sql_json(
        db,
        "SELECT id FROM runs WHERE job = 'backup-db' ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM runs WHERE job = 'backup-db')",
    )?;
    rows.first()
        .and_then(|row| row.get("id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| "no run of backup-db in the history database".to_owned())
}

/// POST `url` back to back until `stop`: how many answers of each status.
async fn flood(client: reqwest::Client, url: String, stop: Instant) -> Res<BTreeMap<u16, usize>> {
    let mut answers = BTreeMap::new();
    while Instant::now() < stop {
        let response = client.post(&url).send().await.map_err(err(&url))?;
        *answers.entry(response.status().as_u16()).or_default() += 1;
        response.bytes().await.map_err(err(&url))?;
    }
    Ok(answers)
}

/// The share of a core `pid` used over `window`, in percent.
async fn cpu_percent(pid: u32, window: Duration) -> Res<f64> {
    let before = cpu_ticks(pid)?;
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let ticks = cpu_ticks(pid)?.saturating_sub(before);
    Ok(ticks as f64 / clk_tck() / t.elapsed().as_secs_f64() * 100.0)
}
