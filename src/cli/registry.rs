//! The engine as the commands that pull use it: with the credentials of
//! `[daemon] registry_auth` (issue 14), and `check`'s warning about a job whose
//! private registry the file has no credentials for.

use std::sync::Arc;

use crate::config::Config;
use crate::engine::Engine;
use crate::engine::registry_auth::{self, AuthError, RegistryAuth};

/// The credentials file `config` names, else the default one; `None` when
/// there is no default (neither `$DOCKER_CONFIG` nor `$HOME`).
pub fn read_auth(config: &Config) -> Result<Option<RegistryAuth>, AuthError> {
    let path = config
        .daemon
        .registry_auth
        .clone()
        .or_else(registry_auth::default_path);
    path.map(|path| RegistryAuth::read(&path)).transpose()
}

/// The engine `[daemon] engine` names (else `$DOCKER_HOST`, else the local
/// socket), with no credentials.
pub fn bare_engine(config: &Config) -> Engine {
    match &config.daemon.engine {
        Some(host) => Engine::connect_to(host),
        None => Engine::connect(),
    }
}

/// [`bare_engine`], pulling with the credentials of [`read_auth`]. An
/// unreadable or broken file is an error naming it.
pub fn engine(config: &Config) -> Result<Engine, AuthError> {
    let engine = bare_engine(config);
    Ok(match read_auth(config)? {
        Some(auth) => {
            tracing::debug!(file = %auth.path().display(), "registry credentials read");
            engine.with_registry_auth(Arc::new(auth))
        }
        None => engine,
    })
}

/// For `check`: each job pulling from a registry other than Docker Hub that
/// the file has no credentials for, when it has some for other registries (a
/// file with none is a box that needs none).
pub fn warnings(config: &Config, auth: &RegistryAuth) -> Vec<String> {
    if auth.is_empty() {
        return Vec::new();
    }
    config
        .jobs
        .iter()
        .filter_map(|job| {
            let registry = registry_auth::registry_of(&job.image);
            (registry != "docker.io" && !auth.knows(&registry)).then(|| {
                format!(
                    "warning: job \"{}\": {} has no credentials for registry {registry} (image {}); a private registry will refuse the pull. Run `docker login {registry}` as the user cronbox runs as, or set [daemon] registry_auth",
                    job.name,
                    auth.path().display(),
                    job.image
                )
            })
        })
        .collect()
}
