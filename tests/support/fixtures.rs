//! What the integration tests and the benchmark harness both build from the
//! repository and the machine: the offline busybox image and the README's SQL.
//! Included with `#[path]` by `tests/common/mod.rs` and `benches/harness.rs`.

use std::path::Path;

/// A root filesystem for `Engine::import_rootfs`: the static `busybox` binary at
/// `/bin/busybox`, a symlink per applet it has, and `/tmp` (1777) and `/etc`.
/// No registry is needed.
pub fn busybox_rootfs(busybox: &Path) -> std::io::Result<Vec<u8>> {
    let binary = std::fs::read(busybox)?;
    let list = std::process::Command::new(busybox).arg("--list").output()?;
    let mut builder = tar::Builder::new(Vec::new());
    for path in ["bin", "tmp", "etc"] {
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(if path == "tmp" { 0o1777 } else { 0o755 });
        dir.set_size(0);
        builder.append_data(&mut dir, path, std::io::empty())?;
    }
    let mut file = tar::Header::new_gnu();
    file.set_mode(0o755);
    file.set_size(binary.len() as u64);
    builder.append_data(&mut file, "bin/busybox", binary.as_slice())?;
    let applets = String::from_utf8_lossy(&list.stdout);
    for applet in applets.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_mode(0o777);
        link.set_size(0);
        builder.append_link(&mut link, format!("bin/{applet}"), "busybox")?;
    }
    builder.into_inner()
}

/// The bodies of the ```sql blocks of `markdown`, in order, each ending in a newline.
pub fn sql_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sql") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}
