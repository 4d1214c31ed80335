//! The `notify` measure (issue 9): a burst of [`RUNS`] failing runs, started
//! through the API at once, each telling a webhook channel whose receiver (a
//! small server in the harness, answering 200 to every request) counts what it
//! gets. Every notification must be delivered (the receiver's count and the
//! table `notifications` agree), and the daemon's RSS, sampled throughout, must
//! stay within the idle goal + 5 MiB (≤ 25 MiB). Baseline: the same daemon's
//! RSS idle, before the burst, in the same run.

use super::*;

/// Failing runs in the burst, one per job (so that no cooldown folds them).
const RUNS: usize = 100;
/// The goal on the daemon's RSS: the idle goal (20 MiB) + 5 MiB, in KiB.
const RSS_GOAL_KB: u64 = 25 * 1024;

impl Bench {
    pub(crate) async fn notify(&mut self) -> Res<()> {
        // reqwest is built without a crypto provider of its own (cronbox's choice).
        cronbox::notify::http::install_tls_provider();
        let received = Arc::new(AtomicUsize::new(0));
        let hook = receiver(received.clone()).await?;
        let port = api::free_port()?;
        let jobs: String = (0..RUNS)
            .map(|i| {
                format!(
                    "[jobs.fail-{i:03}]\nschedule = \"0 0 1 1 *\"\nimage = \"{IMAGE}\"\ncommand = [\"false\"]\nretries = 0\nnotify = [\"ops\"]\n{}\n\n",
                    self.labels_toml("notify")
                )
            })
            .collect();
        let daemon_toml = format!(
            "\n[daemon.http]\nlisten = \"127.0.0.1:{port}\"\n\n[notify.ops]\nkind = \"webhook\"\nurl = \"http://{hook}/hook\"\n"
        );
        let (config, db) = self.write_config("notify", &daemon_toml, &jobs)?;
        let daemon = self.start_daemon(&config, None)?;
        daemon.wait_ready(Duration::from_secs(120)).await?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        api::wait_ready(&client, &base).await?;
        tokio::time::sleep(Duration::from_secs(if self.quick { 2 } else { 5 })).await;
        let pid = daemon.pid();
        let idle_kb = status_kb(pid, "VmRSS").unwrap_or(0);

        let started = Instant::now();
        for i in 0..RUNS {
            let answer = client
                .post(format!("{base}/api/v1/jobs/fail-{i:03}/runs"))
                .send()
                .await
                .map_err(err("starting a run through the API"))?;
            if !answer.status().is_success() {
                return Err(format!(
                    "POST /api/v1/jobs/fail-{i:03}/runs answered {}",
                    answer.status()
                ));
            }
        }
        let (delivered, max_kb) = wait_delivered(&db, pid, &received).await?;
        let took = started.elapsed().as_secs_f64();
        let hwm_kb = status_kb(pid, "VmHWM").unwrap_or(0);
        daemon.stop().await?;
        let got = received.load(Ordering::SeqCst);
        self.raw.insert(
            "notify".into(),
            json!({"runs": RUNS, "delivered": delivered, "received": got, "seconds": took,
                   "idle_vm_rss_kb": idle_kb, "max_vm_rss_kb": max_kb, "vm_hwm_kb": hwm_kb}),
        );
        self.row(
            &format!("notify: a burst of {RUNS} failing runs, each a webhook"),
            format!("{delivered}/{RUNS} delivered ({got} requests received) in {took:.1} s"),
            "—".into(),
            "—".into(),
            "every notification delivered",
            Some(delivered == RUNS && got == RUNS),
        );
        self.rss_row(
            "notify: daemon RSS during the burst and its deliveries",
            idle_kb,
            max_kb,
            hwm_kb,
        );
        Ok(())
    }
}

/// A webhook receiver on a loopback port that answers 200 to every request and
/// counts them in `count`; its address.
async fn receiver(count: Arc<AtomicUsize>) -> Res<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err("binding the webhook receiver"))?;
    let addr = listener
        .local_addr()
        .map_err(err("the receiver's address"))?;
    let app = axum::Router::new().fallback(move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Wait (at most 10 minutes) until [`RUNS`] notifications are delivered and
/// received, sampling the daemon's VmRSS every 100 ms; the number delivered and
/// the largest VmRSS seen (KiB).
async fn wait_delivered(db: &Path, pid: u32, received: &AtomicUsize) -> Res<(usize, u64)> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut max_kb = 0;
    let mut checked = Instant::now();
    let mut delivered = 0;
    loop {
        max_kb = max_kb.max(status_kb(pid, "VmRSS").unwrap_or(0));
        if checked.elapsed() >= Duration::from_secs(1) || received.load(Ordering::SeqCst) >= RUNS {
            checked = Instant::now();
            let rows = sql_json(
                db,
                "SELECT count(*) AS n FROM notifications WHERE state = 'delivered'",
            )?;
            delivered = rows
                .first()
                .and_then(|r| r.get("n"))
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            if delivered >= RUNS && received.load(Ordering::SeqCst) >= RUNS {
                return Ok((delivered, max_kb));
            }
        }
        if Instant::now() > deadline {
            return Ok((delivered, max_kb));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Bench {
    /// The row of a daemon's RSS under load (`max_kb`, `hwm_kb`) beside its
    /// idle RSS before (`idle_kb`), against the goal of the idle goal (20 MiB)
    /// + 5 MiB. KiB in, MiB shown.
    pub(crate) fn rss_row(&mut self, measure: &str, idle_kb: u64, max_kb: u64, hwm_kb: u64) {
        let mib = |kb: u64| kb as f64 / 1024.0;
        self.row(
            measure,
            format!(
                "max VmRSS {:.1} MiB, VmHWM {:.1} MiB",
                mib(max_kb),
                mib(hwm_kb)
            ),
            format!("idle before: VmRSS {:.1} MiB", mib(idle_kb)),
            format!("{:.2}", max_kb as f64 / idle_kb.max(1) as f64),
            "≤ 25 MiB (the idle goal + 5 MiB)",
            Some(max_kb <= RSS_GOAL_KB),
        );
    }
}
