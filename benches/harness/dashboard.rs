//! The dashboard's figures (issue 11): the overview of 1,000 jobs with a year
//! of history rendered server side (the reads and the HTML, in-process, as the
//! handler does them; goal under 100 ms), and the page weight of the overview
//! a laptop shows, 50 jobs with their strips (HTML + stylesheet + script; goal
//! under 150 KB), and the page weights of a job's page (a job with a year of
//! daily runs: its chart, trend, history page and configuration) and of a
//! run's page whose output filled the default `max_output` on both streams
//! (1 MiB each, of which the page shows the tail). The baseline of both, measured in the same run on the same
//! jobs and history: the body of the API's `GET /api/v1/jobs` (each job's
//! latest run read, then JSON), made as its handler makes it. The binary's
//! growth is measured once, by building the commit before the dashboard
//! (BENCHMARKS.md).

use std::path::Path;
use std::time::Instant;

use cronbox::daemon::control::JobState;
use cronbox::http::ui::{
    Frame, HistoryQuery, JobPage, Overview, RunPage, WEIGHT_ASSETS, render_job, render_overview,
    render_run,
};
use serde_json::json;

use super::{Bench, Res, err, median, unix_now};

/// Jobs of the big overview.
const JOBS: usize = 1000;
/// Days of history, one run a day per job.
const DAYS: u64 = 365;
/// Jobs a laptop screen shows.
const LAPTOP_JOBS: usize = 50;

impl Bench {
    pub(super) async fn dashboard(&mut self) -> Res<()> {
        let db = self.path("dashboard.db");
        if !db.exists() {
            generate(&db).await?;
        }
        let config = self.path("dashboard.toml");
        let mut toml = format!("[daemon]\ndatabase = \"{}\"\n", db.display());
        for i in 0..JOBS {
            toml.push_str(&format!(
                "[jobs.job-{i:04}]\nschedule = \"{} {} * * *\"\ntimezone = \"Europe/Paris\"\nimage = \"busybox\"\ncommand = [\"true\"]\n",
                i % 60,
                i % 24
            ));
        }
        std::fs::write(&config, toml).map_err(err("writing the dashboard's schedule"))?;
        let environment = cronbox::config::Environment {
            cpus: 2,
            state_directory: None,
            local_timezone: chrono_tz::UTC,
            local_timezone_source: cronbox::config::ZoneSource::System,
        };
        let loaded = cronbox::config::load(&config, &environment).map_err(err("loading it"))?;
        let now = chrono::DateTime::from_timestamp(unix_now() as i64, 0).ok_or("now")?;
        let jobs: Vec<JobState> = loaded
            .jobs
            .into_iter()
            .map(|job| JobState {
                next: job.schedule.next_after(now),
                job,
                paused: false,
                running: Vec::new(),
            })
            .collect();
        let store = cronbox::store::Store::open(&db)
            .await
            .map_err(err("opening the history"))?;
        let engine = cronbox::engine::Engine::connect();
        let frame = Frame {
            csrf: "0".repeat(64),
            login: false,
        };
        let reps = if self.quick { 5 } else { 20 };
        let (mut took, mut reading, mut drawing) = (Vec::new(), Vec::new(), Vec::new());
        let mut api = Vec::new();
        let mut big_bytes = 0;
        for rep in 0..=reps {
            let t = Instant::now();
            cronbox::http::jobs_json(&jobs, &store)
                .await
                .map_err(err("listing the jobs as the API does"))?;
            if rep > 0 {
                api.push(t.elapsed().as_secs_f64());
            }
            let t = Instant::now();
            let view = Overview::read(jobs.clone(), &store, &engine, now)
                .await
                .map_err(err("reading the overview"))?;
            let read = t.elapsed().as_secs_f64();
            let html = render_overview(&view, &frame).into_string();
            if rep > 0 {
                took.push(t.elapsed().as_secs_f64());
                reading.push(read);
                drawing.push(t.elapsed().as_secs_f64() - read);
            }
            big_bytes = html.len();
        }
        let parts = parts(&store, &engine, &jobs, now).await?;
        let laptop = jobs[..LAPTOP_JOBS].to_vec();
        let view = Overview::read(laptop, &store, &engine, now)
            .await
            .map_err(err("reading the overview"))?;
        let laptop_bytes = render_overview(&view, &frame).into_string().len();
        let laptop_api_bytes = cronbox::http::jobs_json(&jobs[..LAPTOP_JOBS], &store)
            .await
            .map_err(err("listing the jobs as the API does"))?
            .len();
        let (job_bytes, run_bytes, stored) =
            page_weights(&db, &store, &jobs[0], now, &frame).await?;
        store.close().await;
        let weight = laptop_bytes + WEIGHT_ASSETS;
        let ms = median(&took) * 1000.0;
        let api_ms = median(&api) * 1000.0;
        self.raw.insert(
            "dashboard".into(),
            json!({"overview_1000_jobs_s": took, "read_s": reading, "render_s": drawing,
                   "parts_s": parts, "api_jobs_1000_s": api, "overview_1000_jobs_bytes": big_bytes,
                   "api_jobs_50_bytes": laptop_api_bytes,
                   "overview_50_jobs_bytes": laptop_bytes, "assets_bytes": WEIGHT_ASSETS,
                   "job_page_bytes": job_bytes, "run_page_bytes": run_bytes,
                   "run_output_stored_bytes": stored}),
        );
        self.row(
            "dashboard: overview of 1,000 jobs, a year of daily runs (365,000), server side (median)",
            format!(
                "{ms:.1} ms (reads {:.1} ms, HTML {:.1} ms; {} KB)",
                median(&reading) * 1000.0,
                median(&drawing) * 1000.0,
                big_bytes / 1000
            ),
            format!("GET /api/v1/jobs, same jobs: {api_ms:.1} ms"),
            format!("{:.1}", ms / api_ms.max(1e-6)),
            "< 100 ms",
            Some(ms < 100.0),
        );
        self.row(
            "dashboard: page weight of the overview of 50 jobs (HTML + CSS + JS, uncompressed)",
            format!("{:.1} KB", weight as f64 / 1000.0),
            format!(
                "GET /api/v1/jobs, same 50 jobs: {:.1} KB",
                laptop_api_bytes as f64 / 1000.0
            ),
            format!("{:.1}", weight as f64 / laptop_api_bytes.max(1) as f64),
            "< 150 KB",
            Some(weight < 150_000),
        );
        let job_weight = job_bytes + WEIGHT_ASSETS;
        self.row(
            "dashboard: page weight of a job's page, a year of daily runs (HTML + CSS + JS, uncompressed)",
            format!("{:.1} KB", job_weight as f64 / 1000.0),
            "–".to_owned(),
            "–".to_owned(),
            "< 150 KB",
            Some(job_weight < 150_000),
        );
        let run_weight = run_bytes + WEIGHT_ASSETS;
        self.row(
            "dashboard: page weight of a run's page, max_output filled on both streams (HTML + CSS + JS, uncompressed)",
            format!("{:.1} KB", run_weight as f64 / 1000.0),
            format!("its stored output: {:.1} KB", stored as f64 / 1000.0),
            format!("{:.2}", run_weight as f64 / stored.max(1) as f64),
            "< 150 KB",
            Some(run_weight < 150_000),
        );
        Ok(())
    }
}

/// The HTML bytes of `job`'s page and of the page of its latest run, given
/// stdout and stderr of the default `max_output` each (1 MiB; written once
/// into the history), and the output bytes stored for that run.
async fn page_weights(
    db: &Path,
    store: &cronbox::store::Store,
    job: &JobState,
    now: chrono::DateTime<chrono::Utc>,
    frame: &Frame,
) -> Res<(usize, usize, usize)> {
    let run_id = (DAYS as i64 - 1) * JOBS as i64 + 1;
    let chunks = cronbox::config::DEFAULT_MAX_OUTPUT / CHUNK;
    // 64-byte lines, CHUNK bytes a row, as the daemon stores them.
    let line = "a line of a long job output, as a program writes it ...........";
    debug_assert_eq!(line.len(), 63);
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {chunks} - 1),
              s(stream) AS (VALUES ('stdout'), ('stderr'))
         INSERT OR IGNORE INTO output (attempt_id, stream, seq, at, data)
         SELECT (SELECT id FROM attempts WHERE run_id = {run_id} AND attempt = 1), stream, i,
                '2026-01-01T00:00:00.000Z',
                CAST(replace(hex(zeroblob({lines})), '00', '{line}' || char(10)) AS BLOB)
         FROM n, s;",
        lines = CHUNK / 64,
    );
    super::sqlite_script(db, &sql).await?;
    let state = job.clone();
    let page = JobPage::read(state, &HistoryQuery::default(), store, now)
        .await
        .map_err(err("reading a job's page"))?;
    let job_bytes = render_job(&page, frame).into_string().len();
    let page = RunPage::read(store, run_id, |_| chrono_tz::Europe::Paris, now)
        .await
        .map_err(err("reading a run's page"))?
        .ok_or("the run of the page weight is missing")?;
    let stored = page.output.iter().map(|c| c.data.len()).sum();
    let run_bytes = render_run(&page, frame).into_string().len();
    Ok((job_bytes, run_bytes, stored))
}

/// Bytes of output a row holds in the run page's history.
const CHUNK: u64 = 16 * 1024;

/// Each read of the overview alone, in seconds (the median of 5), to see
/// where the time goes.
async fn parts(
    store: &cronbox::store::Store,
    engine: &cronbox::engine::Engine,
    jobs: &[JobState],
    now: chrono::DateTime<chrono::Utc>,
) -> Res<serde_json::Value> {
    let names: Vec<String> = jobs.iter().map(|s| s.job.name.clone()).collect();
    let mut times: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for _ in 0..5 {
        let t = Instant::now();
        store
            .recent_statuses(&names, 30)
            .await
            .map_err(err("strips"))?;
        times
            .entry("strips")
            .or_default()
            .push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        store.last_runs_of(&refs).await.map_err(err("last runs"))?;
        times
            .entry("last_runs")
            .or_default()
            .push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        store
            .success_rates(now - chrono::TimeDelta::days(7))
            .await
            .map_err(err("rates"))?;
        times
            .entry("rates")
            .or_default()
            .push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        store
            .failures_since(now - chrono::TimeDelta::days(1), 20)
            .await
            .map_err(err("failures"))?;
        times
            .entry("failures")
            .or_default()
            .push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        store.open_runs(now).await.map_err(err("open runs"))?;
        times
            .entry("open_runs")
            .or_default()
            .push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let _ = engine.check().await;
        times
            .entry("engine")
            .or_default()
            .push(t.elapsed().as_secs_f64());
    }
    Ok(json!(
        times
            .iter()
            .map(|(k, v)| (k.to_string(), json!(median(v))))
            .collect::<serde_json::Map<_, _>>()
    ))
}

/// A history of [`JOBS`] jobs, one run a day for [`DAYS`] days each (one in
/// 20 failed), with an attempt per run, written by sqlite3 in one statement.
async fn generate(db: &Path) -> Res<()> {
    let store = cronbox::store::Store::open(db)
        .await
        .map_err(err("creating the history database"))?;
    store.close().await;
    let now = unix_now().floor() as u64;
    let start = now - DAYS * 86_400;
    let runs = JOBS as u64 * DAYS;
    let at = |extra: &str| {
        format!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', {start} + (i / {JOBS}) * 86400 + (i % {JOBS}) * 60 + {extra}, 'unixepoch')"
        )
    };
    let sql = format!(
        "PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {runs} - 1)
INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at, reason, pid)
SELECT i + 1, printf('job-%04d', i % {JOBS}), 'schedule', {sched},
       CASE WHEN i % 20 = 7 THEN 'failed' ELSE 'succeeded' END, {started}, {finished},
       CASE WHEN i % 20 = 7 THEN 'exited with exit code 1' END, NULL
FROM n;
INSERT INTO attempts (run_id, attempt, image, started_at, finished_at, exit_code, outcome, waited_ms)
SELECT id, 1, 'busybox', started_at, finished_at, CASE WHEN status = 'failed' THEN 1 ELSE 0 END, 'exited', 0
FROM runs;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
",
        sched = at("0"),
        started = at("0.01"),
        finished = at("2.5 + (i % 7)"),
    );
    super::sqlite_script(db, &sql).await
}
