//! The HTTP API, metrics and health checks with real HTTP against the
//! in-process daemon, a real engine and real SQLite: every endpoint, the token,
//! pagination, a followed run's output arriving while it runs, runs started
//! with and without parameters, forbid's 409, stop, a pause across a restart,
//! the event stream, /metrics through promtool, the OpenAPI document through
//! openapi-spec-validator and against the router, and the CLI's pause, resume,
//! stop and run --detach through the API.

mod common;

use chrono::{DateTime, Utc};
use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::{Clock, SystemClock, TestClock};
use cronbox::engine::Engine;
use cronbox::http::token::Token;
use cronbox::http::{Server, Services};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// The token the tests' servers ask for.
const TOKEN: &str = "t0ken-for-tests";

/// A daemon in-process with its HTTP server on a free loopback port.
struct Served {
    daemon: Daemon,
    server: Server,
    base: String,
    client: reqwest::Client,
    /// Sent with every request when set.
    token: Option<String>,
}

impl Served {
    /// Start `env`'s daemon with `clock` and `engine`, and a server that asks
    /// for [`TOKEN`] when `with_token`.
    async fn start(
        env: &TestEnv,
        clock: Arc<dyn Clock>,
        engine: Engine,
        with_token: bool,
    ) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Served::on(env, clock, engine, with_token, listener).await
    }

    async fn on(
        env: &TestEnv,
        clock: Arc<dyn Clock>,
        engine: Engine,
        with_token: bool,
        listener: tokio::net::TcpListener,
    ) -> Served {
        let (daemon, handle) = Daemon::start_controlled(env, clock.clone(), engine.clone()).await;
        let token = with_token.then(|| {
            let path = env.dir.path().join("api-token");
            std::fs::write(&path, format!("{TOKEN}\n")).expect("token file");
            Token::read(&path).expect("token")
        });
        let services = Services {
            handle,
            store: env.store().await,
            engine,
            clock,
        };
        let server = cronbox::http::serve(listener, services, token, daemon.shutdown.clone())
            .await
            .expect("serve");
        Served {
            daemon,
            base: format!("http://{}", server.address),
            server,
            client: {
                // reqwest's rustls needs its provider before any client is built.
                cronbox::notify::http::install_tls_provider();
                reqwest::Client::new()
            },
            token: with_token.then(|| TOKEN.to_owned()),
        }
    }

    async fn real(env: &TestEnv, with_token: bool) -> Served {
        Served::start(
            env,
            Arc::new(SystemClock),
            common::engine().await,
            with_token,
        )
        .await
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// GET `path`: the status and the JSON body (`null` when not JSON).
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::GET, path)).await
    }

    /// POST `path` with `body` (none when `None`).
    async fn post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = self.request(reqwest::Method::POST, path);
        answer(match body {
            Some(body) => request.json(&body),
            None => request,
        })
        .await
    }

    /// GET `path` as text.
    async fn text(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("send");
        (response.status(), response.text().await.expect("text"))
    }

    /// A Server-Sent Events stream from `path`.
    async fn events(&self, path: &str) -> Sse {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let kind = response.headers()["content-type"]
            .to_str()
            .expect("type")
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Sse {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// `/healthz`'s status once it says the loop is alive, or after about 10 s.
    async fn alive(&self) -> StatusCode {
        let mut status = StatusCode::SERVICE_UNAVAILABLE;
        for _ in 0..100 {
            status = self.get("/healthz").await.0;
            if status == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        status
    }

    async fn stop(self) {
        self.daemon.stop().await;
        self.server.stopped(Duration::from_secs(30)).await;
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("send");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A Server-Sent Events stream being read.
struct Sse {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    /// The next event (its name and JSON data), waiting at most a minute;
    /// `None` when the stream ended.
    async fn next(&mut self) -> Option<(String, Value)> {
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut name = String::new();
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("event: ") {
                            name = value.to_owned();
                        } else if let Some(value) = line.strip_prefix("data: ") {
                            data.push_str(value);
                        }
                    }
                    if name.is_empty() {
                        continue; // a keep-alive comment
                    }
                    return Some((name, serde_json::from_str(&data).expect("JSON data")));
                }
                let chunk = self.body.next().await?.expect("chunk");
                self.buffer
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
            }
        })
        .await
        .expect("an event within a minute")
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

const GREET: &str = r#"
[jobs.greet]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo \"hello $WHO\"; echo bye"]
env = { WHO = "nobody" }
params = ["WHO"]
"#;

#[tokio::test]
async fn a_run_started_now_sees_its_parameter_and_its_output_streams_while_it_runs() {
    let gate = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::new(&format!(
        r#"
[jobs.greet]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo \"hello $WHO\"; until [ -e /gate/go ]; do sleep 0.1; done; echo bye"]
env = {{ WHO = "nobody" }}
params = ["WHO"]
volumes = ["{}:/gate"]
"#,
        gate.path().display()
    ));
    let api = Served::real(&env, false).await;
    let (status, started) = api
        .post(
            "/api/v1/jobs/greet/runs",
            Some(json!({"env": {"WHO": "api"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["run_id"].as_i64().expect("run id");
    assert_eq!(started["url"], format!("/api/v1/runs/{id}"));

    let mut logs = api
        .events(&format!("/api/v1/runs/{id}/logs?follow=true"))
        .await;
    let (name, first) = logs.next().await.expect("an event");
    assert_eq!(
        (name.as_str(), &first["text"]),
        ("output", &json!("hello api\n")),
        "{first}"
    );
    // The first line arrived while the container waits for the gate, opened only now.
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {id}")),
        "running\n"
    );
    std::fs::write(gate.path().join("go"), "").expect("open the gate");
    let (name, second) = logs.next().await.expect("an event");
    assert_eq!(
        (name.as_str(), &second["text"]),
        ("output", &json!("bye\n"))
    );
    let (name, end) = logs.next().await.expect("the end");
    assert_eq!(
        (name.as_str(), &end["status"]),
        ("end", &json!("succeeded"))
    );
    assert!(logs.next().await.is_none(), "the stream ends with the run");

    let (status, run) = api.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run["run"]["trigger"], "api");
    assert_eq!(run["run"]["params"], json!({"WHO": "api"}));
    assert_eq!(run["attempts"][0]["outcome"], "exited");
    assert_eq!(run["attempts"][0]["exit_code"], 0);
    let (status, text) = api.text(&format!("/api/v1/runs/{id}/logs")).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "hello api\nbye\n")
    );
    let (_, stderr) = api
        .text(&format!("/api/v1/runs/{id}/logs?attempt=1&stream=stderr"))
        .await;
    assert_eq!(stderr, "");

    // Without a body the job's own env applies.
    let (status, started) = api.post("/api/v1/jobs/greet/runs", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = started["run_id"].as_i64().expect("id");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {id}"),
        "succeeded\n",
    )
    .await;
    let (_, text) = api
        .text(&format!("/api/v1/runs/{id}/logs?stream=stdout"))
        .await;
    assert_eq!(text, "hello nobody\nbye\n");

    // Nothing but the declared params; a malformed body; an unknown job.
    for (body, code) in [
        (json!({"env": {"PATH": "/evil"}}), "not_a_param"),
        (json!({"env": {"WHO": "a"}, "image": "evil"}), "bad_body"),
        (json!({"env": {"WHO": 3}}), "bad_body"),
        (json!(["WHO"]), "bad_body"),
    ] {
        let (status, error) = api
            .post("/api/v1/jobs/greet/runs", Some(body.clone()))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}: {error}"
        );
    }
    let (status, error) = api.post("/api/v1/jobs/nope/runs", None).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_job"))
    );
    let (status, _) = api.get("/api/v1/runs/999/logs").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = api
        .get(&format!("/api/v1/runs/{id}/logs?stream=both"))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_query"))
    );
    api.stop().await;
    assert_eq!(
        env.sql("SELECT count(*) FROM runs"),
        "2\n",
        "refused requests start nothing"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn a_busy_forbid_job_answers_409_and_a_stopped_run_ends_stopped() {
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.long]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sleep", "600"]
retries = 2
stop_grace = "1s"
"#,
    );
    let api = Served::real(&env, true).await;
    let (status, started) = api.post("/api/v1/jobs/long/runs", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = started["run_id"].as_i64().expect("id");
    let (status, refused) = api.post("/api/v1/jobs/long/runs", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(
        (refused["code"].as_str(), &refused["running"]),
        (Some("busy"), &json!([id]))
    );
    assert_eq!(
        env.sql("SELECT trigger, status FROM runs ORDER BY id"),
        "api|running\napi|skipped\n",
        "the refusal is recorded as a tick's is"
    );
    let (_, job) = api.get("/api/v1/jobs/long").await;
    assert_eq!(job["running"], json!([id]));
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;

    let (status, stopping) = api.post(&format!("/api/v1/runs/{id}/stop"), None).await;
    assert_eq!(
        (status, stopping["status"].as_str()),
        (StatusCode::ACCEPTED, Some("stopping"))
    );
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {id}"),
        "stopped\n",
    )
    .await;
    assert_eq!(
        env.sql("SELECT attempt, outcome FROM attempts"),
        "1|stopped\n",
        "no retry"
    );
    for (path, want, code) in [
        (
            format!("/api/v1/runs/{id}/stop"),
            StatusCode::CONFLICT,
            "finished",
        ),
        (
            "/api/v1/runs/999/stop".to_owned(),
            StatusCode::NOT_FOUND,
            "no_such_run",
        ),
        (
            "/api/v1/runs/abc/stop".to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_path",
        ),
    ] {
        let (status, error) = api.post(&path, None).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (want, Some(code)),
            "{path}"
        );
    }
    api.stop().await;
    assert!(env.containers_gone().await);
}

/// A body over the 64 KiB limit, announced by its length or streamed without
/// one, is answered 413 with the JSON error every other error has (not the
/// body-limit layer's plain text), and starts nothing.
#[tokio::test]
async fn a_body_over_the_limit_gets_a_json_413() {
    let env = TestEnv::new(GREET);
    let api = Served::real(&env, true).await;
    let big = format!(
        "{{\"env\": {{\"WHO\": \"{}\"}}}}",
        "x".repeat(cronbox::http::BODY_LIMIT)
    );
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(4096)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    let bodies = [
        ("with a Content-Length", reqwest::Body::from(big.clone())),
        (
            "streamed",
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        ),
    ];
    for (how, body) in bodies {
        let request = api
            .request(reqwest::Method::POST, "/api/v1/jobs/greet/runs")
            .header("content-type", "application/json")
            .body(body);
        let response = request.send().await.expect("send");
        let status = response.status();
        let kind = response.headers().get("content-type").cloned();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{how}: {text}");
        assert_eq!(
            kind.as_ref().and_then(|k| k.to_str().ok()),
            Some("application/json"),
            "{how}: {text}"
        );
        let error: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(error["code"], "too_large", "{how}: {error}");
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.contains("64 KiB")),
            "{how}: {error}"
        );
    }
    assert_eq!(
        env.sql("SELECT count(*) FROM runs"),
        "0\n",
        "nothing started"
    );
    api.stop().await;
}

#[tokio::test]
async fn the_token_guards_every_endpoint_but_the_health_checks() {
    let env = TestEnv::new(GREET);
    let mut api = Served::real(&env, true).await;
    assert_eq!(api.alive().await, StatusCode::OK);
    let (status, document) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let routes = documented_routes(&document);
    assert!(routes.len() >= 14, "{routes:?}");
    let tokens = [
        None,
        Some("wrong"),
        Some("t0ken-for-test"),
        Some("t0ken-for-tests!"),
    ];
    for presented in tokens {
        api.token = presented.map(str::to_owned);
        for (method, path) in &routes {
            let path = concrete(path, "greet", 1);
            let response = api
                .request(method.clone(), &path)
                .send()
                .await
                .expect("send");
            let status = response.status();
            let open = path == "/healthz" || path == "/readyz";
            if open {
                assert_eq!(status, StatusCode::OK, "{method} {path}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {presented:?}"
                );
                let body: Value = response.json().await.expect("json");
                assert_eq!(body["code"], "unauthorized");
                assert!(!body.to_string().contains(TOKEN));
            }
        }
    }
    // Another scheme, or the token alone, is not a bearer token.
    for header in [format!("Basic {TOKEN}"), TOKEN.to_owned()] {
        let response = api
            .client
            .get(format!("{}/api/v1/jobs", api.base))
            .header("authorization", header)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    api.token = Some(TOKEN.to_owned());
    let (status, jobs) = api.get("/api/v1/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs[0]["name"], "greet");
    api.stop().await;
    assert_eq!(
        env.sql("SELECT count(*) FROM runs"),
        "0\n",
        "no request got through"
    );
}

/// `path` with its parameters filled in.
fn concrete(path: &str, job: &str, run: i64) -> String {
    path.replace("{job}", job).replace("{id}", &run.to_string())
}

/// Every (method, path) the document describes.
fn documented_routes(document: &Value) -> Vec<(reqwest::Method, String)> {
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method =
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            routes.push((method, path.clone()));
        }
    }
    routes.sort_by(|a, b| (&a.1, a.0.as_str()).cmp(&(&b.1, b.0.as_str())));
    routes
}

/// The Rust sources of the HTTP server (src/http, recursively), each without
/// its unit tests (`#[cfg(test)]` and what follows).
fn http_sources() -> Vec<(std::path::PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/http") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                files.push((path, code));
            }
        }
    }
    files
}

/// The first string literal in `text`.
fn first_literal(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_owned())
}

/// Every (METHOD, path) of a handler the server's source declares with
/// `#[utoipa::path(method, path = "...")]`, sorted as [`documented_routes`].
fn declared_routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for (_, code) in http_sources() {
        for block in code.split("#[utoipa::path(").skip(1) {
            let method = block
                .trim_start()
                .split(|c: char| !c.is_ascii_alphabetic())
                .next()
                .expect("a method")
                .to_uppercase();
            let path = block
                .split_once("path = ")
                .and_then(|(_, rest)| first_literal(rest))
                .expect("a path");
            routes.push((method, path));
        }
    }
    routes.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    routes
}

/// The paths of the routes added to a router without an OpenAPI description
/// (`.route(...)`, `.route_service(...)`, `.nest(...)`): the dashboard's.
/// Panics on one outside src/http/ui/, or whose path is not a literal but
/// for the dashboard's static assets.
fn dashboard_routes() -> Vec<String> {
    let mut paths = Vec::new();
    for (file, code) in http_sources() {
        let in_ui = file.components().any(|c| c.as_os_str() == "ui");
        for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            for rest in code.split(call).skip(1) {
                assert!(
                    in_ui,
                    "{}: a route without an OpenAPI description outside the dashboard: {call}{}",
                    file.display(),
                    rest.lines().next().unwrap_or("")
                );
                let argument = rest.trim_start();
                if argument.starts_with('"') {
                    paths.push(first_literal(argument).expect("a path"));
                } else {
                    assert!(argument.starts_with("assets::"), "{argument}");
                }
            }
        }
    }
    paths
}

#[tokio::test]
async fn the_openapi_document_validates_and_lists_exactly_the_routes_served() {
    let env = TestEnv::new(GREET);
    let api = Served::real(&env, false).await;
    let (status, document) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let file = env.dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).expect("write");
    let validator = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/openapi-spec-validator/bin/openapi-spec-validator");
    let out = Command::new(&validator).arg(&file).output().unwrap_or_else(|e| {
        panic!("cannot run {}: {e}; scripts/dev.sh test installs PyPI's openapi-spec-validator there", validator.display())
    });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The routes the router declares, read from its source: every handler the
    // OpenAPI router registers carries its #[utoipa::path] (utoipa_axum's
    // `routes!` takes no other), so the document must list exactly those...
    let routes = documented_routes(&document);
    let got: Vec<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.as_str().to_owned(), p.clone()))
        .collect();
    let declared = declared_routes();
    assert_eq!(got, declared, "the document and the router's declarations");
    // ...and no route is added to the router without one: a plain `.route()`
    // is for the dashboard alone (src/http/ui/). The dashboard's HTML pages and
    // forms are not part of the API and not in its document; none of them is
    // under /api, /metrics, /healthz or /readyz.
    let dashboard = dashboard_routes();
    assert!(dashboard.iter().any(|p| p == "/"), "{dashboard:?}");
    for path in &dashboard {
        assert!(
            !path.starts_with("/api")
                && !["/metrics", "/healthz", "/readyz"].contains(&path.as_str()),
            "a dashboard route in the API's space: {path}"
        );
        assert!(
            !routes.iter().any(|(_, p)| p == path),
            "a dashboard route in the API document: {path}"
        );
    }
    // The issue's endpoints are among them.
    for (method, path) in [
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/jobs"),
        ("GET", "/api/v1/jobs/{job}"),
        ("POST", "/api/v1/jobs/{job}/pause"),
        ("POST", "/api/v1/jobs/{job}/resume"),
        ("POST", "/api/v1/jobs/{job}/runs"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/runs/{id}"),
        ("GET", "/api/v1/runs/{id}/logs"),
        ("POST", "/api/v1/runs/{id}/stop"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/readyz"),
    ] {
        assert!(
            got.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path}"
        );
    }
    // ...and each served by the router: no route answers "no_route" or "method_not_allowed".
    for (method, path) in &routes {
        // No such job or run: nothing starts, and the router's answer shows.
        let path = concrete(path, "nope", 999);
        let response = api
            .request(method.clone(), &path)
            .send()
            .await
            .expect("send");
        let status = response.status();
        if path.ends_with("/events") {
            assert_eq!(status, StatusCode::OK);
            continue;
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            !matches!(
                body["code"].as_str(),
                Some("no_route" | "method_not_allowed")
            ),
            "{method} {path}: {status} {body}"
        );
    }
    // What is not in the document is not served.
    for (method, path) in [
        ("GET", "/api/v1/nope"),
        ("DELETE", "/api/v1/jobs"),
        ("GET", "/api/v2/jobs"),
    ] {
        let response = api
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("m"),
                path,
            )
            .send()
            .await
            .expect("send");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert!(
            matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{method} {path}"
        );
        assert!(
            matches!(
                body["code"].as_str(),
                Some("no_route" | "method_not_allowed")
            ),
            "{body}"
        );
    }
    api.stop().await;
}

#[tokio::test]
async fn runs_are_paged_newest_first_by_filter_with_a_cursor() {
    let env = TestEnv::new(
        "[jobs.a]\nschedule = \"0 0 1 1 *\"\nimage = \"IMAGE\"\n[jobs.b]\nschedule = \"0 0 1 1 *\"\nimage = \"IMAGE\"\n",
    );
    let store = env.store().await;
    // Now: older runs would be pruned by the daemon's retention at its start.
    let t = SystemClock.now();
    for i in 0..7 {
        let job = if i % 3 == 2 { "b" } else { "a" };
        store
            .insert_skipped_run(job, cronbox::store::Trigger::Api, t, t, "busy")
            .await
            .expect("insert");
    }
    let api = Served::real(&env, false).await;
    // Job a: runs 1, 2, 4, 5, 7; two per page.
    let mut path = "/api/v1/runs?job=a&limit=2".to_owned();
    let mut pages = Vec::new();
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        pages.push(
            page["runs"]
                .as_array()
                .expect("runs")
                .iter()
                .map(|r| r["id"].as_i64().expect("id"))
                .collect::<Vec<_>>(),
        );
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, [vec![7, 5], vec![4, 2], vec![1]]);
    let ids = |page: &Value| {
        page["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["id"].as_i64().expect("id"))
            .collect::<Vec<_>>()
    };
    let (_, all) = api.get("/api/v1/runs").await;
    assert_eq!(ids(&all), [7, 6, 5, 4, 3, 2, 1]);
    assert!(all["next"].is_null(), "one page holds them all");
    let (_, b) = api
        .get("/api/v1/runs?job=b&status=skipped&trigger=api&before=6")
        .await;
    assert_eq!(ids(&b), [3]);
    let (_, none) = api.get("/api/v1/runs?status=succeeded").await;
    assert_eq!(ids(&none), Vec::<i64>::new());
    for query in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "before=abc",
        "before=0",
        "status=done",
        "trigger=cron",
        "color=red",
    ] {
        let (status, error) = api.get(&format!("/api/v1/runs?{query}")).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_query")),
            "{query}: {error}"
        );
    }
    let (status, _) = api.get("/api/v1/runs/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, jobs) = api.get("/api/v1/jobs").await;
    assert_eq!(jobs[0]["last_run"]["id"], 7);
    assert_eq!(jobs[1]["last_run"]["id"], 6);
    assert_eq!(jobs[0]["next"].as_array().map(Vec::len), Some(5));
    assert_eq!(jobs[0]["next"][0], "2027-01-01T00:00:00.000Z");
    let (status, error) = api.get("/api/v1/jobs/zzz").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_job"))
    );
    api.stop().await;
}

#[tokio::test]
async fn a_pause_through_the_api_survives_a_restart_and_its_ticks_become_one_paused_run() {
    let marks = tempfile::tempdir().expect("tempdir");
    let env = TestEnv::new(&format!(
        r#"
[jobs.tick]
schedule = "* * * * *"
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /marks/runs"]
volumes = ["{}:/marks"]
"#,
        marks.path().display()
    ));
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let api = Served::start(&env, clock.clone(), common::engine().await, false).await;
    clock.wait_for_sleeps(0).await;
    let (status, state) = api.post("/api/v1/jobs/tick/pause", None).await;
    assert_eq!(
        (status, &state),
        (
            StatusCode::OK,
            &json!({"job": "tick", "paused": true, "changed": true})
        )
    );
    let (_, again) = api.post("/api/v1/jobs/tick/pause", None).await;
    assert_eq!(again["changed"], false);
    for _ in 0..2 {
        clock.advance_and_settle(Duration::from_secs(60)).await; // 00:01, 00:02
    }
    api.stop().await;

    let clock = Arc::new(TestClock::new(at("2026-01-01T00:02:30Z")));
    let api = Served::start(&env, clock.clone(), common::engine().await, false).await;
    clock.wait_for_sleeps(0).await;
    let (_, job) = api.get("/api/v1/jobs/tick").await;
    assert_eq!(job["paused"], true, "{job}");
    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:03
    let (_, page) = api.get("/api/v1/runs?status=paused").await;
    let run = &page["runs"][0];
    assert_eq!(
        (
            &run["missed_count"],
            &run["missed_first"],
            &run["scheduled_at"]
        ),
        (
            &json!(3),
            &json!("2026-01-01T00:01:00.000Z"),
            &json!("2026-01-01T00:03:00.000Z")
        ),
        "{page}"
    );
    let (status, state) = api.post("/api/v1/jobs/tick/resume", None).await;
    assert_eq!((status, &state["paused"]), (StatusCode::OK, &json!(false)));
    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:04
    wait_for_sql(
        &env,
        "SELECT group_concat(status, ',') FROM (SELECT status FROM runs ORDER BY id)",
        "paused,succeeded\n",
    )
    .await;
    let (status, _) = api.post("/api/v1/jobs/nope/pause", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.stop().await;
    let ran = std::fs::read_to_string(marks.path().join("runs")).unwrap_or_default();
    assert_eq!(ran.lines().count(), 1, "no tick of the pause ran");
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn the_event_stream_carries_runs_skipped_missed_and_paused_ticks_and_pauses() {
    let env = TestEnv::new(GREET);
    let api = Served::real(&env, true).await;
    let mut events = api.events("/api/v1/events").await;
    let (_, started) = api.post("/api/v1/jobs/greet/runs", None).await;
    let id = started["run_id"].clone();
    let mut seen = Vec::new();
    while let Some((name, event)) = events.next().await {
        assert_eq!(event["type"], name.as_str());
        assert_eq!(event["run_id"], id);
        seen.push(name);
        if seen.last().map(String::as_str) == Some("run_finished") {
            assert_eq!(event["status"], "succeeded");
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "run_started",
            "attempt_started",
            "attempt_finished",
            "run_finished"
        ]
    );

    // A pause and a resumption applied, whoever asked; a pause of a paused
    // job changes nothing and says nothing.
    for (path, want) in [
        ("/api/v1/jobs/greet/pause", Some("job_paused")),
        ("/api/v1/jobs/greet/pause", None),
        ("/api/v1/jobs/greet/resume", Some("job_resumed")),
    ] {
        let (status, _) = api.post(path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        if let Some(want) = want {
            let (name, event) = events.next().await.expect("an event");
            assert_eq!(
                (name.as_str(), event),
                (want, json!({"type": want, "job": "greet"}))
            );
        }
    }
    api.stop().await;
    assert!(
        events.next().await.is_none(),
        "the stream ends when the daemon stops"
    );

    // On the test clock, the ticks of a busy forbid job: skipped, missed (the
    // wall clock jumps), and accounted to a pause.
    let env = TestEnv::with_daemon(
        "on_shutdown = \"stop\"",
        r#"
[jobs.tick]
schedule = "* * * * *"
concurrency = "forbid"
image = "IMAGE"
command = ["sleep", "600"]
stop_grace = "1s"
"#,
    );
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let api = Served::start(&env, clock.clone(), common::engine().await, true).await;
    clock.wait_for_sleeps(0).await;
    let mut events = api.events("/api/v1/events").await;
    clock.advance_and_settle(Duration::from_secs(30)).await; // 00:01: runs
    let (name, started) = events.next().await.expect("an event");
    assert_eq!(name, "run_started", "{started}");
    let running = started["run_id"].as_i64().expect("id");
    let (name, event) = events.next().await.expect("an event");
    assert_eq!(
        (name.as_str(), event),
        (
            "attempt_started",
            json!({"type": "attempt_started", "run_id": running, "job": "tick", "attempt": 1})
        )
    );
    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:02: skipped
    let id = |status: &str, scheduled: &str| {
        env.sql(&format!(
            "SELECT id FROM runs WHERE status = '{status}' AND scheduled_at = '{scheduled}'"
        ))
        .trim()
        .parse::<i64>()
        .expect("a run id")
    };
    let (name, event) = events.next().await.expect("an event");
    let skipped = id("skipped", "2026-01-01T00:02:00.000Z");
    assert_eq!(
        (name.as_str(), event),
        (
            "skipped",
            json!({"type": "skipped", "run_id": skipped, "job": "tick"})
        )
    );
    // The wall clock jumps 5 minutes: 00:03..00:07 missed, 00:08 skipped.
    clock.jump(chrono::TimeDelta::minutes(5));
    clock.advance_and_settle(Duration::from_secs(60)).await;
    let (name, event) = events.next().await.expect("an event");
    let missed = id("missed", "2026-01-01T00:07:00.000Z");
    assert_eq!(
        (name.as_str(), event),
        (
            "missed",
            json!({"type": "missed", "run_id": missed, "job": "tick", "ticks": 5})
        )
    );
    let (name, event) = events.next().await.expect("an event");
    assert_eq!(
        (name.as_str(), event),
        (
            "skipped",
            json!({"type": "skipped", "run_id": id("skipped", "2026-01-01T00:08:00.000Z"), "job": "tick"})
        )
    );
    // Paused: its next tick is accounted to the pause's run.
    let (status, _) = api.post("/api/v1/jobs/tick/pause", None).await;
    assert_eq!(status, StatusCode::OK);
    let (name, _) = events.next().await.expect("an event");
    assert_eq!(name, "job_paused");
    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:09
    let (name, event) = events.next().await.expect("an event");
    let paused = id("paused", "2026-01-01T00:09:00.000Z");
    assert_eq!(
        (name.as_str(), event),
        (
            "paused",
            json!({"type": "paused", "run_id": paused, "job": "tick", "ticks": 1})
        )
    );
    let (status, _) = api
        .post(&format!("/api/v1/runs/{running}/stop"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    api.stop().await;
    assert!(env.containers_gone().await);
}

/// `text` through `promtool check metrics`, which must find nothing to say.
fn promtool(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}; install Debian's prometheus package (scripts/dev.sh test does)"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample `series` (name and labels as exposed), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_known_runs_across_a_restart() {
    let env = TestEnv::new(
        r#"
[jobs.ok]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]
[jobs.bad]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "exit 3"]
retries = 1
backoff = "1s"
"#,
    );
    let api = Served::real(&env, true).await;
    for job in ["ok", "bad", "ok"] {
        let (_, started) = api.post(&format!("/api/v1/jobs/{job}/runs"), None).await;
        let id = started["run_id"].as_i64().expect("id");
        wait_for_sql(
            &env,
            &format!("SELECT status != 'running' FROM runs WHERE id = {id}"),
            "1\n",
        )
        .await;
    }
    api.post("/api/v1/jobs/bad/pause", None).await;
    let want = [
        (r#"cronbox_runs_total{job="ok",status="succeeded"}"#, 2.0),
        (r#"cronbox_runs_total{job="bad",status="failed"}"#, 1.0),
        (r#"cronbox_attempts_total{job="bad",outcome="exited"}"#, 2.0),
        (r#"cronbox_attempts_total{job="ok",outcome="exited"}"#, 2.0),
        (r#"cronbox_run_duration_seconds_count{job="ok"}"#, 2.0),
        (r#"cronbox_job_paused{job="bad"}"#, 1.0),
        (r#"cronbox_job_paused{job="ok"}"#, 0.0),
        (r#"cronbox_running_runs{job="ok"}"#, 0.0),
        ("cronbox_slots_waiting", 0.0),
        ("cronbox_engine_up", 1.0),
        (r#"cronbox_build_info{version="0.1.0"}"#, 1.0),
        (
            r#"cronbox_next_run_timestamp_seconds{job="ok"}"#,
            1798761600.0,
        ),
    ];
    let text = metrics_once(&api, &want).await;
    let success =
        sample(&text, r#"cronbox_last_success_timestamp_seconds{job="ok"}"#).expect("last success");
    let finished = env.sql("SELECT max(finished_at) FROM runs WHERE job = 'ok'");
    assert_eq!(
        (success * 1000.0).round() as i64,
        at(finished.trim()).timestamp_millis()
    );
    assert!(
        sample(
            &text,
            r#"cronbox_last_success_timestamp_seconds{job="bad"}"#
        )
        .is_none()
    );
    assert!(
        sample(
            &text,
            r#"cronbox_last_run_timestamp_seconds{job="bad",status="failed"}"#
        )
        .is_some()
    );
    api.stop().await;

    // A new daemon reads the last success from the history; its counters start over.
    let api = Served::real(&env, true).await;
    let (_, text) = api.text("/metrics").await;
    promtool(&text);
    assert_eq!(
        sample(&text, r#"cronbox_last_success_timestamp_seconds{job="ok"}"#),
        Some(success)
    );
    assert!(sample(&text, r#"cronbox_runs_total{job="ok",status="succeeded"}"#).is_none());
    assert_eq!(
        sample(&text, r#"cronbox_job_paused{job="bad"}"#),
        Some(1.0),
        "the pause survives"
    );
    api.stop().await;
    assert!(env.containers_gone().await);
}

/// `/metrics` until every series of `want` has its value (the events reach
/// the metrics a moment after the database: a bounded wait), checked by
/// promtool; the text.
async fn metrics_once(api: &Served, want: &[(&str, f64)]) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = api.text("/metrics").await.1;
        if want
            .iter()
            .all(|(series, value)| sample(&text, series) == Some(*value))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    promtool(&text);
    for (series, value) in want {
        assert_eq!(sample(&text, series), Some(*value), "{series}\n{text}");
    }
    text
}

/// On the test clock: a `forbid` job's run going (`cronbox_running_runs` 1) and
/// another job's run waiting for the only slot (`cronbox_slots_waiting` 1); a
/// tick skipped and ten ticks missed while the wall clock jumped
/// (`cronbox_runs_total` with `skipped` and `missed`,
/// `cronbox_ticks_missed_total` 10); and after a restart, the last run of each
/// status read from the history.
#[tokio::test]
async fn metrics_count_skipped_and_missed_ticks_and_runs_going_and_waiting() {
    let env = TestEnv::with_daemon(
        "max_concurrent = 1\non_shutdown = \"stop\"",
        r#"
[jobs.slow]
schedule = "* * * * *"
concurrency = "forbid"
image = "IMAGE"
command = ["sleep", "600"]
stop_grace = "1s"
[jobs.other]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]
"#,
    );
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let api = Served::start(&env, clock.clone(), common::engine().await, true).await;
    clock.wait_for_sleeps(0).await;
    clock.advance_and_settle(Duration::from_secs(30)).await; // 00:01: slow runs
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE container_id IS NOT NULL",
        "1\n",
    )
    .await;
    let (status, _) = api.post("/api/v1/jobs/other/runs", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    metrics_once(
        &api,
        &[
            (r#"cronbox_running_runs{job="slow"}"#, 1.0),
            (r#"cronbox_running_runs{job="other"}"#, 1.0),
            ("cronbox_slots_waiting", 1.0),
        ],
    )
    .await;

    clock.advance_and_settle(Duration::from_secs(60)).await; // 00:02: skipped
    // The wall clock jumps 10 minutes (a suspended box): 00:03..00:12 missed,
    // 00:13 on time, skipped.
    clock.jump(chrono::TimeDelta::minutes(10));
    clock.advance_and_settle(Duration::from_secs(60)).await;
    metrics_once(
        &api,
        &[
            (r#"cronbox_runs_total{job="slow",status="skipped"}"#, 2.0),
            (r#"cronbox_runs_total{job="slow",status="missed"}"#, 1.0),
            (r#"cronbox_ticks_missed_total{job="slow"}"#, 10.0),
            (r#"cronbox_running_runs{job="slow"}"#, 1.0),
            ("cronbox_slots_waiting", 1.0),
        ],
    )
    .await;
    assert_eq!(
        env.sql("SELECT status, missed_count FROM runs WHERE job = 'slow' ORDER BY id"),
        "running|\nskipped|\nmissed|10\nskipped|\n"
    );
    api.stop().await;

    // A new daemon (at the same wall time: nothing more is missed) reads the
    // last run of each status from the history; its counters start over.
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:13:30Z")));
    let api = Served::start(&env, clock.clone(), common::engine().await, true).await;
    clock.wait_for_sleeps(0).await;
    let (_, text) = api.text("/metrics").await;
    promtool(&text);
    for status in ["skipped", "missed"] {
        let series =
            format!(r#"cronbox_last_run_timestamp_seconds{{job="slow",status="{status}"}}"#);
        let finished = env.sql(&format!(
            "SELECT max(finished_at) FROM runs WHERE job = 'slow' AND status = '{status}'"
        ));
        assert_eq!(
            sample(&text, &series).map(|s| (s * 1000.0).round() as i64),
            Some(at(finished.trim()).timestamp_millis()),
            "{series}\n{text}"
        );
    }
    assert!(sample(&text, r#"cronbox_runs_total{job="slow",status="skipped"}"#).is_none());
    assert!(sample(&text, r#"cronbox_ticks_missed_total{job="slow"}"#).is_none());
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE job = 'other'",
        "succeeded\n",
    )
    .await;
    api.stop().await;
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn health_and_readiness_say_why_not() {
    let env = TestEnv::new(GREET);
    let api = Served::real(&env, true).await;
    // Alive once the scheduler loop has gone round (it starts by taking over
    // what a previous daemon left).
    assert_eq!(api.alive().await, StatusCode::OK);
    for path in ["/healthz", "/readyz"] {
        // No token needed.
        let (status, body) = answer(api.client.get(format!("{}{path}", api.base))).await;
        assert_eq!(
            (status, &body),
            (StatusCode::OK, &json!({"status": "ok"})),
            "{path}"
        );
    }
    api.stop().await;

    // No engine at this address: alive, but not ready, and the engine is down.
    let nowhere = env.dir.path().join("no-docker.sock");
    let engine = Engine::connect_to(&format!("unix://{}", nowhere.display()));
    let api = Served::start(&env, Arc::new(SystemClock), engine, false).await;
    assert_eq!(api.alive().await, StatusCode::OK);
    let (status, body) = api.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "not_ready");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("Docker engine"),
        "{body}"
    );
    let (_, text) = api.text("/metrics").await;
    assert_eq!(sample(&text, "cronbox_engine_up"), Some(0.0));
    api.stop().await;

    // The database does not take writes: an operator's sqlite3 holds its write
    // lock (past /readyz's wait of 5 s). Not ready, and the reason says so;
    // ready again, and writes go on, once it lets go. (A held lock rather than
    // a read-only file: the daemon runs as root in CI, and root writes a
    // read-only file; SQLite keeps the file open for writing besides.)
    let api = Served::real(&env, false).await;
    assert_eq!(api.alive().await, StatusCode::OK);
    let lock = common::WriteLock::hold(&env.db_path);
    let (status, body) = api.get("/readyz").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready")),
        "{body}"
    );
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("database") && e.contains("write lock")),
        "{body}"
    );
    lock.release();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        status = api.get("/readyz").await.0;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "ready again");
    let (status, started) = api.post("/api/v1/jobs/greet/runs", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    wait_for_sql(&env, "SELECT status FROM runs", "succeeded\n").await;
    api.stop().await;
    assert!(env.containers_gone().await);
}

/// `cronbox ARGS -c CONFIG`: exit code, stdout, stderr. Awaited, so that the
/// in-process daemon it talks to goes on serving meanwhile.
async fn cronbox(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .expect("run cronbox");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_pauses_resumes_stops_and_detaches_through_the_api() {
    // A free port, let go while no daemon runs (a listener that does not
    // answer would hold the CLI up), taken again for the daemon.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let env = TestEnv::with_daemon(
        &format!("[daemon.http]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"api-token\""),
        r#"
[jobs.long]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo \"for $WHO\"; sleep 600"]
params = ["WHO"]
stop_grace = "1s"
"#,
    );
    let config = env.config_path.clone();
    std::fs::write(env.dir.path().join("api-token"), format!("{TOKEN}\n")).expect("token file");
    // No daemon yet: pause and resume write the database.
    let (code, out, err) = cronbox(&config, &["pause", "long"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("paused in the database") && out.contains("next start or reload"),
        "{out}"
    );
    assert!(err.contains("no daemon answers"), "{err}");
    assert_eq!(env.sql("SELECT job FROM paused_jobs"), "long\n");
    let (code, out, err) = cronbox(&config, &["check"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.ends_with("paused: long (their ticks do not run; cronbox resume JOB)\n"),
        "{out}"
    );
    let (code, _, err) = cronbox(&config, &["run", "long", "--detach"]).await;
    assert_eq!(code, 1, "no daemon to detach to");
    assert!(err.contains("no daemon answers"), "{err}");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port again");
    let api = Served::on(
        &env,
        Arc::new(SystemClock),
        common::engine().await,
        true,
        listener,
    )
    .await;
    let (_, job) = api.get("/api/v1/jobs/long").await;
    assert_eq!(
        job["paused"], true,
        "the daemon read the pause at its start"
    );
    let (code, out, err) = cronbox(&config, &["resume", "long"]).await;
    assert_eq!((code, out.as_str()), (0, "job long resumed\n"), "{err}");
    let (_, job) = api.get("/api/v1/jobs/long").await;
    assert_eq!(job["paused"], false);

    let (code, out, err) =
        cronbox(&config, &["run", "long", "--detach", "--param", "WHO=cli"]).await;
    assert_eq!(code, 0, "{err}");
    let id: i64 = out.trim().parse().expect("the run id alone");
    let (code, _, err) = cronbox(&config, &["run", "long", "--detach"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("HTTP 409") && err.contains(&format!("run {id}")),
        "{err}"
    );
    let (code, _, err) = cronbox(&config, &["run", "long", "--detach", "--param", "PATH=/x"]).await;
    assert_eq!(code, 2, "{err}");
    wait_for_sql(&env, "SELECT count(*) FROM output", "1\n").await;
    let (_, text) = api.text(&format!("/api/v1/runs/{id}/logs")).await;
    assert_eq!(text, "for cli\n");
    let (code, out, err) = cronbox(&config, &["stop", &id.to_string()]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, format!("run {id} stopping\n").as_str()),
        "{err}"
    );
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {id}"),
        "stopped\n",
    )
    .await;
    let (code, _, err) = cronbox(&config, &["stop", &id.to_string()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("already ended"), "{err}");
    api.stop().await;
    assert!(!env.sql("SELECT params FROM runs").contains(TOKEN));
    assert!(env.containers_gone().await);
}

/// The `curl` lines of the README's "HTTP API and metrics", in order.
fn readme_curl_lines() -> Vec<String> {
    let readme = include_str!("../README.md");
    let start = readme
        .find("\n## HTTP API and metrics\n")
        .expect("the section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        match line {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            _ if in_sh && line.starts_with("curl ") => lines.push(line.to_owned()),
            _ => {}
        }
    }
    lines
}

#[tokio::test]
async fn the_readme_curl_examples_work_verbatim() {
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.backup-db]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "echo dumping $PG_DATABASE; sleep 600"]
params = ["PG_DATABASE"]
stop_grace = "1s"
"#,
    );
    let api = Served::real(&env, true).await;
    assert_eq!(api.alive().await, StatusCode::OK);
    let lines = readme_curl_lines();
    assert!(lines.len() >= 14, "{lines:?}");
    for line in &lines {
        // The event stream never ends by itself: cut after a moment.
        let streams_forever = line.contains("/api/v1/events");
        let mut command = tokio::process::Command::new("timeout");
        command
            .arg(if streams_forever { "3" } else { "120" })
            .args(["sh", "-c", line])
            .env("API", &api.base)
            .env("AUTH", format!("Authorization: Bearer {TOKEN}"));
        let out = command.output().await.expect("run curl");
        let code = out.status.code();
        let want = if streams_forever { Some(124) } else { Some(0) };
        assert_eq!(
            code,
            want,
            "{line}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if line.contains("follow=true") {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("dumping billing") && text.contains("event: end"),
                "{text}"
            );
        }
    }
    assert_eq!(
        env.sql("SELECT status, params FROM runs"),
        "stopped|{\"PG_DATABASE\":\"billing\"}\n"
    );
    api.stop().await;
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn check_reports_a_token_file_that_is_missing_or_empty_at_its_line() {
    let env = TestEnv::with_daemon(
        "[daemon.http]\nlisten = \"0.0.0.0:7340\"\ntoken_file = \"api-token\"",
        GREET,
    );
    let config = env.config_path.clone();
    let token = env.dir.path().join("api-token");
    let line = std::fs::read_to_string(&config)
        .expect("config")
        .lines()
        .position(|l| l.starts_with("token_file"))
        .expect("token_file line")
        + 1;
    let at = format!("{}:{line}:14: ", config.display());
    let (code, _, err) = cronbox(&config, &["check"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{at}token_file {} does not exist; create it or fix the path",
            token.display()
        )),
        "{err}"
    );
    std::fs::write(&token, "\n").expect("empty token");
    let (code, _, err) = cronbox(&config, &["check"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{at}token_file {} is empty", token.display())),
        "{err}"
    );
    std::fs::write(&token, "s3cret-value\n").expect("token");
    let (code, out, err) = cronbox(&config, &["check"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("s3cret") && !err.contains("s3cret"));
    // The daemon refuses to start with a token file it cannot use, saying why.
    std::fs::remove_file(&token).expect("remove");
    let (code, _, err) = cronbox(&config, &["daemon"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("token_file") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn the_daemon_refuses_to_start_when_it_cannot_listen_where_the_file_says() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let env = TestEnv::with_daemon(
        &format!("[daemon.http]\nlisten = \"127.0.0.1:{port}\""),
        GREET,
    );
    let (code, _, err) = cronbox(&env.config_path, &["daemon"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port} ([daemon.http] listen)"
        )),
        "{err}"
    );
    drop(taken);
}

/// The log of the in-process daemon: a `#[tokio::test]` runs it, its server and
/// every task they spawn on the test's own thread, where this subscriber
/// (every level, every crate) is the default while the guard lives.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Wait (bounded: 2 minutes) until the log holds `needle`.
    async fn wait_for(&self, needle: &str) {
        for _ in 0..1200 {
            if self.text().contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never logged {needle:?}:\n{}", self.text());
    }
}

/// The real binary, `cronbox daemon`, with its HTTP server on a free loopback
/// port and its log (at trace) in a file; stopped by [`Spawned::stop`].
struct Spawned {
    child: std::process::Child,
    base: String,
    log: std::path::PathBuf,
    client: reqwest::Client,
}

impl Spawned {
    /// A schedule of `jobs` with `on_shutdown = "stop"`, the server on a free
    /// port and, when `with_token`, [`TOKEN`] in its token file; the daemon
    /// started, once `/healthz` says it is alive.
    async fn start(jobs: &str, with_token: bool) -> (TestEnv, Spawned) {
        Spawned::start_with(jobs, with_token, &[]).await
    }

    /// [`Spawned::start`] with more environment variables for the daemon.
    async fn start_with(jobs: &str, with_token: bool, vars: &[(&str, &str)]) -> (TestEnv, Spawned) {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let token = if with_token {
            "token_file = \"api-token\"\n"
        } else {
            ""
        };
        let env = TestEnv::with_daemon(
            &format!(
                "on_shutdown = \"stop\"\n[daemon.http]\nlisten = \"127.0.0.1:{port}\"\n{token}"
            ),
            jobs,
        );
        std::fs::write(env.dir.path().join("api-token"), format!("{TOKEN}\n")).expect("token");
        common::engine().await; // the test image is there
        let log = env.dir.path().join("daemon.log");
        let child = common::subprocess::daemon_with(&env, &log, vars);
        cronbox::notify::http::install_tls_provider();
        let spawned = Spawned {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            client: reqwest::Client::new(),
        };
        for _ in 0..600 {
            if let Ok(r) = spawned
                .client
                .get(format!("{}/healthz", spawned.base))
                .send()
                .await
                && r.status() == StatusCode::OK
            {
                return (env, spawned);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the daemon's /healthz never answered 200");
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    /// SIGTERM, and wait for its end (on_shutdown = "stop": its runs are stopped).
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        assert!(self.child.wait().expect("wait").success());
    }
}

/// A request to run a busy `forbid` job is refused by the scheduler loop from
/// what it holds in memory; the refusal's record is written by a task of its
/// own. So while that write waits for the database (an operator's `sqlite3`
/// holds the write lock), the loop goes on answering: another request that
/// goes through the loop is answered, and the refused request is not, until
/// the lock is free. Then it answers 409 with the running run's id, and the
/// refusal is recorded as a skipped run.
#[tokio::test]
async fn a_refusal_waiting_for_the_database_does_not_hold_up_the_scheduler_loop() {
    let (env, daemon) = Spawned::start(
        r#"
[jobs.long]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sleep", "600"]
stop_grace = "1s"
"#,
        false,
    )
    .await;
    let (status, started) =
        answer(daemon.request(reqwest::Method::POST, "/api/v1/jobs/long/runs")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["run_id"].as_i64().expect("id");

    let lock = common::WriteLock::hold(&env.db_path);
    let refused = tokio::spawn(answer(
        daemon.request(reqwest::Method::POST, "/api/v1/jobs/long/runs"),
    ));
    common::subprocess::wait_for_log(
        &daemon.log,
        "waiting for the database's write lock while recording a skipped run",
    )
    .await;
    // GET /api/v1/jobs/{job} asks the loop for the job's state.
    let (status, job) = answer(daemon.request(reqwest::Method::GET, "/api/v1/jobs/long")).await;
    assert_eq!(
        (status, &job["running"]),
        (StatusCode::OK, &json!([id])),
        "{job}"
    );
    assert!(
        !refused.is_finished(),
        "the refusal waits for the database (its busy timeout is 10 s), the loop does not"
    );
    lock.release();
    let (status, refusal) = refused.await.expect("join");
    assert_eq!(status, StatusCode::CONFLICT, "{refusal}");
    assert_eq!(
        (refusal["code"].as_str(), &refusal["running"]),
        (Some("busy"), &json!([id]))
    );
    assert_eq!(
        env.sql("SELECT trigger, status FROM runs ORDER BY id"),
        "api|running\napi|skipped\n"
    );
    daemon.stop();
    assert!(env.containers_gone().await);
}

/// A run of a `forbid` job whose end is recorded no longer goes, though its
/// task is still removing its container: a run asked for then is accepted, not
/// refused as busy with a run the database (and the API) says has ended. The
/// daemon pauses the first run's task right after its end is recorded
/// (`after-record#1`), with its container not removed yet.
#[tokio::test]
async fn a_run_asked_for_while_the_last_ones_container_is_being_removed_is_accepted() {
    let (env, daemon) = Spawned::start_with(
        r#"
[jobs.quick]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["true"]
"#,
        false,
        &[("CRONBOX_TEST_PAUSE_AT", "after-record#1")],
    )
    .await;
    let run = || daemon.request(reqwest::Method::POST, "/api/v1/jobs/quick/runs");
    let (status, first) = answer(run()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    common::subprocess::wait_for_log(&daemon.log, "test pause at after-record (time 1)").await;
    assert_eq!(env.sql("SELECT id, status FROM runs"), "1|succeeded\n");
    let left: Vec<_> = env
        .containers()
        .await
        .into_iter()
        .filter_map(|c| c.labels.get(cronbox::engine::LABEL_RUN).cloned())
        .collect();
    assert_eq!(left, ["1"], "the first run's container is not removed yet");
    let (status, job) = answer(daemon.request(reqwest::Method::GET, "/api/v1/jobs/quick")).await;
    assert_eq!(
        (status, &job["running"]),
        (StatusCode::OK, &json!([])),
        "{job}"
    );

    let (status, second) = answer(run()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    common::wait_for_sql(
        &env,
        "SELECT id, status FROM runs WHERE id = 2",
        "2|succeeded\n",
    )
    .await;
    // The first run's task never ends (it is paused): SIGKILL, and the
    // test's guard removes its container.
    common::subprocess::kill(daemon.child);
    assert_eq!(
        env.sql("SELECT trigger, status FROM runs ORDER BY id"),
        "api|succeeded\napi|succeeded\n"
    );
}

/// The daemon's own log, at trace (every crate), never holds the token: not
/// for requests that carry it, nor one with a wrong token, nor a dashboard
/// login that gives it in a form.
#[tokio::test]
async fn the_token_never_appears_in_the_daemon_log_at_trace() {
    let (env, daemon) = Spawned::start(GREET, true).await;
    let wrong = format!("{TOKEN}-but-wrong");
    for (path, token, want) in [
        ("/api/v1/jobs", TOKEN, StatusCode::OK),
        ("/metrics", TOKEN, StatusCode::OK),
        ("/api/v1/jobs", wrong.as_str(), StatusCode::UNAUTHORIZED),
    ] {
        let response = daemon
            .client
            .get(format!("{}{path}", daemon.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), want, "{path}");
    }
    let (status, started) =
        answer(daemon.request(reqwest::Method::POST, "/api/v1/jobs/greet/runs")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    for token in [TOKEN, wrong.as_str()] {
        let response = daemon
            .client
            .post(format!("{}/login", daemon.base))
            .header("origin", &daemon.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&next=%2F"))
            .send()
            .await
            .expect("send");
        assert_ne!(response.status(), StatusCode::NOT_FOUND);
    }
    wait_for_sql(&env, "SELECT status FROM runs", "succeeded\n").await;
    daemon.stop();
    let log = std::fs::read_to_string(env.dir.path().join("daemon.log")).expect("log");
    assert!(log.contains("TRACE"), "the log is at trace:\n{log}");
    assert!(log.contains("dashboard login refused"), "{log}");
    for secret in [TOKEN, wrong.as_str()] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
    assert!(env.containers_gone().await);
}

/// `/healthz` says 503 while the scheduler loop is stalled: here in a write it
/// cannot do without the database (the accounting of a paused job's tick, in
/// the loop), which an operator's `sqlite3` holds locked, while the daemon's
/// (test) clock moves past twice the loop's longest sleep. Once the lock is
/// free, the loop goes round and `/healthz` says 200 again.
#[tokio::test]
async fn the_health_check_fails_while_the_scheduler_loop_is_stalled() {
    let (log, _guard) = Captured::start();
    let env = TestEnv::new(
        "[jobs.tick]\nschedule = \"* * * * *\"\nimage = \"IMAGE\"\ncommand = [\"true\"]\n",
    );
    let clock = Arc::new(TestClock::new(at("2026-01-01T00:00:30Z")));
    let api = Served::start(&env, clock.clone(), common::engine().await, false).await;
    clock.wait_for_sleeps(0).await;
    assert_eq!(api.alive().await, StatusCode::OK);
    let (status, _) = api.post("/api/v1/jobs/tick/pause", None).await;
    assert_eq!(status, StatusCode::OK);

    let lock = common::WriteLock::hold(&env.db_path);
    clock.advance(Duration::from_secs(30)); // 00:01: the paused tick is accounted
    log.wait_for("waiting for the database's write lock while recording ticks of a paused job")
        .await;
    clock.advance(cronbox::daemon::MAX_SLEEP * 2 + Duration::from_secs(1));
    let (status, body) = api.get("/healthz").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_alive")),
        "{body}"
    );
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("120s")),
        "{body}"
    );
    lock.release();
    assert_eq!(api.alive().await, StatusCode::OK, "alive again");
    wait_for_sql(&env, "SELECT status FROM runs", "paused\n").await;
    api.stop().await;
}

/// A parameter named as one of the job's secrets, given through
/// `POST /api/v1/jobs/{job}/runs`: the container gets its value, the database
/// keeps its name only (`null`), and neither the history file nor the API's
/// view of the run holds the value; another parameter is kept with its value.
#[tokio::test]
async fn a_secret_named_parameter_reaches_the_container_and_is_stored_without_its_value() {
    let value = "s3cret-value-for-tests";
    let env = TestEnv::new(
        r#"
[jobs.load]
schedule = "0 0 1 1 *"
image = "IMAGE"
command = ["sh", "-c", "test \"$DB_PASSWORD\" = s3cret-value-for-tests && echo \"password seen, target $TARGET\""]
params = ["DB_PASSWORD", "TARGET"]
secrets = { DB_PASSWORD = "db-password" }
"#,
    );
    std::fs::write(env.dir.path().join("db-password"), "from a file\n").expect("secret file");
    let api = Served::real(&env, true).await;
    let (status, started) = api
        .post(
            "/api/v1/jobs/load/runs",
            Some(json!({"env": {"DB_PASSWORD": value, "TARGET": "db-2"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["run_id"].as_i64().expect("id");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {id}"),
        "succeeded\n",
    )
    .await;
    let (_, output) = api.text(&format!("/api/v1/runs/{id}/logs")).await;
    assert_eq!(
        output, "password seen, target db-2\n",
        "the container saw it"
    );
    assert_eq!(
        env.sql(&format!("SELECT params FROM runs WHERE id = {id}")),
        "{\"DB_PASSWORD\":null,\"TARGET\":\"db-2\"}\n"
    );
    let (_, run) = api.get(&format!("/api/v1/runs/{id}")).await;
    assert!(!run.to_string().contains(value), "{run}");
    api.stop().await;
    for file in ["cronbox.db", "cronbox.db-wal"] {
        let bytes = std::fs::read(env.dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "{file} holds the value"
        );
    }
    assert!(env.containers_gone().await);
}

/// A reload that changes `[daemon.http] listen` warns that the new address
/// applies at the next start (as other `[daemon]` keys), and the server goes
/// on at the address it started with.
#[tokio::test]
async fn a_reload_that_changes_listen_warns_and_keeps_the_address() {
    let (env, daemon) = Spawned::start(GREET, false).await;
    let other = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let started = daemon.base.trim_start_matches("http://").to_owned();
    let text = std::fs::read_to_string(&env.config_path).expect("config");
    let changed = text.replace(&started, &format!("127.0.0.1:{other}"));
    assert_ne!(text, changed);
    std::fs::write(&env.config_path, changed).expect("write config");
    common::subprocess::wait_for_log(&daemon.log, "take effect at the next start").await;
    let log = std::fs::read_to_string(&daemon.log).expect("log");
    let warning = log
        .lines()
        .find(|line| line.contains("take effect at the next start"))
        .unwrap_or_else(|| panic!("no warning:\n{log}"));
    assert!(warning.contains("http.listen"), "{warning}");
    assert!(!warning.contains("http.token_file"), "{warning}");
    let (status, _) = answer(daemon.client.get(format!("{}/healthz", daemon.base))).await;
    assert_eq!(status, StatusCode::OK, "still at {started}");
    assert!(
        daemon
            .client
            .get(format!("http://127.0.0.1:{other}/healthz"))
            .send()
            .await
            .is_err(),
        "nothing listens at the new address before a restart"
    );
    daemon.stop();
}

#[tokio::test]
async fn the_job_view_says_what_starts_a_chained_or_file_job_as_check_does() {
    let probe = TestEnv::new("");
    let inbox = probe.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let env = TestEnv::new(&format!(
        "[jobs.backup-db]\nschedule = \"@daily\"\nimage = \"IMAGE\"\n\n\
         [jobs.verify]\nafter = {{ job = \"backup-db\" }}\nimage = \"IMAGE\"\n\n\
         [jobs.import]\non_file = {{ dir = \"{}\", pattern = \"*.csv\" }}\nimage = \"IMAGE\"\n",
        inbox.display()
    ));
    // The words `cronbox check` prints for each job.
    let check = common::subprocess::cronbox(&env, &["check"]);
    let check = String::from_utf8_lossy(&check.stdout).into_owned();
    let api = Served::real(&env, false).await;
    for (job, started_by) in [
        ("verify", "after backup-db succeeds".to_owned()),
        (
            "import",
            format!("a file matching *.csv in {}", inbox.display()),
        ),
    ] {
        let (status, view) = api.get(&format!("/api/v1/jobs/{job}")).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["started_by"], started_by.as_str(), "{view}");
        assert_eq!(view["schedule"], "", "{view}");
        assert!(check.contains(&started_by), "{check}");
    }
    let (_, clock_job) = api.get("/api/v1/jobs/backup-db").await;
    assert_eq!(clock_job["schedule"], "@daily");
    assert!(clock_job["started_by"].is_null(), "{clock_job}");
    api.stop().await;
    drop(probe);
}
