//! Private registries with a real one: Debian's `docker-registry` (the CNCF
//! distribution registry) run by the test on a loopback port with htpasswd
//! (bcrypt) auth, the test image pushed to it through the engine's API. A job
//! with `pull = "always"` pulls it with the credentials of `[daemon]
//! registry_auth` (a Docker config.json), fails clearly with wrong ones, and
//! the password is in no log line, even at trace level. `check` warns about a
//! job whose registry the file has no credentials for.

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
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
        &format!(
            "[jobs.private]\nschedule = \"@daily\"\nimage = \"{image}\"\npull = \"always\"\ncommand = [\"echo\", \"pulled\"]\n"
        ),
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
    std::fs::create_dir(&bin).expect("mkdir");
    let helper = bin.join("docker-credential-cronbox-test");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n"),
    )
    .expect("write");
    Command::new("chmod")
        .arg("755")
        .arg(&helper)
        .status()
        .expect("chmod");
    let helped = files.path().join("helped.json");
    let json = serde_json::json!({ "credHelpers": { &registry.address: "cronbox-test" } });
    std::fs::write(&helped, json.to_string()).expect("write");
    let env = env_pulling(&image, &helped);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(["run", "private", "--config"])
        .arg(&env.config_path)
        .env("PATH", path)
        .env("CRONBOX_LOG", "trace")
        .output()
        .expect("run cronbox");
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

    let docker = bollard::Docker::connect_with_defaults().expect("docker");
    let _ = docker
        .remove_image(
            &image,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}
