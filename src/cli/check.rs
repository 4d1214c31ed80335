//! `cronbox check`: validate the schedule file and show each job's next fire
//! time. Beyond the file itself it looks at what a run would need: every host
//! path a job mounts or reads (volumes, env_file, secrets) must exist, env_files
//! must parse, `[daemon.http] token_file` must hold a token, and the Docker host
//! must be able to enforce the limits jobs ask for (an error with `[daemon]
//! require_limits = true`, else a warning). It lists the jobs paused in the
//! database, if there is one.

use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

use super::ConfigArg;
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Job, MAX_ENV_FILE_SIZE, Problem, dotenv, file};
use crate::config::{DaemonConfig, ZoneSource};
use crate::daemon::supervisor;
use crate::schedule;

/// How long `check` waits for the engine before it skips the limits check.
const ENGINE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The problem that `job` asks for the limits `missing` (keys such as "memory", in
/// the order of [`Job::limits_requested`]), which the host cannot enforce: placed at
/// the first of those keys in the file (in `[defaults]` when inherited).
fn limit_problem(job: &Job, missing: &[&str], message: String) -> Problem {
    Problem {
        location: missing
            .iter()
            .find_map(|key| job.locations.get(key))
            .or(job.locations.job()),
        job: Some(job.name.clone()),
        message,
        snippet: None,
    }
}

pub async fn execute(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let path = config.path.display().to_string();
    let mut problems = Vec::new();
    for host in config.host_paths() {
        // A path set in [defaults] belongs to no single job.
        let job = (!host.from_defaults).then_some(host.job.as_str());
        let what = match host.key {
            "env_file" => "env_file",
            "secrets" => "secret file",
            _ => "volume host path",
        };
        if !host.path.exists() {
            problems.push(Problem::at(
                host.location,
                job,
                format!(
                    "{what} {} does not exist; create it or fix the path",
                    host.path.display()
                ),
            ));
            continue;
        }
        if host.key == "env_file" {
            match file::read_to_string(&host.path, MAX_ENV_FILE_SIZE) {
                Ok(text) => {
                    if let Err(bad) = dotenv::parse(&text) {
                        for p in bad {
                            problems.push(Problem::at(
                                host.location,
                                job,
                                format!(
                                    "env_file {} line {}: {}",
                                    host.path.display(),
                                    p.line,
                                    p.message
                                ),
                            ));
                        }
                    }
                }
                Err(e) => problems.push(Problem::at(
                    host.location,
                    job,
                    format!("cannot read env_file {}: {e}", host.path.display()),
                )),
            }
        }
    }
    if let Some(path) = &config.daemon.http.token_file
        && let Err(e) = crate::http::token::Token::read(path)
    {
        problems.push(Problem {
            location: config.daemon.http.token_file_at,
            job: None,
            message: e.to_string(),
            snippet: None,
        });
    }
    // A channel's url_file must hold a URL, its password_file a password (never shown).
    for channel in &config.channels {
        if let Some(crate::config::UrlSource::File(_)) = channel.url
            && let Err(e) = crate::notify::http::channel_url(channel)
        {
            problems.push(Problem::at(channel.at, None, e.to_string()));
        }
        if let Some(email) = &channel.email
            && let Err(e) = crate::notify::mail::login(channel, email)
        {
            problems.push(Problem::at(channel.at, None, e.to_string()));
        }
    }
    for job in config.jobs.iter().filter(|j| j.privileged) {
        super::note(&format!(
            "{path}: warning: job \"{}\" runs privileged: its container has every capability and all host devices; drop privileged unless it is truly needed",
            job.name
        ));
    }
    match super::registry::read_auth(&config) {
        Ok(Some(auth)) => {
            for warning in super::registry::warnings(&config, &auth) {
                super::note(&format!("{path}: {warning}"));
            }
        }
        Ok(None) => {}
        Err(e) => super::note(&format!("{path}: warning: {e}")),
    }
    let engine = super::registry::bare_engine(&config);
    match tokio::time::timeout(ENGINE_WAIT, engine.check()).await {
        Ok(Ok(())) => {
            // One /info request for every job.
            let unenforceable = match supervisor::unenforceable_limits(
                &engine,
                config.jobs.iter().map(|j| &**j),
            )
            .await
            {
                Ok(unenforceable) => unenforceable,
                Err(e) => {
                    super::note(&format!(
                        "{path}: warning: cannot read the Docker host's capabilities ({e}); limits not checked"
                    ));
                    Vec::new()
                }
            };
            for (job, missing) in unenforceable {
                let message = format!(
                    "the Docker host cannot enforce {} (on Raspberry Pi OS the memory cgroup is off by default: add cgroup_enable=memory to the kernel command line)",
                    missing.join(", ")
                );
                if config.daemon.require_limits {
                    let message =
                        format!("{message}; [daemon] require_limits = true refuses such a job");
                    problems.push(limit_problem(job, &missing, message));
                } else {
                    super::note(&format!(
                        "{path}: warning: job \"{}\": {message}; Docker would ignore them",
                        job.name
                    ));
                }
            }
        }
        Ok(Err(e)) => super::note(&format!(
            "{path}: warning: {e}; resource limits not checked against the host"
        )),
        Err(_) => super::note(&format!(
            "{path}: warning: the Docker engine did not answer within {}s; resource limits not checked",
            ENGINE_WAIT.as_secs()
        )),
    }
    // A path inherited from [defaults] is reported once, at its place in [defaults]
    // (without a job); a limit inherited from there once for each job.
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert((p.location, p.job.clone(), p.message.clone())));
    if !problems.is_empty() {
        return Err(ConfigError::new(config.path.clone(), problems).into());
    }

    let mut config = config;
    if let Some(note) = super::spread::spread_from_database(&mut config).await {
        super::note(&format!("{path}: {note}"));
    }
    let now = SystemClock.now();
    let rows: Vec<Vec<String>> = config
        .jobs
        .iter()
        .map(|job| {
            // Started by another trigger: what starts it, instead of a time.
            if let Some(started_by) = job.started_by() {
                return vec![
                    job.name.clone(),
                    "-".to_owned(),
                    job.timezone.to_string(),
                    job.image.clone(),
                    started_by,
                ];
            }
            // With random_delay, the instant the next tick fires.
            let next = job
                .next_fire(now)
                .and_then(|t| schedule::local_time(job.timezone, t))
                .map_or_else(
                    |end| {
                        super::note(&format!(
                            "{path}: warning: job \"{}\" has no fire time after now and will not run: {end}",
                            job.name
                        ));
                        "none".to_owned()
                    },
                    |t| t.to_rfc3339(),
                );
            vec![
                job.name.clone(),
                job.schedule.expression().to_owned(),
                job.timezone.to_string(),
                job.image.clone(),
                next,
            ]
        })
        .collect();
    let mut out = format!(
        "{path}: OK, {} job(s), database {}\n{}\n",
        config.jobs.len(),
        config.daemon.database.display(),
        default_zone(&config.daemon)
    );
    if !rows.is_empty() {
        out.push_str(&super::table(
            &["JOB", "SCHEDULE", "ZONE", "IMAGE", "NEXT"],
            &rows,
            // On a narrow terminal: ZONE, then IMAGE go first.
            &[2, 3],
        ));
    }
    let paused = paused_jobs(&config).await;
    if !paused.is_empty() {
        out.push_str(&format!(
            "paused: {} (their ticks do not run; cronbox resume JOB)\n",
            paused.join(", ")
        ));
    }
    super::print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The jobs of `config` paused in its database, sorted (none when there is no
/// database yet; a database that cannot be read is a warning on stderr). Read
/// only: nothing is written or created. `cronbox export` uses it too.
pub(super) async fn paused_jobs(config: &crate::config::Config) -> Vec<String> {
    let path = &config.daemon.database;
    if !path.exists() {
        return Vec::new();
    }
    let read = async {
        let store = crate::store::Store::open_read_only(path).await?;
        let paused = store.paused_jobs().await;
        store.close().await;
        paused
    };
    match read.await {
        Ok(paused) => {
            let mut paused: Vec<String> = paused
                .into_iter()
                .filter(|job| config.job(job).is_some())
                .collect();
            paused.sort();
            paused
        }
        Err(e) => {
            super::note(&format!(
                "{}: warning: cannot read the paused jobs: {e}",
                config.path.display()
            ));
            Vec::new()
        }
    }
}

/// "default zone Europe/Paris (from TZ=\"Europe/Paris\")": the zone of jobs
/// that set none, and where it comes from.
fn default_zone(daemon: &DaemonConfig) -> String {
    match &daemon.timezone_source {
        ZoneSource::Unusable(why) => {
            format!("no default zone ({why}); every job sets its own timezone")
        }
        source => format!("default zone {} ({source})", daemon.timezone.name()),
    }
}
