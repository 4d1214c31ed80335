//! The Docker engine going away mid-run, through a Unix-socket proxy between the
//! daemon and dockerd that the test severs and restores: the daemon keeps
//! running, the attempt gets its real exit code and its whole output (including
//! what was printed while the engine was away), and a run due during the outage
//! gets engine-error attempts that retry with backoff.

mod common;

use common::{Daemon, TestEnv, wait_for_sql};
use cronbox::engine::Engine;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

/// Forwards connections from `path` to dockerd's socket until severed.
struct Proxy {
    path: PathBuf,
    cut: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    fn open(path: &Path) -> Proxy {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind the proxy socket");
        let cut = CancellationToken::new();
        let task = {
            let cut = cut.clone();
            tokio::spawn(async move {
                loop {
                    let (mut client, _) = tokio::select! {
                        accepted = listener.accept() => match accepted { Ok(c) => c, Err(_) => return },
                        _ = cut.cancelled() => return,
                    };
                    let cut = cut.clone();
                    tokio::spawn(async move {
                        let Ok(mut engine) = UnixStream::connect("/var/run/docker.sock").await
                        else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut engine) => {}
                            _ = cut.cancelled() => {} // drop both ends: the engine is gone
                        }
                    });
                }
            })
        };
        Proxy {
            path: path.to_owned(),
            cut,
            task,
        }
    }

    /// Cut every connection and remove the socket: the engine is unreachable.
    async fn sever(self) -> PathBuf {
        self.cut.cancel();
        let _ = self.task.await;
        let _ = std::fs::remove_file(&self.path);
        self.path
    }
}

#[tokio::test]
async fn an_attempt_cut_off_from_the_engine_gets_its_real_exit_code_and_whole_output() {
    common::engine().await;
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.long]
schedule = "@every 1s"
image = "IMAGE"
command = ["sh", "-c", "echo before; sleep 4; echo during; sleep 2; echo after; exit 5"]
"#,
    );
    let socket = env.dir.path().join("docker.sock");
    let proxy = Proxy::open(&socket);
    let engine = Engine::connect_to(&format!("unix://{}", socket.display()));
    let daemon = Daemon::start_with(&env, Arc::new(cronbox::clock::SystemClock), engine).await;
    wait_for_sql(
        &env,
        "SELECT CAST(data AS TEXT) FROM output WHERE attempt_id = 1",
        "before\n\n",
    )
    .await;

    let socket = proxy.sever().await; // "during" is printed while the engine is away
    tokio::time::sleep(Duration::from_secs(5)).await;
    let proxy = Proxy::open(&socket);

    wait_for_sql(
        &env,
        "SELECT outcome, exit_code FROM attempts WHERE id = 1",
        "exited|5\n",
    )
    .await;
    assert_eq!(
        env.sql("SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT data FROM output WHERE attempt_id = 1 AND stream = 'stdout' ORDER BY seq)"),
        "before\nduring\nafter\n\n",
        "the whole output, once"
    );
    daemon.stop().await;
    proxy.sever().await;
    assert!(env.containers_gone().await, "no container left");
}

#[tokio::test]
async fn runs_due_while_the_engine_is_away_fail_with_engine_errors_and_retry_when_it_is_back() {
    common::engine().await;
    let env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.quick]
schedule = "@every 1h"
image = "IMAGE"
command = ["echo", "ok"]
retries = 5
backoff = "1s"
backoff_max = "2s"
"#,
    );
    let socket = env.dir.path().join("docker.sock");
    let engine = Engine::connect_to(&format!("unix://{}", socket.display()));
    // No proxy yet: the engine is away. A manual run stands for a tick due now.
    let ctx = {
        let mut ctx = env.context().await;
        ctx.engine = engine;
        ctx
    };
    let config = env.config();
    let run = tokio::spawn(async move {
        let now = cronbox::clock::Clock::now(&cronbox::clock::SystemClock);
        cronbox::daemon::supervisor::execute(
            &ctx,
            &config.jobs[0],
            cronbox::store::Trigger::Manual,
            now,
            &Default::default(),
        )
        .await
    });
    wait_for_sql(
        &env,
        "SELECT count(*) >= 2 FROM attempts WHERE outcome = 'engine-error'",
        "1\n",
    )
    .await;
    let proxy = Proxy::open(&socket); // the engine is back
    let report = run.await.expect("join").expect("store").expect("run");
    assert_eq!(report.status, Some(cronbox::store::RunStatus::Succeeded));
    let outcomes = env.sql("SELECT outcome FROM attempts ORDER BY attempt");
    assert!(
        outcomes.starts_with("engine-error\nengine-error\n") && outcomes.ends_with("exited\n"),
        "{outcomes}"
    );
    proxy.sever().await;
}
