//! Turning the checked values of a table (`validate.rs`'s [`Values`], where every
//! key with a default of its own has it) into a [`DaemonConfig`] or a [`Job`]: one
//! line per field, with the defaults that depend on the environment.

use std::path::Path;

use chrono_tz::Tz;

use super::kinds::Parsed;
use super::validate::Values;
use super::{
    CatchUp, Concurrency, DEFAULT_DATABASE_NAME, DaemonConfig, Environment, Job, Locations,
    OnShutdown, PullPolicy, ZoneSource,
};
use crate::schedule::Schedule;

/// The `[daemon]` settings. `values` has every key but those whose default comes
/// from `env` (`database`, `timezone`, `max_concurrent`) when unset; `set_zone`
/// says whether the file sets `timezone`. (A bad value was reported already and
/// stands in for its default here: the file is refused anyway.)
pub(super) fn daemon_config(mut values: Values, set_zone: bool, env: &Environment) -> DaemonConfig {
    let database = values.take("database", Parsed::into_path);
    let timezone = values.take("timezone", Parsed::into_zone);
    let max_concurrent = values.take("max_concurrent", Parsed::into_int);
    let history_limit = values.take("history_limit", Parsed::into_int);
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
            .take("require_limits", Parsed::into_bool)
            .unwrap_or_default(),
        on_shutdown: values
            .take("on_shutdown", Parsed::into_choice)
            .and_then(OnShutdown::from_name)
            .unwrap_or_default(),
        history_max_age: values
            .take("history_max_age", Parsed::into_duration)
            .unwrap_or_default(),
        history_limit: history_limit
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default(),
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
        image: v.take("image", Parsed::into_text)?,
        command: v.take_opt("command", Parsed::into_list)?,
        env: v.take("env", Parsed::into_map)?,
        volumes: v.take("volumes", Parsed::into_volumes)?,
        pull: PullPolicy::from_name(v.take("pull", Parsed::into_choice)?)?,
        retries: v.take("retries", |p| p.into_int()?.try_into().ok())?,
        backoff: v.take("backoff", Parsed::into_duration)?,
        backoff_max: v.take("backoff_max", Parsed::into_duration)?,
        timeout: v.take_opt("timeout", Parsed::into_duration)?,
        deadline: v.take_opt("deadline", Parsed::into_duration)?,
        stop_signal: v.take("stop_signal", Parsed::into_text)?,
        stop_grace: v.take("stop_grace", Parsed::into_duration)?,
        concurrency: Concurrency::from_name(v.take("concurrency", Parsed::into_choice)?)?,
        catch_up: CatchUp::from_name(v.take("catch_up", Parsed::into_choice)?)?,
        starting_deadline: v.take_opt("starting_deadline", Parsed::into_duration)?,
        success_exit_codes: v.take("success_exit_codes", Parsed::into_codes)?,
        fatal_exit_codes: v.take("fatal_exit_codes", Parsed::into_codes)?,
        memory: v.take_opt("memory", Parsed::into_size)?,
        cpus: v.take_opt("cpus", Parsed::into_float)?,
        pids_limit: v.take_opt("pids_limit", |p| p.into_int()?.try_into().ok())?,
        read_only: v.take("read_only", Parsed::into_bool)?,
        tmpfs: v.take("tmpfs", Parsed::into_list)?,
        network: v.take_opt("network", Parsed::into_text)?,
        user: v.take_opt("user", Parsed::into_text)?,
        workdir: v.take_opt("workdir", Parsed::into_text)?,
        entrypoint: v.take_opt("entrypoint", Parsed::into_list)?,
        hostname: v.take_opt("hostname", Parsed::into_text)?,
        cap_add: v.take("cap_add", Parsed::into_list)?,
        cap_drop: v.take("cap_drop", Parsed::into_list)?,
        labels: v.take("labels", Parsed::into_map)?,
        privileged: v.take("privileged", Parsed::into_bool)?,
        env_file: v.take_opt("env_file", Parsed::into_path)?,
        secrets: v.take("secrets", Parsed::into_files)?,
        max_output: v.take("max_output", Parsed::into_size)?,
        locations,
    })
}
