//! The web dashboard, served at `/` by the daemon's HTTP server: the overview
//! of every job, a job's page, a run's page with its output, and the forms that
//! run, pause, resume and stop. Server-rendered HTML (maud, compiled into the
//! binary), charts drawn as SVG by the server, one embedded stylesheet and one
//! small script that keeps pages up to date from the daemon's events
//! (`/events`) and streams a running attempt's output; every page is whole and
//! every form works without the script.
//!
//! It changes nothing the API could not: its forms go through the same
//! functions as the API's handlers. With a token, every page but the login
//! form and the static assets needs the session cookie ([`session`]).

mod actions;
mod assets;
mod chart;
mod job;
mod overview;
mod page;
mod run;
pub mod session;
mod settings;
mod trend;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use std::sync::Arc;

use super::AppState;
use super::error::ApiError;
use page::notice;
use session::Guard;

pub use job::{HistoryQuery, JobPage, render as render_job};
pub use overview::{Overview, render as render_overview};
pub use page::Frame;
pub use run::{RunPage, TAIL as RUN_PAGE_TAIL, render as render_run};

/// Bytes of the assets every page loads (stylesheet and script), for the
/// page weight the benchmark harness reports.
pub const WEIGHT_ASSETS: usize = assets::CSS.len() + assets::JS.len();

/// The dashboard's routes; all but `/login` and `/static/*` behind `guard`.
pub(super) fn routes(guard: Arc<Guard>) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(overview_page))
        .route("/jobs/{job}", get(job_page))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/output.txt", get(output_text))
        .route("/runs/{id}/live", get(live_output))
        .route("/events", get(super::api::event_stream))
        .route("/jobs/{job}/run", post(actions::run_now))
        .route("/jobs/{job}/pause", post(actions::pause))
        .route("/jobs/{job}/resume", post(actions::resume))
        .route("/runs/{id}/stop", post(actions::stop))
        .route("/logout", post(actions::logout))
        .route_layer(axum::middleware::from_fn_with_state(
            guard,
            session::require_session,
        ));
    Router::new()
        .route("/login", get(actions::login_form).post(actions::login))
        .route(assets::CSS_PATH, get(assets::css))
        .route(assets::JS_PATH, get(assets::js))
        .merge(pages)
        .layer(axum::middleware::map_response(harden))
}

/// Headers every dashboard answer carries: no framing by other sites (the
/// buttons cannot be clickjacked), nothing but this server's own script and
/// style, no sniffing of types.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// What every page of this request needs.
fn frame(state: &AppState) -> Frame {
    Frame {
        csrf: state.guard.csrf().to_owned(),
        login: state.guard.asks_login(),
    }
}

fn html_page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(CACHE_CONTROL, "no-store")],
        Html(markup.into_string()),
    )
        .into_response()
}

/// An error answered as a page saying what went wrong, with the API's status.
#[derive(Debug)]
pub struct UiError(pub ApiError);

impl<E: Into<ApiError>> From<E> for UiError {
    fn from(error: E) -> UiError {
        UiError(error.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let frame = Frame {
            csrf: String::new(),
            login: false,
        };
        let title = self.0.status.canonical_reason().unwrap_or("Error");
        let body = notice(title, &self.0.message, "/");
        html_page(self.0.status, page::page(title, &frame, body))
    }
}

/// The login form, with `error` when the last try was wrong.
fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let frame = Frame {
        csrf: String::new(),
        login: false,
    };
    let body = html! {
        div.login {
            h1 { "Log in" }
            p { "Give the API token (the content of " code { "[daemon.http] token_file" } ")." }
            @if let Some(error) = error { p.error role="alert" #login-error { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label { "Token" input #token type="password" name="token" autocomplete="current-password" required; }
                button.primary type="submit" { "Log in" }
            }
        }
    };
    html_page(status, page::page("Log in", &frame, body))
}

async fn overview_page(State(state): State<AppState>) -> Result<Response, UiError> {
    let services = &state.services;
    let jobs = services.handle.jobs().await;
    let now = services.clock.now();
    let view = Overview::read(jobs, &services.store, &services.engine, now).await?;
    Ok(html_page(
        StatusCode::OK,
        render_overview(&view, &frame(&state)),
    ))
}

async fn job_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<job::HistoryQuery>,
) -> Result<Response, UiError> {
    let job = super::api::find_job(&state, &name).await?;
    let services = &state.services;
    let view = job::JobPage::read(job, &query, &services.store, services.clock.now()).await?;
    Ok(html_page(
        StatusCode::OK,
        job::render(&view, &frame(&state)),
    ))
}

async fn run_page(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, UiError> {
    let services = &state.services;
    let jobs = services.handle.jobs().await;
    let tz_of = |name: &str| {
        jobs.iter()
            .find(|s| s.job.name == name)
            .map_or(chrono_tz::UTC, |s| s.job.timezone)
    };
    let view = run::RunPage::read(&services.store, id, tz_of, services.clock.now())
        .await?
        .ok_or_else(|| ApiError::no_such_run(id))?;
    Ok(html_page(
        StatusCode::OK,
        run::render(&view, &frame(&state)),
    ))
}

/// The stored output of a run as a text file: per attempt, a header line,
/// then stdout, then stderr.
async fn output_text(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    let store = &state.services.store;
    if store.run_status(id).await?.is_none() {
        return Err(ApiError::no_such_run(id).into());
    }
    let mut text: Vec<u8> = Vec::new();
    let mut last: Option<(i64, crate::store::Stream)> = None;
    for chunk in store.output(id, None).await? {
        if last != Some((chunk.attempt, chunk.stream)) {
            let stream = match chunk.stream {
                crate::store::Stream::Stdout => "stdout",
                crate::store::Stream::Stderr => "stderr",
            };
            if last.is_some() && !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            text.extend(format!("==> attempt {} {stream} <==\n", chunk.attempt).bytes());
            last = Some((chunk.attempt, chunk.stream));
        }
        text.extend(chunk.data);
    }
    let disposition = format!("attachment; filename=\"cronbox-run-{id}.txt\"");
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// A running run's output as Server-Sent Events (the API's `follow=true`).
async fn live_output(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    if state.services.store.run_status(id).await?.is_none() {
        return Err(ApiError::no_such_run(id).into());
    }
    Ok(super::api::follow(&state, id, None, None))
}
