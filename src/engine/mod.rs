//! The Docker engine: the only module that imports bollard.
//!
//! It ensures images per the pull policy (reading the pull's JSON stream for the
//! errors the engine reports there with HTTP 200), creates containers with
//! cronbox's labels, `Init=true` and no AutoRemove, attaches before the start and
//! waits after it, streams stdout and stderr apart to the caller while the container runs,
//! inspects the exit code and `OOMKilled`, and removes the container itself. It
//! knows nothing of the database: output and progress go out as [`Event`]s.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::PullPolicy;
use crate::store::Stream;

pub mod registry_auth;
mod supervise;
pub use supervise::{Presence, Watch};

/// Label naming the job a container belongs to.
pub const LABEL_JOB: &str = "cronbox.job";
/// Label naming the run id (in the daemon's database).
pub const LABEL_RUN: &str = "cronbox.run";
/// Label naming the attempt number within the run.
pub const LABEL_ATTEMPT: &str = "cronbox.attempt";
/// Label naming the database of the daemon that started the container.
pub const LABEL_DB: &str = "cronbox.db";
/// Label on a container made ready before its tick: the tick (RFC 3339). It has
/// no run or attempt label yet; the attempt that starts it records its id.
pub const LABEL_TICK: &str = "cronbox.tick";
/// Label on a container made ready for a file's run while the file settles:
/// the file's host path. Like [`LABEL_TICK`]'s, it has no run or attempt label
/// yet; the attempt that starts it records its id.
pub const LABEL_FILE: &str = "cronbox.file";

/// What went wrong talking to the engine. Every message names the image or
/// container concerned and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine does not answer at all.
    #[error(
        "cannot reach the Docker engine ({reason}); is dockerd running? Start it (systemctl start docker) and check that this user may use its socket (group docker); for Podman, start its socket (systemctl start podman.socket) and set [daemon] engine to it"
    )]
    Unreachable { reason: String },
    /// The image is not present and the pull policy forbids pulling it.
    #[error(
        "image {image} is not present and the job's pull policy is \"never\"; load it first (docker pull / docker load) or set pull = \"missing\""
    )]
    ImageMissing { image: String },
    /// Pulling the image failed.
    #[error(
        "pulling image {image} failed: {message}; check the image name and tag, the registry's reachability and credentials"
    )]
    Pull { image: String, message: String },
    /// Any other engine operation failed.
    #[error("Docker engine: {action} failed: {message}")]
    Operation { action: String, message: String },
    /// The engine answers but no longer knows a container cronbox supervises.
    #[error(
        "the Docker engine no longer knows container {container}: it was removed outside cronbox (docker rm), or the engine lost its state (dockerd killed and its data reset); its exit code is unknown"
    )]
    Lost { container: String },
    /// The engine did not answer, and cronbox stopped asking because it shuts down.
    #[error(
        "gave up asking the Docker engine how container {container} ended because cronbox is shutting down; the next start asks again"
    )]
    Abandoned { container: String },
}

impl EngineError {
    /// Whether the engine could not be reached (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, EngineError::Unreachable { .. })
    }

    fn from_bollard(action: impl Into<String>, error: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as E;
        match error {
            E::HyperLegacyError { .. } | E::IOError { .. } | E::SocketNotFoundError(_) => {
                EngineError::Unreachable {
                    reason: error.to_string(),
                }
            }
            E::RequestTimeoutError => EngineError::Operation {
                action: action.into(),
                message: "the engine did not answer within its timeout".into(),
            },
            E::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Operation {
                action: action.into(),
                message: format!("{message} (HTTP {status_code})"),
            },
            other => EngineError::Operation {
                action: action.into(),
                message: other.to_string(),
            },
        }
    }
}

/// Something that happened while a container ran ([`Engine::run_created`],
/// [`Engine::adopt`]), sent to the caller as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The container wrote this chunk to a stream.
    Output(Stream, Bytes),
    /// The output is sent again from the start (the live stream broke): forget
    /// what was received so far.
    Restart,
}

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code from the engine's inspect (`State.ExitCode`).
    pub exit_code: i64,
    /// `State.OOMKilled`.
    pub oom_killed: bool,
    /// Whether cronbox stopped it (the `stop` token) while it was still running;
    /// `false` when it had ended by itself first.
    pub stopped: bool,
    /// Whether cronbox stopped it, still running, because it ran past its timeout.
    pub timed_out: bool,
    /// When it ended, by the engine's clock (`State.FinishedAt`), if it says.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What to run: one container for one attempt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerSpec {
    /// Container name; derived from the run and attempt so it is unique per database.
    pub name: String,
    pub image: String,
    /// `None` runs the image's default command.
    pub command: Option<Vec<String>>,
    /// `None` keeps the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` pairs. Never logged: they may hold secrets.
    pub env: Vec<String>,
    /// Docker bind strings `host:container[:ro]`.
    pub binds: Vec<String>,
    pub labels: HashMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    /// Sent first when the container is stopped, e.g. `SIGTERM`.
    pub stop_signal: String,
    /// Between the stop signal and SIGKILL.
    pub stop_grace: Duration,
    /// Memory limit in bytes (RAM and swap together).
    pub memory: Option<u64>,
    /// CPU limit in CPUs (0.5 = half of one).
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    /// Read-only root filesystem, with a writable tmpfs at /tmp.
    pub read_only: bool,
    /// tmpfs mounts: `/path` or `/path:options`.
    pub tmpfs: Vec<String>,
    /// `none`, `bridge`, `host` or a named network; `None`: the engine's default.
    pub network: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// Whether the host's kernel accounts swap (`/info` SwapLimit). When it does
    /// not, the engine ignores `memory_swap`, and a memory-limited container is
    /// kept out of swap with swappiness 0 instead.
    pub swap_accounted: bool,
}

impl ContainerSpec {
    fn host_config(&self) -> HostConfig {
        let mut tmpfs: HashMap<String, String> = self
            .tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((path, options)) => (path.to_owned(), options.to_owned()),
                None => (t.clone(), String::new()),
            })
            .collect();
        if self.read_only {
            tmpfs
                .entry("/tmp".to_owned())
                .or_insert_with(|| "rw,nosuid,nodev".to_owned());
        }
        let memory = self.memory.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
        HostConfig {
            init: Some(true),
            auto_remove: Some(false),
            binds: Some(self.binds.clone()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            memory,
            // Equal to memory: no swap on top, so the limit is the limit.
            memory_swap: memory,
            // Where the kernel does not account swap (cgroup v1 without
            // swapaccount=1, e.g. a Raspberry Pi with its swap file) the engine
            // drops memory_swap; swappiness 0 still keeps the container out of
            // swap, so going over the limit ends in the OOM killer as asked.
            memory_swappiness: memory.filter(|_| !self.swap_accounted).map(|_| 0),
            nano_cpus: self.cpus.map(|c| (c * 1e9).round() as i64),
            pids_limit: self.pids_limit,
            readonly_rootfs: Some(self.read_only),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            network_mode: self.network.clone(),
            cap_add: (!self.cap_add.is_empty()).then(|| self.cap_add.clone()),
            cap_drop: (!self.cap_drop.is_empty()).then(|| self.cap_drop.clone()),
            privileged: Some(self.privileged),
            ..Default::default()
        }
    }
}

/// Which resource limits the engine's host can enforce (from `/info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub memory: bool,
    /// The kernel accounts swap, so a memory limit can cover RAM and swap together.
    pub swap: bool,
    pub cpus: bool,
    pub pids_limit: bool,
}

impl Capabilities {
    /// Of the limits named (`memory`, `cpus`, `pids_limit`), those this host cannot enforce.
    pub fn unenforceable<'a>(&self, requested: &[&'a str]) -> Vec<&'a str> {
        requested
            .iter()
            .copied()
            .filter(|limit| match *limit {
                "memory" => !self.memory,
                "cpus" => !self.cpus,
                "pids_limit" => !self.pids_limit,
                _ => false,
            })
            .collect()
    }
}

/// A container's live output, as the engine streams it.
type Output = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
>;

/// A container created and attached to, not started yet: what the daemon makes
/// ready a little before a tick, so that at the tick only the start is left.
/// Dropping it closes the attach; the container stays until removed.
pub struct Attached {
    /// The container's id.
    pub id: String,
    output: Output,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached").field("id", &self.id).finish()
    }
}

/// A container of cronbox's found on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
}

/// A client and whether its API version was negotiated yet.
#[derive(Debug)]
struct Client {
    docker: Docker,
    negotiated: bool,
}

/// A connection to the Docker engine. Cheap to clone. The client is made on first
/// use and remade after a failure to create it (a socket that is not there yet),
/// so an engine that starts after the daemon is picked up.
#[derive(Debug, Clone)]
pub struct Engine {
    /// `None`: `$DOCKER_HOST` or the local socket.
    host: Option<String>,
    client: Arc<Mutex<Option<Client>>>,
    /// Where pulls find the credentials of private registries.
    registry_auth: Option<Arc<registry_auth::RegistryAuth>>,
    /// Set once the engine refused `Init` for want of an init binary (Podman
    /// without catatonit): containers are then created without it.
    no_init: Arc<AtomicBool>,
}

impl Engine {
    /// The engine at `$DOCKER_HOST`, or the local socket. Does no IO.
    pub fn connect() -> Engine {
        Engine {
            host: None,
            client: Arc::new(Mutex::new(None)),
            registry_auth: None,
            no_init: Arc::default(),
        }
    }

    /// The engine at `host` (`unix:///path/to/docker.sock`, `tcp://...`). Does no IO.
    pub fn connect_to(host: &str) -> Engine {
        Engine {
            host: Some(host.to_owned()),
            client: Arc::new(Mutex::new(None)),
            registry_auth: None,
            no_init: Arc::default(),
        }
    }

    /// This engine, pulling with the credentials `auth` holds for each image's
    /// registry (that registry's only).
    pub fn with_registry_auth(mut self, auth: Arc<registry_auth::RegistryAuth>) -> Engine {
        self.registry_auth = Some(auth);
        self
    }

    /// The credentials for `image`'s registry, and a note for a refused pull
    /// naming the registry and the file consulted (never a secret).
    async fn pull_credentials(
        &self,
        image: &str,
    ) -> Result<(Option<bollard::auth::DockerCredentials>, String), EngineError> {
        let registry = registry_auth::registry_of(image);
        let Some(auth) = self.registry_auth.clone() else {
            return Ok((None, format!("registry {registry}: no credentials file")));
        };
        let file = auth.path().display().to_string();
        let lookup = {
            let registry = registry.clone();
            tokio::task::spawn_blocking(move || auth.credentials(&registry)).await
        };
        let found = match lookup {
            Ok(found) => found.map_err(|e| EngineError::Pull {
                image: image.to_owned(),
                message: e.to_string(),
            })?,
            Err(e) => {
                return Err(EngineError::Pull {
                    image: image.to_owned(),
                    message: format!(
                        "looking up the credentials of registry {registry} failed ({e})"
                    ),
                });
            }
        };
        let note = match &found {
            Some(_) => format!("registry {registry} refused the credentials for it in {file}"),
            None => format!("{file} has no credentials for registry {registry}"),
        };
        Ok((found, note))
    }

    /// The address this engine is reached at: the host it was made with, else
    /// `$DOCKER_HOST`, else `unix:///var/run/docker.sock` (for messages).
    pub fn address(&self) -> String {
        self.where_()
    }

    fn where_(&self) -> String {
        match &self.host {
            Some(host) => host.clone(),
            None => std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned()),
        }
    }

    /// A client whose API version is negotiated with the engine.
    async fn docker(&self) -> Result<Docker, EngineError> {
        let (docker, negotiated) = {
            let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
            if client.is_none() {
                let docker = match &self.host {
                    Some(host) => Docker::connect_with_host(host),
                    None => Docker::connect_with_defaults(),
                }
                .map_err(|e| EngineError::Unreachable {
                    reason: format!("{}: {e}", self.where_()),
                })?;
                *client = Some(Client {
                    docker,
                    negotiated: false,
                });
            }
            let client = client.as_ref().ok_or_else(|| EngineError::Unreachable {
                reason: self.where_(),
            })?;
            (client.docker.clone(), client.negotiated)
        };
        if negotiated {
            return Ok(docker);
        }
        let where_ = self.where_();
        let docker = match where_.strip_prefix("unix://") {
            // As the docker CLI does: the version from `/_ping`'s API-Version
            // header, one cheap request. bollard's negotiation asks `/version`,
            // which dockerd 20.10 answers by asking containerd and running runc
            // and docker-init: 5 ms of every `cronbox run`.
            Some(socket) => {
                let server =
                    ping_api_version(socket)
                        .await
                        .map_err(|e| EngineError::Unreachable {
                            reason: format!("{where_}: {e}"),
                        })?;
                let default = bollard::API_DEFAULT_VERSION;
                let version = match server {
                    Some(server)
                        if (server.major_version, server.minor_version)
                            < (default.major_version, default.minor_version) =>
                    {
                        server
                    }
                    _ => *default,
                };
                Docker::connect_with_unix(&where_, 120, &version).map_err(|e| {
                    EngineError::Unreachable {
                        reason: format!("{where_}: {e}"),
                    }
                })?
            }
            // Negotiation stores the version in state shared by every clone of the client.
            None => docker.negotiate_version().await.map_err(|e| {
                EngineError::from_bollard(format!("reading the engine's version at {where_}"), e)
            })?,
        };
        if let Some(client) = self
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            client.docker = docker.clone();
            client.negotiated = true;
        }
        Ok(docker)
    }

    /// Check that the engine answers.
    pub async fn check(&self) -> Result<(), EngineError> {
        let docker = self.docker().await?;
        docker
            .ping()
            .await
            .map_err(|e| EngineError::from_bollard("ping", e))?;
        Ok(())
    }

    /// The resource limits the host can enforce, from the engine's `/info`.
    pub async fn capabilities(&self) -> Result<Capabilities, EngineError> {
        let docker = self.docker().await?;
        let info = docker
            .info()
            .await
            .map_err(|e| EngineError::from_bollard("reading the engine's /info", e))?;
        Ok(Capabilities {
            memory: info.memory_limit.unwrap_or(false),
            swap: info.swap_limit.unwrap_or(false),
            cpus: info.cpu_cfs_quota.unwrap_or(false),
            pids_limit: info.pids_limit.unwrap_or(false),
        })
    }

    /// Make sure `image` is present according to `policy`.
    pub async fn ensure_image(&self, image: &str, policy: PullPolicy) -> Result<(), EngineError> {
        // No separate ping: an engine that is away fails the inspect below, as unreachable.
        let present = match policy {
            PullPolicy::Always => false,
            PullPolicy::Missing | PullPolicy::Never => self.image_present(image).await?,
        };
        if present {
            return Ok(());
        }
        if policy == PullPolicy::Never {
            return Err(EngineError::ImageMissing {
                image: image.to_owned(),
            });
        }
        self.pull(image).await
    }

    async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        let docker = self.docker().await?;
        match docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(EngineError::from_bollard(
                format!("inspecting image {image}"),
                e,
            )),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), EngineError> {
        let docker = self.docker().await?;
        let (name, tag) = split_reference(image);
        let mut options = CreateImageOptionsBuilder::default().from_image(name);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        let (credentials, note) = self.pull_credentials(image).await?;
        let with_note = |message: String| {
            if refused(&message) {
                format!("{message} ({note})")
            } else {
                message
            }
        };
        let mut stream = docker.create_image(Some(options.build()), None, credentials);
        tracing::info!(image, "pulling image");
        while let Some(item) = stream.next().await {
            match item {
                Ok(_) => {}
                // The engine reports pull failures inside a 200 response's JSON stream.
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(EngineError::Pull {
                        image: image.to_owned(),
                        message: with_note(error),
                    });
                }
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(EngineError::Pull {
                        image: image.to_owned(),
                        message: with_note(message),
                    });
                }
                Err(e) => {
                    return Err(EngineError::from_bollard(
                        format!("pulling image {image}"),
                        e,
                    ));
                }
            }
        }
        if self.image_present(image).await? {
            Ok(())
        } else {
            Err(EngineError::Pull {
                image: image.to_owned(),
                message: "the engine reported no error but the image is not present afterwards"
                    .into(),
            })
        }
    }

    /// Import a root filesystem tarball as image `repo:tag` (what `docker import` does).
    /// Used to build images offline.
    pub async fn import_rootfs(
        &self,
        repo: &str,
        tag: &str,
        tarball: Vec<u8>,
    ) -> Result<(), EngineError> {
        let docker = self.docker().await?;
        // The tag inside `repo`, as the docker CLI sends it: Podman ignores the
        // `tag` parameter of an import (and would name the image `repo:latest`).
        let reference = format!("{repo}:{tag}");
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(&reference)
            .build();
        let body = bollard::body_full(Bytes::from(tarball));
        let mut stream = docker.create_image(Some(options), Some(body), None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| {
                EngineError::from_bollard(format!("importing image {repo}:{tag}"), e)
            })?;
        }
        Ok(())
    }

    /// Create the container for `spec`. `Ok(None)`: its image is not present.
    /// Callers create first and inspect or pull only then, which spares every run
    /// an image inspect.
    pub async fn create(&self, spec: &ContainerSpec) -> Result<Option<String>, EngineError> {
        let docker = self.docker().await?;
        let with_init = !self.no_init.load(Ordering::Relaxed);
        match self.create_with(&docker, spec, with_init).await {
            Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                if with_init && init_missing(&message) =>
            {
                self.no_init.store(true, Ordering::Relaxed);
                tracing::warn!(
                    "the engine has no init binary for Init=true ({message}); creating containers without it, so a job's own process is PID 1 and must handle its stop signal (else it is killed after stop_grace) and reap its children. Install catatonit (apt install catatonit) and restart cronbox"
                );
                self.create_answer(spec, self.create_with(&docker, spec, false).await)
            }
            answer => self.create_answer(spec, answer),
        }
    }

    /// Ask the engine to create the container for `spec`, `Init` on or off.
    async fn create_with(
        &self,
        docker: &Docker,
        spec: &ContainerSpec,
        init: bool,
    ) -> Result<bollard::models::ContainerCreateResponse, bollard::errors::Error> {
        let mut host_config = spec.host_config();
        host_config.init = Some(init);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.command.clone(),
            entrypoint: spec.entrypoint.clone(),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            user: spec.user.clone(),
            working_dir: spec.workdir.clone(),
            hostname: spec.hostname.clone(),
            stop_signal: Some(spec.stop_signal.clone()),
            stop_timeout: Some(i64::try_from(spec.stop_grace.as_secs()).unwrap_or(i64::MAX)),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            open_stdin: Some(false),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        docker.create_container(Some(options), body).await
    }

    /// The id of the container the engine created, `None` when the image is
    /// missing, or the error naming the container and image.
    fn create_answer(
        &self,
        spec: &ContainerSpec,
        answer: Result<bollard::models::ContainerCreateResponse, bollard::errors::Error>,
    ) -> Result<Option<String>, EngineError> {
        let created = match answer {
            Ok(created) => created,
            // A 404 also answers a network that does not exist: only the
            // image's says "no such image" (Docker: "No such image", Podman:
            // "no such image").
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.to_ascii_lowercase().contains("no such image") => return Ok(None),
            Err(e) => {
                return Err(EngineError::from_bollard(
                    format!("creating container {} from image {}", spec.name, spec.image),
                    e,
                ));
            }
        };
        for warning in created.warnings.iter().filter(|w| !w.is_empty()) {
            // E.g. "Your kernel does not support swap limit capabilities ...".
            tracing::warn!(container = %spec.name, "the Docker engine warned when creating the container: {warning}");
        }
        Ok(Some(created.id))
    }

    /// Attach to the output of the container `id` (named `name`), created and not
    /// started yet, so that none of it is missed once it starts.
    pub async fn attach(&self, id: &str, name: &str) -> Result<Attached, EngineError> {
        let docker = self.docker().await?;
        let options = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            // Not logs: the container has not started, so there are none yet,
            // and the engine replays them only after answering the attach. A
            // line printed right after the start could then come both from the
            // replay and from the stream, and be stored twice.
            .logs(false)
            .build();
        let output = docker
            .attach_container(id, Some(options))
            .await
            .map_err(|e| EngineError::from_bollard(format!("attaching to container {name}"), e))?
            .output;
        Ok(Attached {
            id: id.to_owned(),
            output,
        })
    }

    /// Remove a container, forcing it if it still runs. A container already gone is fine.
    pub async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let docker = self.docker().await?;
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(id, Some(options)).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::from_bollard(
                format!("removing container {id}"),
                e,
            )),
        }
    }

    /// Every container (running or not) carrying label `key=value`.
    pub async fn containers_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<Found>, EngineError> {
        let docker = self.docker().await?;
        let filters = HashMap::from([("label".to_owned(), vec![format!("{key}={value}")])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| EngineError::from_bollard("listing containers", e))?;
        Ok(list
            .into_iter()
            .map(|c| Found {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default(),
                running: matches!(
                    c.state,
                    Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
                ),
                labels: c.labels.unwrap_or_default(),
            })
            .collect())
    }
}

/// The API version the engine at the Unix socket `path` speaks, from the
/// `API-Version` header of its `GET /_ping` answer; `None` when it sends none.
async fn ping_api_version(path: &str) -> std::io::Result<Option<bollard::ClientVersion>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut socket = tokio::net::UnixStream::connect(path).await?;
        // HTTP/1.0: the engine closes the connection after its answer.
        socket
            .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        socket.take(64 * 1024).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the engine did not answer /_ping within 30 s",
            )
        })??;
    Ok(api_version_header(&answer))
}

/// The `API-Version` header of an HTTP answer, e.g. `1.41`.
fn api_version_header(answer: &[u8]) -> Option<bollard::ClientVersion> {
    let text = String::from_utf8_lossy(answer);
    let head = text.split("\r\n\r\n").next()?;
    let value = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("api-version")
            .then(|| value.trim().to_owned())
    })?;
    let (major, minor) = value.split_once('.')?;
    Some(bollard::ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// Split an image reference into the name and tag to pull. Without a tag or digest
/// the tag is `latest` (never every tag); with a digest the reference is passed whole.
pub fn split_reference(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (&image[..at], Some(&image[at + 1..]))
        }
        None => (image, Some("latest")),
    }
}

/// Whether an engine's create error says it has no init binary for `Init=true`
/// (Podman without catatonit: "container-init binary not found on the host").
fn init_missing(message: &str) -> bool {
    message.contains("container-init binary not found")
}

/// Whether an engine's pull error says the registry refused for lack of
/// (good) credentials, in the words Docker's engine uses.
fn refused(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "denied",
    ]
    .iter()
    .any(|word| message.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_the_host_cannot_enforce() {
        let pi = Capabilities {
            memory: false,
            swap: false,
            cpus: true,
            pids_limit: true,
        };
        let full = Capabilities {
            memory: true,
            swap: true,
            cpus: true,
            pids_limit: true,
        };
        let none = Capabilities {
            memory: false,
            swap: false,
            cpus: false,
            pids_limit: false,
        };
        let cases: [(Capabilities, &[&str], &[&str]); 5] = [
            (pi, &["memory", "cpus"], &["memory"]),
            (pi, &["cpus", "pids_limit"], &[]),
            (full, &["memory", "cpus", "pids_limit"], &[]),
            (
                none,
                &["memory", "cpus", "pids_limit"],
                &["memory", "cpus", "pids_limit"],
            ),
            (none, &[], &[]),
        ];
        for (capabilities, requested, want) in cases {
            assert_eq!(
                capabilities.unenforceable(requested),
                want,
                "{capabilities:?} {requested:?}"
            );
        }
    }

    #[test]
    fn a_memory_limit_leaves_no_room_for_swap() {
        // (memory, swap accounted) → (Memory, MemorySwap, MemorySwappiness)
        let cases = [
            (None, true, (None, None, None)),
            (None, false, (None, None, None)),
            (
                Some(256 << 20),
                true,
                (Some(256 << 20), Some(256 << 20), None),
            ),
            (
                Some(256 << 20),
                false,
                (Some(256 << 20), Some(256 << 20), Some(0)),
            ),
        ];
        for (memory, swap_accounted, want) in cases {
            let spec = ContainerSpec {
                memory,
                swap_accounted,
                ..Default::default()
            };
            let host = spec.host_config();
            assert_eq!(
                (host.memory, host.memory_swap, host.memory_swappiness),
                want,
                "memory {memory:?}, swap accounted {swap_accounted}"
            );
        }
    }

    #[test]
    fn the_api_version_is_read_from_the_ping_answer() {
        type Case<'a> = (&'a [u8], Option<(usize, usize)>);
        let cases: [Case; 5] = [
            (
                b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n\r\nOK",
                Some((1, 41)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nAPI-VERSION:1.53\r\n\r\nOK",
                Some((1, 53)),
            ),
            (b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nOK", None),
            (b"HTTP/1.0 200 OK\r\nApi-Version: new\r\n\r\n", None),
            // Only headers count, not the body.
            (b"HTTP/1.0 200 OK\r\n\r\nApi-Version: 1.41", None),
        ];
        for (answer, want) in cases {
            assert_eq!(
                api_version_header(answer).map(|v| (v.major_version, v.minor_version)),
                want,
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn only_podman_without_an_init_binary_makes_containers_without_init() {
        let cases = [
            (
                "container create: container-init binary not found on the host: stat /usr/libexec/podman/catatonit: no such file or directory",
                true,
            ),
            (
                "no such image: docker.io/team/app:1: image not known",
                false,
            ),
            (
                "Conflict. The container name \"/x\" is already in use",
                false,
            ),
            ("", false),
        ];
        for (message, want) in cases {
            assert_eq!(init_missing(message), want, "{message}");
        }
    }

    #[test]
    fn references_split_into_name_and_tag() {
        let cases = [
            ("busybox", ("busybox", Some("latest"))),
            ("busybox:1.36", ("busybox", Some("1.36"))),
            ("postgres:16-alpine", ("postgres", Some("16-alpine"))),
            (
                "registry.local:5000/team/app",
                ("registry.local:5000/team/app", Some("latest")),
            ),
            (
                "registry.local:5000/team/app:v2",
                ("registry.local:5000/team/app", Some("v2")),
            ),
            ("alpine@sha256:abcd", ("alpine@sha256:abcd", None)),
        ];
        for (input, want) in cases {
            assert_eq!(split_reference(input), want, "{input}");
        }
    }
}
