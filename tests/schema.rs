//! `cronbox schema` and the TOML language server taplo: the same schedule files
//! (config/example.toml, config/reference.toml, config/starter.toml, tests/data/schedules/*.toml) run
//! through `cronbox check` and `taplo check` with the printed schema. What check
//! accepts, taplo accepts; an unknown key or a wrong type check refuses, taplo
//! flags. Also the README's two ways to point taplo at the schema, and `schema`'s
//! output when stdout cannot be written. Needs the taplo CLI of tools/ (`npm ci
//! --prefix tools`, which scripts/dev.sh test runs): without it the tests fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cronbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args(args)
        .env_remove("CRONBOX_CONFIG")
        .env_remove("CRONBOX_DATABASE")
        .stdin(Stdio::null())
        .output()
        .expect("run cronbox")
}

/// The taplo CLI: `$TAPLO`, else the one `npm ci --prefix tools` installs.
fn taplo_bin() -> PathBuf {
    let path = std::env::var_os("TAPLO")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tools/node_modules/.bin/taplo"));
    // (The npm build of taplo exits 1 after printing its version.)
    let runs = Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"taplo "));
    assert!(
        runs,
        "the taplo CLI does not run at {}: install it with `npm ci --prefix tools` from the \
         repository's top folder (scripts/dev.sh test does; it needs Node.js and npm), or set \
         TAPLO to a taplo binary",
        path.display()
    );
    path
}

/// `taplo check` of `files` (with `--schema schema` when given; then without
/// looking for a .taplo.toml), run in `dir`: the files it flagged, and its output.
/// One run for all files: each start of the npm build of taplo takes seconds.
fn taplo(files: &[PathBuf], schema: Option<&Path>, dir: &Path) -> (Vec<PathBuf>, String) {
    let mut command = Command::new(taplo_bin());
    command.arg("check").current_dir(dir).stdin(Stdio::null());
    if let Some(schema) = schema {
        let url = format!("file://{}", schema.display());
        command.args(["--no-auto-config", "--schema", &url]);
    }
    let out = command.args(files).output().expect("run taplo");
    let said = text(&out.stdout) + &text(&out.stderr);
    // One line per file that is not valid: `... invalid file error=... path="PATH"`.
    let flagged: Vec<PathBuf> = said
        .lines()
        .filter(|line| line.contains("invalid file"))
        .filter_map(|line| line.split_once("path=\"")?.1.strip_suffix('"'))
        .map(|path| dir.join(path))
        .collect();
    assert_eq!(
        out.status.success(),
        flagged.is_empty(),
        "taplo's exit status and the files it names disagree:\n{said}"
    );
    (flagged, said)
}

/// Whether taplo flagged `file`.
fn flags(flagged: &[PathBuf], file: &Path) -> bool {
    flagged.iter().any(|path| path == file)
}

/// The schema `cronbox schema` prints, saved in `dir`.
fn save_schema(dir: &Path) -> PathBuf {
    let out = cronbox(&["schema"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let path = dir.join("cronbox.schema.json");
    fs::write(&path, &out.stdout).expect("write the schema");
    path
}

/// What `cronbox check` says of a file.
#[derive(Debug)]
struct Checked {
    /// Valid as a schedule: accepted, or refused only for host paths that do not
    /// exist here (which no schema can know about).
    valid: bool,
    /// Refused for an unknown key or a value of the wrong type.
    unknown_key_or_type: bool,
    stderr: String,
}

fn check(file: &Path) -> Checked {
    let out = cronbox(&["check", "--config", &file.to_string_lossy()]);
    let stderr = text(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(&*file.to_string_lossy()) && !line.contains(": warning: "))
        .collect();
    let host_path = |line: &&str| line.ends_with("does not exist; create it or fix the path");
    let unknown_key_or_type = problems.iter().any(|line| {
        line.contains("unknown key")
            || line.contains("unknown top-level key")
            || line.contains("cannot be set in [defaults]")
            || (line.contains(" must be ")
                && (line.contains(", found a ") || line.contains(", found an ")))
    });
    Checked {
        valid: out.status.success()
            || (out.status.code() == Some(2) && problems.iter().all(host_path)),
        unknown_key_or_type,
        stderr,
    }
}

/// The value of the comment line `# NAME: VALUE` at the top of a test file.
fn expectation<'t>(contents: &'t str, name: &str) -> Option<&'t str> {
    contents
        .lines()
        .take_while(|line| line.starts_with('#'))
        .find_map(|line| line.strip_prefix(&format!("# {name}: ")))
}

#[test]
fn check_and_taplo_agree_on_every_schedule_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = save_schema(dir.path());
    let data = repo().join("tests/data/schedules");
    let mut files = vec![
        repo().join("config/example.toml"),
        repo().join("config/reference.toml"),
        repo().join("config/starter.toml"),
    ];
    let mut listed: Vec<PathBuf> = fs::read_dir(&data)
        .expect("tests/data/schedules")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    listed.sort();
    assert!(listed.len() >= 30, "{listed:?}");
    files.extend(listed);
    let (flagged_by_taplo, said) = taplo(&files, Some(&schema), repo());
    let (mut valid, mut flagged) = (0, 0);
    for file in &files {
        let name = file.display();
        let contents = fs::read_to_string(file).expect("read");
        let checked = check(file);
        let passes = !flags(&flagged_by_taplo, file);
        if checked.valid {
            valid += 1;
            assert!(
                passes,
                "{name}: cronbox check accepts it, taplo does not:\n{said}"
            );
            assert_eq!(
                expectation(&contents, "check"),
                None,
                "{name}: check accepts it"
            );
            continue;
        }
        let fragment = expectation(&contents, "check").unwrap_or_else(|| {
            panic!(
                "{name}: check refuses it, but it has no `# check:` line:\n{}",
                checked.stderr
            )
        });
        assert!(
            checked.stderr.contains(fragment),
            "{name}: check's message lacks {fragment:?}:\n{}",
            checked.stderr
        );
        let want_flagged = match expectation(&contents, "taplo") {
            Some("flags") => true,
            Some("accepts") => false,
            other => panic!("{name}: `# taplo:` must say flags or accepts, not {other:?}"),
        };
        if checked.unknown_key_or_type {
            assert!(
                want_flagged,
                "{name}: check refuses an unknown key or a wrong type, which taplo must flag"
            );
        }
        assert_eq!(
            !passes,
            want_flagged,
            "{name}: taplo should {} it:\n{said}\ncheck said:\n{}",
            if want_flagged { "flag" } else { "accept" },
            checked.stderr
        );
        flagged += usize::from(!passes);
    }
    assert!(
        valid >= 7 && flagged >= 20,
        "valid {valid}, flagged {flagged}"
    );
}

/// A schedule with a typo, to see which way of naming the schema taplo follows.
const TYPO: &str = "[jobs.backup]\nschedule = \"@daily\"\nimage = \"alpine\"\nretires = 3\n";

#[test]
fn taplo_follows_a_schema_directive_or_a_taplo_toml_rule_as_the_readme_shows() {
    let root = tempfile::tempdir().expect("tempdir");
    let etc = root.path().join("etc/cronbox");
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir_all(&etc).expect("mkdir");
    fs::create_dir_all(&elsewhere).expect("mkdir");
    let schema = save_schema(&etc);
    let file = etc.join("cronbox.toml");

    // The directive: a path relative to the schedule file, wherever taplo runs.
    fs::write(&file, format!("#:schema ./cronbox.schema.json\n{TYPO}")).expect("write");
    let (flagged, said) = taplo(std::slice::from_ref(&file), None, &elsewhere);
    assert!(flags(&flagged, &file) && said.contains("retires"), "{said}");
    fs::write(
        &file,
        format!(
            "#:schema ./cronbox.schema.json\n{}",
            TYPO.replace("retires", "retries")
        ),
    )
    .expect("write");
    let (flagged, said) = taplo(std::slice::from_ref(&file), None, &elsewhere);
    assert!(flagged.is_empty(), "{said}");
    // To cronbox the directive is a comment.
    assert!(
        cronbox(&["check", "--config", &file.to_string_lossy()])
            .status
            .success()
    );

    // The .taplo.toml rule, in the folder taplo runs from.
    fs::write(&file, TYPO).expect("write");
    let rule = format!(
        "[[rule]]\ninclude = [\"**/cronbox.toml\"]\n\n[rule.schema]\npath = \"{}\"\n",
        schema.display()
    );
    fs::write(root.path().join(".taplo.toml"), rule).expect("write");
    let relative = PathBuf::from("etc/cronbox/cronbox.toml");
    let (flagged, said) = taplo(&[relative], None, root.path());
    assert!(flags(&flagged, &file) && said.contains("retires"), "{said}");
}

#[test]
fn schema_output_that_cannot_be_written_is_an_error_and_a_closed_pipe_is_not() {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .arg("schema")
        .stdout(full)
        .output()
        .expect("run cronbox");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot write to standard output"),
        "{}",
        text(&out.stderr)
    );

    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .arg("schema")
        .stdout(writer)
        .output()
        .expect("run cronbox");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

/// The names of the keys of the object schema at `pointer`.
fn schema_keys(schema: &serde_json::Value, pointer: &str) -> Vec<String> {
    let properties = schema
        .pointer(&format!("{pointer}/properties"))
        .and_then(serde_json::Value::as_object)
        .unwrap_or_else(|| panic!("no properties at {pointer}"));
    let mut names: Vec<String> = properties.keys().cloned().collect();
    names.sort();
    names
}

/// The names of the keys set in `tables`, each once, sorted.
fn set_keys<'t>(tables: impl IntoIterator<Item = &'t toml::Value>) -> Vec<String> {
    let mut names: Vec<String> = tables
        .into_iter()
        .filter_map(toml::Value::as_table)
        .flat_map(|table| table.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn ok_every_key_sets_every_key_the_schema_has() {
    let out = cronbox(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let path = repo().join("tests/data/schedules/ok-every-key.toml");
    let file: toml::Table = fs::read_to_string(&path)
        .expect("read")
        .parse()
        .expect("TOML");
    let table = |name: &str| file.get(name).cloned().unwrap_or(toml::Value::Integer(0));
    let (daemon, notify, jobs) = (table("daemon"), table("notify"), table("jobs"));
    let values = |table: &toml::Value| -> Vec<toml::Value> {
        table
            .as_table()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    };
    let (channels, jobs) = (values(&notify), values(&jobs));
    // Every value of `key` in the jobs (an array's items too).
    let of_jobs = |key: &str| -> Vec<toml::Value> {
        let each = jobs.iter().filter_map(|job| job.get(key).cloned());
        each.flat_map(|value| match value {
            toml::Value::Array(items) => items,
            other => vec![other],
        })
        .collect()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("/properties/daemon", set_keys([&daemon])),
        (
            "/properties/daemon/properties/http",
            set_keys(daemon.get("http")),
        ),
        (
            "/properties/daemon/properties/heartbeat",
            set_keys(daemon.get("heartbeat")),
        ),
        ("/$defs/channel", set_keys(&channels)),
        ("/$defs/job", set_keys(&jobs)),
        (
            "/$defs/job/properties/on_file",
            set_keys(&of_jobs("on_file")),
        ),
        (
            "/$defs/job/properties/after/oneOf/0",
            set_keys(&of_jobs("after")),
        ),
        (
            "/$defs/job/properties/healthchecks",
            set_keys(&of_jobs("healthchecks")),
        ),
        (
            "/$defs/job/properties/after_success/oneOf/1",
            set_keys(&of_jobs("after_success")),
        ),
    ];
    for (pointer, set) in cases {
        assert_eq!(
            set,
            schema_keys(&schema, pointer),
            "ok-every-key.toml against the schema's {pointer}: add the keys it lacks"
        );
    }
}
