//! A host that cannot enforce memory limits (a Raspberry Pi with its memory cgroup
//! off), shown to cronbox by a Unix-socket proxy in front of the real engine that
//! changes one thing: the `/info` answer's `"MemoryLimit":true` becomes
//! `"MemoryLimit":null` (same length, so the HTTP framing is untouched). Every
//! other request reaches dockerd as it is. `cronbox check` warns, or refuses under
//! `require_limits = true` (at the line of the limit); a run is refused under `require_limits` without
//! creating a container, and runs (with a warning) without it.

mod common;

use common::TestEnv;
use cronbox::engine::Engine;
use cronbox::store::RunStatus;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const FOUND: &[u8] = b"\"MemoryLimit\":true";
const HIDDEN: &[u8] = b"\"MemoryLimit\":null";
const ABSENT: &[u8] = b"\"MemoryLimit\":false";

/// Serve `path` until the test ends, forwarding to dockerd and hiding its memory limits.
fn proxy(path: &Path) -> PathBuf {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).expect("bind the proxy socket");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client));
        }
    });
    path.to_owned()
}

async fn forward(client: UnixStream) {
    let Ok(engine) = UnixStream::connect("/var/run/docker.sock").await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut engine_read, mut engine_write) = engine.into_split();
    // The request line says whether this is the `/info` request (one request per
    // connection: cronbox's client does not reuse them).
    let mut first = vec![0u8; 16 * 1024];
    let n = match client_read.read(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    let line_end = first[..n].iter().position(|&b| b == b'\n').unwrap_or(n);
    let is_info = String::from_utf8_lossy(&first[..line_end]).contains("/info ");
    if engine_write.write_all(&first[..n]).await.is_err() {
        return;
    }
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut engine_write).await;
        let _ = engine_write.shutdown().await;
    });
    // Down: in the `/info` answer, hold back the last bytes that could start the
    // pattern until it is found (or its `false` form is); the rest passes through.
    let mut held: Vec<u8> = Vec::new();
    let mut settled = !is_info;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match engine_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if settled {
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            continue;
        }
        held.extend_from_slice(&buf[..n]);
        if let Some(at) = held.windows(FOUND.len()).position(|w| w == FOUND) {
            held[at..at + HIDDEN.len()].copy_from_slice(HIDDEN);
            settled = true;
        } else if held.windows(ABSENT.len()).any(|w| w == ABSENT) {
            settled = true;
        }
        let keep = if settled {
            0
        } else {
            held.len().min(FOUND.len() - 1)
        };
        let out: Vec<u8> = held.drain(..held.len() - keep).collect();
        if client_write.write_all(&out).await.is_err() {
            break;
        }
    }
    let _ = client_write.write_all(&held).await;
    let _ = client_write.shutdown().await;
    up.abort();
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
