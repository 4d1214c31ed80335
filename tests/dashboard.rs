//! The web dashboard in a real headless Chromium (tests/support/browser.rs)
//! against the in-process daemon, a real engine and real SQLite: the overview
//! lists the jobs with the right next times and shows a run as it starts and
//! ends without a reload; Run now from a job's page shows the run's output
//! while the container runs and its final status without a reload; Pause shows
//! the job paused and its ticks are recorded paused; Stop ends a sleeping job;
//! a wrong token is refused and the right one logs in; the pages and forms work
//! with script off; a pause or resumption from another client (the API, the
//! database and a reload) shows on open pages; every control is reached with
//! Tab and has an accessible name; a job's page shows its durations over
//! months and its limits; a run waiting for a slot or a backoff moves to
//! Running now when its attempt starts. Over plain HTTP: a run page holds the
//! tail of a long output; the overview over a seeded history (strip, rate,
//! failures, engine, database, waiting runs); a job page's history filter and
//! pages and its daylight-saving note; a run page's attempt columns and
//! reason. Screenshots of each page at 1280×800 and at phone width go to
//! target/ui-screenshots/.

#[path = "support/browser.rs"]
mod browser;
mod common;

use browser::Browser;
use chrono::{TimeZone, Utc};
use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::clock::SystemClock;
use cronbox::http::token::Token;
use cronbox::http::{Server, Services};
use cronbox::store::{RunStatus, Trigger};
use reqwest::StatusCode;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The token of the test that asks for one.
const TOKEN: &str = "dash-t0ken";

/// A daemon in-process with its HTTP server on a free loopback port.
struct Served {
    daemon: Daemon,
    server: Server,
    base: String,
}

impl Served {
    async fn start(env: &TestEnv, with_token: bool) -> Served {
        Served::start_at(env, with_token, Arc::new(SystemClock)).await
    }

    /// With the daemon and the pages on `clock`.
    async fn start_at(
        env: &TestEnv,
        with_token: bool,
        clock: Arc<dyn cronbox::clock::Clock>,
    ) -> Served {
        // The tests' own reqwest clients need it; the daemon installs it
        // only when its notification tasks start, which may come later.
        cronbox::notify::http::install_tls_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let engine = common::engine().await;
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
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stop(self) {
        self.daemon.stop().await;
        self.server.stopped(Duration::from_secs(30)).await;
    }
}

/// Where the screenshots go (not committed).
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots")
}

/// Screenshots of the page at `url` at 1280×800 and at phone width.
async fn shoot(browser: &Browser, url: &str, name: &str) {
    browser.viewport(1280, 800, false).await;
    browser.open(url).await;
    browser
        .screenshot(&screenshots().join(format!("{name}-1280.png")))
        .await;
    browser.viewport(390, 844, true).await;
    browser.open(url).await;
    browser
        .screenshot(&screenshots().join(format!("{name}-phone.png")))
        .await;
    browser.viewport(1280, 800, false).await;
}

/// The page's script has connected to the event stream.
async fn live(browser: &Browser) {
    browser
        .wait_for(
            "document.documentElement.dataset.live === 'on'",
            "the event stream",
        )
        .await;
}

/// A form body (application/x-www-form-urlencoded) of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The JS string literal of `text`.
fn js(text: &str) -> String {
    serde_json::to_string(text).expect("json")
}

/// The next 02:30 on Paris' clock after now, written as the dashboard writes
/// it, worked out with chrono-tz alone (`None` on a day daylight saving
/// makes 02:30 ambiguous or absent).
fn next_paris_0230() -> Option<String> {
    let paris = chrono_tz::Europe::Paris;
    let now = Utc::now();
    let today = now.with_timezone(&paris).date_naive();
    for day in [today, today.succ_opt()?, today.succ_opt()?.succ_opt()?] {
        let at = paris
            .from_local_datetime(&day.and_hms_opt(2, 30, 0)?)
            .single()?;
        if at.with_timezone(&Utc) > now {
            return Some(at.format("%Y-%m-%d %H:%M:%S %:z").to_string());
        }
    }
    None
}

const JOBS: &str = r#"
[jobs.greet]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sh", "-c", "echo \"hello $WHO\"; echo warn >&2; until [ -e /gate/go ]; do sleep 0.1; done; echo bye"]
env = { WHO = "nobody" }
params = ["WHO"]
volumes = ["GATE:/gate"]

[jobs.nightly]
schedule = "30 2 * * *"
timezone = "Europe/Paris"
image = "IMAGE"
network = "none"
command = ["true"]
timeout = "10m"
secrets = { api_key = "SECRET_FILE" }
"#;

fn jobs_env(gate: &std::path::Path) -> TestEnv {
    let secret = gate.join("secret-value");
    std::fs::write(&secret, "sup3rsecret").expect("secret");
    TestEnv::new(
        &JOBS
            .replace("GATE", &gate.display().to_string())
            .replace("SECRET_FILE", &secret.display().to_string()),
    )
}

#[tokio::test]
async fn the_overview_and_a_run_page_follow_runs_live_without_a_reload() {
    let gate = tempfile::tempdir().expect("tempdir");
    let env = jobs_env(gate.path());
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;

    // The overview lists every job, nightly's next time on Paris' clock.
    browser.open(&served.url("/")).await;
    live(&browser).await;
    let text = browser.text().await;
    for name in ["greet", "nightly"] {
        assert!(
            browser
                .eval(&format!(
                    "!!document.querySelector('tr[data-job={}]')",
                    js(name)
                ))
                .await
                .as_bool()
                .unwrap_or(false),
            "{name} listed:\n{text}"
        );
    }
    let nightly = browser
        .eval("document.querySelector('tr[data-job=\"nightly\"] td.next').innerText")
        .await;
    let nightly = nightly.as_str().unwrap_or_default();
    if let Some(want) = next_paris_0230() {
        assert!(
            nightly.contains(&want),
            "next of nightly {nightly:?}, want {want}"
        );
    }
    assert!(nightly.contains("in "), "relative time: {nightly:?}");
    assert!(text.contains("every day at 02:30"), "{text}");
    assert!(
        browser
            .eval("document.querySelector('#next-up').innerText.includes('nightly')")
            .await
            .as_bool()
            .unwrap_or(false),
        "nightly is next up"
    );
    let utc_hover = browser
        .eval("document.querySelector('tr[data-job=\"nightly\"] td.next time').title")
        .await;
    assert!(
        utc_hover.as_str().unwrap_or_default().ends_with("UTC"),
        "{utc_hover}"
    );

    // A run started elsewhere appears on the overview as it runs, then ends.
    browser.eval("window.__page = 'same'").await;
    let client = reqwest::Client::new();
    let started = client
        .post(served.url("/api/v1/jobs/greet/runs"))
        .send()
        .await
        .expect("post");
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let first: serde_json::Value = started.json().await.expect("json");
    let first = first["run_id"].as_i64().expect("id");
    browser
        .wait_for(
            &format!("document.querySelector('#running').innerText.includes('greet #{first}')"),
            "the run in Running now",
        )
        .await;
    std::fs::write(gate.path().join("go"), "").expect("open the gate");
    browser
        .wait_for(
            "document.querySelector('tr[data-job=\"greet\"] td.last').innerText.includes('succeeded')",
            "the run's success in the table",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");
    shoot(&browser, &served.url("/"), "overview").await;
    browser.color_scheme("dark").await;
    shoot(&browser, &served.url("/"), "overview-dark").await;
    let background = browser
        .eval("getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(background, "rgb(13, 17, 23)", "the dark palette");
    browser.color_scheme("light").await;

    // Run now from the job's page, with its parameter: the run's page shows
    // the output while the container waits, then the end, without a reload.
    std::fs::remove_file(gate.path().join("go")).expect("close the gate");
    browser.open(&served.url("/jobs/greet")).await;
    browser
        .eval("document.querySelector('input[name=\"param.WHO\"]').value = 'browser'")
        .await;
    browser
        .click_then(
            "#run-now button",
            "location.pathname.startsWith('/runs/')",
            "the run's page",
        )
        .await;
    browser
        .wait_for(
            "document.readyState === 'complete'",
            "the run's page to load",
        )
        .await;
    live(&browser).await;
    browser.eval("window.__page = 'same'").await;
    browser
        .wait_for(
            "document.querySelector('#output').innerText.includes('hello browser')",
            "the first line, live",
        )
        .await;
    let path = browser.eval("location.pathname").await;
    let id: i64 = path
        .as_str()
        .and_then(|p| p.strip_prefix("/runs/"))
        .and_then(|p| p.parse().ok())
        .expect("run id");
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {id}")),
        "running\n",
        "the line arrived while the container runs"
    );
    assert!(
        browser
            .eval("document.querySelector('#output .stderr').innerText.includes('warn')")
            .await
            .as_bool()
            .unwrap_or(false),
        "stderr is told apart"
    );
    assert!(browser.text().await.contains("Stop"));
    std::fs::write(gate.path().join("go"), "").expect("open the gate");
    browser
        .wait_for(
            "document.querySelector('#status').innerText.includes('succeeded')",
            "the final status",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");
    browser
        .wait_for(
            "document.querySelector('#output').innerText.includes('bye')",
            "the last line",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");
    assert_eq!(
        env.sql(&format!("SELECT params FROM runs WHERE id = {id}")),
        "{\"WHO\":\"browser\"}\n"
    );
    shoot(&browser, &served.url(&format!("/runs/{id}")), "run").await;

    // The stored output as a download.
    let download = client
        .get(served.url(&format!("/runs/{id}/output.txt")))
        .send()
        .await
        .expect("get");
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment")
    );
    let text = download.text().await.expect("text");
    assert!(
        text.contains("hello browser\n") && text.contains("warn\n"),
        "{text}"
    );

    // The job's page: its configuration with the secret's name only, the next
    // fire times, the chart with the timeout drawn.
    browser.open(&served.url("/jobs/nightly")).await;
    let page = browser.text().await;
    assert!(page.contains("api_key"), "{page}");
    assert!(!page.contains("sup3rsecret"), "no secret value");
    assert_eq!(
        browser
            .eval("document.querySelectorAll('ol.next li').length")
            .await,
        10
    );
    shoot(&browser, &served.url("/jobs/greet"), "job").await;
    drop(browser);
    served.stop().await;
    assert!(env.containers_gone().await);
}

// Every job has network = "none": no interface comes and goes on this host
// when its container starts and ends, which Chromium would take for a network
// change and cut the page it loads (ERR_NETWORK_CHANGED).

/// Containers still running when a test's daemon stops are stopped with it.
const STOP_ON_SHUTDOWN: &str = r#"on_shutdown = "stop""#;

const TICKING: &str = r#"
[jobs.tick]
schedule = "@every 2s"
image = "IMAGE"
network = "none"
command = ["true"]

[jobs.sleeper]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sleep", "300"]
stop_grace = "1s"
"#;

#[tokio::test]
async fn pause_shows_the_job_paused_and_stop_ends_a_sleeping_job() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, TICKING);
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;

    browser.open(&served.url("/jobs/tick")).await;
    browser
        .click_then(
            "#pause",
            "document.readyState === 'complete' && !!document.querySelector('#resume')",
            "the Resume button",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#paused').innerText")
            .await,
        "paused"
    );
    wait_for_sql(
        &env,
        "SELECT count(*) > 0 FROM runs WHERE job = 'tick' AND status = 'paused'",
        "1\n",
    )
    .await;
    browser.open(&served.url("/")).await;
    let state = browser
        .eval("document.querySelector('tr[data-job=\"tick\"] td.state').innerText")
        .await;
    assert!(
        state.as_str().unwrap_or_default().contains("paused"),
        "{state}"
    );
    shoot(&browser, &served.url("/jobs/tick"), "job-paused").await;
    browser.open(&served.url("/jobs/tick")).await;
    browser
        .click_then(
            "#resume",
            "document.readyState === 'complete' && !!document.querySelector('#pause')",
            "the Pause button again",
        )
        .await;

    // Stop: a sleeping run ends stopped.
    browser.open(&served.url("/jobs/sleeper")).await;
    browser
        .click_then("#run-now button", "location.pathname.startsWith('/runs/') && document.readyState === 'complete' && !!document.querySelector('#stop')", "the run's page with Stop")
        .await;
    live(&browser).await;
    browser.eval("window.__page = 'same'").await;
    let path = browser.eval("location.pathname").await;
    let id = path
        .as_str()
        .and_then(|p| p.strip_prefix("/runs/"))
        .expect("id")
        .to_owned();
    wait_for_sql(
        &env,
        &format!("SELECT count(*) FROM attempts WHERE run_id = {id} AND outcome = 'running'"),
        "1\n",
    )
    .await;
    browser
        .click_then("#stop", "document.readyState === 'complete' && !!document.querySelector('#status') && document.querySelector('#status').innerText.includes('stopped')", "the run stopped")
        .await;
    assert_eq!(
        env.sql(&format!("SELECT status FROM runs WHERE id = {id}")),
        "stopped\n"
    );
    drop(browser);
    served.stop().await;
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_right_one_logs_in() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, TICKING);
    let served = Served::start(&env, true).await;
    let browser = Browser::start().await;

    browser.open(&served.url("/jobs/tick")).await;
    assert_eq!(browser.eval("location.pathname").await, "/login");
    browser
        .eval("document.querySelector('#token').value = 'wrong'; document.querySelector('form').submit()")
        .await;
    browser
        .wait_for("!!document.querySelector('#login-error')", "the refusal")
        .await;
    assert!(browser.text().await.contains("Wrong token"));
    browser
        .eval(&format!(
            "document.querySelector('#token').value = {}; document.querySelector('form').submit()",
            js(TOKEN)
        ))
        .await;
    browser
        .wait_for(
            "location.pathname === '/jobs/tick' && document.readyState === 'complete'",
            "the page asked for, logged in",
        )
        .await;
    assert!(browser.text().await.contains("Job tick"));
    assert_eq!(
        browser.eval("document.cookie").await,
        "",
        "the session cookie is HttpOnly"
    );
    shoot(&browser, &served.url("/login"), "login").await;

    // Without the cookie: no page, no action; a wrong token answers 401.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = client.get(served.url("/")).send().await.expect("get");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let pause = client
        .post(served.url("/jobs/tick/pause"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", "x")]))
        .send()
        .await
        .expect("post");
    assert_eq!(pause.status(), StatusCode::UNAUTHORIZED);
    let wrong = client
        .post(served.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", "wrong")]))
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let right = client
        .post(served.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", TOKEN)]))
        .send()
        .await
        .expect("post");
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let cookie = right.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let session = cookie.split(';').next().expect("pair").to_owned();
    // Logged in, a POST without the CSRF value, or from another site, is refused.
    let page = client
        .get(served.url("/jobs/tick"))
        .header("cookie", &session)
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), StatusCode::OK, "the cookie logs in");
    let html = page.text().await.expect("html");
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF value in the page")
        .to_owned();
    for (csrf, origin) in [
        ("wrong", None),
        ("", None),
        (csrf.as_str(), Some("http://evil.example")),
    ] {
        let mut request = client
            .post(served.url("/jobs/tick/pause"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", csrf)]));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let refused = request.send().await.expect("post");
        assert_eq!(
            refused.status(),
            StatusCode::FORBIDDEN,
            "{csrf:?} {origin:?}"
        );
    }
    assert_eq!(env.sql("SELECT count(*) FROM paused_jobs"), "0\n");
    let accepted = client
        .post(served.url("/jobs/tick/pause"))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &csrf)]))
        .send()
        .await
        .expect("post");
    assert_eq!(
        accepted.status(),
        StatusCode::SEE_OTHER,
        "with the CSRF value"
    );
    assert_eq!(env.sql("SELECT count(*) FROM paused_jobs"), "1\n");
    drop(browser);
    served.stop().await;
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn the_pages_and_forms_work_without_javascript() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, TICKING);
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;
    browser.script(false).await;

    browser.open(&served.url("/")).await;
    assert_eq!(
        browser
            .eval("document.documentElement.dataset.live || 'off'")
            .await,
        "off",
        "the script did not run"
    );
    let text = browser.text().await;
    assert!(text.contains("tick") && text.contains("sleeper"), "{text}");
    assert!(text.contains("every 2s"), "{text}");

    // A form posts and the answer is the page that shows the result.
    browser.open(&served.url("/jobs/tick")).await;
    browser
        .click_then(
            "#pause",
            "document.readyState === 'complete' && !!document.querySelector('#resume')",
            "the job paused",
        )
        .await;
    browser
        .click_then(
            "#resume",
            "document.readyState === 'complete' && !!document.querySelector('#pause')",
            "the job resumed",
        )
        .await;
    browser.open(&served.url("/jobs/sleeper")).await;
    browser
        .click_then(
            "#run-now button",
            "location.pathname.startsWith('/runs/') && document.readyState === 'complete'",
            "the run's page",
        )
        .await;
    assert!(browser.text().await.contains("Attempts"));
    wait_for_sql(
        &env,
        "SELECT count(*) FROM attempts WHERE outcome = 'running'",
        "1\n",
    )
    .await;
    browser
        .click_then(
            "#stop",
            "document.readyState === 'complete' && location.pathname.startsWith('/runs/')",
            "the run's page after Stop",
        )
        .await;
    wait_for_sql(
        &env,
        "SELECT status FROM runs WHERE job = 'sleeper'",
        "stopped\n",
    )
    .await;
    drop(browser);
    served.stop().await;
    assert!(env.containers_gone().await);
}

const RETRYING: &str = r#"
[jobs.flaky]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sh", "-c", "echo trying; exit 3"]
retries = 1
backoff = "10m"

[jobs.chatty]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["seq", "1", "5000"]
max_output = "4KiB"
"#;

#[tokio::test]
async fn a_retry_waiting_for_its_backoff_and_output_that_was_cut_show_as_such() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, RETRYING);
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;
    browser.open(&served.url("/")).await;
    live(&browser).await;

    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for job in ["flaky", "chatty"] {
        let started = client
            .post(served.url(&format!("/api/v1/jobs/{job}/runs")))
            .send()
            .await
            .expect("post");
        let body: serde_json::Value = started.json().await.expect("json");
        ids.push(body["run_id"].as_i64().expect("id"));
    }
    // The failed first attempt, then the retry waiting for its backoff, live.
    browser
        .wait_for(
            &format!(
                "document.querySelector('#waiting').innerText.includes('flaky #{}') && document.querySelector('#waiting').innerText.includes('after its backoff')",
                ids[0]
            ),
            "the retry in Waiting",
        )
        .await;
    browser
        .open(&served.url(&format!("/runs/{}", ids[0])))
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("attempt 2 starts after its backoff"),
        "{text}"
    );
    assert!(
        browser
            .eval("document.querySelector('#attempts').innerText.includes('until')")
            .await
            .as_bool()
            .unwrap_or(false),
        "the backoff before the next attempt: {text}"
    );

    // The cut output: the marker set apart, the bytes dropped counted.
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {}", ids[1]),
        "succeeded\n",
    )
    .await;
    browser
        .open(&served.url(&format!("/runs/{}", ids[1])))
        .await;
    let marker = browser
        .eval("document.querySelector('#output mark.dropped').innerText")
        .await;
    assert!(
        marker
            .as_str()
            .unwrap_or_default()
            .starts_with("[cronbox: ")
            && marker.as_str().unwrap_or_default().contains("dropped here"),
        "{marker}"
    );
    assert!(browser.text().await.contains("B of stdout"));
    shoot(
        &browser,
        &served.url(&format!("/runs/{}", ids[1])),
        "run-cut",
    )
    .await;

    let stopped = client
        .post(served.url(&format!("/api/v1/runs/{}/stop", ids[0])))
        .send()
        .await
        .expect("stop");
    assert_eq!(stopped.status(), StatusCode::ACCEPTED);
    drop(browser);
    served.stop().await;
    assert!(env.containers_gone().await);
}

/// The end of a test: the browser closed, the daemon stopped, no container left.
async fn end(browser: Browser, served: Served, env: &TestEnv) {
    drop(browser);
    served.stop().await;
    assert!(env.containers_gone().await);
}

const QUIET: &str = r#"
[jobs.quiet]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["true"]
params = ["WHO"]
timeout = "1m"
deadline = "10m"

[jobs.other]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["true"]
"#;

/// The state cell of `job`'s row on the overview, as script.
fn state_of(job: &str) -> String {
    format!(
        "document.querySelector('tr[data-job={}] td.state').innerText",
        js(job)
    )
}

#[tokio::test]
async fn a_pause_or_resume_from_another_client_shows_on_open_pages_without_a_reload() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, QUIET);
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;
    let client = reqwest::Client::new();

    // Through the API (as `cronbox pause` does when the daemon answers).
    browser.open(&served.url("/")).await;
    live(&browser).await;
    browser.eval("window.__page = 'same'").await;
    let paused = client
        .post(served.url("/api/v1/jobs/quiet/pause"))
        .send()
        .await
        .expect("post");
    assert_eq!(paused.status(), StatusCode::OK);
    browser
        .wait_for(
            &format!("{}.includes('paused')", state_of("quiet")),
            "quiet shown paused on the overview",
        )
        .await;
    assert!(
        browser
            .eval("document.querySelector('#state').innerText.includes('1 paused')")
            .await
            .as_bool()
            .unwrap_or(false),
        "the daemon panel counts it"
    );
    // Written to the database by another process (`cronbox pause` when no
    // daemon answers), then applied by a reload.
    let store = env.store().await;
    assert!(
        store
            .set_paused("other", true, Utc::now())
            .await
            .expect("a pause in the database")
    );
    served
        .daemon
        .updates
        .send(Arc::new(env.config()))
        .expect("reload");
    browser
        .wait_for(
            &format!("{}.includes('paused')", state_of("other")),
            "other shown paused after the reload",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");

    // A job's page: Resume turns into Pause, and what was typed in Run
    // now's field stays.
    browser.open(&served.url("/jobs/quiet")).await;
    live(&browser).await;
    browser
        .eval("window.__page = 'same'; document.querySelector('input[name=\"param.WHO\"]').value = 'typed'")
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#paused').innerText")
            .await,
        "paused"
    );
    let resumed = client
        .post(served.url("/api/v1/jobs/quiet/resume"))
        .send()
        .await
        .expect("post");
    assert_eq!(resumed.status(), StatusCode::OK);
    browser
        .wait_for(
            "document.querySelector('#paused').innerText === 'active' && !!document.querySelector('#pause') && !document.querySelector('#resume')",
            "the job shown active, with Pause",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('input[name=\"param.WHO\"]').value")
            .await,
        "typed",
        "Run now's field keeps what was typed"
    );
    client
        .post(served.url("/api/v1/jobs/quiet/pause"))
        .send()
        .await
        .expect("post");
    browser
        .wait_for(
            "!!document.querySelector('#resume') && document.querySelector('#next-times').innerText.includes('Paused')",
            "the job shown paused again, its fire times noted",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");
    store.close().await;
    end(browser, served, &env).await;
}

/// Tab through the page from its top until the focus leaves it or comes
/// round: every control (link, button, field, focusable element) is reached,
/// and each has an accessible name as Chromium computes it.
async fn tab_through(browser: &Browser, page: &str) {
    browser
        .call(
            "Emulation.setFocusEmulationEnabled",
            serde_json::json!({"enabled": true}),
        )
        .await;
    let controls = browser
        .eval(
            "(() => { const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex=\"-1\"])')];
               all.forEach((e, i) => e.setAttribute('data-control', String(i)));
               if (document.activeElement) document.activeElement.blur();
               return all.length; })()",
        )
        .await
        .as_u64()
        .expect("a count");
    assert!(controls > 0, "{page} has controls");
    let mut reached = std::collections::BTreeSet::new();
    let mut unnamed = Vec::new();
    for _ in 0..controls + 5 {
        browser.tab().await;
        let which = browser
            .eval("document.activeElement && document.activeElement.getAttribute('data-control')")
            .await;
        let Some(which) = which.as_str().map(str::to_owned) else {
            if reached.is_empty() {
                continue;
            }
            break; // the focus left the page
        };
        if !reached.insert(which) {
            break; // round again
        }
        let (role, name) = browser.focused().await;
        if name.trim().is_empty() {
            let html = browser
                .eval("document.activeElement.outerHTML.slice(0, 200)")
                .await;
            unnamed.push(format!("{role}: {html}"));
        }
    }
    assert!(
        unnamed.is_empty(),
        "{page}: controls without an accessible name:\n{}",
        unnamed.join("\n")
    );
    let reached_js = serde_json::to_string(&reached).expect("json");
    let missed = browser
        .eval(&format!(
            "[...document.querySelectorAll('[data-control]')].filter(e => !{reached_js}.includes(e.getAttribute('data-control'))).map(e => e.outerHTML.slice(0, 200))"
        ))
        .await;
    assert_eq!(
        reached.len() as u64,
        controls,
        "{page}: controls not reached with Tab: {missed}"
    );
}

#[tokio::test]
async fn every_control_of_the_overview_a_job_and_a_run_is_reached_with_tab_and_named() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, QUIET);
    let served = Served::start(&env, false).await;
    // A run, so that the chart has a bar (a link), the history a row and the
    // run a page.
    let client = reqwest::Client::new();
    let started = client
        .post(served.url("/api/v1/jobs/quiet/runs"))
        .send()
        .await
        .expect("post");
    let body: serde_json::Value = started.json().await.expect("json");
    let id = body["run_id"].as_i64().expect("id");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {id}"),
        "succeeded\n",
    )
    .await;
    let browser = Browser::start().await;
    for path in [
        "/".to_owned(),
        "/jobs/quiet".to_owned(),
        format!("/runs/{id}"),
    ] {
        browser.open(&served.url(&path)).await;
        live(&browser).await;
        tab_through(&browser, &path).await;
    }
    end(browser, served, &env).await;
}

#[tokio::test]
async fn a_job_page_shows_its_durations_over_months_and_its_limits_on_their_own_terms() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, QUIET);
    // A history of months: three runs ten weeks ago (one failed), two a week
    // ago, recorded through the store before the daemon starts (a run briefly
    // `running` while the daemon's start-up repair looks would be its to settle).
    let store = env.store().await;
    let now = Utc::now();
    for (days, seconds, status) in [
        (70, 10, RunStatus::Succeeded),
        (70, 30, RunStatus::Failed),
        (69, 20, RunStatus::Succeeded),
        (7, 5, RunStatus::Succeeded),
        (6, 7, RunStatus::Succeeded),
    ] {
        let start = now - chrono::TimeDelta::days(days);
        let id = store
            .insert_run("quiet", Trigger::Manual, (start, None), start, None, None)
            .await
            .expect("insert")
            .expect("recorded");
        let end = start + chrono::TimeDelta::seconds(seconds);
        store
            .finish_run(id, status, end, None)
            .await
            .expect("finish");
    }
    store.close().await;
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;
    browser.open(&served.url("/jobs/quiet")).await;
    let label = browser
        .eval("document.querySelector('#trend svg').getAttribute('aria-label')")
        .await;
    assert!(
        label
            .as_str()
            .unwrap_or_default()
            .ends_with("5 runs, 1 failed"),
        "{label}"
    );
    // The weeks are counted from the end of today: ten weeks ago is 2 or 3
    // weeks (a run at 69 or 70 days may fall either side of a week's start).
    let weeks = browser
        .eval("document.querySelectorAll('#trend g.week').length")
        .await
        .as_u64()
        .unwrap_or(0);
    assert!((2..=4).contains(&weeks), "{weeks} weeks drawn");
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#trend rect.failures').length")
            .await,
        1,
        "one week with a failure"
    );
    // The limits: the timeout against the attempts, the deadline against runs.
    let chart = browser
        .eval("document.querySelector('#chart svg').textContent")
        .await;
    let chart = chart.as_str().unwrap_or_default();
    assert!(
        chart.contains("timeout (each attempt) 1m") && chart.contains("deadline (whole run) 10m"),
        "{chart}"
    );
    shoot(&browser, &served.url("/jobs/quiet"), "job-months").await;
    end(browser, served, &env).await;
}

/// `max_concurrent = 1`: one container at a time on the whole box.
const ONE_SLOT: &str = r#"max_concurrent = 1
on_shutdown = "stop""#;

const QUEUE: &str = r#"
[jobs.holder]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sh", "-c", "until [ -e /gate/holder ]; do sleep 0.1; done"]
volumes = ["GATE:/gate"]
stop_grace = "1s"

[jobs.queued]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sh", "-c", "until [ -e /gate/queued ]; do sleep 0.1; done"]
volumes = ["GATE:/gate"]
stop_grace = "1s"

[jobs.second-try]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sh", "-c", "if [ -e /gate/tried ]; then until [ -e /gate/retried ]; do sleep 0.1; done; else touch /gate/tried; exit 1; fi"]
volumes = ["GATE:/gate"]
retries = 1
backoff = "4s"
stop_grace = "1s"
"#;

/// Start a run of `job` through the API; its id.
async fn run_now(served: &Served, job: &str) -> i64 {
    let started = reqwest::Client::new()
        .post(served.url(&format!("/api/v1/jobs/{job}/runs")))
        .send()
        .await
        .expect("post");
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let body: serde_json::Value = started.json().await.expect("json");
    body["run_id"].as_i64().expect("id")
}

/// Whether the overview's panel `panel` (`running`, `waiting`) names every
/// text of `texts`, as script.
fn panel_has(panel: &str, texts: &[&str]) -> String {
    texts
        .iter()
        .map(|t| {
            format!(
                "document.querySelector('#{panel}').innerText.includes({})",
                js(t)
            )
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

#[tokio::test]
async fn a_run_waiting_for_a_slot_or_a_backoff_moves_to_running_now_when_its_attempt_starts() {
    let gate = tempfile::tempdir().expect("tempdir");
    // The retrying job's container leaves a mark there, whatever its user.
    std::fs::set_permissions(
        gate.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let env = TestEnv::with_daemon(
        ONE_SLOT,
        &QUEUE.replace("GATE", &gate.path().display().to_string()),
    );
    let served = Served::start(&env, false).await;
    let browser = Browser::start().await;
    browser.open(&served.url("/")).await;
    live(&browser).await;
    browser.eval("window.__page = 'same'").await;

    // The only slot taken, a second run waits for it, then gets it when the
    // first ends: the page follows without a reload.
    let holder = run_now(&served, "holder").await;
    let holder_text = format!("holder #{holder}");
    browser
        .wait_for(
            &panel_has("running", &[&holder_text]),
            "the first run in Running now",
        )
        .await;
    let queued = run_now(&served, "queued").await;
    let queued_text = format!("queued #{queued}");
    browser
        .wait_for(
            &panel_has("waiting", &[&queued_text, "waiting for a slot"]),
            "the second run waiting for a slot",
        )
        .await;
    assert!(
        !browser
            .eval(&panel_has("running", &[&queued_text]))
            .await
            .as_bool()
            .unwrap_or(true),
        "not running while it waits"
    );
    std::fs::write(gate.path().join("holder"), "").expect("open the gate");
    browser
        .wait_for(
            &format!(
                "{} && !document.querySelector('#waiting').innerText.includes({})",
                panel_has("running", &[&queued_text, "attempt 1"]),
                js(&queued_text)
            ),
            "the second run in Running now once it has the slot",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");
    std::fs::write(gate.path().join("queued"), "").expect("open the gate");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {queued}"),
        "succeeded\n",
    )
    .await;

    // A retry after its backoff: nothing but the attempt's start happens
    // between the backoff shown and the attempt running (the first attempt's
    // end came before), so only that event can move it.
    let retried = run_now(&served, "second-try").await;
    let retried_text = format!("second-try #{retried}");
    browser
        .wait_for(
            &panel_has("waiting", &[&retried_text, "after its backoff"]),
            "the retry waiting for its backoff",
        )
        .await;
    browser
        .wait_for(
            &panel_has("running", &[&retried_text, "attempt 2"]),
            "the retry in Running now once its backoff is over",
        )
        .await;
    assert_eq!(browser.eval("window.__page").await, "same", "no reload");
    std::fs::write(gate.path().join("retried"), "").expect("open the gate");
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {retried}"),
        "succeeded\n",
    )
    .await;
    end(browser, served, &env).await;
}

const LONG: &str = r#"
[jobs.long]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["sh", "-c", "echo FIRST-LINE; i=0; while [ $i -lt 4000 ]; do echo \"line $i of a long output, to fill the page\"; i=$((i+1)); done; echo LAST-LINE; echo ERR-FIRST >&2; echo ERR-LAST >&2"]
"#;

/// Plain HTTP, no browser: the page is what the server sends.
#[tokio::test]
async fn a_run_page_shows_the_tail_of_a_long_output_and_links_to_the_whole() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, LONG);
    let served = Served::start(&env, false).await;
    let id = run_now(&served, "long").await;
    wait_for_sql(
        &env,
        &format!("SELECT status FROM runs WHERE id = {id}"),
        "succeeded\n",
    )
    .await;
    let stored: usize = env
        .sql("SELECT sum(length(data)) FROM output")
        .trim()
        .parse()
        .expect("bytes stored");
    assert!(stored > 150_000, "the whole output is stored: {stored} B");
    let client = reqwest::Client::new();
    let page = client
        .get(served.url(&format!("/runs/{id}")))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        page.len() < 100_000,
        "the page holds the tail only: {} B",
        page.len()
    );
    assert!(page.contains("LAST-LINE"), "the tail is shown");
    assert!(!page.contains("FIRST-LINE"), "the head is not");
    let marker = page
        .split("<mark class=\"earlier\">")
        .nth(1)
        .and_then(|rest| rest.split("</mark>").next())
        .expect("the marker of the earlier output");
    assert!(
        marker.starts_with("[earlier output: ")
            && marker.contains(" bytes of stdout not shown here"),
        "{marker}"
    );
    assert!(
        marker.contains(&format!("href=\"/runs/{id}/output.txt\"")),
        "{marker}"
    );
    assert_eq!(
        page.matches("<mark class=\"earlier\">").count(),
        1,
        "stderr is short: whole"
    );
    assert!(page.contains("ERR-FIRST") && page.contains("ERR-LAST"));
    let whole = client
        .get(served.url(&format!("/runs/{id}/output.txt")))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        whole.contains("FIRST-LINE\n") && whole.contains("LAST-LINE\n"),
        "the download has it all"
    );
    served.stop().await;
    assert!(env.containers_gone().await);
}

const SEEDED: &str = r#"
[jobs.seeded]
schedule = "0 0 1 1 *"
image = "IMAGE"
network = "none"
command = ["true"]
"#;

/// The part of `page` from the element with id `id` to the end of its first
/// `</closing>`.
fn element<'a>(page: &'a str, start: &str, closing: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in\n{page}"));
    let rest = &page[from..];
    let end = rest.find(closing).map_or(rest.len(), |e| e + closing.len());
    &rest[..end]
}

/// Plain HTTP over a seeded history: 35 runs of `seeded`, one every 6 h
/// (the newest 1 h ago), three failed: 1 h ago (within the last 24 h), 31 h
/// ago (within 7 days, not 24 h) and 199 h ago (neither, and older than the
/// strip's 30 runs); plus, with max_concurrent = 1, a run holding the slot and
/// one waiting for it.
#[tokio::test]
async fn the_overview_shows_the_strip_rate_failures_engine_database_and_waiting_runs_of_a_history()
{
    let gate = tempfile::tempdir().expect("tempdir");
    let jobs = format!(
        "{SEEDED}{}",
        QUEUE.replace("GATE", &gate.path().display().to_string())
    );
    let env = TestEnv::with_daemon(ONE_SLOT, &jobs);
    env.store().await.close().await;
    env.sql(
        "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 34),
              s(k, at, status) AS (
                SELECT k, julianday('now') - (k * 6 + 1) / 24.0,
                       CASE WHEN k IN (0, 5, 33) THEN 'failed' ELSE 'succeeded' END FROM n)
         INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at, reason)
         SELECT 35 - k, 'seeded', 'schedule', strftime('%Y-%m-%dT%H:%M:%fZ', at), status,
                strftime('%Y-%m-%dT%H:%M:%fZ', at),
                strftime('%Y-%m-%dT%H:%M:%fZ', at + 10 / 86400.0),
                CASE WHEN status = 'failed' THEN 'exited with exit code ' || (k + 1) END
         FROM s;",
    );
    let served = Served::start(&env, false).await;
    let holder = run_now(&served, "holder").await;
    wait_for_sql(
        &env,
        &format!("SELECT count(*) FROM attempts WHERE run_id = {holder}"),
        "1\n",
    )
    .await;
    let queued = run_now(&served, "queued").await;
    let page = reqwest::get(served.url("/"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");

    // The strip: the newest 30 runs, oldest first; failed ones named on hover.
    let row = element(&page, "<tr data-job=\"seeded\">", "</tr>");
    let strip = element(row, "<span class=\"strip\"", "</span>");
    assert_eq!(strip.matches("<i ").count(), 30, "{strip}");
    assert!(
        strip.contains("aria-label=\"last 30 runs, 2 not succeeded\""),
        "{strip}"
    );
    let marks: Vec<&str> = strip.split("<i ").skip(1).collect();
    assert!(
        marks[29].contains("title=\"#35 failed\""),
        "newest last: {strip}"
    );
    assert!(marks[24].contains("title=\"#30 failed\""), "{strip}");
    assert!(
        !strip.contains("#2 failed"),
        "older than the strip: {strip}"
    );
    // The success rate over 7 days: 28 runs ended in it, 26 succeeded.
    assert!(
        row.contains("title=\"26 of 28 runs succeeded\">92 %"),
        "{row}"
    );
    // The last run: the failure 1 h ago.
    let last = element(row, "<td class=\"last\">", "</td>");
    assert!(
        last.contains("href=\"/runs/35\"") && last.contains("failed"),
        "{last}"
    );

    // The failures of the last 24 h: only the newest, with its reason.
    let failures = element(&page, "id=\"failures\"", "</div>");
    assert!(failures.contains("(1)"), "{failures}");
    assert!(
        failures.contains("seeded #35") && failures.contains("exited with exit code 1"),
        "{failures}"
    );
    assert!(!failures.contains("seeded #30"), "{failures}");

    // The engine and the database as they answered.
    let state = element(&page, "id=\"state\"", "</div>");
    assert!(
        state.contains("Engine: <span class=\"ok\">answers</span>"),
        "{state}"
    );
    let version = env.sql("SELECT max(version) FROM _sqlx_migrations");
    assert!(
        state.contains(&format!(
            "Database: <span class=\"ok\" title=\"schema version {}\">readable</span>",
            version.trim()
        )),
        "{state}"
    );

    // What runs and what waits for the one slot.
    let running = element(&page, "id=\"running\"", "</div>");
    assert!(running.contains(&format!("holder #{holder}")), "{running}");
    let waiting = element(&page, "id=\"waiting\"", "</div>");
    assert!(
        waiting.contains(&format!("queued #{queued}")) && waiting.contains("waiting for a slot"),
        "{waiting}"
    );
    served.stop().await;
    assert!(env.containers_gone().await);
}

const PARIS: &str = r#"
[jobs.nightly]
schedule = "30 2 * * *"
timezone = "Europe/Paris"
image = "IMAGE"
network = "none"
command = ["true"]
"#;

/// The run ids the history section of a job's page lists, in order, and the
/// links of its pager (`&amp;` read as `&`).
fn history_of(page: &str) -> (Vec<i64>, Vec<(String, String)>) {
    let history = element(page, "id=\"history\"", "</section>");
    let table = history.split("<nav").next().unwrap_or_default();
    let ids = table
        .split("<a href=\"/runs/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect();
    let pager = history.split("<nav").nth(1).unwrap_or_default();
    let links = pager
        .split("<a href=\"")
        .skip(1)
        .filter_map(|rest| {
            let (href, rest) = rest.split_once("\">")?;
            let text = rest.split("</a>").next()?;
            Some((href.replace("&amp;", "&"), text.to_owned()))
        })
        .collect();
    (ids, links)
}

/// Plain HTTP, the daemon on a clock standing three days before Paris'
/// spring-forward change (2027-03-28, 02:00 → 03:00), over a seeded history of
/// 60 runs: run `i` failed when `i` is a multiple of 3, was started by hand
/// when a multiple of 4.
#[tokio::test]
async fn a_job_page_filters_and_pages_its_history_and_notes_daylight_saving() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, PARIS);
    env.store().await.close().await;
    env.sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
         INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at, reason)
         SELECT i, 'nightly', CASE WHEN i % 4 = 0 THEN 'manual' ELSE 'schedule' END,
                strftime('%Y-%m-%dT%H:%M:%fZ', julianday('2027-01-01') + i),
                CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'succeeded' END,
                strftime('%Y-%m-%dT%H:%M:%fZ', julianday('2027-01-01') + i),
                strftime('%Y-%m-%dT%H:%M:%fZ', julianday('2027-01-01') + i + 1 / 1440.0),
                CASE WHEN i % 3 = 0 THEN 'exited with exit code 1' END
         FROM n;",
    );
    let start = Utc
        .with_ymd_and_hms(2027, 3, 25, 12, 0, 0)
        .single()
        .expect("time");
    let clock = Arc::new(cronbox::clock::TestClock::new(start));
    let served = Served::start_at(&env, false, clock).await;
    let get = |path: String| {
        let url = served.url(&path);
        async move {
            let response = reqwest::get(url).await.expect("get");
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.expect("text")
        }
    };

    // Newest first, 25 a page; "Older" continues from the last one shown.
    let page = get("/jobs/nightly".into()).await;
    let (ids, links) = history_of(&page);
    assert_eq!(ids, (36..=60).rev().collect::<Vec<_>>());
    assert_eq!(
        links,
        [("/jobs/nightly?before=36".to_owned(), "Older".to_owned())]
    );
    let (ids, links) = history_of(&get(links[0].0.clone()).await);
    assert_eq!(ids, (11..=35).rev().collect::<Vec<_>>());
    assert_eq!(
        links,
        [
            ("/jobs/nightly?".to_owned(), "Newest".to_owned()),
            ("/jobs/nightly?before=11".to_owned(), "Older".to_owned())
        ]
    );
    let (ids, links) = history_of(&get(links[1].0.clone()).await);
    assert_eq!(ids, (1..=10).rev().collect::<Vec<_>>());
    assert_eq!(links.len(), 1, "the last page has no Older: {links:?}");

    // By status and trigger; the filter kept in the form and the pager.
    let page = get("/jobs/nightly?status=failed&trigger=manual".into()).await;
    assert_eq!(history_of(&page).0, [60, 48, 36, 24, 12]);
    assert!(
        page.contains("<option value=\"failed\" selected>"),
        "status kept"
    );
    assert!(
        page.contains("<option value=\"manual\" selected>"),
        "trigger kept"
    );
    let page = get("/jobs/nightly?status=succeeded".into()).await;
    let (ids, links) = history_of(&page);
    assert_eq!(ids.len(), 25);
    assert!(ids.iter().all(|i| i % 3 != 0), "{ids:?}");
    assert_eq!(
        links[0].0,
        format!("/jobs/nightly?status=succeeded&before={}", ids[24])
    );
    let (more, _) = history_of(&get(links[0].0.clone()).await);
    assert_eq!(more.len(), 15, "40 succeeded in all");
    assert!(more.iter().all(|i| i % 3 != 0 && *i < ids[24]), "{more:?}");
    let page = get("/jobs/nightly?trigger=api".into()).await;
    assert!(history_of(&page).0.is_empty());
    assert!(page.contains("No run."));
    // A value not in the lists is no filter.
    assert_eq!(
        history_of(&get("/jobs/nightly?status=bogus".into()).await)
            .0
            .len(),
        25
    );

    // The next fire times on Paris' clock: 02:30 does not exist on 28 March,
    // so that day's run is at 03:00, and only that one carries the note.
    let page = get("/jobs/nightly".into()).await;
    let next = element(&page, "<ol class=\"next\">", "</ol>");
    let items: Vec<&str> = next.split("<li>").skip(1).collect();
    assert_eq!(items.len(), 10, "{next}");
    assert!(
        items[0].contains("2027-03-26 02:30:00 +01:00"),
        "{}",
        items[0]
    );
    assert!(
        items[2].contains("2027-03-28 03:00:00 +02:00"),
        "{}",
        items[2]
    );
    assert!(
        items[3].contains("2027-03-29 02:30:00 +02:00"),
        "{}",
        items[3]
    );
    let noted: Vec<usize> = (0..items.len())
        .filter(|i| items[*i].contains("class=\"sub dst\""))
        .collect();
    assert_eq!(noted, [2], "{next}");
    assert!(
        items[2].contains("Daylight saving: 02:30 does not exist that day (the clock jumps forward); cronbox runs it once, at the end of the gap."),
        "{}",
        items[2]
    );
    served.stop().await;
    assert!(env.containers_gone().await);
}

/// The cells of the attempts table's row of attempt `n` on a run's page.
fn attempt_cells(page: &str, n: usize) -> Vec<String> {
    let table = element(page, "id=\"attempts\"", "</table>");
    let body = table.split("<tbody>").nth(1).unwrap_or_default();
    let row = body.split("<tr>").nth(n).unwrap_or_default();
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let inner = cell.split_once('>').map_or("", |(_, rest)| rest);
            let inner = inner.split("</td>").next().unwrap_or_default();
            // The text without its tags.
            let mut text = String::new();
            let mut in_tag = false;
            for c in inner.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// Plain HTTP over a seeded run of two attempts, both exiting 3 (the first
/// after waiting 2 min 30 s for a slot), that failed: the attempts' columns
/// and the run's reason as the history holds them.
#[tokio::test]
async fn a_run_page_shows_each_attempts_exit_duration_wait_and_backoff_and_the_reason() {
    let env = TestEnv::with_daemon(STOP_ON_SHUTDOWN, SEEDED);
    env.store().await.close().await;
    env.sql(
        "INSERT INTO runs (id, job, trigger, scheduled_at, status, started_at, finished_at, reason)
         VALUES (7, 'seeded', 'schedule', '2027-01-01T10:00:00.000Z', 'failed',
                 '2027-01-01T10:00:00.000Z', '2027-01-01T10:04:17.000Z',
                 'failed after 2 attempts: exited with exit code 3');
         INSERT INTO attempts (run_id, attempt, image, started_at, finished_at, exit_code, oom_killed,
                               outcome, waited_ms, stdout_dropped)
         VALUES (7, 1, 'busybox', '2027-01-01T10:02:30.000Z', '2027-01-01T10:03:35.000Z', 3, 0,
                 'exited', 150000, 2048),
                (7, 2, 'busybox', '2027-01-01T10:03:45.000Z', '2027-01-01T10:03:47.000Z', 3, 0,
                 'exited', 250, 0);",
    );
    let served = Served::start(&env, false).await;
    let page = reqwest::get(served.url("/runs/7"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    // #, outcome, exit, started, duration, waited for a slot, backoff before
    // the next, output cut, error.
    let first = attempt_cells(&page, 1);
    assert_eq!(first.len(), 9, "{first:?}");
    assert_eq!(
        [
            &first[0], &first[1], &first[2], &first[4], &first[5], &first[6], &first[7]
        ],
        [
            "1",
            "exited",
            "3",
            "1 min 5 s",
            "2 min 30 s",
            "10 s",
            "2048 B of stdout "
        ],
        "{first:?}"
    );
    assert!(first[3].starts_with("2027-01-01 10:02:30"), "{first:?}");
    let second = attempt_cells(&page, 2);
    assert_eq!(
        [&second[0], &second[2], &second[4], &second[5], &second[6]],
        ["2", "3", "2 s", "250 ms", ""],
        "{second:?}"
    );
    let reason = element(&page, "id=\"reason\"", "</dd>");
    assert!(
        reason.contains("failed after 2 attempts: exited with exit code 3"),
        "{reason}"
    );
    let status = element(&page, "id=\"status\"", "</dd>");
    assert!(status.contains("failed"), "{status}");
    served.stop().await;
}
