//! Shared set-up for the integration tests: a real Docker engine, an image built
//! offline from Debian's static busybox, a fresh SQLite file per test, and a guard
//! that removes every container of the test's database, pass or fail.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cronbox::clock::SystemClock;
use cronbox::config::{self, Config, Environment, PullPolicy};
use cronbox::daemon::{Context, STOP_GRACE};
use cronbox::engine::{self, Engine};
use cronbox::store::Store;

/// The test image: a static busybox imported through the Docker API (no registry).
pub const IMAGE: &str = "cronbox-test/busybox:latest";

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
    let binary = std::fs::read(busybox).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; install Debian's busybox-static (scripts/dev.sh does)",
            busybox.display()
        )
    });
    engine
        .import_rootfs("cronbox-test/busybox", "latest", rootfs_tar(&binary))
        .await
        .expect("import the busybox image");
    engine
}

/// A tarball holding busybox and a symlink per applet the tests use.
fn rootfs_tar(busybox: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for path in ["bin", "tmp"] {
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(if path == "tmp" { 0o1777 } else { 0o755 });
        dir.set_size(0);
        builder
            .append_data(&mut dir, path, std::io::empty())
            .expect("tar dir");
    }
    let mut file = tar::Header::new_gnu();
    file.set_mode(0o755);
    file.set_size(busybox.len() as u64);
    builder
        .append_data(&mut file, "bin/busybox", busybox)
        .expect("tar busybox");
    for applet in [
        "sh", "echo", "sleep", "true", "false", "cat", "head", "yes", "env", "ls", "printf", "id",
        "seq", "dd",
    ] {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_mode(0o777);
        link.set_size(0);
        builder
            .append_link(&mut link, format!("bin/{applet}"), "busybox")
            .expect("tar link");
    }
    builder.into_inner().expect("tar")
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
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("cronbox.db");
        let config_path = dir.path().join("cronbox.toml");
        let text = format!(
            "[daemon]\ndatabase = \"{}\"\ntimezone = \"UTC\"\n\n{}",
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
            state_directory: None,
            local_timezone: chrono_tz::UTC,
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
            stop_grace: STOP_GRACE,
            echo: false,
        }
    }

    /// This test's database label value (the absolute path).
    pub fn db_label(&self) -> String {
        std::path::absolute(&self.db_path)
            .expect("absolute")
            .display()
            .to_string()
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
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(query)
        .output()
        .expect("run sqlite3 (install Debian's sqlite3; scripts/dev.sh does)");
    assert!(
        out.status.success(),
        "sqlite3 failed on {query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
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
