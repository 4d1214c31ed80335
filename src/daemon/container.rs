//! What an attempt's container is made of: its name, labels, environment,
//! mounts and limits, from the job and the run. The environment is read here,
//! per run (`env_file` under `env`), and no value of it ever reaches a message.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::supervisor::Context;
use crate::config::{Job, MAX_ENV_FILE_SIZE, dotenv, file};
use crate::engine::{self, Capabilities, ContainerSpec, Engine, EngineError};

/// The name of the container of one attempt: unique per database, run and attempt.
pub fn container_name(database: &std::path::Path, job: &str, run_id: i64, attempt: u32) -> String {
    format!(
        "cronbox-{job}-{run_id}-{attempt}-{:08x}",
        database_tag(database)
    )
}

/// The name of the container made ready for `job`'s run at `tick`, before the
/// run has an id: `cronbox-JOB-tUNIXTIME-TAG`.
pub fn prepared_container_name(
    database: &std::path::Path,
    job: &str,
    tick: DateTime<Utc>,
) -> String {
    format!(
        "cronbox-{job}-t{}-{:08x}",
        tick.timestamp(),
        database_tag(database)
    )
}

/// The name of the container made ready for a run of `job` while its file
/// settles, before the run has an id: `cronbox-JOB-fKEY-TAG`, `KEY` telling
/// the files' containers apart (`trigger::files::PrepareFile`).
pub fn file_container_name(database: &std::path::Path, job: &str, key: u64) -> String {
    format!("cronbox-{job}-f{key:016x}-{:08x}", database_tag(database))
}

/// FNV-1a of the database's path: a stable short tag, so two daemons never share names.
fn database_tag(database: &std::path::Path) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in database.as_os_str().as_encoded_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The job's environment (`env_file` under `env`) and a check that every host
/// path it mounts exists. The error never contains a value from the files.
pub(super) fn prepare(job: &Job) -> Result<Vec<String>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(path) = &job.env_file {
        let text = file::read_to_string(path, MAX_ENV_FILE_SIZE).map_err(|e| {
            format!(
                "cannot read env_file {}: {e}; create it or fix the path",
                path.display()
            )
        })?;
        let pairs = dotenv::parse(&text).map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("{}:{}: {}", path.display(), p.line, p.message))
                .collect();
            format!("env_file is malformed: {}", lines.join("; "))
        })?;
        env.extend(pairs);
    }
    env.extend(job.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    for volume in &job.volumes {
        if !volume.host.exists() {
            return Err(format!(
                "volume host path {} does not exist; create it or fix the volume",
                volume.host.display()
            ));
        }
    }
    for (name, path) in &job.secrets {
        if !path.is_file() {
            return Err(format!(
                "secret {name}: {} is not a readable file; create it or fix the path",
                path.display()
            ));
        }
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// Which attempt a container is for, as its name and labels say.
#[derive(Debug, Clone, Copy)]
pub(super) enum Identity {
    /// This attempt of this run.
    Attempt(i64, u32),
    /// The first attempt of the run of this tick, made ready before the run exists.
    Tick(DateTime<Utc>),
    /// The first attempt of a file's run, made ready while the file settles:
    /// the key that names it.
    File(u64),
}

pub(super) fn container_spec(
    ctx: &Context,
    job: &Job,
    env: &[String],
    identity: Identity,
) -> ContainerSpec {
    let database = ctx.store.path();
    let mut labels: HashMap<String, String> = job
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.extend([
        (engine::LABEL_JOB.to_owned(), job.name.clone()),
        (engine::LABEL_DB.to_owned(), database.display().to_string()),
    ]);
    let name = match identity {
        Identity::Attempt(run_id, attempt) => {
            labels.extend([
                (engine::LABEL_RUN.to_owned(), run_id.to_string()),
                (engine::LABEL_ATTEMPT.to_owned(), attempt.to_string()),
            ]);
            container_name(database, &job.name, run_id, attempt)
        }
        Identity::Tick(tick) => {
            labels.insert(engine::LABEL_TICK.to_owned(), tick.to_rfc3339());
            prepared_container_name(database, &job.name, tick)
        }
        Identity::File(key) => {
            // The file is the job's mount at the input path (trigger::files::with_file).
            let input = std::path::Path::new(crate::store::INPUT);
            if let Some(file) = job.volumes.iter().rev().find(|v| v.container == input) {
                labels.insert(
                    engine::LABEL_FILE.to_owned(),
                    file.host.display().to_string(),
                );
            }
            file_container_name(database, &job.name, key)
        }
    };
    let mut binds: Vec<String> = job.volumes.iter().map(|v| v.to_bind()).collect();
    binds.extend(
        job.secrets
            .iter()
            .map(|(name, path)| format!("{}:/run/secrets/{name}:ro", path.display())),
    );
    ContainerSpec {
        name,
        image: job.image.clone(),
        command: job.command.clone(),
        entrypoint: job.entrypoint.clone(),
        env: env.to_vec(),
        binds,
        labels,
        user: job.user.clone(),
        workdir: job.workdir.clone(),
        hostname: job.hostname.clone(),
        stop_signal: job.stop_signal.clone(),
        stop_grace: job.stop_grace,
        memory: job.memory,
        cpus: job.cpus,
        pids_limit: job.pids_limit,
        read_only: job.read_only,
        tmpfs: job.tmpfs.clone(),
        network: job.network.clone(),
        cap_add: job.cap_add.clone(),
        cap_drop: job.cap_drop.clone(),
        privileged: job.privileged,
        swap_accounted: true,
    }
}

/// Of the jobs of `config` that ask for resource limits, each with the limits
/// the engine's host cannot enforce (`memory`, `cpus`, `pids_limit`). The engine
/// is asked once (`/info`), however many jobs there are; none is asked when no
/// job sets a limit.
pub async fn unenforceable_limits<'a>(
    engine: &Engine,
    jobs: impl IntoIterator<Item = &'a Job>,
) -> Result<Vec<(&'a Job, Vec<&'static str>)>, EngineError> {
    let limited: Vec<(&Job, Vec<&'static str>)> = jobs
        .into_iter()
        .map(|job| (job, job.limits_requested()))
        .filter(|(_, requested)| !requested.is_empty())
        .collect();
    if limited.is_empty() {
        return Ok(Vec::new());
    }
    let capabilities: Capabilities = engine.capabilities().await?;
    Ok(limited
        .into_iter()
        .map(|(job, requested)| (job, capabilities.unenforceable(&requested)))
        .filter(|(_, missing)| !missing.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_differ_per_database_run_and_attempt() {
        let a = container_name(
            std::path::Path::new("/var/lib/cronbox/cronbox.db"),
            "backup",
            7,
            1,
        );
        assert!(a.starts_with("cronbox-backup-7-1-"), "{a}");
        assert_ne!(
            a,
            container_name(std::path::Path::new("/tmp/other.db"), "backup", 7, 1)
        );
        assert_ne!(
            a,
            container_name(
                std::path::Path::new("/var/lib/cronbox/cronbox.db"),
                "backup",
                7,
                2
            )
        );
        assert_eq!(
            a,
            container_name(
                std::path::Path::new("/var/lib/cronbox/cronbox.db"),
                "backup",
                7,
                1
            )
        );
    }
}
