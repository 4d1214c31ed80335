//! The database on a tiny tmpfs that fills up, then frees: the daemon keeps
//! running, starts no run it cannot record, and resumes when space returns; the
//! file passes `PRAGMA integrity_check` afterwards; a little space given back
//! is enough to record again for good (the write-ahead log stays small). Needs root (to mount the
//! tmpfs), as CI runs.

mod common;

use common::{Daemon, TestEnv, wait_for_sql};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// A tmpfs of `size` mounted at `dir`, unmounted on drop.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(dir: &'a Path, size: &str) -> Tmpfs<'a> {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

/// Fill the file system holding `path` until it is full.
fn fill(path: &Path) {
    let mut filler = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 4096];
    while filler
        .write_all(&block)
        .and_then(|()| filler.sync_all())
        .is_ok()
    {}
}

/// Move `env`'s database to the file system at `small`, start the daemon on
/// it, and wait for two runs to succeed there.
async fn start_on(env: &mut TestEnv, small: &Path) -> Daemon {
    let config = std::fs::read_to_string(&env.config_path).expect("config");
    let db = small.join("cronbox.db");
    let config = config.replace(
        &env.db_path.display().to_string(),
        &db.display().to_string(),
    );
    std::fs::write(&env.config_path, config).expect("config");
    env.db_path = db;
    let daemon = Daemon::start(env).await;
    wait_for_sql(
        env,
        "SELECT count(*) >= 2 FROM runs WHERE status = 'succeeded'",
        "1\n",
    )
    .await;
    daemon
}

#[tokio::test]
async fn a_full_disk_runs_nothing_it_cannot_record_and_loses_nothing_recorded() {
    let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    common::engine().await;
    let base = tempfile::tempdir().expect("tempdir");
    let small = base.path().join("small");
    let _tmpfs = Tmpfs::mount(&small, "4m");
    let marks = base.path().join("marks");
    std::fs::create_dir_all(&marks).expect("marks dir");
    let mut env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        &format!(
            r#"
[jobs.tick]
schedule = "@every 1s"
image = "IMAGE"
command = ["sh", "-c", "echo ran >> /marks/runs; echo tick"]
volumes = ["{}:/marks"]
"#,
            marks.display()
        ),
    );
    let daemon = start_on(&mut env, &small).await;

    fill(&small.join("filler"));
    // While the disk is full, a run starts only once its run and attempt are
    // recorded: SQLite refuses most writes (the daemon retries them) and takes
    // some (a WAL reset after a checkpoint reuses the file's own space), so runs
    // thin out rather than stop, and no container runs without its record. (At
    // the end, once they are all over, the two counts are equal.)
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let ran = std::fs::read_to_string(marks.join("runs"))
            .unwrap_or_default()
            .lines()
            .count();
        let recorded: usize = env
            .sql("SELECT count(*) FROM attempts")
            .trim()
            .parse()
            .expect("count");
        assert!(
            ran <= recorded,
            "{ran} containers ran, {recorded} attempts recorded: one ran without its record"
        );
    }

    std::fs::remove_file(small.join("filler")).expect("free the space");
    let succeeded: u32 = env
        .sql("SELECT count(*) FROM runs WHERE status = 'succeeded'")
        .trim()
        .parse()
        .expect("count");
    wait_for_sql(
        &env,
        &format!("SELECT count(*) > {succeeded} FROM runs WHERE status = 'succeeded'"),
        "1\n",
    )
    .await;
    daemon.stop().await;

    assert_eq!(env.sql("PRAGMA integrity_check"), "ok\n");
    // Every container that ran has its run and attempt recorded, and none is left running.
    let ran = std::fs::read_to_string(marks.join("runs"))
        .unwrap_or_default()
        .lines()
        .count();
    let recorded: usize = env
        .sql("SELECT count(*) FROM attempts")
        .trim()
        .parse()
        .expect("count");
    assert_eq!(
        ran, recorded,
        "a container ran without its attempt being recorded"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM attempts WHERE outcome = 'running'"),
        "0\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn a_little_space_that_returns_is_enough_to_resume_and_stay_resumed() {
    common::engine().await;
    let base = tempfile::tempdir().expect("tempdir");
    let small = base.path().join("small");
    let _tmpfs = Tmpfs::mount(&small, "4m");
    let mut env = TestEnv::with_daemon(
        r#"on_shutdown = "stop""#,
        r#"
[jobs.tick]
schedule = "@every 1s"
image = "IMAGE"
command = ["echo", "tick"]

[jobs.tock]
schedule = "@every 1s"
image = "IMAGE"
command = ["echo", "tock"]
"#,
    );
    let daemon = start_on(&mut env, &small).await;
    let filler = small.join("filler");
    fill(&filler);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // Give back 1.5 MB: the daemon must record again, and go on recording
    // rather than fill the disk again with its own write-ahead log.
    let size = std::fs::metadata(&filler).expect("filler").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .expect("filler");
    file.set_len(size.saturating_sub(1_500_000))
        .expect("free 1.5 MB");
    drop(file);
    let succeeded: u32 = env
        .sql("SELECT count(*) FROM runs WHERE status = 'succeeded'")
        .trim()
        .parse()
        .expect("count");
    // Recording must go on well past the 16 s after which the write-ahead log
    // filled the disk again before it was bounded: 60 more runs (two jobs every
    // second, so about 30 s on time; the bound only catches a stop for good).
    let wal = small.join("cronbox.db-wal");
    let mut largest_wal = 0;
    let mut now = succeeded;
    for _ in 0..3000 {
        largest_wal = largest_wal.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        now = env
            .sql("SELECT count(*) FROM runs WHERE status = 'succeeded'")
            .trim()
            .parse()
            .expect("count");
        if now >= succeeded + 60 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        now >= succeeded + 60,
        "recording stopped after {} more runs once space returned",
        now - succeeded
    );
    daemon.stop().await;
    // The WAL stays within what a checkpoint every 256 pages leaves, plus a
    // transaction or two (SQLite's default, 1,000 pages, let it grow past the
    // 1.5 MB given back: measured 1.7 MB after 30 runs).
    assert!(
        largest_wal <= cronbox::store::WAL_SIZE_LIMIT_BYTES + 256 * 1024,
        "the write-ahead log grew to {largest_wal} bytes"
    );
    assert_eq!(env.sql("PRAGMA integrity_check"), "ok\n");
}
