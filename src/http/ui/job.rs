//! A job's page (`GET /jobs/{job}`): Run now (with a field per `params`
//! name), Pause or Resume, the next 10 fire times with the daylight-saving
//! rule noted where one applies, a chart of the last 100 runs' durations with
//! the timeout and deadline drawn, the durations and failures of the last 52
//! weeks, the run history (a page at a time, by status and trigger), and the
//! whole configuration as validated, with the names of its secrets and
//! environment variables only (never a value).

use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{Frame, badge, csrf_field, duration, page, relative, stored_time, time_in};
use super::{chart, settings, trend};
use crate::config::Job;
use crate::daemon::control::JobState;
use crate::schedule::DstChange;
use crate::store::{DurationBucket, EndedRun, RunFilter, RunRow, Store, StoreError};

/// Fire times listed.
pub const NEXT: usize = 10;
/// Runs in the chart.
pub const CHART: u32 = 100;
/// Runs per page of the history.
pub const PAGE: u32 = 25;
/// The statuses and triggers the history can be filtered by.
pub const STATUSES: [&str; 8] = [
    "running",
    "succeeded",
    "failed",
    "interrupted",
    "stopped",
    "skipped",
    "missed",
    "paused",
];
pub const TRIGGERS: [&str; 6] = ["schedule", "catch-up", "manual", "api", "after", "file"];

/// The history's filter and cursor (the query string).
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    pub status: Option<String>,
    pub trigger: Option<String>,
    pub before: Option<i64>,
}

impl HistoryQuery {
    /// The filter of job `job`'s page; values not in the lists are ignored.
    fn filter(&self, job: &str) -> RunFilter {
        let pick = |value: &Option<String>, known: &[&str]| {
            value.clone().filter(|v| known.contains(&v.as_str()))
        };
        RunFilter {
            job: Some(job.to_owned()),
            status: pick(&self.status, &STATUSES),
            trigger: pick(&self.trigger, &TRIGGERS),
            before: self.before.filter(|b| *b > 0),
            limit: PAGE,
        }
    }
}

/// Everything a job's page shows.
#[derive(Debug)]
pub struct JobPage {
    pub now: DateTime<Utc>,
    pub state: JobState,
    pub history: Vec<RunRow>,
    pub filter: RunFilter,
    pub ended: Vec<EndedRun>,
    /// Where the long-range view starts, and its weeks that have runs.
    pub since: DateTime<Utc>,
    pub weeks: Vec<DurationBucket>,
}

impl JobPage {
    /// Read the history of `state`'s job.
    pub async fn read(
        state: JobState,
        query: &HistoryQuery,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<JobPage, StoreError> {
        let filter = query.filter(&state.job.name);
        let since = trend::since(now);
        let name = &state.job.name;
        let (history, ended, weeks) = tokio::join!(
            store.runs(&filter),
            store.ended_runs(name, CHART),
            store.duration_buckets(name, since, trend::WEEK, trend::WEEKS),
        );
        Ok(JobPage {
            now,
            history: history?,
            ended: ended?,
            weeks: weeks?,
            since,
            state,
            filter,
        })
    }
}

/// The job's page.
pub fn render(view: &JobPage, frame: &Frame) -> Markup {
    let job = &view.state.job;
    let body = html! {
        h1 { "Job " (job.name) }
        section #job-state data-live aria-label="State" {
            p {
                (job.started_by().unwrap_or_else(|| job.schedule.in_words())) " · " code { (job.schedule.expression()) } " · " (job.timezone.name())
                " · "
                @if view.state.paused { span.state-paused #paused { "paused" } } @else { span #paused { "active" } }
                @for id in &view.state.running { " · " a.state-running href={"/runs/" (id)} { "running #" (id) } }
            }
        }
        (actions(view, frame))
        section #next-times data-live aria-labelledby="next-title" {
            h2 #next-title { "Next " (NEXT) " fire times" }
            (next_times(view))
        }
        section #chart data-live aria-labelledby="chart-title" {
            h2 #chart-title { "Durations of the last " (CHART) " runs" }
            (chart::durations(&view.ended, job.timeout, job.deadline))
            p.muted {
                "Each bar is a run from its start to its end (retries and their backoff included); the dark bar inside it is its longest attempt, "
                "which is what the timeout limits, as the deadline limits the whole run. The scale is logarithmic."
            }
        }
        section #trend data-live aria-labelledby="trend-title" {
            h2 #trend-title { "Durations and failures, last " (trend::WEEKS) " weeks" }
            (trend::weekly(&view.weeks, view.since))
            p.muted {
                "Per week (UTC): the light bar reaches the longest run, the dark bar the median run; the red mark under the axis grows with the share of runs that failed."
            }
        }
        section #history data-live aria-labelledby="history-title" {
            h2 #history-title { "History" }
            (history(view))
        }
        section aria-labelledby="config-title" {
            h2 #config-title { "Configuration" }
            (config(job))
        }
    };
    page(&format!("Job {}", job.name), frame, body)
}

fn actions(view: &JobPage, frame: &Frame) -> Markup {
    let job = &view.state.job;
    html! {
        div.actions {
            form.actions #run-now method="post" action={"/jobs/" (job.name) "/run"} {
                (csrf_field(&frame.csrf))
                @for name in &job.params {
                    label { code { (name) } input type="text" name={"param." (name)} autocomplete="off"; }
                }
                button.primary type="submit" { "Run now" }
            }
            // A live part of its own (a pause from another client swaps the
            // button), apart from Run now's fields, which keep what is typed.
            @if view.state.paused {
                form.actions #pause-control data-live method="post" action={"/jobs/" (job.name) "/resume"} {
                    (csrf_field(&frame.csrf))
                    button #resume type="submit" { "Resume" }
                }
            } @else {
                form.actions #pause-control data-live method="post" action={"/jobs/" (job.name) "/pause"} {
                    (csrf_field(&frame.csrf))
                    button #pause type="submit" { "Pause" }
                }
            }
        }
    }
}

/// The next fire times, a daylight-saving change that touches one noted.
fn next_times(view: &JobPage) -> Markup {
    let job = &view.state.job;
    let mut times = Vec::new();
    let mut at = view.state.next;
    while let Some(t) = at {
        times.push(t);
        if times.len() == NEXT {
            break;
        }
        at = job.schedule.next_or_end(t).ok();
    }
    let Some(last) = times.last().copied() else {
        return html! { p.muted { "No fire time left." } };
    };
    let conflicts = job
        .schedule
        .dst_conflicts(view.now, last + TimeDelta::days(1));
    let near = TimeDelta::hours(3);
    html! {
        @if view.state.paused { p.state-paused { "Paused: these ticks are recorded paused, not run, until the job is resumed." } }
        ol.next {
            @for t in &times {
                li {
                    (time_in(job.timezone, *t)) " "
                    span.muted { (relative(view.now, *t)) }
                    @for c in conflicts.iter().filter(|c| (c.at - *t).abs() <= near) {
                        span.sub.dst {
                            @match c.change {
                                DstChange::SpringForward => { "Daylight saving: " (c.wall.format("%H:%M")) " does not exist that day (the clock jumps forward); cronbox runs it once, at the end of the gap." },
                                DstChange::FallBack => { "Daylight saving: " (c.wall.format("%H:%M")) " happens twice that day (the clock goes back); cronbox runs it once, in the first pass." },
                            }
                        }
                    }
                }
            }
        }
    }
}

fn history(view: &JobPage) -> Markup {
    let job = &view.state.job.name;
    let filter = &view.filter;
    let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    html! {
        form.actions method="get" action={"/jobs/" (job)} {
            label { "Status" select name="status" {
                option value="" { "any" }
                @for s in STATUSES { option value=(s) selected[selected(&filter.status, s)] { (s) } }
            } }
            label { "Trigger" select name="trigger" {
                option value="" { "any" }
                @for t in TRIGGERS { option value=(t) selected[selected(&filter.trigger, t)] { (t) } }
            } }
            button type="submit" { "Filter" }
        }
        @if view.history.is_empty() { p.muted { "No run." } }
        @else {
            div.scroll { table.history {
                thead { tr {
                    th.num scope="col" { "Run" } th scope="col" { "Status" } th scope="col" { "Trigger" }
                    th scope="col" { "Scheduled" } th scope="col" { "Took" } th scope="col" { "Reason" }
                } }
                tbody {
                    @for run in &view.history {
                        tr {
                            td.num { a href={"/runs/" (run.id)} { "#" (run.id) } }
                            td { (badge(&run.status)) }
                            td { (run.trigger) }
                            td { (stored_time(view.state.job.timezone, &run.scheduled_at)) }
                            td { (duration(&run.started_at, run.finished_at.as_deref()).unwrap_or_default()) }
                            td { @if let Some(r) = &run.reason { (r) } }
                        }
                    }
                }
            } }
        }
        nav.pager aria-label="History pages" {
            @if filter.before.is_some() { a href=(page_url(job, filter, None)) { "Newest" } }
            @if view.history.len() == PAGE as usize {
                @if let Some(last) = view.history.last() {
                    a href=(page_url(job, filter, Some(last.id))) { "Older" }
                }
            }
        }
    }
}

/// The URL of a page of the history with `filter`, before run `before`.
fn page_url(job: &str, filter: &RunFilter, before: Option<i64>) -> String {
    let mut query = Vec::new();
    if let Some(s) = &filter.status {
        query.push(format!("status={s}"));
    }
    if let Some(t) = &filter.trigger {
        query.push(format!("trigger={t}"));
    }
    if let Some(b) = before {
        query.push(format!("before={b}"));
    }
    format!("/jobs/{job}?{}", query.join("&"))
}

/// The job's settings as validated, every key of the schema ([`settings`]);
/// `env` and `secrets` by name only.
fn config(job: &Job) -> Markup {
    html! {
        dl.config #config {
            @for (key, label, value) in settings::rows(job) {
                dt data-key=(key) { (label) } dd { code { (value) } }
            }
        }
    }
}
