//! A small YAML writer for Kubernetes manifests: block mappings and
//! sequences of strings, integers and booleans, one document at a time.
//!
//! Why not a YAML crate: Kubernetes reads manifests with YAML 1.1 rules plus
//! Go's integer syntax (sigs.k8s.io/yaml), under which plain scalars such as
//! `on`, `0o17`, `1_000` or `2024-01-01` are not strings. The maintained Rust
//! emitters (yaml-rust2, serde_norway) decide quoting by YAML 1.2 rules and
//! write those plain. Here a string is written plain only when it is
//! obviously a string to every YAML reader (a letter or `/` first, then
//! letters, digits, `_`, `.`, `/`, `-`, and not a YAML 1.1 boolean or null
//! word); anything else is double-quoted with escapes.

use std::fmt::Write;

/// A YAML value. Mappings keep their keys in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A string, quoted when a YAML reader could take it for anything else.
    Str(String),
    /// An integer (Kubernetes' int32 and int64 fields).
    Int(i64),
    Bool(bool),
    /// A mapping, its keys in this order.
    Map(Vec<(String, Node)>),
    /// A sequence.
    List(Vec<Node>),
}

impl Node {
    /// A string node.
    pub fn str(text: impl Into<String>) -> Node {
        Node::Str(text.into())
    }

    /// A mapping from `(key, value)` pairs, in that order.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Node)>) -> Node {
        Node::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A sequence of strings.
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Node {
        Node::List(items.into_iter().map(|s| Node::Str(s.into())).collect())
    }
}

/// One document: `---`, the comment lines (each prefixed `# `; line breaks in
/// them become spaces), then `node` in block style, ending with a newline.
pub fn document(comments: &[String], node: &Node) -> String {
    let mut out = String::from("---\n");
    for comment in comments {
        let line: String = comment
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        out.push_str("# ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    write_block(&mut out, node, 0);
    out
}

/// `node` at `indent` spaces, as the value of a key already written (or at
/// the top): a scalar on its own line, a collection line by line.
fn write_block(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Map(entries) if !entries.is_empty() => write_map(out, entries, indent),
        Node::List(items) if !items.is_empty() => write_list(out, items, indent),
        scalar => {
            pad(out, indent);
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn write_map(out: &mut String, entries: &[(String, Node)], indent: usize) {
    for (i, (key, value)) in entries.iter().enumerate() {
        // The first key of a list item follows its "- " (see write_list).
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str(&scalar(key));
        out.push(':');
        write_value(out, value, indent + 2);
    }
}

fn write_list(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            Node::Map(entries) if !entries.is_empty() => write_map(out, entries, indent + 2),
            Node::List(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, indent + 2);
            }
            scalar => {
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// After `key:`: a scalar or empty collection on the same line, else the
/// collection on the following lines.
fn write_value(out: &mut String, value: &Node, indent: usize) {
    match value {
        Node::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            write_map(out, entries, indent);
        }
        Node::List(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// A scalar or an empty collection, on one line.
fn inline(node: &Node) -> String {
    match node {
        Node::Str(text) => scalar(text),
        Node::Int(n) => n.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Map(_) => "{}".to_owned(),
        Node::List(_) => "[]".to_owned(),
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Words YAML 1.1 reads as booleans or null when plain.
const RESERVED_WORDS: [&str; 12] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf",
];

/// `text` as a YAML scalar: plain when every reader sees a string, else
/// double-quoted.
pub fn scalar(text: &str) -> String {
    if is_plain_safe(text) {
        text.to_owned()
    } else {
        quoted(text)
    }
}

fn is_plain_safe(text: &str) -> bool {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '/')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !RESERVED_WORDS.contains(&text.to_ascii_lowercase().as_str())
}

/// A double-quoted scalar: `"` and `\` escaped, and every character a YAML
/// reader could take for a line break or that is not printable as `\uXXXX`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
