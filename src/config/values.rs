//! Parsers and rules for single values of the file (sizes, signals, capabilities, host
//! names, ...), independent of TOML. Each error is the "why" part of a message: it
//! says what is wrong and what is accepted, and quotes the value only where the value
//! is not a secret (none of these are).

use super::error::quote;

const KIB: u128 = 1024;
const MIB: u128 = 1024 * KIB;
const GIB: u128 = 1024 * MIB;

/// What [`parse_size`] accepts, for messages.
pub(super) const SIZE_UNITS: &str = "units: B; k, K, KiB = 1024 B; m, M, MiB = 1024 KiB; g, G, GiB = 1024 MiB; KB, MB, GB = 1000, 1000000, 1000000000 B; any case";

/// The units of a size, lower case (they are case-insensitive), with their bytes.
pub(super) const SIZE_UNIT_BYTES: [(&str, u128); 10] = [
    ("b", 1),
    ("k", KIB),
    ("kib", KIB),
    ("m", MIB),
    ("mib", MIB),
    ("g", GIB),
    ("gib", GIB),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
];

/// Parses a size such as "256MiB", "1.5GiB", "512m", "64 KB" or "1048576B" into bytes.
///
/// A number (digits, optionally with a fractional part) then a unit, which is required;
/// spaces around and between are allowed. Single letters and `*iB` are binary (as in
/// Docker, where `-m 256m` means 256 MiB); `KB`, `MB` and `GB` are decimal (SI). Units
/// are case-insensitive. A fractional result is rounded down to whole bytes. At most
/// `i64::MAX` bytes (Docker's limit).
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let accepted = format!(
        "write a number and a unit such as \"256MiB\", \"1.5GiB\" or \"512m\" ({SIZE_UNITS})"
    );
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("a size cannot be negative; {accepted}"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim_start());
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(format!("it does not start with a number; {accepted}"));
    }
    if unit.is_empty() {
        return Err(format!(
            "the unit is missing (a bare number is refused so that its unit is never a guess); {accepted}"
        ));
    }
    let lower = unit.to_ascii_lowercase();
    let Some(&(_, multiplier)) = SIZE_UNIT_BYTES.iter().find(|(name, _)| *name == lower) else {
        return Err(format!("unknown unit {}; {accepted}", quote(unit)));
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let too_large = || format!("it is too large; the most is {} bytes", i64::MAX);
    if whole.len() > 20 || fraction.len() > 18 {
        return Err(too_large());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let fraction_bytes = if fraction.is_empty() {
        0
    } else {
        let digits: u128 = fraction.parse().map_err(|_| too_large())?;
        digits * multiplier / 10u128.pow(fraction.len() as u32)
    };
    let bytes = whole * multiplier + fraction_bytes;
    u64::try_from(bytes)
        .ok()
        .filter(|&b| b <= i64::MAX as u64)
        .ok_or_else(too_large)
}

/// A size for messages: "6MiB", "4KiB", "1GiB", or "1500B" when not a whole number of KiB.
pub(super) fn format_size(bytes: u64) -> String {
    let bytes = u128::from(bytes);
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// Linux signals 1 to 31 by number, without the "SIG" prefix.
pub(super) const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];
/// Other names of the same signals.
pub(super) const SIGNAL_ALIASES: [(&str, u32); 3] = [("IOT", 6), ("CLD", 17), ("POLL", 29)];
const SIGRTMIN: u32 = 34;
const SIGRTMAX: u32 = 64;

/// The normalised name of a stop signal given as a Linux signal name, with or without
/// "SIG", in any case ("SIGTERM", "term", "SigUsr1", "RTMIN+3", "SIGRTMAX-2"), or as a
/// number from 1 to 64 except 32 and 33 (reserved by the C library): "SIGTERM",
/// "SIGRTMIN+3", "SIGRTMAX-2", the names Docker accepts. Real-time signals are named
/// from RTMIN up to RTMIN+15 and from RTMAX-14 up to RTMAX, as Docker does.
pub(super) fn normalize_signal(text: &str) -> Option<String> {
    let text = text.trim();
    if !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()) {
        return signal_name(text.parse().ok()?);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(index) = SIGNALS.iter().position(|&s| s == name) {
        return signal_name(index as u32 + 1);
    }
    if let Some(&(_, number)) = SIGNAL_ALIASES.iter().find(|(alias, _)| *alias == name) {
        return signal_name(number);
    }
    let offset = |digits: &str| -> Option<u32> {
        (!digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    let number = if name == "RTMIN" {
        SIGRTMIN
    } else if name == "RTMAX" {
        SIGRTMAX
    } else if let Some(n) = name.strip_prefix("RTMIN+") {
        SIGRTMIN + offset(n)?
    } else if let Some(n) = name.strip_prefix("RTMAX-") {
        SIGRTMAX.checked_sub(offset(n)?)?
    } else {
        return None;
    };
    (SIGRTMIN..=SIGRTMAX)
        .contains(&number)
        .then(|| signal_name(number))
        .flatten()
}

fn signal_name(number: u32) -> Option<String> {
    Some(match number {
        1..=31 => format!("SIG{}", SIGNALS[number as usize - 1]),
        SIGRTMIN => "SIGRTMIN".to_owned(),
        35..=49 => format!("SIGRTMIN+{}", number - SIGRTMIN),
        50..=63 => format!("SIGRTMAX-{}", SIGRTMAX - number),
        SIGRTMAX => "SIGRTMAX".to_owned(),
        _ => return None,
    })
}

/// The signal names, for "did you mean" suggestions: the usual stop signals first, so
/// that they win a tie ("TREM" is as close to "TRAP" as to "TERM").
pub(super) fn signal_names() -> impl Iterator<Item = &'static str> {
    const USUAL: [&str; 5] = ["TERM", "INT", "QUIT", "HUP", "KILL"];
    USUAL
        .into_iter()
        .chain(SIGNALS.iter().copied().filter(|s| !USUAL.contains(s)))
}

/// Linux capabilities (capability.h, up to Linux 6.x), without the "CAP_" prefix.
pub(super) const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability name with or without "CAP_", in any case, or "ALL": upper case without
/// the prefix ("NET_ADMIN", "ALL"); `None` when unknown.
pub(super) fn normalize_capability(text: &str) -> Option<String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    (name == "ALL" || CAPABILITIES.contains(&name)).then(|| name.to_owned())
}

/// Checks a host name: one or more RFC 1123 labels separated by dots, each 1 to 63
/// letters, digits and "-", not starting or ending with "-"; at most 64 characters in
/// all (Linux's limit).
pub(super) fn check_hostname(text: &str) -> Result<(), String> {
    const RULE: &str = "use letters, digits and \"-\" in dot-separated labels of 1 to 63 characters, not starting or ending with \"-\" (RFC 1123), such as \"backup-1\" or \"db.internal\"";
    if text.is_empty() {
        return Err(format!("it is empty; {RULE}"));
    }
    if text.len() > 64 {
        return Err(format!(
            "it is longer than 64 characters, Linux's limit; {RULE}"
        ));
    }
    for label in text.split('.') {
        let why = if label.is_empty() {
            "it has an empty label (two dots in a row, or a dot at an end)"
        } else if label.len() > 63 {
            "a label is longer than 63 characters"
        } else if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            "it contains characters other than letters, digits, \"-\" and \".\""
        } else if label.starts_with('-') || label.ends_with('-') {
            "a label starts or ends with \"-\""
        } else {
            continue;
        };
        return Err(format!("{why}; {RULE}"));
    }
    Ok(())
}

/// The address `[daemon.http] listen` names: `None` for "" (the server is off).
/// An IP address and a port: "127.0.0.1:7340", "[::1]:7340", "0.0.0.0:7340"; host
/// names are refused (the file is read without the network).
pub(super) fn parse_listen(text: &str) -> Result<Option<std::net::SocketAddr>, String> {
    const RULE: &str = "use an IP address and a port such as \"127.0.0.1:7340\" (this box only), \"0.0.0.0:7340\" (every interface, which needs token_file) or \"[::1]:7340\", or \"\" to turn the server off";
    if text.is_empty() {
        return Ok(None);
    }
    let address: std::net::SocketAddr = text.parse().map_err(|_| {
        if text.contains(':') && !text.starts_with('[') && text.matches(':').count() == 1 {
            format!("it is not an IP address and a port (host names are not looked up); {RULE}")
        } else {
            format!("it is not an IP address and a port; {RULE}")
        }
    })?;
    if address.port() == 0 {
        return Err(format!(
            "port 0 would pick a different port at each start, which the CLI could not find; {RULE}"
        ));
    }
    Ok(Some(address))
}

/// Checks `[daemon.http] listen` (see [`parse_listen`]).
pub(super) fn check_listen(text: &str) -> Result<(), String> {
    parse_listen(text).map(drop)
}

/// Checks `[daemon] engine`: `unix://` and an absolute socket path, or
/// `tcp://` / `http://` and a host and port (what `DOCKER_HOST` accepts, less
/// TLS, which cronbox is built without).
pub(super) fn check_engine(text: &str) -> Result<(), String> {
    const RULE: &str = "use \"unix:///run/podman/podman.sock\" (Podman, rootful), \"unix:///var/run/docker.sock\" (Docker) or \"tcp://HOST:PORT\"";
    if let Some(path) = text.strip_prefix("unix://") {
        return if path.starts_with('/') && path.len() > 1 {
            Ok(())
        } else {
            Err(format!(
                "the socket path after unix:// must be absolute; {RULE}"
            ))
        };
    }
    let Some(address) = text
        .strip_prefix("tcp://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return Err(format!(
            "it names no unix://, tcp:// or http:// address; {RULE}"
        ));
    };
    let address = address.strip_suffix('/').unwrap_or(address);
    match address.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !host.contains('/')
                && port.parse::<u16>().is_ok_and(|p| p > 0) =>
        {
            Ok(())
        }
        _ => Err(format!("a tcp:// address needs a host and a port; {RULE}")),
    }
}

/// Whether `name` is a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a network: "none", "bridge", "host", or a network name matching Docker's
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub(super) fn check_network(text: &str) -> Result<(), String> {
    const RULE: &str = "use \"none\", \"bridge\", \"host\" or the name of a Docker network, which matches [a-zA-Z0-9][a-zA-Z0-9_.-]*";
    if text.starts_with("container:") {
        return Err(format!(
            "sharing another container's network (\"container:NAME\") is not supported; {RULE}"
        ));
    }
    let mut chars = text.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else if text.is_empty() {
        Err(format!(
            "it is empty; {RULE}, or remove the line to use Docker's default network"
        ))
    } else {
        Err(format!("it is not a valid network name; {RULE}"))
    }
}

/// Checks a container user: `USER`, `UID`, `USER:GROUP` or `UID:GID`, where a name
/// matches `[A-Za-z0-9_][A-Za-z0-9_.-]*` (at most 32 characters).
pub(super) fn check_user(text: &str) -> Result<(), String> {
    const RULE: &str = "use a user name or number, optionally with a group: \"1000\", \"1000:1000\", \"nobody\" or \"app:app\"";
    let part_ok = |part: &str| {
        let mut chars = part.chars();
        part.len() <= 32
            && matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    let mut parts = text.splitn(2, ':');
    let user = parts.next().unwrap_or("");
    let group = parts.next();
    if text.is_empty() {
        Err(format!(
            "it is empty; {RULE}, or remove the line to use the image's user"
        ))
    } else if !part_ok(user) || group.is_some_and(|g| !part_ok(g)) {
        Err(format!("it is not a valid user or group; {RULE}"))
    } else {
        Ok(())
    }
}

/// Checks an absolute container path ("/data"): starts with "/", no NUL.
pub(super) fn check_container_path(text: &str) -> Result<(), String> {
    if text.contains('\0') {
        Err("it contains a NUL character".to_owned())
    } else if !text.starts_with('/') {
        Err("it is not absolute; it must start with \"/\"".to_owned())
    } else {
        Ok(())
    }
}

/// Parses a tmpfs mount, `"/path"` or `"/path:options"` (options as for `mount -t
/// tmpfs`, such as "size=64m,mode=1777"), and returns the path.
pub(super) fn parse_tmpfs(text: &str) -> Result<&str, String> {
    const RULE: &str = "use \"/path\" or \"/path:options\" with an absolute path, such as \"/cache\" or \"/cache:size=64m,mode=1777\"";
    let (path, options) = match text.split_once(':') {
        Some((path, options)) => (path, Some(options)),
        None => (text, None),
    };
    if let Err(why) = check_container_path(path) {
        return Err(format!("the path {}: {why}; {RULE}", quote(path)));
    }
    if path.trim_end_matches('/').is_empty() {
        return Err(format!(
            "cannot mount over the container's root \"/\"; {RULE}"
        ));
    }
    if let Some(options) = options
        && (options.split(',').any(|o| o.trim().is_empty())
            || options.contains(char::is_whitespace))
    {
        return Err(format!(
            "the options {} are empty or have an empty item or spaces; {RULE}",
            quote(options)
        ));
    }
    Ok(path)
}

/// Checks a secret's name: `[A-Za-z0-9_.-]+`, not "." or "..", at most 255 characters
/// (it becomes the file name `/run/secrets/NAME`).
pub(super) fn check_secret_name(name: &str) -> Result<(), String> {
    const RULE: &str = "secret names match [A-Za-z0-9_.-]+ (they become the file /run/secrets/NAME), such as \"db_password\"";
    if name == "." || name == ".." {
        Err(format!("\".\" and \"..\" are not file names; {RULE}"))
    } else if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        Err(RULE.to_owned())
    } else {
        Ok(())
    }
}

/// A container path compared with others: without trailing slashes ("/data/" is "/data").
pub(super) fn mount_target(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// Checks a notification channel's `url` (or the contents of its `url_file`): an
/// absolute `http://` or `https://` URL with a host. The error never repeats the
/// URL, which may hold a token.
pub(crate) fn check_url(text: &str) -> Result<(), String> {
    const RULE: &str = "write an absolute http:// or https:// URL such as \"https://hooks.example.org/services/T0/B0\"";
    let url = reqwest::Url::parse(text.trim())
        .map_err(|error| format!("it is not a URL ({error}); {RULE}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "its scheme {:?} is not http or https; {RULE}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("it names no host; {RULE}"));
    }
    Ok(())
}

/// An SMTP server URL (`[notify.NAME] smtp`): `smtp://HOST[:PORT]` or
/// `smtps://HOST[:PORT]`, without credentials (they go in `username` and
/// `password_file`), a path or a query.
pub(crate) fn check_smtp_url(text: &str) -> Result<(), String> {
    const RULE: &str = "write smtp://HOST[:PORT] (STARTTLS, port 587 by default) or smtps://HOST[:PORT] (TLS, port 465), such as \"smtp://mail.example.org:587\"";
    let url = reqwest::Url::parse(text.trim())
        .map_err(|error| format!("it is not a URL ({error}); {RULE}"))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "its scheme {:?} is not smtp or smtps; {RULE}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("it names no host; {RULE}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "it holds credentials; put the user name in username and the password in password_file"
                .to_owned(),
        );
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "it has a path or a query, which SMTP has no use for; {RULE}"
        ));
    }
    Ok(())
}

/// A mail address (`from`, an item of `to`): `"ops@example.org"` or
/// `"Ops <ops@example.org>"`, as RFC 5322 writes a mailbox.
pub(crate) fn check_mailbox(text: &str) -> Result<(), String> {
    text.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|error| {
            format!("it is not a mail address ({error}); write one such as \"ops@example.org\" or \"Ops <ops@example.org>\"")
        })
}
