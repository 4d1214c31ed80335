//! `--budget pi` (issue 16): the daemon-side measures twice in one run, first
//! unconfined, then confined to a Raspberry Pi's budget (see `budget.rs`), and
//! one table of each figure beside its unconfined self, with the goals.
//! Both passes use the same counts; `check` is timed on 1,000 jobs (the goal's
//! size) instead of the 10,000 of the plain harness.

use super::*;

/// The measures that run the daemon (or the CLI on a schedule), in order.
const DAEMON_SIDE: [&str; 8] = [
    "lateness", "burst", "idle", "big", "flood", "api", "notify", "files",
];

impl Bench {
    /// The plain harness, or with `pi` the two passes and the budget table.
    pub(crate) async fn run_selected(&mut self, only: Option<&[String]>, pi: bool) {
        if !pi {
            return self.run_all(only).await;
        }
        let phases: Vec<String> = DAEMON_SIDE
            .iter()
            .filter(|p| only.is_none_or(|o| o.iter().any(|n| n == *p)))
            .map(|p| (*p).to_owned())
            .collect();
        self.sizes.check_jobs = self.sizes.next_jobs;
        eprintln!(
            "bench: --budget pi: pass 1 of 2, unconfined: {}",
            phases.join(",")
        );
        self.run_all(Some(&phases)).await;
        let free = (
            std::mem::take(&mut self.raw),
            std::mem::take(&mut self.rows),
        );

        let budget = budget::Budget::setup(&self.id, self.tmp.path());
        for line in &budget.applied {
            eprintln!("bench: --budget pi: confined: {line}");
        }
        for line in &budget.skipped {
            eprintln!("bench: --budget pi: SKIPPED: {line}");
        }
        if let Some(dir) = budget.data_dir() {
            self.data = dir.to_owned();
        }
        let confinement = json!({"applied": budget.applied, "skipped": budget.skipped,
                                 "docker_engine": "unconfined"});
        self.budget = Some(budget);
        eprintln!("bench: --budget pi: pass 2 of 2, confined");
        self.run_all(Some(&phases)).await;
        let figures = self.budget.as_ref().map(budget::Budget::figures);
        if let Some(mut b) = self.budget.take() {
            b.teardown();
        }
        self.data = self.tmp.path().to_owned();
        let pi = (
            std::mem::take(&mut self.raw),
            std::mem::take(&mut self.rows),
        );

        println!("\nunconfined pass:\n{}", table(&free.1));
        println!("confined pass:\n{}", table(&pi.1));
        self.rows = budget_rows(&free.0, &pi.0, figures.as_ref());
        // A failed measure of either pass shows in the table and the exit code.
        for (pass, raw) in [("unconfined", &free.0), ("pi", &pi.0)] {
            for (k, v) in raw.iter().filter(|(k, _)| k.ends_with(".error")) {
                self.raw.insert(format!("{pass}.{k}"), v.clone());
                self.rows.push(Row {
                    measure: format!("{pass}: {}", k.trim_end_matches(".error")),
                    cronbox: format!("error: {}", v.as_str().unwrap_or_default()),
                    baseline: String::new(),
                    ratio: String::new(),
                    goal: String::new(),
                    met: Some(false),
                });
            }
        }
        self.raw.insert("budget".into(), json!("pi"));
        self.raw.insert("confinement".into(), confinement);
        self.raw.insert("confined_group".into(), json!(figures));
        self.raw.insert("unconfined".into(), Value::Object(free.0));
        self.raw.insert("pi".into(), Value::Object(pi.0));
    }
}

/// A number at a JSON path (`a.b.c`; keys may contain spaces, not dots).
fn num(raw: &serde_json::Map<String, Value>, path: &[&str]) -> Option<f64> {
    let (first, rest) = path.split_first()?;
    let mut v = raw.get(*first)?;
    for key in rest {
        v = v.get(*key)?;
    }
    v.as_f64()
}

fn nums(raw: &serde_json::Map<String, Value>, path: &[&str]) -> Vec<f64> {
    let (first, rest) = match path.split_first() {
        Some(x) => x,
        None => return Vec::new(),
    };
    let mut v = raw.get(*first);
    for key in rest {
        v = v.and_then(|v| v.get(*key));
    }
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// One figure of both passes: (Pi, unconfined), already formatted, and the
/// numbers the ratio is made of.
struct Pair {
    measure: String,
    pi: Option<f64>,
    free: Option<f64>,
    show: fn(f64) -> String,
    goal: &'static str,
    met: Option<fn(f64) -> bool>,
}

impl Pair {
    fn row(self) -> Row {
        let cell = |v: Option<f64>| v.filter(|v| v.is_finite()).map_or("—".into(), self.show);
        let ratio = match (self.pi, self.free) {
            (Some(p), Some(f)) if f > 0.0 && p.is_finite() => format!("{:.2}", p / f),
            _ => "—".into(),
        };
        Row {
            measure: self.measure,
            cronbox: cell(self.pi),
            baseline: cell(self.free),
            ratio,
            goal: self.goal.into(),
            met: self
                .met
                .map(|f| self.pi.is_some_and(|p| p.is_finite() && f(p))),
        }
    }
}

fn ms_cell(v: f64) -> String {
    format!("{v:.1} ms")
}

fn mib_cell(kb: f64) -> String {
    format!("{:.1} MiB", kb / 1024.0)
}

/// The Pi budget table: each figure confined beside the same unconfined.
fn budget_rows(
    free: &serde_json::Map<String, Value>,
    pi: &serde_json::Map<String, Value>,
    group: Option<&Value>,
) -> Vec<Row> {
    let both = |path: &[&str]| (num(pi, path), num(free, path));
    let stat = |raw: &serde_json::Map<String, Value>, path: &[&str], f: fn(&[f64]) -> f64| {
        let v = nums(raw, path);
        (!v.is_empty()).then(|| f(&v))
    };
    let p99 = |v: &[f64]| pct(v, 99.0);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
    let mut rows = Vec::new();
    let start = ["lateness", "stages_ms", "start request (proxy)"];
    let (p, f) = both(&[start[0], start[1], start[2], "p99_ms"]);
    rows.push(Pair {
        measure: "dispatch: tick → start request, p99".into(),
        pi: p,
        free: f,
        show: ms_cell,
        goal: "≤ 50 ms",
        met: Some(|v| v <= 50.0),
    });
    let (p, f) = both(&[start[0], start[1], start[2], "p50_ms"]);
    rows.push(Pair {
        measure: "dispatch: tick → start request, p50".into(),
        pi: p,
        free: f,
        show: ms_cell,
        goal: "—",
        met: None,
    });
    let recorded = |raw: &serde_json::Map<String, Value>| {
        let ok = num(raw, &["burst", "db", "succeeded"])?;
        let n = num(raw, &["burst", "jobs"])?;
        Some(ok / n)
    };
    rows.push(Pair {
        measure: "burst: share of the jobs due at one instant recorded succeeded".into(),
        pi: recorded(pi),
        free: recorded(free),
        show: |v| format!("{:.0} %", v * 100.0),
        goal: "100 % (all recorded)",
        met: Some(|v| v >= 1.0),
    });
    let (p, f) = both(&["burst", "cronbox_s"]);
    rows.push(Pair {
        measure: "burst: tick → last run finished".into(),
        pi: p,
        free: f,
        show: |v| format!("{v:.2} s"),
        goal: "—",
        met: None,
    });
    let (p, f) = both(&["idle", "cpu_percent"]);
    rows.push(Pair {
        measure: "idle: 1,000 jobs, CPU".into(),
        pi: p,
        free: f,
        show: |v| format!("{v:.3} % of a core"),
        goal: "≤ 0.1 % of a core",
        met: Some(|v| v <= 0.1),
    });
    let (p, f) = both(&["idle", "vm_rss_kb"]);
    rows.push(Pair {
        measure: "idle: 1,000 jobs, VmRSS".into(),
        pi: p,
        free: f,
        show: mib_cell,
        goal: "—",
        met: None,
    });
    let flood_rss = |raw: &serde_json::Map<String, Value>| {
        let runs = raw.get("flood")?.get("runs")?.as_array()?;
        let mut m = 0.0f64;
        for r in runs {
            m = m.max(r.get("vm_hwm_kb").and_then(Value::as_f64).unwrap_or(0.0));
            for s in r.get("rss_samples_kb")?.as_array()? {
                m = m.max(s.as_f64().unwrap_or(0.0));
            }
        }
        Some(m)
    };
    rows.push(Pair {
        measure: "output flood (1 GiB in full mode): daemon VmRSS, max".into(),
        pi: flood_rss(pi),
        free: flood_rss(free),
        show: mib_cell,
        goal: "≤ 64 MiB",
        met: Some(|kb| kb <= 64.0 * 1024.0),
    });
    let late = ["flood", "ticker_late_ms"];
    rows.push(Pair {
        measure: format!(
            "output flood: jobs every {TICKERS_S:?} s meanwhile, worst tick → run recorded"
        ),
        pi: stat(pi, &late, max),
        free: stat(free, &late, max),
        show: ms_cell,
        goal: "≤ 1 s",
        met: Some(|v| v <= 1000.0),
    });
    let (p, f) = both(&["flood", "cronbox_mb_s"]);
    rows.push(Pair {
        measure: "output flood: throughput through the daemon".into(),
        pi: p,
        free: f,
        show: |v| format!("{v:.0} MB/s"),
        goal: "—",
        met: None,
    });
    for (name, label, goal, met) in [
        (
            "check",
            "`cronbox check`, 1,000 jobs (median)",
            "< 1 s",
            Some((|v| v < 1.0) as fn(f64) -> bool),
        ),
        (
            "next",
            "`cronbox next --count 100`, 1,000 jobs (median)",
            "—",
            None,
        ),
    ] {
        let path = ["big_schedule", name, "wall_s"];
        rows.push(Pair {
            measure: label.into(),
            pi: stat(pi, &path, median),
            free: stat(free, &path, median),
            show: |v| format!("{:.0} ms", v * 1000.0),
            goal,
            met,
        });
        let path = ["big_schedule", name, "max_rss_kb"];
        rows.push(Pair {
            measure: format!("{label}: max RSS"),
            pi: stat(pi, &path, max),
            free: stat(free, &path, max),
            show: mib_cell,
            goal: "—",
            met: None,
        });
    }
    for path in [
        "/metrics",
        "/api/v1/jobs",
        "/api/v1/runs?job=backup-db&limit=50",
    ] {
        rows.push(Pair {
            measure: format!("api: GET {path}, p99 (1,000 jobs, history of the api measure)"),
            pi: stat(pi, &["api", path], p99).map(|s| s * 1000.0),
            free: stat(free, &["api", path], p99).map(|s| s * 1000.0),
            show: ms_cell,
            goal: "— (issue 10: < 50 ms)",
            met: None,
        });
    }
    let (p, f) = both(&["api", "idle_cpu_percent", "with_streams"]);
    rows.push(Pair {
        measure: "api: idle CPU with 100 event streams open".into(),
        pi: p,
        free: f,
        show: |v| format!("{v:.3} % of a core"),
        goal: "—",
        met: None,
    });
    let (p, f) = both(&["notify", "seconds"]);
    rows.push(Pair {
        measure: "notify: 100 failing runs → every webhook delivered".into(),
        pi: p,
        free: f,
        show: |v| format!("{v:.2} s"),
        goal: "—",
        met: None,
    });
    let (p, f) = both(&["files", "latency", "p99_ms"]);
    rows.push(Pair {
        measure: "files: settled → start request, p99".into(),
        pi: p,
        free: f,
        show: ms_cell,
        goal: "p99 ≤ 50 ms",
        met: Some(|v| v <= 50.0),
    });
    let (p, f) = both(&["files_backlog", "max_vm_rss_kb"]);
    rows.push(Pair {
        measure: "files: daemon max RSS while the backlog is worked off".into(),
        pi: p,
        free: f,
        show: mib_cell,
        goal: "≤ 25 MiB (the idle goal + 5 MiB)",
        met: Some(|kb| kb <= 25.0 * 1024.0),
    });
    // A measure left out with --only has no figure in either pass: no row.
    let mut rows: Vec<Row> = rows
        .into_iter()
        .filter(|p| p.pi.is_some() || p.free.is_some())
        .map(Pair::row)
        .collect();
    if let Some(g) = group {
        let peak = g["memory_peak_bytes"].as_f64().unwrap_or(f64::NAN);
        rows.push(Row {
            measure: "confined group over the pass: peak memory (with page cache), CPU quota periods throttled".into(),
            cronbox: format!(
                "{:.1} MiB; {} of {} periods",
                peak / f64::from(1u32 << 20),
                g["cpu_nr_throttled"],
                g["cpu_nr_periods"]
            ),
            baseline: "—".into(),
            ratio: "—".into(),
            goal: "— (limit 256 MiB)".into(),
            met: None,
        });
    }
    rows
}

/// The Pi budget table in Markdown.
pub(crate) fn budget_table(rows: &[Row]) -> String {
    table(rows).replacen(
        "| measure | cronbox | baseline |",
        "| measure | Pi budget | unconfined, same run |",
        1,
    )
}
