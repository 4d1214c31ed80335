//! What the dashboard changes, each a POST of a form carrying the CSRF value
//! (see [`super::session`]): run a job now (with its `params` from the form's
//! `param.NAME` fields; an empty field is not set), pause, resume, stop a run,
//! log in and out. Each answers `303 See Other` to the page that shows the
//! result, so that it works without script and a reload does not repeat it;
//! a refusal is a page saying why, with the API's status.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::session::{logout_cookie, safe_next, same_origin, set_cookie};
use super::{UiError, login_page};
use crate::http::AppState;
use crate::http::api;
use crate::http::error::ApiError;

/// A form's fields, in order.
type Fields = Vec<(String, String)>;

fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// The request comes from a page of this server and carries the CSRF value.
fn checked(state: &AppState, headers: &HeaderMap, fields: &Fields) -> Result<(), UiError> {
    let csrf = fields
        .iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.as_str())
        .unwrap_or("");
    if same_origin(headers) && state.guard.csrf_matches(csrf) {
        return Ok(());
    }
    Err(UiError(ApiError {
        status: StatusCode::FORBIDDEN,
        code: "csrf",
        message: "this form did not come from this dashboard (or the daemon restarted since the page was loaded); reload the page and try again".to_owned(),
        running: None,
    }))
}

/// `POST /jobs/{job}/run`: a run now, then its page.
pub async fn run_now(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, UiError> {
    checked(&state, &headers, &fields)?;
    let job = api::find_job(&state, &name).await?.job;
    let given = fields.into_iter().filter_map(|(field, value)| {
        let name = field.strip_prefix("param.")?.to_owned();
        (!value.is_empty()).then_some((name, value))
    });
    let params = api::check_params(&job, given)?;
    let run_id = api::start(&state, &name, params).await?;
    Ok(see_other(format!("/runs/{run_id}")))
}

/// `POST /jobs/{job}/pause`, then the job's page.
pub async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, UiError> {
    set_paused(state, name, headers, fields, true).await
}

/// `POST /jobs/{job}/resume`, then the job's page.
pub async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, UiError> {
    set_paused(state, name, headers, fields, false).await
}

async fn set_paused(
    state: AppState,
    name: String,
    headers: HeaderMap,
    fields: Fields,
    paused: bool,
) -> Result<Response, UiError> {
    checked(&state, &headers, &fields)?;
    let location = format!("/jobs/{name}");
    api::set_paused(&state, name, paused).await.map(drop)?;
    Ok(see_other(location))
}

/// `POST /runs/{id}/stop`, then the run's page.
pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, UiError> {
    checked(&state, &headers, &fields)?;
    api::stop(&state, id).await?;
    Ok(see_other(format!("/runs/{id}")))
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct Login {
    token: String,
    next: Option<String>,
}

/// Where the login form sends to.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /login`: the form (or the overview when no login is asked).
pub async fn login_form(State(state): State<AppState>, Query(next): Query<Next>) -> Response {
    if !state.guard.asks_login() {
        return see_other("/".to_owned());
    }
    login_page(StatusCode::OK, safe_next(next.next.as_deref()), None)
}

/// `POST /login`: the token right, a session cookie and the page asked for;
/// wrong, the form again with a 401.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    if !same_origin(&headers) {
        return login_page(
            StatusCode::FORBIDDEN,
            &next,
            Some("This login did not come from this dashboard."),
        );
    }
    match state.guard.login_cookie() {
        Some(cookie) if state.guard.token_matches(&form.token) => {
            (set_cookie(cookie), see_other(next)).into_response()
        }
        Some(_) => {
            tracing::info!("dashboard login refused: wrong token");
            login_page(
                StatusCode::UNAUTHORIZED,
                &next,
                Some("Wrong token: give the token of [daemon.http] token_file."),
            )
        }
        None => see_other(next),
    }
}

/// `POST /logout`: the session cookie cleared, then the login form.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, UiError> {
    checked(&state, &headers, &fields)?;
    Ok((set_cookie(logout_cookie()), see_other("/login".to_owned())).into_response())
}
