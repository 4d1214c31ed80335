//! The duration chart of a job's page, drawn by the server as SVG: one bar per
//! run (oldest on the left) from its start to its end, coloured by status
//! (failures marked ×), and inside it a dark bar for its longest attempt. The
//! job's `timeout` limits one attempt, so its line is read against the dark
//! bars; its `deadline` limits the whole run, so its line is read against the
//! whole bars. The scale is logarithmic ([`Scale`]), so that a run of seconds
//! and a timeout of an hour both show. No script, no chart library.

use maud::{Markup, html};
use std::time::Duration;

use super::page::{duration, span};
use crate::store::{EndedRun, RunBrief, parse_timestamp};

pub const WIDTH: f64 = 900.0;
pub const HEIGHT: f64 = 180.0;
pub const LEFT: f64 = 48.0;
pub const TOP: f64 = 10.0;
pub const BOTTOM: f64 = 20.0;

/// The marks of a logarithmic time axis: seconds and how they are written.
const MARKS: [(f64, &str); 9] = [
    (0.1, "0.1 s"),
    (1.0, "1 s"),
    (10.0, "10 s"),
    (60.0, "1 min"),
    (600.0, "10 min"),
    (3_600.0, "1 h"),
    (21_600.0, "6 h"),
    (86_400.0, "1 d"),
    (604_800.0, "7 d"),
];

/// A logarithmic time axis from the mark at or below the shortest value to
/// the mark at or above the longest (values beyond the marks are clamped to
/// them), mapped to the heights `bottom` (its low end) to `top`, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    low: f64,
    high: f64,
    top: f64,
    bottom: f64,
}

impl Scale {
    /// The scale that holds `values` (seconds).
    pub fn holding(values: impl IntoIterator<Item = f64>, top: f64, bottom: f64) -> Scale {
        let (mut least, mut most) = (f64::INFINITY, 0.0_f64);
        for v in values {
            least = least.min(v);
            most = most.max(v);
        }
        let first = MARKS[0].0;
        let last = MARKS[MARKS.len() - 1].0;
        let low = MARKS
            .iter()
            .rev()
            .map(|m| m.0)
            .find(|m| *m <= least)
            .unwrap_or(first);
        let high = MARKS
            .iter()
            .map(|m| m.0)
            .find(|m| *m >= most && *m > low)
            .unwrap_or(last);
        // Beyond the last mark: the axis is its last decade.
        let low = if high > low {
            low
        } else {
            MARKS[MARKS.len() - 2].0
        };
        Scale {
            low,
            high,
            top,
            bottom,
        }
    }

    /// The height of `seconds` on the axis.
    pub fn y(&self, seconds: f64) -> f64 {
        let s = seconds.clamp(self.low, self.high);
        let share = (s / self.low).ln() / (self.high / self.low).ln();
        self.bottom - share * (self.bottom - self.top)
    }

    /// The axis' marks, low to high, with their heights.
    pub fn marks(&self) -> impl Iterator<Item = (f64, &'static str)> + '_ {
        MARKS
            .iter()
            .filter(|m| m.0 >= self.low && m.0 <= self.high)
            .map(|m| (self.y(m.0), m.1))
    }
}

/// The axis of `scale` from `LEFT` to `WIDTH`: a light line and a label per mark.
pub fn axis(scale: &Scale) -> Markup {
    html! {
        @for (y, label) in scale.marks() {
            line.grid x1=(LEFT) y1=(px(y)) x2=(WIDTH) y2=(px(y)) {}
            text x="2" y=(px(y + 3.0)) { (label) }
        }
    }
}

/// A coordinate as written in the SVG.
pub fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// Seconds a run took (`None` when unfinished or unreadable).
fn seconds(run: &RunBrief) -> Option<f64> {
    let start = parse_timestamp(&run.started_at)?;
    let end = parse_timestamp(run.finished_at.as_deref()?)?;
    Some(((end - start).num_milliseconds().max(0) as f64) / 1000.0)
}

/// A limit drawn across the chart: its class, its words, its length.
struct Limit {
    class: &'static str,
    words: &'static str,
    seconds: f64,
}

/// The chart of `runs` (newest first, as read) with the job's `timeout` (one
/// attempt) and `deadline` (the whole run) drawn.
pub fn durations(
    runs: &[EndedRun],
    timeout: Option<Duration>,
    deadline: Option<Duration>,
) -> Markup {
    let bars: Vec<(&EndedRun, f64)> = runs
        .iter()
        .rev()
        .filter_map(|r| Some((r, seconds(&r.run)?)))
        .collect();
    if bars.is_empty() {
        return html! { p.muted { "No run has ended yet." } };
    }
    let limits: Vec<Limit> = [
        timeout.map(|t| Limit {
            class: "limit",
            words: "timeout (each attempt)",
            seconds: t.as_secs_f64(),
        }),
        deadline.map(|d| Limit {
            class: "limit deadline",
            words: "deadline (whole run)",
            seconds: d.as_secs_f64(),
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let values = bars
        .iter()
        .map(|b| b.1)
        .chain(limits.iter().map(|l| l.seconds));
    let scale = Scale::holding(values, TOP, HEIGHT - BOTTOM);
    let base = HEIGHT - BOTTOM;
    // At most 24 px a bar, so that a few runs do not look like many.
    let step = ((WIDTH - LEFT) / bars.len() as f64).min(24.0);
    let width = (step - 1.0).max(1.0);
    let longest = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let failures = bars
        .iter()
        .filter(|b| b.0.run.status != "succeeded")
        .count();
    let label = format!(
        "Durations of the last {} runs on a logarithmic scale, {failures} not succeeded, longest {}",
        bars.len(),
        seconds_words(longest)
    );
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(label) {
            (axis(&scale))
            line.axis x1=(LEFT) y1=(base) x2=(WIDTH) y2=(base) {}
            @for (i, (ended, s)) in bars.iter().enumerate() {
                @let run = &ended.run;
                @let x = LEFT + i as f64 * step;
                @let y = scale.y(*s).min(base - 1.0);
                @let took = duration(&run.started_at, run.finished_at.as_deref()).unwrap_or_default();
                a href={"/runs/" (run.id)} aria-label={"Run #" (run.id) ", " (run.status) ", " (took)} {
                    rect class={"bar-" (run.status)} x=(px(x)) y=(px(y)) width=(px(width)) height=(px(base - y)) {
                        title { "#" (run.id) " " (run.status) " " (took) }
                    }
                    @if let Some(a) = ended.longest_attempt {
                        @let ay = scale.y(a).min(base - 1.0);
                        rect.attempt x=(px(x + width / 4.0)) y=(px(ay)) width=(px(width / 2.0)) height=(px(base - ay)) {
                            title { "#" (run.id) ": longest attempt " (seconds_words(a)) }
                        }
                    }
                    @if run.status != "succeeded" {
                        text x=(px(x + step / 2.0 - 3.0)) y=(px(y - 2.0)) { "×" }
                    }
                }
            }
            @for limit in &limits {
                @let y = scale.y(limit.seconds);
                // Above its line, or under it when the line is at the top.
                @let label_y = if y - 3.0 < TOP + 8.0 { y + 11.0 } else { y - 3.0 };
                line class=(limit.class) x1=(LEFT) y1=(px(y)) x2=(WIDTH) y2=(px(y)) {}
                text x=(px(WIDTH - 4.0)) y=(px(label_y)) text-anchor="end" {
                    (limit.words) " " (humantime::format_duration(Duration::from_secs_f64(limit.seconds)))
                }
            }
        }
    }
}

/// Seconds in words: "250 ms" under a second, else as [`span`] writes them.
pub fn seconds_words(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{} ms", (seconds * 1000.0).round())
    } else {
        span(seconds as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_from_the_mark_below_the_shortest_to_the_mark_above_the_longest() {
        // (values, its low and high ends)
        let cases: [(&[f64], f64, f64); 5] = [
            (&[2.0, 30.0], 1.0, 60.0),
            (&[2.0, 600.0], 1.0, 600.0),
            (&[0.01, 0.5], 0.1, 1.0),
            (&[5.0, 5.0], 1.0, 10.0),
            (&[1e9], 86_400.0, 604_800.0),
        ];
        for (values, low, high) in cases {
            let scale = Scale::holding(values.iter().copied(), 10.0, 110.0);
            assert_eq!((scale.low, scale.high), (low, high), "{values:?}");
        }
    }

    #[test]
    fn the_scale_is_logarithmic_and_clamped() {
        let scale = Scale::holding([1.0, 100.0], 0.0, 100.0);
        assert_eq!((scale.low, scale.high), (1.0, 600.0));
        assert_eq!(scale.y(1.0), 100.0);
        assert_eq!(scale.y(600.0), 0.0);
        assert_eq!(scale.y(0.001), 100.0, "below the low end");
        let ten = scale.y(10.0);
        let hundred = scale.y(100.0);
        assert!(
            (100.0 - ten - (ten - hundred)).abs() < 1e-9,
            "a decade is as tall as the next"
        );
        let labels: Vec<&str> = scale.marks().map(|m| m.1).collect();
        assert_eq!(labels, ["1 s", "10 s", "1 min", "10 min"]);
    }

    #[test]
    fn the_timeout_is_drawn_against_the_longest_attempt_and_the_deadline_against_the_run() {
        let run = |id: i64, secs: u32, attempt: Option<f64>| EndedRun {
            run: RunBrief {
                id,
                job: "a".into(),
                trigger: "schedule".into(),
                status: "succeeded".into(),
                started_at: "2026-01-01T00:00:00.000Z".into(),
                finished_at: Some(format!(
                    "2026-01-01T00:{:02}:{:02}.000Z",
                    secs / 60,
                    secs % 60
                )),
                reason: None,
            },
            longest_attempt: attempt,
        };
        let svg = durations(
            &[run(2, 3, Some(2.5)), run(1, 1500, Some(590.0))],
            Some(Duration::from_secs(600)),
            Some(Duration::from_secs(3600)),
        )
        .into_string();
        assert!(svg.contains("timeout (each attempt) 10m"), "{svg}");
        assert!(svg.contains("deadline (whole run) 1h"), "{svg}");
        assert_eq!(svg.matches(r#"<rect class="attempt""#).count(), 2, "{svg}");
        assert!(
            svg.contains(r#"aria-label="Run #1, succeeded, 25 min""#),
            "{svg}"
        );
        assert!(svg.contains("logarithmic"), "{svg}");
    }
}
