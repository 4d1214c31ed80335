//! Docker's own syntax as cronbox settings: bind mounts (`-v`, Ofelia's
//! `volume`) and the options of `docker run` that a cron line commonly uses.

use std::collections::BTreeMap;

use super::draft::Value;

/// The options of `docker run` the import understands.
pub(super) const KNOWN_OPTIONS: &str = "--rm, -e/--env, --env-file, -v/--volume, --network, -u/--user, -w/--workdir, -m/--memory, --cpus, --name, --entrypoint, --read-only";

/// A bind mount `HOST:CONTAINER[:OPTIONS]` as a cronbox volume, or why it is
/// not one: a named or anonymous volume, or an option other than `ro`/`rw`.
pub(super) fn volume(spec: &str) -> Result<String, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, options) = match parts.as_slice() {
        [host, container] => (*host, *container, ""),
        [host, container, options] => (*host, *container, *options),
        [_] => {
            return Err(format!(
                "{spec:?} is an anonymous volume; cronbox mounts host paths only (HOST:CONTAINER)"
            ));
        }
        _ => return Err(format!("{spec:?} is not HOST:CONTAINER[:OPTIONS]")),
    };
    if !host.starts_with('/') {
        return Err(format!(
            "{host:?} is a Docker named volume; cronbox mounts host paths only: use its path on the host (docker volume inspect {host})"
        ));
    }
    let mut read_only = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => read_only = true,
            "rw" => {}
            other => {
                return Err(format!(
                    "the mount option {other:?} has no cronbox equivalent (only ro and rw do)"
                ));
            }
        }
    }
    Ok(format!(
        "{host}:{container}{}",
        if read_only { ":ro" } else { "" }
    ))
}

/// A variable `KEY=value` (Docker's `-e`, Ofelia's `environment`), or `KEY`
/// alone, which takes the value `vars` gives it (cron's own variables).
/// Errors name the variable, never a value.
pub(super) fn env_var(
    spec: &str,
    vars: &BTreeMap<String, String>,
) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
        None => match vars.get(spec) {
            Some(value) => Ok((spec.to_owned(), value.clone())),
            None => Err(format!(
                "the variable {spec:?} takes its value from the environment Docker was started in, which the file does not set; write {spec}=VALUE"
            )),
        },
    }
}

/// A `docker run` line, taken apart.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Run {
    /// `--name`, if given.
    pub name: Option<String>,
    /// Settings in the order of their options.
    pub settings: Vec<(&'static str, Value)>,
    pub image: String,
    /// The words after the image (the container's command); may be empty.
    pub command: Vec<String>,
}

/// The words after `docker run`, or why the line cannot be imported (an
/// option the import does not know, a value it cannot carry over).
pub(super) fn run(words: &[String], vars: &BTreeMap<String, String>) -> Result<Run, String> {
    let mut run = Run::default();
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        if word == "--" {
            break;
        }
        let Some(option) = word.strip_prefix('-').filter(|o| !o.is_empty()) else {
            run.image = word.clone();
            run.command = rest.cloned().collect();
            return Ok(run);
        };
        let (name, inline) = split_option(option);
        match name {
            "rm" | "read-only" => {
                let on = match inline {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(other) => return Err(format!("--{name}={other} is not true or false")),
                };
                match (name, on) {
                    ("rm", true) | ("read-only", false) => {}
                    ("rm", false) => {
                        return Err("--rm=false keeps the container; cronbox always removes it once its exit is recorded".to_owned());
                    }
                    _ => run.settings.push(("read_only", Value::Bool(true))),
                }
            }
            _ => {
                let value = match inline {
                    Some(value) => value.to_owned(),
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("the option {word} has no value"))?,
                };
                value_option(&mut run, name, word, value, vars)?;
            }
        }
    }
    if run.image.is_empty() {
        return Err("docker run names no image".to_owned());
    }
    Ok(run)
}

/// `-eX`, `-e=X`, `--env=X`, `--env`: the option's name and its value when
/// written in the same word.
fn split_option(option: &str) -> (&str, Option<&str>) {
    if let Some(long) = option.strip_prefix('-') {
        return match long.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (long, None),
        };
    }
    let (name, value) = option.split_at(option.chars().next().map_or(0, char::len_utf8));
    let value = value.strip_prefix('=').unwrap_or(value);
    (name, (!value.is_empty()).then_some(value))
}

fn value_option(
    run: &mut Run,
    name: &str,
    word: &str,
    value: String,
    vars: &BTreeMap<String, String>,
) -> Result<(), String> {
    let setting = match name {
        "e" | "env" => {
            let (key, value) = env_var(&value, vars)?;
            ("env", Value::Env(key, value))
        }
        "env-file" => {
            if !value.starts_with('/') {
                return Err(format!(
                    "--env-file {value:?} is relative to the directory cron ran the line in; write the absolute path"
                ));
            }
            if run.settings.iter().any(|(key, _)| *key == "env_file") {
                return Err("a second --env-file: cronbox reads one env_file per job".to_owned());
            }
            ("env_file", Value::Str(value))
        }
        "v" | "volume" => ("volumes", Value::Volume(volume(&value)?)),
        "network" | "net" => ("network", Value::Str(value)),
        "u" | "user" => ("user", Value::Str(value)),
        "w" | "workdir" => ("workdir", Value::Str(value)),
        "m" | "memory" => ("memory", Value::Str(value)),
        "cpus" => match value.parse::<f64>() {
            Ok(cpus) => ("cpus", Value::Float(cpus)),
            Err(_) => return Err(format!("--cpus {value:?} is not a number")),
        },
        "name" => {
            run.name = Some(value);
            return Ok(());
        }
        "entrypoint" if !value.is_empty() => ("entrypoint", Value::Strs(vec![value])),
        "entrypoint" => {
            return Err(
                "--entrypoint \"\" clears the image's entrypoint, which cronbox cannot".to_owned(),
            );
        }
        _ => {
            return Err(format!(
                "the docker run option {word} is not one the import knows ({KNOWN_OPTIONS})"
            ));
        }
    };
    run.settings.push(setting);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        super::super::words::split(line).expect(line)
    }

    #[test]
    fn every_known_option_becomes_its_setting() {
        let vars = BTreeMap::from([("FROM_CRON".to_owned(), "x".to_owned())]);
        let line = "--rm -e A=1 --env=B=2 -eC=3 -e FROM_CRON --env-file /etc/app.env -v /srv:/data:ro --volume=/tmp/a:/a:rw --network backend -u 1000:1000 -w /work -m 512m --cpus 1.5 --name nightly --entrypoint /bin/sh --read-only alpine:3 -c 'echo hi'";
        let got = run(&words(line), &vars).expect(line);
        assert_eq!(got.name.as_deref(), Some("nightly"));
        assert_eq!(got.image, "alpine:3");
        assert_eq!(got.command, ["-c", "echo hi"]);
        let s = |t: &str| Value::Str(t.to_owned());
        let env = |k: &str, v: &str| Value::Env(k.to_owned(), v.to_owned());
        assert_eq!(
            got.settings,
            vec![
                ("env", env("A", "1")),
                ("env", env("B", "2")),
                ("env", env("C", "3")),
                ("env", env("FROM_CRON", "x")),
                ("env_file", s("/etc/app.env")),
                ("volumes", Value::Volume("/srv:/data:ro".to_owned())),
                ("volumes", Value::Volume("/tmp/a:/a".to_owned())),
                ("network", s("backend")),
                ("user", s("1000:1000")),
                ("workdir", s("/work")),
                ("memory", s("512m")),
                ("cpus", Value::Float(1.5)),
                ("entrypoint", Value::Strs(vec!["/bin/sh".to_owned()])),
                ("read_only", Value::Bool(true)),
            ]
        );
    }

    #[test]
    fn what_cannot_carry_over_is_refused_with_the_reason() {
        let vars = BTreeMap::new();
        let cases = [
            ("-d alpine", "option -d is not one the import knows"),
            ("-it alpine", "option -it is not one"),
            ("-e SECRET alpine", "\"SECRET\" takes its value"),
            ("-v data:/data alpine", "named volume"),
            ("-v /data alpine", "anonymous volume"),
            ("-v /a:/b:z alpine", "\"z\" has no cronbox equivalent"),
            ("--env-file app.env alpine", "absolute path"),
            ("--env-file /a --env-file /b alpine", "second --env-file"),
            ("--cpus many alpine", "not a number"),
            ("--rm=false alpine", "keeps the container"),
            ("--rm", "names no image"),
            ("--network", "has no value"),
        ];
        for (line, why) in cases {
            match run(&words(line), &vars) {
                Ok(got) => panic!("{line} gave {got:?}"),
                Err(e) => assert!(e.contains(why), "{line}: {e}"),
            }
        }
    }
}
