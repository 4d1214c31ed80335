//! The health checks, never behind the token: `/healthz` (liveness: the
//! scheduler loop went round lately) and `/readyz` (readiness: the database
//! takes writes and the Docker engine answers).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::daemon::MAX_SLEEP;

/// How long `/readyz` waits for the database and for the engine, each.
pub const READY_WAIT: Duration = Duration::from_secs(5);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// A health check that passed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Healthy {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: 200 while the scheduler loop's last iteration is younger than
/// twice its longest sleep, else 503.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "The scheduler loop is alive.", body = Healthy),
        (status = 503, description = "The scheduler loop has not gone round within twice its longest sleep (or has not started yet).", body = ErrorBody),
    ),
)]
async fn healthz(State(state): State<AppState>) -> Result<Json<Healthy>, ApiError> {
    let within = MAX_SLEEP * 2;
    let now = state.services.clock.monotonic();
    if state.services.handle.alive(now, within) {
        Ok(Json(Healthy { status: "ok" }))
    } else {
        Err(ApiError::unavailable(
            "not_alive",
            format!(
                "the scheduler loop has not gone round within {}s (it may be starting, or stuck); see the daemon's log",
                within.as_secs()
            ),
        ))
    }
}

/// Readiness: 200 when the database takes writes and the Docker engine
/// answers, else 503 with the reason.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "The database takes writes and the engine answers.", body = Healthy),
        (status = 503, description = "Not ready: the error says whether the database or the engine is the reason.", body = ErrorBody),
    ),
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Healthy>, ApiError> {
    let services = &state.services;
    let not_ready = |why: String| ApiError::unavailable("not_ready", why);
    match tokio::time::timeout(READY_WAIT, services.store.check_writable()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(not_ready(format!("the database does not take writes: {e}"))),
        Err(_) => {
            return Err(not_ready(format!(
                "the database did not take a write lock within {}s",
                READY_WAIT.as_secs()
            )));
        }
    }
    match tokio::time::timeout(READY_WAIT, services.engine.check()).await {
        Ok(Ok(())) => Ok(Json(Healthy { status: "ok" })),
        Ok(Err(e)) => Err(not_ready(format!("the Docker engine does not answer: {e}"))),
        Err(_) => Err(not_ready(format!(
            "the Docker engine did not answer within {}s",
            READY_WAIT.as_secs()
        ))),
    }
}
