//! Turning the checked values of a table (`validate.rs`'s [`Values`], where every
//! key with a default of its own has it) into a [`DaemonConfig`] or a [`Job`]: one
//! line per field, with the defaults that depend on the environment.

use std::path::Path;

use chrono_tz::Tz;

use super::kinds::Parsed;
use super::schema::{daemon_key, http_key, job_key};
use super::validate::Values;
use super::values::parse_listen;
use super::{
    CatchUp, Concurrency, DEFAULT_DATABASE_NAME, DaemonConfig, Environment, HttpConfig, Job,
    Location, Locations, LogFormat, OnShutdown, PullPolicy, ZoneSource,
};
use crate::schedule::Schedule;

/// The `[daemon]` settings. `values` has every key but those whose default comes
/// from `env` (`database`, `timezone`, `max_concurrent`) when unset; `set_zone`
/// says whether the file sets `timezone`. (A bad value was reported already and
/// stands in for its default here: the file is refused anyway.)
pub(super) fn daemon_config(
    mut values: Values,
    set_zone: bool,
    env: &Environment,
    http: HttpConfig,
) -> DaemonConfig {
    let database = values.take(daemon_key!("database"), Parsed::into_path);
    let timezone = values.take(daemon_key!("timezone"), Parsed::into_zone);
    let max_concurrent = values.take(daemon_key!("max_concurrent"), Parsed::into_int);
    let history_limit = values.take(daemon_key!("history_limit"), Parsed::into_int);
    DaemonConfig {
        database: database.unwrap_or_else(|| match &env.state_directory {
            Some(dir) => dir.join(DEFAULT_DATABASE_NAME),
            None => Path::new(".").join(DEFAULT_DATABASE_NAME),
        }),
        timezone: timezone.unwrap_or(env.local_timezone),
        timezone_source: if set_zone {
            ZoneSource::DaemonKey
        } else {
            env.local_timezone_source.clone()
        },
        max_concurrent: max_concurrent
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(env.cpus.max(1)),
        require_limits: values
            .take(daemon_key!("require_limits"), Parsed::into_bool)
            .unwrap_or_default(),
        on_shutdown: values
            .take(daemon_key!("on_shutdown"), Parsed::into_choice)
            .and_then(OnShutdown::from_name)
            .unwrap_or_default(),
        log_format: values
            .take(daemon_key!("log_format"), Parsed::into_choice)
            .and_then(LogFormat::from_name)
            .unwrap_or_default(),
        registry_auth: values.take(daemon_key!("registry_auth"), Parsed::into_path),
        engine: values.take(daemon_key!("engine"), Parsed::into_text),
        history_max_age: values
            .take(daemon_key!("history_max_age"), Parsed::into_duration)
            .unwrap_or_default(),
        history_limit: history_limit
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default(),
        heartbeat: values
            .take(daemon_key!("heartbeat"), Parsed::into_map)
            .and_then(|mut map| {
                Some(super::Heartbeat {
                    channel: map.remove("channel")?,
                    check: map.remove("check")?,
                    every: crate::schedule::parse_duration(&map.remove("every")?).ok()?,
                })
            }),
        public_url: values
            .take(daemon_key!("public_url"), Parsed::into_text)
            .map(|url| url.trim().trim_end_matches('/').to_owned()),
        http,
    }
}

/// The `[daemon.http]` settings; `token_file_at` is where `token_file` is written.
/// (A bad `listen` was reported already; the default stands in for it.)
pub(super) fn http_config(
    mut values: Values,
    token_file_at: Option<Location>,
    listen_written: bool,
) -> HttpConfig {
    let listen = values
        .take(http_key!("listen"), Parsed::into_text)
        .map_or_else(
            || HttpConfig::default().listen,
            |text| parse_listen(&text).ok().flatten(),
        );
    HttpConfig {
        listen,
        listen_written,
        token_file: values.take(http_key!("token_file"), Parsed::into_path),
        token_file_at,
    }
}

/// The job `name` from its checked values; `None` only if a value does not have
/// the shape its key's kind gives (a bug the tests would show).
pub(super) fn job_config(
    name: &str,
    schedule: Schedule,
    timezone: Tz,
    mut v: Values,
    locations: Locations,
) -> Option<Job> {
    Some(Job {
        name: name.to_owned(),
        schedule,
        timezone,
        image: v.take(job_key!("image"), Parsed::into_text)?,
        command: v.take_opt(job_key!("command"), Parsed::into_list)?,
        env: v.take(job_key!("env"), Parsed::into_map)?,
        volumes: v.take(job_key!("volumes"), Parsed::into_volumes)?,
        pull: PullPolicy::from_name(v.take(job_key!("pull"), Parsed::into_choice)?)?,
        retries: v.take(job_key!("retries"), |p| p.into_int()?.try_into().ok())?,
        backoff: v.take(job_key!("backoff"), Parsed::into_duration)?,
        backoff_max: v.take(job_key!("backoff_max"), Parsed::into_duration)?,
        timeout: v.take_opt(job_key!("timeout"), Parsed::into_duration)?,
        deadline: v.take_opt(job_key!("deadline"), Parsed::into_duration)?,
        completions: v.take(job_key!("completions"), |p| p.into_int()?.try_into().ok())?,
        parallelism: v.take(job_key!("parallelism"), |p| p.into_int()?.try_into().ok())?,
        max_failed_indexes: v.take_opt(job_key!("max_failed_indexes"), |p| {
            p.into_int()?.try_into().ok()
        })?,
        stop_signal: v.take(job_key!("stop_signal"), Parsed::into_text)?,
        stop_grace: v.take(job_key!("stop_grace"), Parsed::into_duration)?,
        concurrency: Concurrency::from_name(v.take(job_key!("concurrency"), Parsed::into_choice)?)?,
        catch_up: CatchUp::from_name(v.take(job_key!("catch_up"), Parsed::into_choice)?)?,
        starting_deadline: v.take_opt(job_key!("starting_deadline"), Parsed::into_duration)?,
        random_delay: v.take_opt(job_key!("random_delay"), Parsed::into_duration)?,
        fire_offset: std::time::Duration::ZERO,
        success_exit_codes: v.take(job_key!("success_exit_codes"), Parsed::into_codes)?,
        fatal_exit_codes: v.take(job_key!("fatal_exit_codes"), Parsed::into_codes)?,
        memory: v.take_opt(job_key!("memory"), Parsed::into_size)?,
        cpus: v.take_opt(job_key!("cpus"), Parsed::into_float)?,
        pids_limit: v.take_opt(job_key!("pids_limit"), |p| p.into_int()?.try_into().ok())?,
        read_only: v.take(job_key!("read_only"), Parsed::into_bool)?,
        tmpfs: v.take(job_key!("tmpfs"), Parsed::into_list)?,
        network: v.take_opt(job_key!("network"), Parsed::into_text)?,
        user: v.take_opt(job_key!("user"), Parsed::into_text)?,
        workdir: v.take_opt(job_key!("workdir"), Parsed::into_text)?,
        entrypoint: v.take_opt(job_key!("entrypoint"), Parsed::into_list)?,
        hostname: v.take_opt(job_key!("hostname"), Parsed::into_text)?,
        cap_add: v.take(job_key!("cap_add"), Parsed::into_list)?,
        cap_drop: v.take(job_key!("cap_drop"), Parsed::into_list)?,
        labels: v.take(job_key!("labels"), Parsed::into_map)?,
        privileged: v.take(job_key!("privileged"), Parsed::into_bool)?,
        env_file: v.take_opt(job_key!("env_file"), Parsed::into_path)?,
        secrets: v.take(job_key!("secrets"), Parsed::into_files)?,
        max_output: v.take(job_key!("max_output"), Parsed::into_size)?,
        params: v.take(job_key!("params"), Parsed::into_list)?,
        notify: v.take(job_key!("notify"), Parsed::into_list)?,
        notify_on: v.take(job_key!("notify_on"), Parsed::into_list)?,
        notify_cooldown: v.take(job_key!("notify_cooldown"), Parsed::into_duration)?,
        expect_success_within: v
            .take_opt(job_key!("expect_success_within"), Parsed::into_duration)?,
        after: v
            .take_opt(job_key!("after"), Parsed::into_after)?
            .unwrap_or_default(),
        on_file: v.take_opt(job_key!("on_file"), Parsed::into_on_file)?,
        after_success: v
            .take_opt(job_key!("after_success"), Parsed::into_file_action)?
            .unwrap_or_default(),
        after_failure: v
            .take_opt(job_key!("after_failure"), Parsed::into_file_action)?
            .unwrap_or_default(),
        healthchecks: v
            .take_opt(job_key!("healthchecks"), Parsed::into_map)?
            .and_then(|mut map| {
                Some(super::Ping {
                    channel: map.remove("channel")?,
                    check: map.remove("check")?,
                })
            }),
        locations,
    })
}
