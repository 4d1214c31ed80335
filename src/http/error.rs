//! The one error type of the HTTP server: a status, a stable machine-readable
//! `code` and a message saying what to do, sent as JSON
//! `{"error": "...", "code": "..."}` (plus `running`, the run ids, for a
//! refusal because the job is busy). Messages name jobs, runs and parameter
//! names, never a parameter's value or the token.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, for programs: `bad_request`, `unauthorized`, `no_such_job`,
    /// `no_such_run`, `no_route`, `busy`, `finished`, `unavailable`, ...
    pub code: &'static str,
    /// For people: what went wrong and what to do.
    pub message: String,
    /// For `busy`: the runs still going.
    pub running: Option<Vec<i64>>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do, for people.
    #[schema(example = "no job \"backup\" in the schedule")]
    pub error: String,
    /// What went wrong, for programs: bad_request, unauthorized, no_such_job,
    /// no_such_run, no_route, method_not_allowed, busy, finished, not_supervised,
    /// too_large, timeout, unavailable, not_ready, not_alive, internal.
    #[schema(example = "no_such_job")]
    pub code: String,
    /// For `busy`: the ids of the runs of the job still going.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Vec<i64>>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            running: None,
        }
    }

    /// 400: the request is malformed (`code` says which part).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no token, or the wrong one.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs the header \"Authorization: Bearer TOKEN\" with the token of [daemon.http] token_file",
        )
    }

    /// 404: no such job.
    pub fn no_such_job(job: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_job",
            format!("no job {job:?} in the schedule; GET /api/v1/jobs lists them"),
        )
    }

    /// 404: no such run.
    pub fn no_such_run(run_id: i64) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_run",
            format!("no run {run_id}; GET /api/v1/runs lists them"),
        )
    }

    /// 409: the request conflicts with the run's or job's state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 503: the daemon cannot do it now (`code` says why).
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 503 for a database failure (its message names the file and the cause).
    pub fn store(error: &StoreError) -> ApiError {
        ApiError::unavailable("unavailable", error.to_string())
    }
}

impl ApiError {
    /// 413: the request body is larger than [`super::BODY_LIMIT`].
    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the request body is larger than {} KiB; a run's parameters are a few short values",
                super::BODY_LIMIT / 1024
            ),
        )
    }

    /// 503: the request was not answered within `limit`.
    pub fn timed_out(limit: std::time::Duration) -> ApiError {
        ApiError::unavailable(
            "timeout",
            format!(
                "the request was not answered within {} s; try again, and see the daemon's log if it keeps happening",
                limit.as_secs_f64()
            ),
        )
    }
}

/// The errors the layers answer by themselves (tower-http's body limit: 413
/// in plain text; its timeout: 503 with no body), made JSON as every other
/// error (`timeout` is the limit the timeout layer has). Other responses pass.
pub async fn json_errors(timeout: std::time::Duration, response: Response) -> Response {
    let status = response.status();
    let typed = response
        .headers()
        .contains_key(axum::http::header::CONTENT_TYPE);
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    match status {
        StatusCode::PAYLOAD_TOO_LARGE if !json => ApiError::too_large().into_response(),
        StatusCode::SERVICE_UNAVAILABLE if !typed => ApiError::timed_out(timeout).into_response(),
        _ => response,
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::store(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code.to_owned(),
            running: self.running,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::bad_request("bad_query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::bad_request("bad_path", rejection.body_text())
    }
}

/// Answer to a request no route matches (404) or a method a route does not
/// serve (405), as JSON like every other error.
pub async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no endpoint {method} {}; GET /api/v1/openapi.json lists them",
            uri.path()
        ),
    )
}

/// Answer to a method a route does not serve (405).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not take {method}; GET /api/v1/openapi.json lists the methods of each endpoint",
            uri.path()
        ),
    )
}
