//! `/api/v1/jobs`: the jobs as the daemon plans them (schedule, zone, image,
//! next fire times, last run, paused, running runs), one job, and its pause
//! and resume (stored in the database, then applied by the daemon).

use axum::Json;
use axum::extract::State;
use std::sync::Arc;

use super::views::{JobView, PauseState};
use super::{ApiPath, AppState};
use crate::config::Job;
use crate::daemon::control::{JobState, Refusal};
use crate::http::error::{ApiError, ErrorBody};
use crate::store::{Store, StoreError};

/// The job called `name` as the daemon plans it, or a 404.
pub(crate) async fn find_job(state: &AppState, name: &str) -> Result<JobState, ApiError> {
    state
        .services
        .handle
        .jobs()
        .await
        .into_iter()
        .find(|s| s.job.name == name)
        .ok_or_else(|| ApiError::no_such_job(name))
}

/// The job's configuration, or a 404.
pub(super) async fn job_config(state: &AppState, name: &str) -> Result<Arc<Job>, ApiError> {
    find_job(state, name).await.map(|s| s.job)
}

/// Every job of the schedule, sorted by name.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    responses(
        (status = 200, description = "The jobs.", body = Vec<JobView>),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 503, description = "The database cannot be read.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_jobs(
    State(state): State<AppState>,
) -> Result<Json<Vec<JobView>>, ApiError> {
    let jobs = state.services.handle.jobs().await;
    Ok(Json(job_views(&jobs, &state.services.store).await?))
}

/// `jobs` as `GET /api/v1/jobs` lists them, each with its latest run.
pub(crate) async fn job_views(
    jobs: &[JobState],
    store: &Store,
) -> Result<Vec<JobView>, StoreError> {
    let names: Vec<&str> = jobs.iter().map(|s| s.job.name.as_str()).collect();
    let last = store.last_runs_of(&names).await?;
    Ok(jobs
        .iter()
        .map(|s| JobView::new(s, last.get(&s.job.name)))
        .collect())
}

/// One job.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job}",
    tag = "jobs",
    params(("job" = String, Path, description = "The job's name.")),
    responses(
        (status = 200, description = "The job.", body = JobView),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn get_job(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = find_job(&state, &name).await?;
    let filter = crate::store::RunFilter {
        job: Some(name),
        limit: 1,
        ..Default::default()
    };
    let last = state.services.store.runs(&filter).await?;
    Ok(Json(JobView::new(&job, last.first())))
}

/// Pause the job: its ticks do not run, and are recorded as one run with status
/// `paused` per pause. Stored in the database: it survives restarts and reloads.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job}/pause",
    tag = "jobs",
    params(("job" = String, Path, description = "The job's name.")),
    responses(
        (status = 200, description = "The job is paused.", body = PauseState),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 503, description = "The pause could not be stored.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn pause_job(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PauseState>, ApiError> {
    set_paused(&state, name, true).await
}

/// Resume the job: its next tick runs; the ticks of the pause are not run.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job}/resume",
    tag = "jobs",
    params(("job" = String, Path, description = "The job's name.")),
    responses(
        (status = 200, description = "The job is not paused.", body = PauseState),
        (status = 401, description = "No token, or the wrong one.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 503, description = "The change could not be stored.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn resume_job(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PauseState>, ApiError> {
    set_paused(&state, name, false).await
}

/// Store the pause of `job`, then have the daemon apply it.
pub(crate) async fn set_paused(
    state: &AppState,
    job: String,
    paused: bool,
) -> Result<Json<PauseState>, ApiError> {
    find_job(state, &job).await?;
    let services = &state.services;
    let changed = services
        .store
        .set_paused(&job, paused, services.clock.now())
        .await?;
    match services.handle.paused(&job, paused).await {
        Ok(()) => {}
        Err(Refusal::NoSuchJob(_)) => return Err(ApiError::no_such_job(&job)),
        Err(e) => return Err(ApiError::unavailable("unavailable", e.to_string())),
    }
    Ok(Json(PauseState {
        job,
        paused,
        changed,
    }))
}
