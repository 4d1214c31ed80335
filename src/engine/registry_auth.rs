//! Credentials for private registries, read as Docker's CLI keeps them (issue
//! 14): a `config.json` with `auths` (base64 `user:password`, or an
//! `identitytoken`), `credHelpers` (a `docker-credential-NAME` helper per
//! registry) and `credsStore` (one helper for every registry). The credentials
//! of an image's registry are handed to the engine for that pull only; they are
//! never logged, and no error shows them (errors name the registry and the file).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde::Deserialize;

/// The key Docker's CLI uses for Docker Hub in `auths`.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// Why the credentials for a registry could not be had. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the registry credentials file {}: {reason}; fix [daemon] registry_auth or the file", path.display())]
    File { path: PathBuf, reason: String },
    #[error("the credentials of registry {registry} in {} are not valid base64 of user:password ({reason}); run `docker login {registry}` again", path.display())]
    BadAuth {
        registry: String,
        path: PathBuf,
        reason: String,
    },
    #[error("the credential helper docker-credential-{helper} named in {} for registry {registry} failed: {reason}", path.display())]
    Helper {
        helper: String,
        registry: String,
        path: PathBuf,
        reason: String,
    },
}

/// One entry of `auths`.
#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The parts of Docker's `config.json` cronbox reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

/// What a credential helper answers to `get`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// A read registry credentials file.
#[derive(Debug)]
pub struct RegistryAuth {
    path: PathBuf,
    file: ConfigFile,
}

impl RegistryAuth {
    /// Read `path`. A file that does not exist holds no credentials (the
    /// default path on a box that never ran `docker login`).
    pub fn read(path: &Path) -> Result<RegistryAuth, AuthError> {
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AuthError::File {
                path: path.to_owned(),
                reason: format!("not a Docker config.json ({e})"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(e) => {
                return Err(AuthError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        Ok(RegistryAuth {
            path: path.to_owned(),
            file,
        })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file names any registry at all (for `check`'s warning).
    pub fn is_empty(&self) -> bool {
        self.file.auths.is_empty()
            && self.file.cred_helpers.is_empty()
            && self.file.creds_store.is_none()
    }

    /// Whether the file has an entry for `registry` (helpers included).
    pub fn knows(&self, registry: &str) -> bool {
        self.file.cred_helpers.contains_key(registry)
            || self.file.creds_store.is_some()
            || self.entry(registry).is_some()
    }

    fn entry(&self, registry: &str) -> Option<&AuthEntry> {
        self.file
            .auths
            .iter()
            .find_map(|(key, entry)| (registry_of_key(key) == registry).then_some(entry))
    }

    /// The credentials for `registry` (as [`registry_of`] names it), or `None`
    /// when the file has none for it: a helper for it, else an `auths` entry,
    /// else the `credsStore` helper, as Docker's CLI looks.
    pub fn credentials(&self, registry: &str) -> Result<Option<DockerCredentials>, AuthError> {
        let server = if registry == "docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        if let Some(helper) = self.file.cred_helpers.get(registry) {
            return self.ask_helper(helper, registry, server).map(Some);
        }
        if let Some(entry) = self.entry(registry) {
            return self.decode_entry(entry, registry, server).map(Some);
        }
        match &self.file.creds_store {
            Some(helper) => self.ask_helper(helper, registry, server).map(Some),
            None => Ok(None),
        }
    }

    fn decode_entry(
        &self,
        entry: &AuthEntry,
        registry: &str,
        server: &str,
    ) -> Result<DockerCredentials, AuthError> {
        let mut credentials = DockerCredentials {
            serveraddress: Some(server.to_owned()),
            ..Default::default()
        };
        if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            credentials.identitytoken = Some(token.clone());
            return Ok(credentials);
        }
        let bad = |reason: &str| AuthError::BadAuth {
            registry: registry.to_owned(),
            path: self.path.clone(),
            reason: reason.to_owned(),
        };
        let encoded = entry.auth.as_deref().ok_or_else(|| bad("no \"auth\""))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("not UTF-8"))?;
        let (user, password) = text.split_once(':').ok_or_else(|| bad("no ':'"))?;
        credentials.username = Some(user.to_owned());
        credentials.password = Some(password.to_owned());
        Ok(credentials)
    }

    /// Run `docker-credential-HELPER get` with the server on stdin, as Docker does.
    fn ask_helper(
        &self,
        helper: &str,
        registry: &str,
        server: &str,
    ) -> Result<DockerCredentials, AuthError> {
        let failed = |reason: String| AuthError::Helper {
            helper: helper.to_owned(),
            registry: registry.to_owned(),
            path: self.path.clone(),
            reason,
        };
        let mut child = Command::new(format!("docker-credential-{helper}"))
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                failed(format!(
                    "cannot run it ({e}); install it or remove it from the file"
                ))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(server.as_bytes())
                .map_err(|e| failed(format!("cannot write to it ({e})")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| failed(format!("it did not finish ({e})")))?;
        if !out.status.success() {
            // Its stdout may say "credentials not found"; it never holds a secret then.
            let said = String::from_utf8_lossy(&out.stdout)
                .trim()
                .chars()
                .take(200)
                .collect::<String>();
            return Err(failed(format!("it exited with {} ({said})", out.status)));
        }
        let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
            .map_err(|_| failed("its answer is not the JSON Docker expects".to_owned()))?;
        let mut credentials = DockerCredentials {
            serveraddress: Some(server.to_owned()),
            ..Default::default()
        };
        // Docker's convention: the user "<token>" means the secret is an identity token.
        if answer.username == "<token>" {
            credentials.identitytoken = Some(answer.secret);
        } else {
            credentials.username = Some(answer.username);
            credentials.password = Some(answer.secret);
        }
        Ok(credentials)
    }
}

/// The registry of an image reference, as Docker reads it: the first path
/// component when it has a `.` or a `:` or is `localhost`, else `docker.io`.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_owned()
        }
        _ => "docker.io".to_owned(),
    }
}

/// The registry an `auths` key names: `https://index.docker.io/v1/` and the
/// like are `docker.io`; a URL's scheme and path go (`https://reg:5000/v2/` is
/// `reg:5000`).
fn registry_of_key(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    }
}

/// The default file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`
/// (`$HOME`); `None` when neither variable is set.
pub fn default_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker/config.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_named_as_docker_names_them() {
        let cases = [
            ("busybox", "docker.io"),
            ("library/busybox:1", "docker.io"),
            ("ghcr.io/org/app:2", "ghcr.io"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000"),
            ("localhost/app", "localhost"),
            ("nexus.lan:8082/team/app@sha256:00", "nexus.lan:8082"),
        ];
        for (image, want) in cases {
            assert_eq!(registry_of(image), want, "{image}");
        }
        let keys = [
            ("https://index.docker.io/v1/", "docker.io"),
            ("reg.lan:5000", "reg.lan:5000"),
            ("https://reg.lan:5000/v2/", "reg.lan:5000"),
        ];
        for (key, want) in keys {
            assert_eq!(registry_of_key(key), want, "{key}");
        }
    }

    fn auth_of(json: &str) -> RegistryAuth {
        RegistryAuth {
            path: PathBuf::from("/root/.docker/config.json"),
            file: serde_json::from_str(json).expect("json"),
        }
    }

    #[test]
    fn auths_give_basic_auth_or_a_token_for_their_registry_only() {
        let auth = auth_of(
            r#"{"auths": {"reg.lan:5000": {"auth": "dXNlcjpzM2NyZXQ="},
                          "https://index.docker.io/v1/": {"identitytoken": "tok"}}}"#,
        );
        let basic = auth.credentials("reg.lan:5000").expect("ok").expect("some");
        assert_eq!(basic.username.as_deref(), Some("user"));
        assert_eq!(basic.password.as_deref(), Some("s3cret"));
        assert_eq!(basic.serveraddress.as_deref(), Some("reg.lan:5000"));
        let hub = auth.credentials("docker.io").expect("ok").expect("some");
        assert_eq!(hub.identitytoken.as_deref(), Some("tok"));
        assert_eq!(hub.serveraddress.as_deref(), Some(DOCKER_HUB));
        assert!(auth.credentials("ghcr.io").expect("ok").is_none());
        assert!(auth.knows("reg.lan:5000") && !auth.knows("ghcr.io"));
    }

    #[test]
    fn bad_entries_and_helpers_name_the_registry_and_the_file_but_no_secret() {
        let auth = auth_of(r#"{"auths": {"reg.lan": {"auth": "!!!s3cret"}}}"#);
        let err = auth.credentials("reg.lan").expect_err("bad").to_string();
        assert!(
            err.contains("reg.lan") && err.contains("/root/.docker/config.json"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        let helper = auth_of(r#"{"credHelpers": {"reg.lan": "cronbox-test-none"}}"#);
        let err = helper
            .credentials("reg.lan")
            .expect_err("no helper")
            .to_string();
        assert!(
            err.contains("docker-credential-cronbox-test-none") && err.contains("reg.lan"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_holds_no_credentials_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = RegistryAuth::read(&dir.path().join("config.json")).expect("missing is fine");
        assert!(none.is_empty());
        let path = dir.path().join("broken.json");
        std::fs::write(&path, "{").expect("write");
        let err = RegistryAuth::read(&path).expect_err("broken").to_string();
        assert!(
            err.contains("broken.json") && err.contains("not a Docker config.json"),
            "{err}"
        );
    }
}
