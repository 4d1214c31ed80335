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
        assert!(env.containers().await.is_empty(), "no container left");
    }
}
