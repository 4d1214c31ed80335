//! The frame every dashboard page is drawn in (head, header, main), and the
//! small pieces pages share: times in a job's zone with their offset (UTC on
//! hover), relative times ("in 3 h 12 min"), durations, status badges.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, html};

use super::assets;
use crate::schedule::local_time;
use crate::store::parse_timestamp;

/// What every page needs besides its own content.
pub struct Frame {
    /// The CSRF value each form carries.
    pub csrf: String,
    /// Whether a login is asked (a logout button is then shown).
    pub login: bool,
}

/// A whole page: `title`, and `body` in its `<main>`.
pub fn page(title: &str, frame: &Frame, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · cronbox" }
                link rel="stylesheet" href=(assets::CSS_PATH);
                script src=(assets::JS_PATH) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "cronbox" }
                    nav aria-label="Site" {
                        a href="/" { "Overview" }
                    }
                    @if frame.login {
                        form.logout method="post" action="/logout" {
                            (csrf_field(&frame.csrf))
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main #main data-events="/events" { (body) }
            }
        }
    }
}

/// The hidden field that carries the CSRF value in a form.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// `at` on `tz`'s clock with its offset ("2026-03-29 03:00 +02:00"), the UTC
/// instant on hover and in `datetime`.
pub fn time_in(tz: Tz, at: DateTime<Utc>) -> Markup {
    let local = match local_time(tz, at) {
        Ok(local) => local.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        Err(_) => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    };
    html! {
        time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            title=(at.format("%Y-%m-%d %H:%M:%S UTC")) { (local) }
    }
}

/// A stored timestamp shown as [`time_in`] does; as stored when unreadable.
pub fn stored_time(tz: Tz, text: &str) -> Markup {
    match parse_timestamp(text) {
        Some(at) => time_in(tz, at),
        None => html! { (text) },
    }
}

/// How far `at` is from `now`, in words: "in 3 h 12 min", "5 min ago", "now".
pub fn relative(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let seconds = (at - now).num_seconds();
    let span = span(seconds.unsigned_abs());
    match seconds {
        -59..=59 if span.is_empty() => "now".to_owned(),
        s if s > 0 => format!("in {span}"),
        _ => format!("{span} ago"),
    }
}

/// A span of seconds in at most two units: "3 d 4 h", "3 h 12 min", "12 min",
/// "45 s"; empty under a second.
pub fn span(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, name) in units {
        if rest >= size && parts.len() < 2 {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            break;
        }
    }
    parts.join(" ")
}

/// The time between two stored timestamps, in words ("1 min 5 s"); "<1 s"
/// under a second; `None` when either is missing or unreadable.
pub fn duration(started: &str, finished: Option<&str>) -> Option<String> {
    let (start, end) = (parse_timestamp(started)?, parse_timestamp(finished?)?);
    let ms = (end - start).num_milliseconds().max(0);
    let seconds = u64::try_from(ms / 1000).unwrap_or(0);
    Some(if seconds == 0 {
        format!("{ms} ms")
    } else {
        span(seconds)
    })
}

/// A run's or attempt's status as a coloured badge.
pub fn badge(status: &str) -> Markup {
    html! { span class={"badge s-" (status)} { (status) } }
}

/// A notice of what went wrong (an error page's content).
pub fn notice(title: &str, message: &str, back: &str) -> Markup {
    html! {
        h1 { (title) }
        p.error role="alert" { (message) }
        p { a href=(back) { "Back" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_timestamp(text).expect("time")
    }

    #[test]
    fn relative_times_read_in_two_units_at_most() {
        let now = at("2026-03-29T00:00:00Z");
        let cases = [
            ("2026-03-29T03:12:40Z", "in 3 h 12 min"),
            ("2026-03-29T00:00:30Z", "in 30 s"),
            ("2026-03-28T23:55:00Z", "5 min ago"),
            ("2026-03-31T04:00:00Z", "in 2 d 4 h"),
            ("2026-03-29T00:00:00.400Z", "now"),
        ];
        for (when, want) in cases {
            assert_eq!(relative(now, at(when)), want, "{when}");
        }
    }

    #[test]
    fn times_show_the_zone_offset_and_utc_on_hover() {
        let paris: Tz = "Europe/Paris".parse().expect("zone");
        let text = time_in(paris, at("2026-03-29T01:30:00Z")).into_string();
        assert!(text.contains(">2026-03-29 03:30:00 +02:00<"), "{text}");
        assert!(
            text.contains(r#"title="2026-03-29 01:30:00 UTC""#),
            "{text}"
        );
        assert_eq!(
            duration("2026-01-01T00:00:00.000Z", Some("2026-01-01T00:01:05.000Z")).as_deref(),
            Some("1 min 5 s")
        );
        assert_eq!(
            duration("2026-01-01T00:00:00.000Z", Some("2026-01-01T00:00:00.250Z")).as_deref(),
            Some("250 ms")
        );
        assert_eq!(duration("2026-01-01T00:00:00.000Z", None), None);
    }
}
