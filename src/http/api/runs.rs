//! `/api/v1/runs` and starting a run: pages of the history (newest first, with
//! an id cursor), one run with its attempts, a run started now through the
//! daemon (trigger `api`, the job's concurrency policy honoured, only the
//! job's declared `params` accepted), and a run stopped.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;

use super::jobs::job_config;
use super::views::{RunDetail, RunRequest, RunView, RunsPage, Started, Stopping, run_url};
use super::{ApiPath, ApiQuery, AppState};
use crate::config::Job;
use crate::daemon::control::Refusal;
use crate::daemon::supervisor::STOP_REQUEST_STOPPED;
use crate::http::error::{ApiError, ErrorBody};
use crate::store::{RunFilter, Trigger};

/// Runs per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most runs one page holds.
pub const MAX_LIMIT: u32 = 1000;

/// The statuses a run can have.
const STATUSES: [&str; 8] = [
    "running",
    "succeeded",
    "failed",
    "interrupted",
    "stopped",
    "skipped",
    "missed",
    "paused",
];

/// The filter and cursor of `GET /runs`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct RunsQuery {
    /// Only this job's runs.
    job: Option<String>,
    /// Only runs with this status: running, succeeded, failed, interrupted,
    /// stopped, skipped, missed, paused.
    status: Option<String>,
    /// Only runs fired this way: schedule, catch-up, manual, api.
    trigger: Option<String>,
    /// Only runs older than this run id (the cursor: the `next` link of a page).
    before: Option<i64>,
    /// At most this many runs (1 to 1000; default 50).
    limit: Option<u32>,
}

impl RunsQuery {
    /// The store's filter, or a 400 saying which value is wrong.
    fn filter(self) -> Result<RunFilter, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("limit must be from 1 to {MAX_LIMIT}, found {limit}"),
            ));
        }
        if let Some(status) = self.status.as_deref().filter(|s| !STATUSES.contains(s)) {
            return Err(ApiError::bad_request(
                "bad_query",
                format!(
                    "unknown status {status:?}; use one of {}",
                    STATUSES.join(", ")
                ),
            ));
        }
        if let Some(trigger) = self
            .trigger
            .as_deref()
            .filter(|t| Trigger::from_name(t).is_none())
        {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("unknown trigger {trigger:?}; use one of schedule, catch-up, manual, api"),
            ));
        }
        if let Some(before) = self.before.filter(|b| *b < 1) {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("before must be a run id (1 or more), found {before}"),
            ));
        }
        Ok(RunFilter {
            job: self.job,
            status: self.status,
            trigger: self.trigger,
            before: self.before,
            limit,
        })
    }
}

/// The URL of the page after `filter`'s, which ended at run `last`.
fn next_page(filter: &RunFilter, last: i64) -> String {
    let mut query: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("job", &filter.job),
        ("status", &filter.status),
        ("trigger", &filter.trigger),
    ] {
        if let Some(value) = value {
            query.push((key, value.clone()));
        }
    }
    query.push(("before", last.to_string()));
    query.push(("limit", filter.limit.to_string()));
    let query: Vec<String> = query
        .into_iter()
        .map(|(k, v)| format!("{k}={}", encode(&v)))
        .collect();
    format!("/api/v1/runs?{}", query.join("&"))
}

/// `text` percent-encoded for a query string (unreserved characters kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs, newest first, by job, status and trigger, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "A page of runs and the link to the next.", body = RunsPage),
        (status = 400, description = "A malformed filter, cursor or limit.", body = ErrorBody),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 503, description = "The database cannot be read.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_runs(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Json<RunsPage>, ApiError> {
    let filter = query.filter()?;
    let runs = state.services.store.runs(&filter).await?;
    let full = runs.len() == filter.limit as usize;
    let next = runs
        .last()
        .filter(|_| full)
        .map(|last| next_page(&filter, last.id));
    Ok(Json(RunsPage {
        runs: runs.into_iter().map(RunView::from).collect(),
        next,
    }))
}

/// One run, with its attempts.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = i64, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run and its attempts.", body = RunDetail),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn get_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RunDetail>, ApiError> {
    let store = &state.services.store;
    let run = store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::no_such_run(id))?;
    let attempts = store.attempts(id).await?;
    Ok(Json(RunDetail {
        run: run.into(),
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// The parameters of `body` (empty: none), checked against the job's `params`.
fn params(job: &Job, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let request: RunRequest = serde_json::from_slice(body).map_err(|e| {
        // serde_json's message names the field or the position, never a value.
        ApiError::bad_request(
            "bad_body",
            format!("bad request body: {e}; send {{\"env\": {{\"NAME\": \"value\"}}}}"),
        )
    })?;
    check_params(job, request.env)
}

/// The variables of `env`, checked against the job's `params`: each one a
/// declared name, no value with a NUL (the API's body, the dashboard's form).
pub(crate) fn check_params(
    job: &Job,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = Vec::new();
    for (name, value) in env {
        if !job.params.contains(&name) {
            let declared = if job.params.is_empty() {
                "the job declares none (params in its table)".to_owned()
            } else {
                format!("the job's params are {}", job.params.join(", "))
            };
            return Err(ApiError::bad_request(
                "not_a_param",
                format!(
                    "job {:?} does not take {name:?} as a parameter; {declared}",
                    job.name
                ),
            ));
        }
        if value.contains('\0') {
            return Err(ApiError::bad_request(
                "bad_body",
                format!(
                    "the value of {name:?} contains a NUL character, which no environment variable can hold"
                ),
            ));
        }
        params.push((name, value));
    }
    Ok(params)
}

/// Start a run of the job now (trigger `api`), as its concurrency policy says.
/// The optional body sets environment variables the job lists in `params`.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job}/runs",
    tag = "jobs",
    params(("job" = String, Path, description = "The job's name.")),
    request_body(content = Option<RunRequest>, description = "Parameters for this run (optional).", content_type = "application/json"),
    responses(
        (status = 202, description = "The run is recorded and starting.", body = Started, headers(("Location" = String, description = "The run's URL."))),
        (status = 400, description = "A malformed body, or a variable the job does not list in params.", body = ErrorBody),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job has concurrency = \"forbid\" and a run of it still goes (its ids in `running`); the refusal is recorded as a skipped run.", body = ErrorBody),
        (status = 503, description = "The run could not be recorded, or the daemon is shutting down.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn start_run(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let job = job_config(&state, &name).await?;
    let params = params(&job, &body)?;
    let run_id = start(&state, &name, params).await?;
    let url = run_url(run_id);
    Ok((
        StatusCode::ACCEPTED,
        [(LOCATION, url.clone())],
        Json(Started { run_id, url }),
    ))
}

/// Start a run of job `name` now with `params` (checked): its id, or why not.
pub(crate) async fn start(
    state: &AppState,
    name: &str,
    params: Vec<(String, String)>,
) -> Result<i64, ApiError> {
    match state.services.handle.run_now(name, params).await {
        Ok(run_id) => Ok(run_id),
        Err(Refusal::NoSuchJob(_)) => Err(ApiError::no_such_job(name)),
        Err(refusal @ Refusal::Busy { .. }) => {
            let mut error = ApiError::conflict("busy", refusal.to_string());
            if let Refusal::Busy { running, .. } = refusal {
                error.running = Some(running);
            }
            Err(error)
        }
        Err(e) => Err(ApiError::unavailable("unavailable", e.to_string())),
    }
}

/// Stop a running run now: its container gets its stop_signal, then SIGKILL
/// after stop_grace; the run is recorded `stopped`, with no further attempt.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/stop",
    tag = "runs",
    params(("id" = i64, Path, description = "The run's id.")),
    responses(
        (status = 202, description = "The run is being stopped.", body = Stopping),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run has already ended, or no live process supervises it.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn stop_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<Stopping>), ApiError> {
    stop(&state, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Stopping {
            run_id: id,
            status: "stopping",
            url: run_url(id),
        }),
    ))
}

/// Have run `id` stopped (by this daemon, or by the `cronbox run` process that
/// supervises it), or say why not.
pub(crate) async fn stop(state: &AppState, id: i64) -> Result<(), ApiError> {
    let services = &state.services;
    let Some((going, pid)) = services.store.run_owner(id).await? else {
        return Err(ApiError::no_such_run(id));
    };
    if !going {
        let status = services.store.run_status(id).await?.unwrap_or_default();
        return Err(ApiError::conflict(
            "finished",
            format!("run {id} has already ended ({status})"),
        ));
    }
    if services.handle.stop(id).await {
        return Ok(());
    }
    // A `cronbox run` process supervises it: asked through the database, which
    // it looks at every second.
    if let Some(pid) =
        pid.filter(|&pid| pid != std::process::id() && crate::daemon::process_alive(pid))
    {
        tracing::info!(
            run = id,
            pid,
            "asking the process that supervises the run to stop it"
        );
        services
            .store
            .request_stop(&[id], STOP_REQUEST_STOPPED)
            .await?;
        return Ok(());
    }
    Err(ApiError::conflict(
        "not_supervised",
        format!(
            "run {id} is recorded running but no live process supervises it; the daemon's next start repairs it"
        ),
    ))
}
