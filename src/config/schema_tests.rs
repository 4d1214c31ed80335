//! The description of the keys (`schema.rs`) against what follows from it:
//! `config/reference.toml` (checked, not generated: every key documented in order,
//! with the default the description gives), the defaults a job gets, the Rust enums
//! behind the string choices, and the shape of the JSON Schema.

use serde_json::Value;

use super::json_schema::{
    DURATION_UNITS, JOB_NAME_PATTERN, default_text, default_value, json_schema,
};
use super::schema::{self, Default, KEYS, Kind, Table};
use super::tests::{REFERENCE, parse_ok};
use super::values::parse_size;
use super::*;
use crate::schedule::parse_duration;

/// The keys documented in the section that starts at the line `header`: each
/// `# KEY: ...` comment with its lines (comment marks and indentation removed,
/// joined by spaces), up to the next `# ---` banner or table header.
fn documented(header: &str) -> Vec<(String, String)> {
    let start = REFERENCE
        .find(&format!("\n{header}\n"))
        .unwrap_or_else(|| panic!("reference.toml has no {header}"));
    let mut keys: Vec<(String, String)> = Vec::new();
    for line in REFERENCE[start + header.len() + 2..].lines() {
        if line.starts_with("# ---") || line.starts_with('[') {
            break;
        }
        let Some(comment) = line.strip_prefix('#') else {
            continue;
        };
        let starts_key = comment
            .strip_prefix(' ')
            .and_then(|rest| rest.split_once(": "))
            .filter(|(name, _)| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        match (starts_key, keys.last_mut()) {
            (Some((name, rest)), _) => keys.push((name.to_owned(), rest.to_owned())),
            (None, Some((_, text))) if comment.starts_with("   ") => {
                text.push(' ');
                text.push_str(comment.trim());
            }
            _ => {}
        }
    }
    keys
}

#[test]
fn reference_documents_every_key_in_order_with_its_default() {
    for (header, table) in [
        ("[daemon]", Table::Daemon),
        ("[daemon.http]", Table::Http),
        ("[jobs.backup-db]", Table::Job),
        ("[notify.ops]", Table::Notify),
    ] {
        let documented = documented(header);
        let names: Vec<&str> = documented.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            schema::names_of(table),
            "reference.toml, {header}: the keys, in the description's order"
        );
        for (name, text) in &documented {
            let key = &KEYS[schema::index_of(table, name).expect("a key of the table")];
            assert!(
                REFERENCE.contains(&format!("\n{name} = ")),
                "reference.toml has no example of {name}"
            );
            if let Default::Required { .. } = key.default {
                assert!(text.contains("REQUIRED"), "{name}: {text}");
                assert!(!text.contains("Default:"), "{name}: {text}");
                continue;
            }
            let stated = text
                .split_once("Default: ")
                .unwrap_or_else(|| panic!("reference.toml: {name} states no default: {text}"))
                .1;
            let want = default_text(key);
            let after = stated.strip_prefix(&want).unwrap_or_else(|| {
                panic!("reference.toml: the default of {name} is {stated:?}, the description gives {want:?}")
            });
            assert!(
                !after.starts_with(|c: char| c.is_alphanumeric() || c == '"'),
                "reference.toml: the default of {name} is {stated:?}, the description gives {want:?}"
            );
        }
    }
}

#[test]
fn reference_documents_the_keys_of_inline_tables_in_order_with_their_defaults() {
    for (header, table) in [
        ("[daemon]", Table::Daemon),
        ("[jobs.backup-db]", Table::Job),
    ] {
        for (name, text) in documented(header) {
            let key = &KEYS[schema::index_of(table, &name).expect("a key of the table")];
            let mut from = 0;
            let subs = schema::sub_keys(key.kind);
            for (i, sub) in subs.iter().enumerate() {
                let at = text[from..]
                    .find(&format!(" {} = ", sub.name))
                    .unwrap_or_else(|| {
                        panic!(
                            "reference.toml, {name}: no {} = after {:?}",
                            sub.name,
                            &text[..from]
                        )
                    });
                from += at + 1;
                let end = subs.get(i + 1).map_or(text.len(), |next| {
                    text[from..]
                        .find(&format!(" {} = ", next.name))
                        .map_or(text.len(), |n| from + n)
                });
                if default_value(sub).is_some() {
                    let want = format!("default {}", default_text(sub));
                    assert!(
                        text[from..end].contains(&want),
                        "reference.toml, {name}.{}: {:?} lacks {want:?}",
                        sub.name,
                        &text[from..end]
                    );
                }
            }
        }
    }
}

#[test]
fn the_keys_of_inline_tables_are_described_and_in_the_json_schema() {
    let schema = json_schema();
    let job = properties(&schema, "/$defs/job");
    let daemon = properties(&schema, "/properties/daemon");
    let tables = [
        (&job["on_file"], Kind::OnFile),
        (&job["after"]["oneOf"][0], Kind::After),
        (&job["after"]["oneOf"][1]["items"], Kind::After),
        (&job["after_success"]["oneOf"][1], Kind::FileAction),
        (&job["after_failure"]["oneOf"][1], Kind::FileAction),
        (&job["healthchecks"], Kind::Ping),
        (&daemon["heartbeat"], Kind::Heartbeat),
    ];
    for (table, kind) in tables {
        let keys = schema::sub_keys(kind);
        assert!(!keys.is_empty(), "{kind:?}");
        assert_eq!(table["additionalProperties"], false, "{kind:?}");
        let properties = table["properties"].as_object().expect("properties");
        let names: Vec<&str> = keys.iter().map(|key| key.name).collect();
        let mut written: Vec<&str> = properties.keys().map(String::as_str).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        written.sort_unstable();
        assert_eq!(written, sorted, "{kind:?}");
        for key in keys {
            assert!(key.tables.is_empty() && !key.doc.is_empty(), "{}", key.name);
            let property = &properties[key.name];
            let description = property["description"].as_str().expect("description");
            assert!(description.starts_with(key.doc), "{}", key.name);
            assert!(property.get("type").is_some(), "{}", key.name);
            assert_eq!(
                property.get("default").cloned(),
                default_value(key),
                "{}",
                key.name
            );
            if let Kind::Duration(rule) = key.kind {
                assert!(property["pattern"].is_string(), "{}", key.name);
                for bound in rule.min.into_iter().chain(rule.max) {
                    let shown = bound.shown.replace("a minute", "1m");
                    assert_eq!(parse_duration(&shown), Ok(bound.value), "{}", key.name);
                }
            }
        }
        let required: Vec<&str> = keys
            .iter()
            .filter(|key| matches!(key.default, Default::Required { .. }))
            .map(|key| key.name)
            .collect();
        assert_eq!(table["required"], serde_json::json!(required), "{kind:?}");
    }
    assert_eq!(
        job["after"]["oneOf"][0]["properties"]["job"]["pattern"],
        JOB_NAME_PATTERN
    );
    assert_eq!(job["on_file"]["properties"]["settle"]["default"], "5s");
    assert_eq!(job["on_file"]["properties"]["rescan"]["default"], "5m");
    assert_eq!(
        job["after_success"]["oneOf"][0]["enum"],
        serde_json::json!(["keep", "delete"])
    );
    // heartbeat.every: at least a minute (a single shorter term is refused).
    let every = &daemon["heartbeat"]["properties"]["every"];
    assert!(every["not"]["pattern"].is_string(), "{every}");
}

/// The TOML for a key set to its default, as the JSON Schema gives it.
fn written_default(key: &schema::Key) -> Option<String> {
    default_value(key).map(|value| format!("{} = {value}\n", key.name))
}

#[test]
fn a_default_written_out_means_the_same_as_no_value() {
    let job = "[jobs.a]\nschedule = '@daily'\nimage = 'x'\n";
    let unset = parse_ok(job).jobs[0].clone();
    for key in schema::keys_of(Table::Job) {
        let Some(line) = written_default(key) else {
            continue;
        };
        let mut set = (*parse_ok(&format!("{job}{line}")).jobs[0]).clone();
        set.locations = unset.locations.clone();
        assert_eq!(format!("{set:?}"), format!("{unset:?}"), "{line}");
    }
    let daemon = parse_ok("").daemon;
    for (table, header) in [(Table::Daemon, "[daemon]"), (Table::Http, "[daemon.http]")] {
        for key in schema::keys_of(table) {
            if let Some(line) = written_default(key) {
                let mut set = parse_ok(&format!("{header}\n{line}")).daemon;
                // Where the value comes from, not what it is (as a job's locations).
                set.http.listen_written = false;
                assert_eq!(set, daemon, "{line}");
            }
        }
    }
}

#[test]
fn string_choices_are_the_rust_enums_and_their_defaults() {
    let choice = |name: &str| {
        let key = KEYS.iter().find(|key| key.name == name).expect("key");
        let Kind::Choice(choice) = key.kind else {
            panic!("{name} is not a choice");
        };
        let values: Vec<&str> = choice.values.iter().map(|(value, _)| *value).collect();
        (values, key.default)
    };
    let enums = [
        (
            "pull",
            PullPolicy::ALL.map(PullPolicy::as_str).to_vec(),
            PullPolicy::default().as_str(),
        ),
        (
            "concurrency",
            Concurrency::ALL.map(Concurrency::as_str).to_vec(),
            Concurrency::default().as_str(),
        ),
        (
            "catch_up",
            CatchUp::ALL.map(CatchUp::as_str).to_vec(),
            CatchUp::default().as_str(),
        ),
        (
            "on_shutdown",
            OnShutdown::ALL.map(OnShutdown::as_str).to_vec(),
            OnShutdown::default().as_str(),
        ),
        (
            "log_format",
            LogFormat::ALL.map(LogFormat::as_str).to_vec(),
            LogFormat::default().as_str(),
        ),
    ];
    for (name, values, default) in enums {
        assert_eq!(choice(name), (values, Default::Str(default)), "{name}");
    }
    // The notification channels' kind (required) and format.
    let kinds = ChannelKind::ALL.map(ChannelKind::as_str).to_vec();
    assert_eq!(choice("kind").0, kinds);
    assert!(matches!(choice("kind").1, Default::Required { .. }));
    let formats = WebhookFormat::ALL.map(WebhookFormat::as_str).to_vec();
    assert_eq!(choice("format"), (formats, Default::Str("json")));
    for name in kinds {
        assert_eq!(
            ChannelKind::from_name(name).map(ChannelKind::as_str),
            Some(name)
        );
    }
    assert_eq!(ChannelKind::from_name("Email"), None);
    assert_eq!(WebhookFormat::from_name("ntfy"), Some(WebhookFormat::Ntfy));
    assert_eq!(WebhookFormat::from_name("teams"), None);
}

#[test]
fn the_description_is_consistent() {
    for key in KEYS {
        assert!(
            !key.doc.is_empty() && !key.doc.contains('\n'),
            "{}",
            key.name
        );
        assert!(!key.tables.is_empty(), "{}", key.name);
        // Only a job's own table can require a key.
        if let Default::Required { defaults, .. } = key.default {
            assert_eq!(key.allowed_in(Table::Defaults), defaults, "{}", key.name);
        }
        // Bounds in messages are the bounds.
        match key.kind {
            Kind::Duration(rule) => {
                for bound in rule.min.into_iter().chain(rule.max) {
                    assert_eq!(parse_duration(bound.shown), Ok(bound.value), "{}", key.name);
                }
            }
            Kind::Size(rule) => {
                assert_eq!(
                    parse_size(rule.min.shown),
                    Ok(rule.min.value),
                    "{}",
                    key.name
                );
            }
            _ => {}
        }
    }
    // Names are unique within each table.
    for table in [
        Table::Daemon,
        Table::Http,
        Table::Defaults,
        Table::Job,
        Table::Notify,
    ] {
        let mut names = schema::names_of(table);
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "{table:?}");
    }
    let secret: Vec<&str> = KEYS.iter().filter(|k| k.secret).map(|k| k.name).collect();
    assert_eq!(
        secret,
        ["env", "env_file", "secrets", "url", "headers", "smtp"]
    );
}

#[test]
fn duration_units_in_the_schema_are_those_cronbox_reads() {
    for unit in DURATION_UNITS
        .iter()
        .copied()
        .chain(["h", "d", "w", "M", "y"])
    {
        assert!(parse_duration(&format!("2{unit}")).is_ok(), "{unit}");
        assert!(parse_duration(&format!("2 {unit} 3s")).is_ok(), "{unit}");
    }
    // A fraction, which the pattern accepts with any unit (cronbox: not of "ns").
    assert!(parse_duration("1.5h").is_ok());
    assert!(parse_duration("2x").is_err());
    assert!(parse_duration("10").is_err());
}

/// The schema of a table's keys in the JSON Schema.
fn properties<'v>(schema: &'v Value, pointer: &str) -> &'v serde_json::Map<String, Value> {
    let table = schema.pointer(pointer).expect(pointer);
    assert_eq!(table["type"], "object", "{pointer}");
    assert_eq!(table["additionalProperties"], false, "{pointer}");
    table["properties"].as_object().expect("properties")
}

#[test]
fn the_json_schema_has_every_key_with_its_type_doc_and_default() {
    let schema = json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false);
    let top: Vec<&String> = schema["properties"]
        .as_object()
        .expect("top")
        .keys()
        .collect();
    assert_eq!(top, ["daemon", "defaults", "jobs", "notify"]);
    let jobs = &schema["properties"]["jobs"];
    assert_eq!(jobs["propertyNames"]["pattern"], JOB_NAME_PATTERN);
    assert_eq!(jobs["propertyNames"]["maxLength"], MAX_JOB_NAME_LEN);
    assert_eq!(jobs["additionalProperties"]["$ref"], "#/$defs/job");
    // A job has one trigger kind: schedule or after.
    assert_eq!(schema["$defs"]["job"].get("required"), None);
    assert_eq!(
        schema["$defs"]["job"]["oneOf"],
        serde_json::json!([
            { "required": ["schedule"] },
            { "required": ["after"] },
            { "required": ["on_file"] }
        ])
    );
    for (pointer, table) in [
        ("/properties/daemon", Table::Daemon),
        ("/properties/daemon/properties/http", Table::Http),
        ("/properties/defaults", Table::Defaults),
        ("/$defs/job", Table::Job),
        ("/$defs/channel", Table::Notify),
    ] {
        let properties = properties(&schema, pointer);
        let mut names = schema::names_of(table);
        if table == Table::Daemon {
            names.push("http");
        }
        names.sort_unstable();
        assert_eq!(properties.keys().collect::<Vec<_>>(), names, "{pointer}");
        for key in schema::keys_of(table) {
            let property = &properties[key.name];

            let description = property["description"].as_str().expect("description");
            assert!(description.starts_with(key.doc), "{}", key.name);
            assert!(
                property.get("type").is_some() || property.get("$ref").is_some(),
                "{}",
                key.name
            );
            assert_eq!(
                property.get("default").cloned(),
                default_value(key),
                "{}",
                key.name
            );
            assert_eq!(
                description.contains("never appear"),
                key.secret,
                "{}",
                key.name
            );
        }
    }
    let zones = schema["$defs"]["timezone"]["enum"]
        .as_array()
        .expect("zones");
    assert!(zones.contains(&Value::from("Europe/Paris")) && zones.len() > 400);
}
