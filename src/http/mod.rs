//! The daemon's HTTP server: the web dashboard at `/` ([`ui`]), the JSON API
//! under `/api/v1` (described by the OpenAPI document it serves at
//! `/api/v1/openapi.json`), the Prometheus metrics (`/metrics`) and the health
//! checks (`/healthz`, `/readyz`). The only
//! module that imports the HTTP server (axum, tower-http).
//!
//! It runs on the daemon's tokio runtime and stops with the daemon's
//! cancellation token. It drives the daemon only through its
//! [`Handle`](crate::daemon::Handle) (whose commands never make the scheduler
//! loop wait for a client) and reads the history from the [`Store`]; its event
//! streams follow the daemon's lifecycle events. Every route is declared with
//! its OpenAPI description (utoipa), so the document and the router cannot
//! drift apart. With a token (`[daemon.http] token_file`), every route but the
//! health checks needs it. Nothing here logs a token or a parameter's value.

mod api;
mod auth;
mod error;
mod health;
mod metrics;
mod sse;
pub mod token;
pub mod ui;

pub use error::{ApiError, ErrorBody};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::clock::Clock;
use crate::config::HttpConfig;
use crate::daemon::Handle;
use crate::engine::Engine;
use crate::store::Store;
use token::{Token, TokenError};

/// The body `GET /api/v1/jobs` answers for `jobs`, made as its handler makes
/// it (a read of each job's latest run, then JSON): the benchmark harness'
/// baseline for the dashboard's overview of the same jobs.
pub async fn jobs_json(
    jobs: &[crate::daemon::control::JobState],
    store: &Store,
) -> Result<Vec<u8>, crate::store::StoreError> {
    let views = api::job_views(jobs, store).await?;
    Ok(serde_json::to_vec(&views).unwrap_or_default())
}

/// The longest a request may take to be answered (an event stream, once
/// answered, goes on).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest request body accepted: 64 KiB (a run's parameters).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the server serves from.
#[derive(Clone)]
pub struct Services {
    /// The running daemon.
    pub handle: Handle,
    /// The history database (the daemon's).
    pub store: Store,
    /// The Docker engine, for `/readyz` and `cronbox_engine_up`.
    pub engine: Engine,
    pub clock: Arc<dyn Clock>,
}

/// What every handler gets (`State<AppState>`).
#[derive(Clone)]
pub(crate) struct AppState {
    pub services: Services,
    pub metrics: Arc<metrics::Metrics>,
    /// Cancelled when the daemon shuts down: event streams end with it.
    pub shutdown: CancellationToken,
    /// The OpenAPI document, as served.
    pub openapi: Arc<str>,
    /// The dashboard's login and CSRF keys.
    pub guard: Arc<ui::session::Guard>,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("cannot set up the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(
        "cannot listen on {address} ([daemon.http] listen): {error}; choose a free port, or set listen = \"\" to turn the server off"
    )]
    Bind {
        address: SocketAddr,
        error: std::io::Error,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Wait (at most `bound`) until it has stopped, after its shutdown token was
    /// cancelled: open event streams end at once, other requests are let finish.
    pub async fn stopped(self, bound: Duration) {
        let _ = tokio::time::timeout(bound, self.task).await;
    }
}

/// Start the server `config` asks for (none when `listen = ""`, nor when the
/// default address is taken), with the token of its `token_file`, until
/// `shutdown` is cancelled. An address written in the file that cannot be
/// listened on is an error.
pub async fn start(
    config: &HttpConfig,
    services: Services,
    shutdown: CancellationToken,
) -> Result<Option<Server>, HttpError> {
    let Some(address) = config.listen else {
        tracing::info!("HTTP server off ([daemon.http] listen = \"\")");
        return Ok(None);
    };
    let token = config.token_file.as_deref().map(Token::read).transpose()?;
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        // Not asked for in the file: the daemon goes on without its server
        // (another daemon on this box may have the default port).
        Err(error) if !config.listen_written => {
            tracing::warn!(address = %address, error = %error, "cannot listen on the default address of the HTTP API; going on without it (set [daemon.http] listen to another address, or to \"\" to silence this)");
            return Ok(None);
        }
        Err(error) => return Err(HttpError::Bind { address, error }),
    };
    let server = serve(listener, services, token, shutdown).await?;
    Ok(Some(server))
}

/// Serve on `listener` (tests bind port 0), asking for `token` when given.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    token: Option<Token>,
    shutdown: CancellationToken,
) -> Result<Server, HttpError> {
    let address = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let metrics = Arc::new(metrics::Metrics::new()?);
    metrics::spawn_updater(metrics.clone(), &services, shutdown.clone()).await;
    let guarded = token.is_some();
    let token = token.map(Arc::new);
    let guard = Arc::new(ui::session::Guard::new(token.clone()));
    let (router, openapi) = routes(token).split_for_parts();
    let openapi = openapi.to_pretty_json().unwrap_or_default();
    let state = AppState {
        services,
        metrics,
        shutdown: shutdown.clone(),
        openapi: openapi.into(),
        guard: guard.clone(),
    };
    let app = router
        .merge(ui::routes(guard))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state);
    let app = with_limits(app, REQUEST_TIMEOUT);
    tracing::info!(
        address = %address,
        token = if guarded { "required but for /healthz and /readyz" } else { "none" },
        "HTTP server listening (dashboard at /, API at /api/v1, metrics at /metrics, health at /healthz and /readyz)"
    );
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    Ok(Server { address, task })
}

/// `app` with the request timeout `timeout` and the body limit
/// [`BODY_LIMIT`] (tower-http), whose own answers are made JSON errors as
/// every other ([`error::json_errors`]).
fn with_limits(app: axum::Router, timeout: Duration) -> axum::Router {
    app.layer(TimeoutLayer::with_status_code(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        timeout,
    ))
    .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(axum::middleware::map_response(move |response| {
        error::json_errors(timeout, response)
    }))
}

/// Every route, with its OpenAPI description: health (never behind the token),
/// metrics and the API (behind it when there is one), merged here.
fn routes(token: Option<Arc<Token>>) -> OpenApiRouter<AppState> {
    let mut guarded = metrics::routes().merge(api::routes());
    if let Some(token) = token {
        guarded = guarded.route_layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ));
    }
    OpenApiRouter::with_openapi(api::document())
        .merge(health::routes())
        .merge(guarded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request the handler never answers gets the timeout layer's answer,
    /// as JSON like every other error (over real HTTP; a short limit).
    #[tokio::test]
    async fn a_request_not_answered_in_time_gets_a_json_timeout_error() {
        let never = axum::Router::new().route(
            "/slow",
            axum::routing::get(std::future::pending::<&'static str>),
        );
        let limit = Duration::from_millis(200);
        let app = with_limits(never, limit);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        crate::notify::http::install_tls_provider();
        let response = reqwest::get(format!("http://{address}/slow"))
            .await
            .expect("an answer");
        assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], "timeout", "{body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("0.2 s")),
            "{body}"
        );
        server.abort();
    }
}
