//! `cronbox run JOB --detach`: start a run of the job in the running daemon,
//! through its HTTP API (trigger `api`; the job's concurrency policy applies),
//! with the `--param NAME=VALUE`s given, and print the run's id alone on a line
//! (for scripts: `id=$(cronbox run backup --detach)`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::process::ExitCode;

use super::UsageError;
use super::client::{Client, ClientError};
use super::run::RunArgs;

/// What the API answers.
#[derive(Deserialize)]
struct Started {
    run_id: i64,
}

/// The `--param NAME=VALUE`s as a map (a value may hold "=").
fn parse_params(params: &[String]) -> Result<BTreeMap<String, String>, UsageError> {
    params
        .iter()
        .map(|param| {
            param
                .split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .ok_or_else(|| {
                    UsageError(
                        "--param takes NAME=VALUE, found a word without \"=\" or with an empty NAME"
                            .to_owned(),
                    )
                })
        })
        .collect()
}

pub async fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let job = config
        .job(&args.job)
        .ok_or_else(|| super::no_such_job(&config, &args.job))?;
    let env = parse_params(&args.params)?;
    if let Some(name) = env.keys().find(|name| !job.params.contains(name)) {
        let declared = if job.params.is_empty() {
            "none".to_owned()
        } else {
            job.params.join(", ")
        };
        return Err(UsageError(format!(
            "job {} does not take {name:?} as a parameter; its params: {declared}",
            job.name
        ))
        .into());
    }
    let Some(client) = Client::for_config(&config)? else {
        return Err(UsageError(
            "--detach starts the run in the daemon through its HTTP API, which is off ([daemon.http] listen = \"\"); run it in the foreground without --detach".to_owned(),
        )
        .into());
    };
    let path = format!("/api/v1/jobs/{}/runs", job.name);
    let body = serde_json::json!({ "env": env });
    match client.post::<Started>(&path, Some(body)).await {
        Ok(started) => {
            super::print_out(&format!("{}\n", started.run_id))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ClientError::Unreachable(_)) => Err(anyhow::anyhow!(
            "{e}; without a daemon, run the job in the foreground without --detach"
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_name_equals_value() {
        let got =
            parse_params(&["A=1".to_owned(), "B=x=y".to_owned(), "C=".to_owned()]).expect("ok");
        let want: Vec<(&str, &str)> = vec![("A", "1"), ("B", "x=y"), ("C", "")];
        assert_eq!(
            got.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            want
        );
        assert!(parse_params(&["A".to_owned()]).is_err());
        assert!(parse_params(&["=1".to_owned()]).is_err());
    }
}
