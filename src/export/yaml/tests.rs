//! The YAML writer: the exact layout of a small manifest, and strings that
//! YAML readers could take for something else coming back as strings.

use super::*;
use yaml_rust2::{Yaml, YamlLoader};

#[test]
fn block_layout_of_maps_lists_and_scalars() {
    let node = Node::map([
        ("apiVersion", Node::str("batch/v1")),
        (
            "spec",
            Node::map([
                ("schedule", Node::str("30 2 * * *")),
                ("suspend", Node::Bool(false)),
                ("backoffLimit", Node::Int(3)),
                ("args", Node::strings(["sh", "-c", "echo hi"])),
                (
                    "env",
                    Node::List(vec![Node::map([
                        ("name", Node::str("A")),
                        ("value", Node::str("1")),
                    ])]),
                ),
                ("empty", Node::List(vec![])),
                ("nothing", Node::map(Vec::<(String, Node)>::new())),
            ]),
        ),
    ]);
    let text = document(&["job \"x\"\nsecond line".to_owned()], &node);
    assert_eq!(
        text,
        r#"---
# job "x" second line
apiVersion: batch/v1
spec:
  schedule: "30 2 * * *"
  suspend: false
  backoffLimit: 3
  args:
    - sh
    - "-c"
    - "echo hi"
  env:
    - name: A
      value: "1"
  empty: []
  nothing: {}
"#
    );
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    assert_eq!(docs[0]["spec"]["env"][0]["value"].as_str(), Some("1"));
    assert_eq!(docs[0]["spec"]["backoffLimit"].as_i64(), Some(3));
}

#[test]
fn strings_any_yaml_reader_could_misread_are_quoted_and_read_back_as_strings() {
    let tricky = [
        "",
        " lead",
        "trail ",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "true",
        "null",
        "~",
        "1",
        "0o17",
        "0x1F",
        "1_000",
        "1e3",
        ".5",
        "-1",
        "+1",
        "2024-01-01",
        "12:30",
        "inf",
        ".inf",
        "NaN",
        "a: b",
        "a #b",
        "#x",
        "&anchor",
        "*alias",
        "!tag",
        "%dir",
        "@at",
        "`tick`",
        "[x]",
        "{x}",
        "x,y",
        "'q'",
        "\"q\"",
        "back\\slash",
        "line\nbreak",
        "tab\there",
        "nul\u{0}",
        "del\u{7f}",
        "nel\u{85}",
        "ls\u{2028}",
        "ps\u{2029}",
        "bom\u{feff}",
        "é ünïcödé",
        "🦀 crab",
        "-",
        "- x",
        "? x",
        "| x",
        "> x",
        "=",
    ];
    for text in tricky {
        let doc = document(&[], &Node::map([("v", Node::str(text))]));
        let back =
            YamlLoader::load_from_str(&doc).unwrap_or_else(|e| panic!("{text:?}: {e}\n{doc}"));
        assert_eq!(
            back[0]["v"],
            Yaml::String(text.to_owned()),
            "{text:?} written as {doc}"
        );
        let line = doc.lines().nth(1).unwrap_or_default();
        assert!(line.starts_with("v: \""), "{text:?} must be quoted: {line}");
    }
    for plain in [
        "batch/v1",
        "CronJob",
        "IfNotPresent",
        "/run/secrets/db",
        "app.kubernetes.io/name",
        "backup-db",
        "a_b",
    ] {
        assert_eq!(scalar(plain), plain);
    }
}
