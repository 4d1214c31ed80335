//! `/metrics`: the Prometheus text exposition (format 0.0.4, which `promtool
//! check metrics` lints), names per Prometheus' naming guide.
//!
//! Counters and the duration histogram count what happened since the daemon
//! started, fed by the lifecycle events (a listener that lags loses a few
//! increments, never data: the history is in the database). The last-run and
//! last-success timestamps are read from the database at start, so they survive
//! restarts. The per-job gauges (next tick, running runs, paused), the runs
//! waiting to start and whether the engine answers are read when scraped.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::{AppState, Services};
use crate::events::Event;
use crate::store::{Store, parse_timestamp};

/// How long a scrape waits for the engine before it reports it down.
const ENGINE_WAIT: Duration = Duration::from_secs(2);

/// The upper bounds of the run duration histogram, in seconds: a second to a day.
const DURATION_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
];

/// The metric families and their registry.
pub(crate) struct Metrics {
    registry: Registry,
    runs: IntCounterVec,
    attempts: IntCounterVec,
    duration: HistogramVec,
    last_run: GaugeVec,
    last_success: GaugeVec,
    next_run: GaugeVec,
    running: IntGaugeVec,
    paused: IntGaugeVec,
    ticks_missed: IntCounterVec,
    ticks_paused: IntCounterVec,
    slots_waiting: IntGauge,
    engine_up: IntGauge,
    /// One scrape at a time sets the gauges read when scraped.
    scrape: tokio::sync::Mutex<()>,
}

/// Register `metric` with `registry` and return it. Names and labels are
/// constants, so this fails only for a name registered twice (a bug the tests
/// would show).
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> prometheus::Result<M> {
    let metric = metric?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    pub(crate) fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            registered(&r, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            registered(&r, GaugeVec::new(Opts::new(name, help), labels))
        };
        let int_gauge = |name: &str, help: &str, labels: &[&str]| {
            registered(&r, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let build = int_gauge(
            "cronbox_build_info",
            "The cronbox version running (always 1).",
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Ok(Metrics {
            runs: counter("cronbox_runs_total", "Runs that ended since the daemon started, by job and final status (succeeded, failed, interrupted, stopped, skipped, missed).", &["job", "status"])?,
            attempts: counter("cronbox_attempts_total", "Attempts that ended since the daemon started, by job and outcome (exited, oom, timeout, ...).", &["job", "outcome"])?,
            duration: registered(&r, HistogramVec::new(
                HistogramOpts::new("cronbox_run_duration_seconds", "How long the runs that ended since the daemon started took, retries included, by job.")
                    .buckets(DURATION_BUCKETS.to_vec()),
                &["job"],
            ))?,
            last_run: gauge("cronbox_last_run_timestamp_seconds", "When the job's last run with this final status ended (Unix time).", &["job", "status"])?,
            last_success: gauge("cronbox_last_success_timestamp_seconds", "When the job's last successful run ended (Unix time), from the history.", &["job"])?,
            next_run: gauge("cronbox_next_run_timestamp_seconds", "The job's next tick (Unix time); absent when it has none left.", &["job"])?,
            running: int_gauge("cronbox_running_runs", "Runs of the job this daemon supervises now.", &["job"])?,
            paused: int_gauge("cronbox_job_paused", "1 when the job is paused, else 0.", &["job"])?,
            ticks_missed: counter("cronbox_ticks_missed_total", "Ticks recorded missed since the daemon started (it was down, the box slept, the clock jumped).", &["job"])?,
            ticks_paused: counter("cronbox_ticks_paused_total", "Ticks of the job that did not run because it was paused, since the daemon started.", &["job"])?,
            slots_waiting: registered(&r, IntGauge::new("cronbox_slots_waiting", "Runs waiting to start an attempt: for a [daemon] max_concurrent slot, or for the end of the run they replace."))?,
            engine_up: registered(&r, IntGauge::new("cronbox_engine_up", "1 when the Docker engine answered the last scrape's check, else 0."))?,
            registry: r,
            scrape: tokio::sync::Mutex::new(()),
        })
    }

    /// Count what `event` says happened.
    async fn observe(&self, event: &Event, store: &Store) {
        match event {
            Event::RunStarted { .. } | Event::AttemptStarted { .. } => {}
            Event::AttemptFinished { job, outcome, .. } => {
                self.attempts.with_label_values(&[job, outcome]).inc();
            }
            Event::RunFinished {
                run_id,
                job,
                status,
            } => {
                self.runs.with_label_values(&[job, status]).inc();
                self.run_ended(*run_id, job, status, store).await;
            }
            Event::Skipped { run_id, job } => {
                self.runs.with_label_values(&[job, "skipped"]).inc();
                self.run_ended(*run_id, job, "skipped", store).await;
            }
            Event::Missed { run_id, job, ticks } => {
                self.runs.with_label_values(&[job, "missed"]).inc();
                self.ticks_missed.with_label_values(&[job]).inc_by(*ticks);
                self.run_ended(*run_id, job, "missed", store).await;
            }
            Event::Paused { job, ticks, .. } => {
                self.ticks_paused.with_label_values(&[job]).inc_by(*ticks);
            }
            // `cronbox_job_paused` is read from the daemon at each scrape.
            Event::JobPaused { .. } | Event::JobResumed { .. } => {}
        }
    }

    /// The timestamps and the duration of run `run_id` of `job`, which ended
    /// with `status`, as the database recorded them.
    async fn run_ended(&self, run_id: i64, job: &str, status: &str, store: &Store) {
        let run = match store.run(run_id).await {
            Ok(Some(run)) => run,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(run = run_id, error = %e, "metrics: cannot read the run that ended");
                return;
            }
        };
        let (Some(started), Some(finished)) = (
            parse_timestamp(&run.started_at),
            run.finished_at.as_deref().and_then(parse_timestamp),
        ) else {
            return;
        };
        let at = seconds(finished);
        self.last_run.with_label_values(&[job, status]).set(at);
        if status == "succeeded" {
            self.last_success.with_label_values(&[job]).set(at);
        }
        if matches!(status, "succeeded" | "failed" | "interrupted" | "stopped") {
            let took = (finished - started).num_milliseconds().max(0) as f64 / 1000.0;
            self.duration.with_label_values(&[job]).observe(took);
        }
    }

    /// The last run of each status of each job (and so its last success), as
    /// the history has them.
    async fn load(&self, store: &Store) {
        match store.last_ends().await {
            Ok(last) => {
                for (job, status, at) in last {
                    self.last_run
                        .with_label_values(&[&job, &status])
                        .set(seconds(at));
                    if status == "succeeded" {
                        self.last_success
                            .with_label_values(&[&job])
                            .set(seconds(at));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read when the last runs ended; cronbox_last_run_timestamp_seconds and cronbox_last_success_timestamp_seconds start empty")
            }
        }
    }

    /// The exposition, with the gauges read now.
    async fn scrape(&self, services: &Services) -> String {
        let _one = self.scrape.lock().await;
        let jobs = services.handle.jobs().await;
        self.next_run.reset();
        self.running.reset();
        self.paused.reset();
        for state in &jobs {
            let job = state.job.name.as_str();
            if let Some(next) = state.next {
                self.next_run.with_label_values(&[job]).set(seconds(next));
            }
            self.running
                .with_label_values(&[job])
                .set(i64::try_from(state.running.len()).unwrap_or(i64::MAX));
            self.paused
                .with_label_values(&[job])
                .set(i64::from(state.paused));
        }
        match services.store.waiting_runs(services.clock.now()).await {
            Ok(waiting) => self.slots_waiting.set(waiting),
            Err(e) => {
                tracing::debug!(error = %e, "metrics: cannot count the runs waiting to start")
            }
        }
        let up = matches!(
            tokio::time::timeout(ENGINE_WAIT, services.engine.check()).await,
            Ok(Ok(()))
        );
        self.engine_up.set(i64::from(up));
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// Unix time in seconds, with milliseconds.
fn seconds(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// Load the history's timestamps, then count the daemon's events until
/// `shutdown` (subscribed before this returns: nothing published after is missed).
pub(super) async fn spawn_updater(
    metrics: std::sync::Arc<Metrics>,
    services: &Services,
    shutdown: CancellationToken,
) {
    let mut events = services.handle.events.subscribe();
    let store = services.store.clone();
    metrics.load(&store).await;
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = shutdown.cancelled() => return,
            };
            match event {
                Ok(event) => metrics.observe(&event, &store).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        "metrics fell behind the events; some counts are lost"
                    );
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// The Prometheus metrics, in the text exposition format 0.0.4.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition (text/plain; version=0.0.4).", content_type = "text/plain", body = String),
        (status = 401, description = "No token, or the wrong one.", body = super::ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let text = state.metrics.scrape(&state.services).await;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    ))
}
