//! The long-range view of a job's page, drawn by the server as SVG from one
//! query ([`crate::store::Store::duration_buckets`]): for each of the last
//! [`WEEKS`] weeks (UTC, the last one ending with today), a light bar to the
//! longest run, a dark bar to the median run, and under the axis a red mark as
//! tall as the week's share of failures (`failed` and `interrupted` among the
//! runs that ran to an end). The time scale is the duration chart's
//! logarithmic one.

use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};

use super::chart::{LEFT, Scale, TOP, WIDTH, axis, px, seconds_words};
use crate::store::DurationBucket;

/// Weeks in the view.
pub const WEEKS: u32 = 52;
/// A bucket's width.
pub const WEEK: TimeDelta = TimeDelta::days(7);

const HEIGHT: f64 = 200.0;
/// The bottom of the duration bars.
const BASE: f64 = 150.0;
/// The tallest failure mark, under the axis.
const FAIL_BAND: f64 = 16.0;

/// Where the view starts: [`WEEKS`] weeks before the end of `now`'s UTC day.
pub fn since(now: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc());
    midnight + TimeDelta::days(1) - WEEK * WEEKS as i32
}

/// The view of `buckets` (weeks from `since`, as read).
pub fn weekly(buckets: &[DurationBucket], since: DateTime<Utc>) -> Markup {
    if buckets.is_empty() {
        return html! { p.muted { "No run ended in the last " (WEEKS) " weeks." } };
    }
    let values = buckets.iter().flat_map(|b| [b.median, b.max]);
    let scale = Scale::holding(values, TOP, BASE);
    let step = (WIDTH - LEFT) / f64::from(WEEKS);
    let runs: i64 = buckets.iter().map(|b| b.runs).sum();
    let failures: i64 = buckets.iter().map(|b| b.failures).sum();
    let worst = buckets
        .iter()
        .map(|b| b.failures as f64 / b.runs.max(1) as f64)
        .fold(0.0, f64::max);
    let label = format!(
        "Median and longest run per week over the last {WEEKS} weeks, on a logarithmic scale: {runs} runs, {failures} failed"
    );
    let week_of = |index: u32| (since + WEEK * index as i32).format("%Y-%m-%d").to_string();
    html! {
        svg.chart.trend viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(label) {
            (axis(&scale))
            line.axis x1=(LEFT) y1=(BASE) x2=(WIDTH) y2=(BASE) {}
            @for index in (0..WEEKS).step_by(13) {
                text x=(px(LEFT + f64::from(index) * step)) y=(px(HEIGHT - 4.0)) { (week_of(index)) }
            }
            @for b in buckets {
                @let x = LEFT + f64::from(b.index) * step;
                @let (top, middle) = (scale.y(b.max).min(BASE - 1.0), scale.y(b.median).min(BASE - 1.0));
                g.week {
                    title {
                        "Week of " (week_of(b.index)) ": " (b.runs) " runs, " (b.failures) " failed, median "
                        (seconds_words(b.median)) ", longest " (seconds_words(b.max))
                    }
                    rect.longest x=(px(x)) y=(px(top)) width=(px(step - 1.0)) height=(px(BASE - top)) {}
                    rect.median x=(px(x + step / 4.0)) y=(px(middle)) width=(px(step / 2.0)) height=(px(BASE - middle)) {}
                    @if b.failures > 0 {
                        @let share = b.failures as f64 / b.runs.max(1) as f64;
                        rect.failures x=(px(x)) y=(px(BASE + 3.0)) width=(px(step - 1.0))
                            height=(px(2.0 + (FAIL_BAND - 2.0) * share / worst.max(f64::EPSILON))) {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_timestamp;

    #[test]
    fn the_view_ends_with_today_and_spans_its_weeks() {
        let now = parse_timestamp("2026-03-29T13:45:00Z").expect("time");
        let start = since(now);
        assert_eq!(
            start + WEEK * WEEKS as i32,
            parse_timestamp("2026-03-30T00:00:00Z").expect("time")
        );
    }

    #[test]
    fn each_week_with_runs_has_its_bars_and_a_failure_mark_when_some_failed() {
        let start = parse_timestamp("2026-01-05T00:00:00Z").expect("time");
        let buckets = [
            DurationBucket {
                index: 0,
                runs: 4,
                failures: 2,
                median: 25.0,
                max: 40.0,
            },
            DurationBucket {
                index: 51,
                runs: 3,
                failures: 0,
                median: 7.0,
                max: 9.0,
            },
        ];
        let svg = weekly(&buckets, start).into_string();
        assert_eq!(svg.matches(r#"<g class="week">"#).count(), 2, "{svg}");
        assert_eq!(svg.matches(r#"<rect class="failures""#).count(), 1, "{svg}");
        assert!(
            svg.contains("Week of 2026-01-05: 4 runs, 2 failed, median 25 s, longest 40 s"),
            "{svg}"
        );
        assert!(svg.contains("7 runs, 2 failed"), "{svg}");
        assert!(weekly(&[], start).into_string().contains("No run ended"));
    }
}
