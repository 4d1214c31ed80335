//! The JSON API under `/api/v1`: jobs (list, one, run now, pause, resume),
//! runs (pages, one with its attempts, logs, stop), the lifecycle event stream,
//! and the OpenAPI document of the whole server, generated from the handlers'
//! own descriptions. A client can start a run of a job and set the variables
//! the job lists in `params`, nothing else: no image, command, volume or other
//! setting comes from a request.

mod events;
mod jobs;
mod logs;
mod runs;
mod views;

// What the dashboard (`http::ui`) does the way the API does.
pub(crate) use events::events as event_stream;
pub(crate) use jobs::{find_job, job_views, set_paused};
pub(crate) use logs::follow;
pub(crate) use runs::{check_params, start, stop};

use axum::extract::{FromRequestParts, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;

/// A query string; a malformed one is a 400 in the API's error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);

/// Path parameters; a malformed one (a run id that is not a number) is a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub T);

/// The document's frame: what the paths are added to.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "cronbox",
        description = "The HTTP API of the cronbox daemon: its jobs and runs, run now, pause, resume, stop, logs and lifecycle events; its Prometheus metrics and health checks. With [daemon.http] token_file set, every endpoint but /healthz and /readyz needs `Authorization: Bearer TOKEN`."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "jobs", description = "The jobs of the schedule: list, run now, pause, resume."),
        (name = "runs", description = "The history of runs, their attempts and output; stopping a run."),
        (name = "events", description = "The daemon's lifecycle events, as Server-Sent Events."),
        (name = "metrics", description = "Prometheus metrics."),
        (name = "health", description = "Liveness and readiness, never behind the token."),
    )
)]
struct Document;

/// Declares the bearer token scheme the guarded paths name.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token in [daemon.http] token_file."))
                    .build(),
            ),
        );
    }
}

/// The document's frame, to which every router's paths are added.
pub(super) fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(runs::start_run))
        .routes(routes!(jobs::pause_job))
        .routes(routes!(jobs::resume_job))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::stop_run))
        .routes(routes!(logs::run_logs))
        .routes(routes!(events::events))
        .routes(routes!(openapi))
}

/// This document: the OpenAPI 3.1 description of every endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "health",
    responses(
        (status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object),
        (status = 401, description = "No token, or the wrong one.", body = super::ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        state.openapi.to_string(),
    )
}
