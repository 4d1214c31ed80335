//! A host that cannot enforce memory limits (a Raspberry Pi with its memory cgroup
//! off), shown to cronbox by a Unix-socket proxy in front of the real engine that
//! changes one thing: the `/info` answer's `"MemoryLimit":true` becomes
//! `"MemoryLimit":null` (same length, so the HTTP framing is untouched). Every
//! other request reaches dockerd as it is. `cronbox check` warns, or refuses under
//! `require_limits = true` (at the line of the limit); a run is refused under `require_limits` without
//! creating a container, and runs (with a warning) without it.

mod common;
#[path = "support/rewrite_proxy.rs"]
mod rewrite_proxy;

use common::TestEnv;
use cronbox::engine::Engine;
use cronbox::store::RunStatus;
use rewrite_proxy::Rewrite;
use std::path::{Path, PathBuf};

/// The `/info` answer's memory limit support, hidden.
const HIDE_MEMORY_LIMIT: Rewrite = Rewrite {
    request: |line| line.contains("/info "),
    found: b"\"MemoryLimit\":true",
    replaced: b"\"MemoryLimit\":null",
    absent: b"\"MemoryLimit\":false",
};

/// Serve `path` until the test ends, forwarding to dockerd and hiding its memory limits.
fn proxy(path: &Path) -> PathBuf {
    rewrite_proxy::serve(path, HIDE_MEMORY_LIMIT)
}

const JOB: &str = r#"
[jobs.hungry]
schedule = "@daily"
image = "IMAGE"
command = ["echo", "ran"]
memory = "64MiB"
"#;

fn check(env: &TestEnv, socket: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "check",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .expect("cronbox check")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_about_a_limit_the_host_cannot_enforce_and_refuses_it_when_required() {
    common::engine().await;
    let env = TestEnv::new(JOB);
    let socket = proxy(&env.dir.path().join("docker.sock"));
    let out = tokio::task::block_in_place(|| check(&env, &socket));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a warning only:\n{stderr}");
    assert!(
        stderr.contains("warning: job \"hungry\": the Docker host cannot enforce memory"),
        "{stderr}"
    );

    let env = TestEnv::with_daemon("require_limits = true", JOB);
    let socket = proxy(&env.dir.path().join("docker.sock"));
    let out = tokio::task::block_in_place(|| check(&env, &socket));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused:\n{stderr}");
    assert!(
        stderr.contains("hungry")
            && stderr.contains("the Docker host cannot enforce memory")
            && stderr.contains("require_limits = true refuses such a job"),
        "{stderr}"
    );
    // Placed at the value of `memory`, as every other problem of the file is.
    let text = std::fs::read_to_string(&env.config_path).expect("config");
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("memory"))
        .expect("the memory line");
    let at = format!(
        "{}:{}:{}: job \"hungry\": the Docker host cannot enforce memory",
        env.config_path.display(),
        index + 1,
        line.find('"').expect("the value") + 1
    );
    assert!(stderr.contains(&at), "{at:?} missing from:\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_limit_cannot_be_enforced_is_refused_under_require_limits_and_runs_without() {
    common::engine().await;
    for require_limits in [true, false] {
        let env = TestEnv::new(JOB);
        let socket = proxy(&env.dir.path().join("docker.sock"));
        let mut ctx = env.context().await;
        ctx.engine = Engine::connect_to(&format!("unix://{}", socket.display()));
        ctx.require_limits = require_limits;
        let report = common::run_once_in(&env, &ctx).await;
        if require_limits {
            assert_eq!(report.status, Some(RunStatus::Failed));
            assert_eq!(report.attempts, 1, "refused once, never retried");
            let attempt = env.sql("SELECT outcome, container_id IS NULL, error FROM attempts");
            assert!(
                attempt.starts_with(
                    "engine-error|1|the Docker host cannot enforce memory for job hungry"
                ) && attempt.contains("refusing to run it because [daemon] require_limits = true"),
                "{attempt}"
            );
        } else {
            assert_eq!(report.status, Some(RunStatus::Succeeded));
            assert_eq!(
                env.sql("SELECT CAST(data AS TEXT) FROM output WHERE stream = 'stdout'"),
                "ran\n\n"
            );
        }
        assert!(env.containers_gone().await, "no container left");
    }
}

/// `count` jobs that each set a memory limit, scheduled once a year, and `extra`.
fn limited_jobs(count: usize, prefix: &str, extra: &str) -> String {
    let mut jobs = String::from(extra);
    for i in 0..count {
        jobs.push_str(&format!(
            "\n[jobs.{prefix}-{i}]\nschedule = \"0 0 1 1 *\"\nimage = \"IMAGE\"\nmemory = \"64MiB\"\n"
        ));
    }
    jobs
}

fn info_requests(log: &rewrite_proxy::RequestLog) -> usize {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|line| line.contains("/info "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_asks_the_engine_once_however_many_jobs_set_limits() {
    common::engine().await;
    let env = TestEnv::new(&limited_jobs(500, "job", ""));
    let (socket, log) =
        rewrite_proxy::serve_logged(&env.dir.path().join("docker.sock"), HIDE_MEMORY_LIMIT);
    let out = tokio::task::block_in_place(|| check(&env, &socket));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warnings only:\n{stderr}");
    assert_eq!(
        stderr.matches("cannot enforce memory").count(),
        500,
        "each job is warned about"
    );
    assert_eq!(info_requests(&log), 1, "one /info request for 500 jobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_of_thousands_of_jobs_asks_the_engine_once_and_holds_no_tick_up() {
    common::engine().await;
    // Overlapping allowed: a slow container on a busy machine skips no tick.
    let tick = "[jobs.tick]\nschedule = \"@every 1s\"\nimage = \"IMAGE\"\ncommand = [\"true\"]\nconcurrency = \"allow\"\n";
    let env = TestEnv::with_daemon(r#"on_shutdown = "stop""#, &limited_jobs(2000, "a", tick));
    let (socket, log) =
        rewrite_proxy::serve_logged(&env.dir.path().join("docker.sock"), HIDE_MEMORY_LIMIT);
    let engine = Engine::connect_to(&format!("unix://{}", socket.display()));
    let daemon = common::Daemon::start_with(
        &env,
        std::sync::Arc::new(cronbox::clock::SystemClock),
        engine,
    )
    .await;
    common::wait_for_sql(
        &env,
        "SELECT count(*) >= 2 FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    let before = info_requests(&log);
    // Reload twice, with 2,000 other jobs each time, while the tick job ticks.
    let text = std::fs::read_to_string(&env.config_path).expect("config");
    let header = &text[..text.find("[jobs.").expect("jobs")];
    for prefix in ["b", "c"] {
        let jobs = limited_jobs(2000, prefix, tick).replace("IMAGE", common::IMAGE);
        std::fs::write(&env.config_path, format!("{header}{jobs}")).expect("rewrite the schedule");
        let _ = daemon.updates.send(std::sync::Arc::new(env.config()));
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    daemon.stop().await;
    assert_eq!(
        info_requests(&log) - before,
        2,
        "one /info request per reload"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM runs WHERE job = 'tick' AND status NOT IN ('succeeded', 'running')"),
        "0\n",
        "no tick missed, skipped or failed during the reloads"
    );
}
