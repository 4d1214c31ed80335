//! Shared set-up for the integration tests: a real Docker engine, an image built
//! offline from Debian's static busybox, a fresh SQLite file per test, and a guard
//! that removes every container of the test's database, pass or fail.
#![allow(dead_code)]

#[path = "../support/fixtures.rs"]
pub mod fixtures;
pub mod subprocess;
pub mod test_clock;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cronbox::clock::SystemClock;
use cronbox::config::{self, Config, Environment, PullPolicy};
use cronbox::daemon::Context;
use cronbox::engine::{self, Engine};
use cronbox::store::Store;

/// The test image: a static busybox imported through the Docker API (no registry).
/// Bump the tag when the image's content changes.
pub const IMAGE: &str = "cronbox-test/busybox:2";

/// A connected engine with the test image present, or a failure that says how to start one.
pub async fn engine() -> Engine {
    let engine = Engine::connect();
    if let Err(e) = engine.check().await {
        panic!(
            "these tests need a running Docker engine: {e}\n\
             Start one with `scripts/dev.sh test` (installs docker.io and starts dockerd), \
             or `sudo systemctl start docker`."
        );
    }
    if engine.ensure_image(IMAGE, PullPolicy::Never).await.is_ok() {
        return engine;
    }
    // Tests running in parallel may both import: the tag ends up on one of two equal images.
    let busybox = Path::new("/bin/busybox");
    let rootfs = fixtures::busybox_rootfs(busybox).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; install Debian's busybox-static (scripts/dev.sh does)",
            busybox.display()
        )
    });
    engine
        .import_rootfs("cronbox-test/busybox", "2", rootfs)
        .await
        .expect("import the busybox image");
    engine
}

/// The README's ```sql blocks, as operators copy them.
pub fn readme_sql_blocks() -> Vec<String> {
    fixtures::sql_blocks(include_str!("../../README.md"))
}

/// One test's world: a temp dir, its database, its schedule file.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
}

impl TestEnv {
    /// A temp dir with a schedule file whose `[daemon]` names the test's database
    /// and whose jobs are `jobs_toml` (the word IMAGE stands for the test image).
    pub fn new(jobs_toml: &str) -> TestEnv {
        TestEnv::with_daemon("", jobs_toml)
    }

    /// Like [`TestEnv::new`], with more `[daemon]` settings.
    pub fn with_daemon(daemon_toml: &str, jobs_toml: &str) -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("cronbox.db");
        let config_path = dir.path().join("cronbox.toml");
        let text = format!(
            "[daemon]\ndatabase = \"{}\"\ntimezone = \"UTC\"\n{daemon_toml}\n{}",
            db_path.display(),
            jobs_toml.replace("IMAGE", IMAGE)
        );
        std::fs::write(&config_path, text).expect("write config");
        TestEnv {
            dir,
            config_path,
            db_path,
        }
    }

    pub fn config(&self) -> Config {
        let env = Environment {
            cpus: 2,
            state_directory: None,
            local_timezone: chrono_tz::UTC,
            local_timezone_source: config::ZoneSource::System,
        };
        config::load(&self.config_path, &env)
            .unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.db_path).await.expect("open store")
    }

    pub async fn context(&self) -> Context {
        Context {
            store: self.store().await,
            engine: engine().await,
            clock: Arc::new(SystemClock),
            slots: None,
            require_limits: false,
            resume_later: false,
            echo: false,
            watch_stop_requests: false,
            events: Default::default(),
            tracker: Default::default(),
        }
    }

    /// This test's database label value (the absolute path).
    pub fn db_label(&self) -> String {
        std::path::absolute(&self.db_path)
            .expect("absolute")
            .display()
            .to_string()
    }

    /// Whether every container of this test is gone, waiting a little for it
    /// (bounded: 10 s): a run's container is removed just after its end is
    /// recorded, so a test that saw the record may look a moment too early.
    pub async fn containers_gone(&self) -> bool {
        for _ in 0..100 {
            if self.containers().await.is_empty() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }

    /// Containers still on the engine that carry this test's database label.
    pub async fn containers(&self) -> Vec<engine::Found> {
        engine()
            .await
            .containers_labelled(engine::LABEL_DB, &self.db_label())
            .await
            .expect("list containers")
    }

    /// Run `query` with the `sqlite3` shell, exactly as the README shows operators,
    /// and return its output (list mode, `|` between columns).
    pub fn sql(&self, query: &str) -> String {
        sqlite3(&self.db_path, query)
    }
}

/// Run `query` on `db` with the `sqlite3` shell.
pub fn sqlite3(db: &Path, query: &str) -> String {
    try_sqlite3(db, query).unwrap_or_else(|error| panic!("sqlite3 failed on {query}: {error}"))
}

/// [`sqlite3`], returning the shell's error instead of panicking on it.
pub fn try_sqlite3(db: &Path, query: &str) -> Result<String, String> {
    let out = std::process::Command::new("sqlite3")
        // Wait for a writer's lock (a migration, a checkpoint) as the daemon does,
        // instead of failing at once with "database is locked".
        .args(["-cmd", ".timeout 5000"])
        .arg(db)
        .arg(query)
        .output()
        .expect("run sqlite3 (install Debian's sqlite3; scripts/dev.sh does)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8(out.stdout).expect("utf-8"))
}

/// An operator's `sqlite3` shell holding the database's write lock in an open
/// transaction, until [`WriteLock::release`].
pub struct WriteLock {
    shell: std::process::Child,
    input: std::process::ChildStdin,
}

impl WriteLock {
    /// Take the write lock of `db` (`BEGIN IMMEDIATE`). The shell waits for a
    /// write of the daemon under way (up to 60 s) rather than failing: without
    /// `.timeout` a `BEGIN IMMEDIATE` that meets a writer fails, and the shell
    /// goes on to the next statement holding nothing. `.bail on` makes such a
    /// failure end the shell, so this panics instead of returning a lock that
    /// is not held.
    pub fn hold(db: &Path) -> WriteLock {
        use std::io::{BufRead, Write};
        let mut shell = std::process::Command::new("sqlite3")
            .arg(db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sqlite3");
        let mut input = shell.stdin.take().expect("stdin");
        writeln!(
            input,
            ".bail on\n.timeout 60000\nBEGIN IMMEDIATE;\nSELECT 'locked';"
        )
        .expect("write to sqlite3");
        let mut line = String::new();
        std::io::BufReader::new(shell.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read from sqlite3");
        assert_eq!(line, "locked\n", "sqlite3 could not take the write lock");
        WriteLock { shell, input }
    }

    /// End the transaction (`COMMIT`) and the shell.
    pub fn release(mut self) {
        use std::io::Write;
        writeln!(self.input, "COMMIT;\n.quit").expect("write to sqlite3");
        drop(self.input);
        assert!(self.shell.wait().expect("sqlite3").success());
    }
}

impl Drop for TestEnv {
    /// Remove every container of this test's database, pass or fail.
    fn drop(&mut self) {
        let db = self.db_label();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let engine = Engine::connect();
                if let Ok(found) = engine.containers_labelled(engine::LABEL_DB, &db).await {
                    for container in found {
                        let _ = engine.remove(&container.id).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Run the first job of `env` once, as `cronbox run` would (trigger `manual`).
pub async fn run_once(env: &TestEnv) -> cronbox::daemon::RunReport {
    run_once_in(env, &env.context().await).await
}

/// [`run_once`] in `ctx` (another engine, `require_limits`, ...).
pub async fn run_once_in(env: &TestEnv, ctx: &Context) -> cronbox::daemon::RunReport {
    let config = env.config();
    let now = cronbox::clock::Clock::now(&SystemClock);
    cronbox::daemon::supervisor::execute(
        ctx,
        &config.jobs[0],
        cronbox::store::Trigger::Manual,
        now,
        &cronbox::daemon::Stops::default(),
    )
    .await
    .expect("store")
    .expect("a new run")
}

/// A daemon running in-process on `env`'s schedule, stopped by [`Daemon::stop`].
pub struct Daemon {
    pub shutdown: tokio_util::sync::CancellationToken,
    pub updates: tokio::sync::watch::Sender<Arc<Config>>,
    handle: tokio::task::JoinHandle<Result<(), cronbox::daemon::DaemonError>>,
}

impl Daemon {
    /// Start the daemon on `env` with `clock` and `engine`.
    pub async fn start_with(
        env: &TestEnv,
        clock: Arc<dyn cronbox::clock::Clock>,
        engine: Engine,
    ) -> Daemon {
        let (updates, config) = tokio::sync::watch::channel(Arc::new(env.config()));
        let shutdown = tokio_util::sync::CancellationToken::new();
        let handle = tokio::spawn(cronbox::daemon::run(
            config,
            env.store().await,
            engine,
            clock,
            shutdown.clone(),
        ));
        Daemon {
            shutdown,
            updates,
            handle,
        }
    }

    /// [`Daemon::start_with`], also returning the handle to control it.
    pub async fn start_controlled(
        env: &TestEnv,
        clock: Arc<dyn cronbox::clock::Clock>,
        engine: Engine,
    ) -> (Daemon, cronbox::daemon::Handle) {
        let (updates, config) = tokio::sync::watch::channel(Arc::new(env.config()));
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (handle, controls) = cronbox::daemon::control::channel();
        let daemon = tokio::spawn(cronbox::daemon::run_with(
            config,
            env.store().await,
            engine,
            clock,
            shutdown.clone(),
            controls,
        ));
        let daemon = Daemon {
            shutdown,
            updates,
            handle: daemon,
        };
        (daemon, handle)
    }

    /// Start the daemon on `env` with the real clock and engine.
    pub async fn start(env: &TestEnv) -> Daemon {
        Daemon::start_with(env, Arc::new(SystemClock), engine().await).await
    }

    /// Shut it down and wait until it returns; it must return Ok.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle
            .await
            .expect("join")
            .expect("the daemon returns Ok on shutdown");
    }
}

/// Wait (bounded: 90 s) until `query` prints `want`; panic naming both if never.
pub async fn wait_for_sql(env: &TestEnv, query: &str, want: &str) {
    wait_for_sql_within(env, query, want, std::time::Duration::from_secs(90)).await;
}

/// [`wait_for_sql`] bounded by `bound` (polled every 100 ms): for a state that
/// comes later than a minute, such as one after the next tick of `@every 60s`
/// (that tick is at the next whole minute, up to 60 s after the start).
pub async fn wait_for_sql_within(
    env: &TestEnv,
    query: &str,
    want: &str,
    bound: std::time::Duration,
) {
    let deadline = std::time::Instant::now() + bound;
    let mut got = String::new();
    while std::time::Instant::now() < deadline {
        // sqlite3 would create an empty file where the database is yet to be;
        // and a `cronbox run` that just made the file may not have made its
        // tables yet ("no such table"): not yet, as a wrong count is.
        if env.db_path.exists() {
            got = try_sqlite3(&env.db_path, query).unwrap_or_else(|error| error);
            if got == want {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("waited {bound:?} for {query:?} to print {want:?}; it prints {got:?}");
}
