//! The duration chart of a job's page, drawn by the server as SVG: one bar per
//! run (oldest on the left), coloured by status (failures marked), and the
//! job's timeout as a dashed line. No script, no chart library.

use maud::{Markup, html};
use std::time::Duration;

use super::page::{duration, span};
use crate::store::{RunBrief, parse_timestamp};

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 48.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 20.0;

/// Seconds a run took (`None` when unfinished or unreadable).
fn seconds(run: &RunBrief) -> Option<f64> {
    let start = parse_timestamp(&run.started_at)?;
    let end = parse_timestamp(run.finished_at.as_deref()?)?;
    Some(((end - start).num_milliseconds().max(0) as f64) / 1000.0)
}

/// The chart of `runs` (newest first, as read) with `timeout` drawn.
pub fn durations(runs: &[RunBrief], timeout: Option<Duration>) -> Markup {
    let bars: Vec<(&RunBrief, f64)> = runs
        .iter()
        .rev()
        .filter_map(|r| Some((r, seconds(r)?)))
        .collect();
    if bars.is_empty() {
        return html! { p.muted { "No run has ended yet." } };
    }
    let limit = timeout.map(|t| t.as_secs_f64());
    let longest = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let top = longest.max(limit.unwrap_or(0.0)).max(1.0) * 1.1;
    let plot = HEIGHT - TOP - BOTTOM;
    let y = |s: f64| TOP + plot - s / top * plot;
    // At most 24 px a bar, so that a few runs do not look like many.
    let step = ((WIDTH - LEFT) / bars.len() as f64).min(24.0);
    let failures = bars.iter().filter(|b| b.0.status != "succeeded").count();
    let label = format!(
        "Durations of the last {} runs, {failures} not succeeded, longest {}",
        bars.len(),
        span(longest as u64)
    );
    html! {
        svg.chart viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(label) {
            line.axis x1=(LEFT) y1=(y(0.0)) x2=(WIDTH) y2=(y(0.0)) {}
            text x="2" y=(y(0.0)) { "0" }
            text x="2" y=(TOP + 8.0) { (span(top as u64)) }
            @for (i, (run, s)) in bars.iter().enumerate() {
                @let x = LEFT + i as f64 * step;
                @let h = (y(0.0) - y(*s)).max(1.0);
                a href={"/runs/" (run.id)} {
                    rect class={"bar-" (run.status)} x=(format!("{x:.1}")) y=(format!("{:.1}", y(0.0) - h))
                        width=(format!("{:.1}", (step - 1.0).max(1.0))) height=(format!("{h:.1}")) {
                        title { "#" (run.id) " " (run.status) " " (duration(&run.started_at, run.finished_at.as_deref()).unwrap_or_default()) }
                    }
                    @if run.status != "succeeded" {
                        text x=(format!("{:.1}", x + step / 2.0 - 3.0)) y=(format!("{:.1}", y(0.0) - h - 2.0)) { "×" }
                    }
                }
            }
            @if let Some(limit) = limit {
                line.limit x1=(LEFT) y1=(format!("{:.1}", y(limit))) x2=(WIDTH) y2=(format!("{:.1}", y(limit))) {}
                text x=(LEFT + 4.0) y=(format!("{:.1}", y(limit) - 3.0)) { "timeout " (humantime::format_duration(Duration::from_secs_f64(limit))) }
            }
        }
    }
}
