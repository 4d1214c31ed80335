//! The zone jobs default to when the schedule file names none, and where it
//! comes from. The order is the job's `timezone` (or `[defaults]`'), then
//! `[daemon] timezone`, then what the C library would use: `TZ`, then the
//! system's zone (`/etc/localtime`), then UTC. This file resolves the last
//! three from values the CLI reads ([`default_zone`]); validation applies the
//! first two. Pure: no environment variable or file is read here.
//!
//! `TZ` is read as glibc reads it: unset means the system's zone; set but empty
//! (or just `:`) means UTC; `Area/City` and `:Area/City` name a zone, as does a
//! path to a zone file under a `zoneinfo` directory (`:/usr/share/zoneinfo/Europe/Paris`,
//! or `:/etc/localtime` through its link); a POSIX string without daylight
//! saving and with a whole-hour offset (`UTC0`, `EST5`) is the matching fixed
//! zone (`UTC`, `Etc/GMT+5`). Anything else (a POSIX rule with daylight saving
//! such as `CET-1CEST,M3.5.0,M10.5.0/3`, a name cronbox does not know) names no
//! zone cronbox can use: rather than run jobs at times the operator did not
//! mean, a job that needs the default zone is then refused.

use chrono_tz::Tz;
use std::fmt;

/// Where the default zone of jobs comes from (shown by `cronbox check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSource {
    /// `[daemon] timezone` in the schedule file.
    DaemonKey,
    /// The `TZ` environment variable, with its value as set (`""`: UTC).
    Tz(String),
    /// The system's zone: where `/etc/localtime` links (or `/etc/timezone`).
    System,
    /// Nothing names a zone cronbox knows: UTC. Why, as a sentence fragment.
    Fallback(String),
    /// `TZ` names no zone cronbox can use: why, and what to do. Validation
    /// refuses every job that would need the default zone, so a [`super::Config`]
    /// with this source has none.
    Unusable(String),
}

impl fmt::Display for ZoneSource {
    /// `from TZ="Europe/Paris"`, `from /etc/localtime`, ...: how `check` says
    /// where the default zone came from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneSource::DaemonKey => f.write_str("from [daemon] timezone"),
            ZoneSource::Tz(value) if tz_means_utc(value) => {
                write!(f, "from TZ={value:?}, which means UTC")
            }
            ZoneSource::Tz(value) => write!(f, "from TZ={value:?}"),
            ZoneSource::System => f.write_str("from /etc/localtime"),
            ZoneSource::Fallback(why) => f.write_str(why),
            ZoneSource::Unusable(why) => f.write_str(why),
        }
    }
}

/// The zone jobs default to when neither they nor `[daemon]` name one, and its
/// source. `tz` is the `TZ` variable (`None` when unset); `canonical` gives
/// the path a file path resolves to, links followed (for `TZ=:/etc/localtime`),
/// `None` when it cannot; `system` is the name of the system's zone or why it
/// could not be read. With [`ZoneSource::Unusable`] the zone is UTC and means
/// nothing.
pub fn default_zone(
    tz: Option<&str>,
    canonical: impl Fn(&str) -> Option<String>,
    system: Result<&str, String>,
) -> (Tz, ZoneSource) {
    match tz {
        Some(value) => match tz_zone(value, canonical) {
            Ok(zone) => (zone, ZoneSource::Tz(value.to_owned())),
            Err(why) => (Tz::UTC, ZoneSource::Unusable(why)),
        },
        None => match system {
            Ok(name) => match zone_named(name) {
                Some(zone) => (zone, ZoneSource::System),
                None => (
                    Tz::UTC,
                    ZoneSource::Fallback(format!(
                        "TZ is not set and the system's zone {name:?} (/etc/localtime) is not in cronbox's time-zone data"
                    )),
                ),
            },
            Err(why) => (
                Tz::UTC,
                ZoneSource::Fallback(format!(
                    "TZ is not set and the system's zone cannot be read from /etc/localtime ({why})"
                )),
            ),
        },
    }
}

/// What to do when `TZ` names no usable zone.
const TZ_ADVICE: &str =
    "set timezone in [daemon] (or in each job), or set TZ to a zone name such as \"Europe/Paris\"";

/// Whether the C library reads `value` as UTC: empty, or just `:`.
fn tz_means_utc(value: &str) -> bool {
    value.strip_prefix(':').unwrap_or(value).is_empty()
}

/// The zone `TZ=value` names, as glibc reads it, or why it names none.
fn tz_zone(value: &str, canonical: impl Fn(&str) -> Option<String>) -> Result<Tz, String> {
    if tz_means_utc(value) {
        return Ok(Tz::UTC);
    }
    let name = value.strip_prefix(':').unwrap_or(value);
    if name.starts_with('/') {
        let path = canonical(name).unwrap_or_else(|| name.to_owned());
        return path
            .rsplit_once("/zoneinfo/")
            .and_then(|(_, name)| zone_named(name))
            .ok_or_else(|| {
                format!(
                    "TZ={value:?} names the file {path}, which is not a zone file of cronbox's time-zone data (under a zoneinfo directory); {TZ_ADVICE}"
                )
            });
    }
    if let Some(zone) = zone_named(name) {
        return Ok(zone);
    }
    match posix_tz(name) {
        Some(Posix::Fixed(seconds_west)) => fixed_zone(seconds_west).ok_or_else(|| {
            format!(
                "TZ={value:?} is a POSIX TZ string for a fixed offset that is not a whole number of hours, which no zone name stands for; {TZ_ADVICE}"
            )
        }),
        Some(Posix::WithDst) => Err(format!(
            "TZ={value:?} is a POSIX TZ rule with daylight saving, which cronbox does not read (its DST rules come from zone names); {TZ_ADVICE}"
        )),
        None => {
            let suggestion = super::suggest::timezone_suggestion(name)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            Err(format!(
                "TZ={value:?} names no zone in cronbox's time-zone data{suggestion}; {TZ_ADVICE}"
            ))
        }
    }
}

/// The zone of an IANA name, also under the `posix/` directory glibc ships.
fn zone_named(name: &str) -> Option<Tz> {
    let name = name.strip_prefix("posix/").unwrap_or(name);
    name.parse().ok()
}

/// What a POSIX TZ string (`std offset [dst [offset] [,rule]]`) says, as far as
/// cronbox needs to know.
#[derive(Debug, PartialEq, Eq)]
enum Posix {
    /// No daylight saving: this offset, in seconds west of UTC (POSIX's sign).
    Fixed(i64),
    /// A daylight-saving part follows the standard offset.
    WithDst,
}

/// Parse the start of a POSIX TZ string: a name (three or more letters, or
/// `<...>`), then an offset `[+-]hh[:mm[:ss]]`; anything after is the
/// daylight-saving part. `None` when it is not one.
fn posix_tz(text: &str) -> Option<Posix> {
    let rest = if let Some(quoted) = text.strip_prefix('<') {
        let (name, rest) = quoted.split_once('>')?;
        (!name.is_empty()).then_some(rest)?
    } else {
        let letters = text.chars().take_while(char::is_ascii_alphabetic).count();
        (letters >= 3).then(|| &text[letters..])?
    };
    let (sign, rest) = match rest.as_bytes().first() {
        Some(b'-') => (-1, &rest[1..]),
        Some(b'+') => (1, &rest[1..]),
        _ => (1, rest),
    };
    let digits_and_colons = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .count();
    let (offset, after) = rest.split_at(digits_and_colons);
    let mut parts = offset.split(':');
    let hours: i64 = parts
        .next()
        .filter(|h| (1..=2).contains(&h.len()))?
        .parse()
        .ok()?;
    let mut seconds = hours * 3600;
    for (part, unit) in parts.zip([60, 1]) {
        if part.len() != 2 {
            return None;
        }
        seconds += part.parse::<i64>().ok().filter(|v| *v < 60)? * unit;
    }
    if hours > 24 {
        return None;
    }
    Some(if after.is_empty() {
        Posix::Fixed(sign * seconds)
    } else {
        Posix::WithDst
    })
}

/// The zone for a fixed offset of `seconds_west` (POSIX's sign): `UTC`, or
/// `Etc/GMT+5` for five hours west (the Etc names keep POSIX's sign).
fn fixed_zone(seconds_west: i64) -> Option<Tz> {
    if seconds_west % 3600 != 0 {
        return None;
    }
    match seconds_west / 3600 {
        0 => Some(Tz::UTC),
        hours => format!("Etc/GMT{hours:+}").parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_zone_comes_from_tz_then_the_system_then_utc() {
        // A fake file system for TZ=:/path: only /etc/localtime is a link.
        let canonical = |path: &str| {
            (path == "/etc/localtime").then(|| "/usr/share/zoneinfo/Asia/Tokyo".to_owned())
        };
        let paris = Ok("Europe/Paris");
        // (TZ, system zone, expected zone, expected source as check shows it)
        type Case<'a> = (Option<&'a str>, Result<&'a str, String>, Tz, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                None,
                paris.clone(),
                Tz::Europe__Paris,
                "from /etc/localtime",
            ),
            (
                Some("Europe/Stockholm"),
                paris.clone(),
                Tz::Europe__Stockholm,
                "from TZ=\"Europe/Stockholm\"",
            ),
            (
                Some(":Europe/Stockholm"),
                paris.clone(),
                Tz::Europe__Stockholm,
                "from TZ=\":Europe/Stockholm\"",
            ),
            (
                Some(""),
                paris.clone(),
                Tz::UTC,
                "from TZ=\"\", which means UTC",
            ),
            (
                Some(":"),
                paris.clone(),
                Tz::UTC,
                "from TZ=\":\", which means UTC",
            ),
            (
                Some(":/usr/share/zoneinfo/America/New_York"),
                paris.clone(),
                Tz::America__New_York,
                "from TZ=\":/usr/share/zoneinfo/America/New_York\"",
            ),
            (
                Some("/usr/share/zoneinfo/posix/Europe/Berlin"),
                paris.clone(),
                Tz::Europe__Berlin,
                "from TZ=\"/usr/share/zoneinfo/posix/Europe/Berlin\"",
            ),
            (
                Some(":/etc/localtime"),
                paris.clone(),
                Tz::Asia__Tokyo,
                "from TZ=\":/etc/localtime\"",
            ),
            // A zone file's name that is also a POSIX string: the file wins, as in glibc.
            (
                Some("EST5EDT"),
                paris.clone(),
                Tz::EST5EDT,
                "from TZ=\"EST5EDT\"",
            ),
            (Some("UTC0"), paris.clone(), Tz::UTC, "from TZ=\"UTC0\""),
            (
                Some("EST5"),
                paris.clone(),
                Tz::Etc__GMTPlus5,
                "from TZ=\"EST5\"",
            ),
            (
                Some("<+03>-3"),
                paris.clone(),
                Tz::Etc__GMTMinus3,
                "from TZ=\"<+03>-3\"",
            ),
            (
                None,
                Ok("Mars/Olympus_Mons"),
                Tz::UTC,
                "TZ is not set and the system's zone \"Mars/Olympus_Mons\" (/etc/localtime) is not in cronbox's time-zone data",
            ),
            (
                None,
                Err("no such file".to_owned()),
                Tz::UTC,
                "TZ is not set and the system's zone cannot be read from /etc/localtime (no such file)",
            ),
        ];
        for (tz, system, zone, source) in cases {
            let (got_zone, got_source) = default_zone(tz, canonical, system);
            assert_eq!(
                (got_zone, got_source.to_string()),
                (zone, source.to_owned()),
                "TZ={tz:?}"
            );
        }
    }

    #[test]
    fn a_tz_that_names_no_usable_zone_is_unusable() {
        let canonical = |_: &str| None;
        // (TZ, what the message must say)
        let cases = [
            (
                "CET-1CEST,M3.5.0,M10.5.0/3",
                "is a POSIX TZ rule with daylight saving",
            ),
            ("EST5EDT4", "is a POSIX TZ rule with daylight saving"),
            ("IST-5:30", "not a whole number of hours"),
            ("Europe/Stockolm", "did you mean \"Europe/Stockholm\"?"),
            ("right/Europe/Paris", "names no zone"),
            (":/etc/cronbox/zone", "names the file /etc/cronbox/zone"),
            ("1", "names no zone"),
        ];
        for (tz, says) in cases {
            let (_, source) = default_zone(Some(tz), canonical, Ok("Europe/Paris"));
            let ZoneSource::Unusable(why) = &source else {
                panic!("TZ={tz:?} gave {source:?}");
            };
            assert!(why.contains(says), "TZ={tz:?}: {why}");
            assert!(why.contains("set timezone in [daemon]"), "TZ={tz:?}: {why}");
        }
    }
}
