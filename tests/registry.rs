//! Private registries with a real one: Debian's `docker-registry` (the CNCF
//! distribution registry) run by the test on a loopback port with htpasswd
//! (bcrypt) auth, the test image pushed to it through the engine's API. A job
//! with `pull = "always"` pulls it with the credentials of `[daemon]
//! registry_auth` (a Docker config.json), fails clearly with wrong ones, and
//! the password is in no log line, even at trace level. `check` warns about a
//! job whose registry the file has no credentials for. Credentials also come
//! from a `credsStore` helper and from the default files (`$DOCKER_CONFIG/
//! config.json`, else `$HOME/.docker/config.json`). The daemon at trace level
//! pulls with them, retries a refused pull as an `engine-error`, and writes no
//! password, `user:password` in base64 or identity token to its log or its
//! database.

mod common;

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use common::TestEnv;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const USER: &str = "cronbox";
const PASSWORD: &str = "pa55-w0rd-never-logged";

/// The registry process, killed when dropped.
struct Registry {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `docker-registry serve` on a free loopback port with htpasswd auth; `None`
/// (the test then fails, naming the reason) when the binary or htpasswd is missing.
async fn registry() -> Registry {
    let dir = tempfile::tempdir().expect("tempdir");
    let htpasswd = Command::new("htpasswd")
        .args(["-Bbn", USER, PASSWORD])
        .output()
        .expect("htpasswd (apache2-utils; scripts/dev.sh installs it)");
    assert!(htpasswd.status.success());
    std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).expect("write");
    let address = format!("127.0.0.1:{}", free_port());
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\nhttp:\n  addr: {address}\nauth:\n  htpasswd:\n    realm: cronbox-test\n    path: {root}/htpasswd\n",
        root = dir.path().display()
    );
    let config_path = dir.path().join("config.yml");
    std::fs::write(&config_path, config).expect("write");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (Debian's package; scripts/dev.sh installs it)");
    let registry = Registry {
        child,
        address,
        _dir: dir,
    };
    for _ in 0..300 {
        if std::net::TcpStream::connect(&registry.address).is_ok() {
            return registry;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the registry never listened on {}", registry.address);
}

/// Push the test image to `registry` as REGISTRY/cronbox-test/busybox:2, then
/// remove that local tag so that a pull must fetch it.
async fn push_test_image(registry: &Registry) -> String {
    common::engine().await;
    let docker = bollard::Docker::connect_with_defaults().expect("docker");
    let repo = format!("{}/cronbox-test/busybox", registry.address);
    let tag = bollard::query_parameters::TagImageOptionsBuilder::default()
        .repo(&repo)
        .tag("2")
        .build();
    docker
        .tag_image(common::IMAGE, Some(tag))
        .await
        .expect("tag");
    let credentials = DockerCredentials {
        username: Some(USER.to_owned()),
        password: Some(PASSWORD.to_owned()),
        serveraddress: Some(registry.address.clone()),
        ..Default::default()
    };
    let push = bollard::query_parameters::PushImageOptionsBuilder::default()
        .tag("2")
        .build();
    let mut stream = docker.push_image(&repo, Some(push), Some(credentials));
    while let Some(item) = stream.next().await {
        item.expect("push");
    }
    let image = format!("{repo}:2");
    docker
        .remove_image(
            &image,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .expect("remove the local tag");
    image
}

/// A Docker config.json with `password` for `registry`.
fn docker_config(dir: &Path, name: &str, registry: &str, password: &str) -> PathBuf {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    let path = dir.join(name);
    let json = serde_json::json!({ "auths": { registry: { "auth": auth } } });
    std::fs::write(&path, json.to_string()).expect("write");
    path
}

fn env_pulling(image: &str, auth: &Path) -> TestEnv {
    TestEnv::with_daemon(
        &format!("registry_auth = \"{}\"", auth.display()),
        &private_job(image),
    )
}

/// The job `private`, pulling `image` always.
fn private_job(image: &str) -> String {
    format!(
        "[jobs.private]\nschedule = \"@daily\"\nimage = \"{image}\"\npull = \"always\"\ncommand = [\"echo\", \"pulled\"]\n"
    )
}

fn cronbox(env: &TestEnv, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .arg("--config")
        .arg(&env.config_path)
        .env_remove("CRONBOX_CONFIG")
        .env("CRONBOX_LOG", "trace")
        .output()
        .expect("run cronbox")
}

/// `cronbox run private` on `env` at trace level, with the environment
/// variables `set` set and `unset` unset.
fn run_private(env: &TestEnv, set: &[(&str, &Path)], unset: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cronbox"));
    command
        .args(["run", "private", "--config"])
        .arg(&env.config_path)
        .env_remove("CRONBOX_CONFIG")
        .env("CRONBOX_LOG", "trace");
    for (name, value) in set {
        command.env(name, value);
    }
    for name in unset {
        command.env_remove(name);
    }
    command.output().expect("run cronbox")
}

/// A `docker-credential-NAME` helper in `bin` answering `USER` and `secret`
/// for whatever server it is asked about, as Docker's helpers answer `get`.
fn credential_helper(bin: &Path, name: &str, secret: &str) {
    std::fs::create_dir_all(bin).expect("mkdir");
    let helper = bin.join(format!("docker-credential-{name}"));
    std::fs::write(
        &helper,
        format!("#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\",\"Secret\":\"{secret}\"}}'\n"),
    )
    .expect("write");
    Command::new("chmod")
        .arg("755")
        .arg(&helper)
        .status()
        .expect("chmod");
}

/// `$PATH` with `bin` first.
fn path_with(bin: &Path) -> PathBuf {
    PathBuf::from(format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    ))
}

/// A schedule pulling `image` with no `[daemon] registry_auth`: the default files.
fn env_pulling_by_default(image: &str) -> TestEnv {
    TestEnv::new(&private_job(image))
}

async fn remove_image(image: &str) {
    let docker = bollard::Docker::connect_with_defaults().expect("docker");
    let _ = docker
        .remove_image(
            image,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_private_image_is_pulled_with_the_files_credentials_and_refused_clearly_without() {
    let registry = registry().await;
    let image = push_test_image(&registry).await;
    let files = tempfile::tempdir().expect("tempdir");

    // The right credentials: pulled and run.
    let good = docker_config(files.path(), "good.json", &registry.address, PASSWORD);
    let env = env_pulling(&image, &good);
    let out = cronbox(&env, &["run", "private"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(text(&out.stdout), "pulled\n");
    assert!(stderr.contains("pulling image"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "the password is logged");
    assert!(
        !env.sql(".dump").contains(PASSWORD),
        "the password is in the database"
    );

    // The same through a credential helper (credHelpers), run as Docker runs it.
    let bin = files.path().join("bin");
    credential_helper(&bin, "cronbox-test", PASSWORD);
    let helped = files.path().join("helped.json");
    let json = serde_json::json!({ "credHelpers": { &registry.address: "cronbox-test" } });
    std::fs::write(&helped, json.to_string()).expect("write");
    let env = env_pulling(&image, &helped);
    let out = run_private(&env, &[("PATH", &path_with(&bin))], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains(PASSWORD),
        "the password is logged"
    );

    // Wrong ones: an engine error naming the registry and the file.
    let bad = docker_config(
        files.path(),
        "bad.json",
        &registry.address,
        "wrong-password",
    );
    let env = env_pulling(&image, &bad);
    let out = cronbox(&env, &["run", "private"]);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    let error = env.sql("SELECT outcome, error FROM attempts");
    assert!(error.starts_with("engine-error|"), "{error}");
    assert!(
        error.contains(&format!(
            "registry {} refused the credentials for it in {}",
            registry.address,
            bad.display()
        )),
        "{error}"
    );
    assert!(!stderr.contains("wrong-password") && !error.contains("wrong-password"));

    // A file for another registry only: check warns, the pull says there were none.
    let other = docker_config(files.path(), "other.json", "nexus.lan:8082", PASSWORD);
    let env = env_pulling(&image, &other);
    let check = cronbox(&env, &["check"]);
    let warned = text(&check.stderr);
    assert!(
        warned.contains(&format!(
            "job \"private\": {} has no credentials for registry {}",
            other.display(),
            registry.address
        )),
        "{warned}"
    );
    let out = cronbox(&env, &["run", "private"]);
    assert_ne!(out.status.code(), Some(0));
    let error = env.sql("SELECT error FROM attempts");
    assert!(
        error.contains(&format!(
            "has no credentials for registry {}",
            registry.address
        )),
        "{error}"
    );

    remove_image(&image).await;
}

#[tokio::test]
async fn credentials_come_from_a_creds_store_and_from_the_default_files() {
    let registry = registry().await;
    let image = push_test_image(&registry).await;
    let files = tempfile::tempdir().expect("tempdir");

    // credsStore: one helper for every registry, found on $PATH.
    let bin = files.path().join("bin");
    credential_helper(&bin, "cronbox-store", PASSWORD);
    let stored = files.path().join("stored.json");
    let json = serde_json::json!({ "credsStore": "cronbox-store" });
    std::fs::write(&stored, json.to_string()).expect("write");
    let env = env_pulling(&image, &stored);
    let path = path_with(&bin);
    let out = run_private(&env, &[("PATH", &path)], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pulled\n");
    assert!(
        !text(&out.stderr).contains(PASSWORD),
        "the password is logged"
    );

    // No registry_auth: $DOCKER_CONFIG/config.json comes first, $HOME's
    // .docker/config.json (here with a wrong password) is not read then.
    let docker_config_dir = files.path().join("docker-config");
    let home = files.path().join("home");
    for dir in [&docker_config_dir, &home.join(".docker")] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    docker_config(
        &docker_config_dir,
        "config.json",
        &registry.address,
        PASSWORD,
    );
    let home_file = docker_config(
        &home.join(".docker"),
        "config.json",
        &registry.address,
        "wrong-password",
    );
    let env = env_pulling_by_default(&image);
    let out = run_private(
        &env,
        &[("DOCKER_CONFIG", &docker_config_dir), ("HOME", &home)],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pulled\n");

    // Without $DOCKER_CONFIG: $HOME/.docker/config.json, whose wrong password
    // the registry refuses, and the error names that file.
    let out = run_private(&env, &[("HOME", &home)], &["DOCKER_CONFIG"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let error = env.sql("SELECT error FROM attempts ORDER BY id DESC LIMIT 1");
    assert!(
        error.contains(&format!(
            "registry {} refused the credentials for it in {}",
            registry.address,
            home_file.display()
        )),
        "{error}"
    );
    // ... and with the right one there, it pulls.
    docker_config(
        &home.join(".docker"),
        "config.json",
        &registry.address,
        PASSWORD,
    );
    let out = run_private(&env, &[("HOME", &home)], &["DOCKER_CONFIG"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    remove_image(&image).await;
}

/// An identity token in the daemon's credentials file, for a registry that
/// is not there (127.0.0.2 on the registry's port: refused at once).
const TOKEN: &str = "identity-t0ken-never-logged";

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `cronbox daemon` on `env` at trace level, its log in `log`.
fn daemon(env: &TestEnv, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .arg("daemon")
        .arg("--config")
        .arg(&env.config_path)
        .env_remove("CRONBOX_CONFIG")
        .env("CRONBOX_LOG", "trace")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start cronbox daemon")
}

/// SIGTERM `child` and wait for it (bounded: a minute, then SIGKILL).
async fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..600 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn the_daemon_at_trace_level_keeps_credentials_out_of_its_log_and_database_and_retries_a_refused_pull()
 {
    let registry = registry().await;
    let image = push_test_image(&registry).await;
    let port = registry.address.rsplit_once(':').expect("host:port").1;
    // The same registry under another name (localhost), with a wrong password.
    let wrong = format!("localhost:{port}");
    let tokened = format!("127.0.0.2:{port}");
    let basic = |password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"))
    };
    let files = tempfile::tempdir().expect("tempdir");
    let auth = files.path().join("config.json");
    let json = serde_json::json!({ "auths": {
        &registry.address: { "auth": basic(PASSWORD) },
        &wrong: { "auth": basic("wrong-password") },
        &tokened: { "identitytoken": TOKEN },
    } });
    std::fs::write(&auth, json.to_string()).expect("write");
    let job = |name: &str, image: &str, extra: &str| {
        format!(
            "[jobs.{name}]\nschedule = \"@every 1h\"\nimage = \"{image}\"\npull = \"always\"\ncommand = [\"echo\", \"pulled\"]\n{extra}\n"
        )
    };
    let env = TestEnv::with_daemon(
        &format!(
            "registry_auth = \"{}\"\non_shutdown = \"stop\"",
            auth.display()
        ),
        &format!(
            "[daemon.http]\nlisten = \"127.0.0.1:{}\"\n\n{}{}{}",
            free_port(),
            job("good", &image, ""),
            job(
                "refused",
                &image.replacen(&registry.address, &wrong, 1),
                "retries = 1\nbackoff = \"1s\""
            ),
            job(
                "tokened",
                &image.replacen(&registry.address, &tokened, 1),
                ""
            ),
        ),
    );
    let log = env.dir.path().join("daemon.log");
    let child = daemon(&env, &log);
    // @every ticks come within an hour of the start: run each job now instead,
    // through the daemon's API once it listens.
    for _ in 0..600 {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        if said.contains("HTTP server listening") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for name in ["good", "refused", "tokened"] {
        let out = Command::new(env!("CARGO_BIN_EXE_cronbox"))
            .args(["run", "--detach", name, "--config"])
            .arg(&env.config_path)
            .output()
            .expect("cronbox run --detach");
        assert!(
            out.status.success(),
            "cronbox run --detach {name}: {}\nlog:\n{}",
            text(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    common::wait_for_sql(
        &env,
        "SELECT count(*) FROM runs WHERE status IN ('succeeded', 'failed')",
        "3\n",
    )
    .await;
    terminate(child).await;

    assert_eq!(
        env.sql("SELECT job, status FROM runs ORDER BY job"),
        "good|succeeded\nrefused|failed\ntokened|failed\n"
    );
    let attempts = env.sql(
        "SELECT a.attempt, a.outcome FROM attempts a JOIN runs r ON r.id = a.run_id \
         WHERE r.job = 'refused' ORDER BY a.attempt",
    );
    assert_eq!(
        attempts, "1|engine-error\n2|engine-error\n",
        "the refused pull follows the retry policy (retries = 1)"
    );
    let error = env.sql(
        "SELECT DISTINCT a.error FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'refused'",
    );
    assert!(
        error.contains(&format!(
            "registry {wrong} refused the credentials for it in {}",
            auth.display()
        )),
        "{error}"
    );

    let said = std::fs::read_to_string(&log).expect("the daemon's log");
    assert!(said.contains("TRACE"), "the log is at trace level:\n{said}");
    let dump = env.sql(".dump");
    for secret in [
        PASSWORD.to_owned(),
        "wrong-password".to_owned(),
        basic(PASSWORD),
        basic("wrong-password"),
        TOKEN.to_owned(),
    ] {
        assert!(!said.contains(&secret), "the daemon's log holds {secret:?}");
        assert!(!dump.contains(&secret), "the database holds {secret:?}");
    }
    remove_image(&image).await;
}
