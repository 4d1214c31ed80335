//! The overview (`GET /`): every job in one table (schedule in words and as
//! written, zone, next fire time, last run, the last 30 runs as a strip, the
//! success rate over 7 days, paused or running), and above it what runs now,
//! what runs next, what waits for a slot or a retry, the failures of the last 24 h, and the
//! state of the engine and the database.

use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};
use std::collections::HashMap;
use std::time::Duration;

use super::page::{Frame, badge, duration, page, relative, time_in};
use crate::daemon::control::JobState;
use crate::engine::Engine;
use crate::store::{
    OpenRun, RunBrief, RunRow, Store, StoreError, SuccessRate, Unfinished, parse_timestamp,
};

/// Runs in a job's strip.
pub const STRIP: u32 = 30;
/// The window of the success rate.
pub const RATE_WINDOW: TimeDelta = TimeDelta::days(7);
/// The window of the failures listed.
pub const FAILURE_WINDOW: TimeDelta = TimeDelta::hours(24);
/// The most failures listed.
pub const MAX_FAILURES: u32 = 20;
/// How long the engine may take to answer the overview's check.
pub const ENGINE_WAIT: Duration = Duration::from_secs(2);

/// Everything the overview shows, read at one instant.
#[derive(Debug)]
pub struct Overview {
    pub now: DateTime<Utc>,
    /// The jobs as the daemon plans them, by name.
    pub jobs: Vec<JobState>,
    /// Each job's last runs (id, status), newest first.
    pub recent: HashMap<String, Vec<(i64, String)>>,
    /// Each job's latest run.
    pub last: HashMap<String, RunRow>,
    pub rates: HashMap<String, SuccessRate>,
    pub failures: Vec<RunBrief>,
    pub open: Vec<OpenRun>,
    /// `Err`: why the engine did not answer.
    pub engine: Result<(), String>,
    /// The schema version the database answered a read with; `Err`: why it
    /// did not.
    pub database: Result<i64, String>,
}

impl Overview {
    /// Read it: the jobs from the daemon, the rest from the history (and the
    /// engine's answer to a ping).
    pub async fn read(
        mut jobs: Vec<JobState>,
        store: &Store,
        engine: &Engine,
        now: DateTime<Utc>,
    ) -> Result<Overview, StoreError> {
        jobs.sort_by(|a, b| a.job.name.cmp(&b.job.name));
        let names: Vec<String> = jobs.iter().map(|s| s.job.name.clone()).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let check = async {
            match tokio::time::timeout(ENGINE_WAIT, engine.check()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", ENGINE_WAIT.as_secs())),
            }
        };
        let database = async { store.check_readable().await.map_err(|e| e.to_string()) };
        let (recent, last, rates, failures, open, engine, database) = tokio::join!(
            store.recent_statuses(&names, STRIP),
            store.last_runs_of(&name_refs),
            store.success_rates(now - RATE_WINDOW),
            store.failures_since(now - FAILURE_WINDOW, MAX_FAILURES),
            store.open_runs(now),
            check,
            database,
        );
        Ok(Overview {
            now,
            jobs,
            recent: recent?,
            last: last?,
            rates: rates?,
            failures: failures?,
            open: open?,
            engine,
            database,
        })
    }
}

/// The overview page.
pub fn render(view: &Overview, frame: &Frame) -> Markup {
    let body = html! {
        h1 { "Overview" }
        section #now data-live aria-label="Now" {
            div.panels {
                (running_panel(view))
                (next_panel(view))
                (waiting_panel(view))
                (failures_panel(view))
                (state_panel(view))
            }
        }
        section #jobs data-live aria-labelledby="jobs-title" {
            h2 #jobs-title { (view.jobs.len()) " jobs" }
            div.scroll { (jobs_table(view)) }
        }
    };
    page("Overview", frame, body)
}

fn run_link(run: &RunBrief) -> Markup {
    html! { a href={"/runs/" (run.id)} { (run.job) " #" (run.id) } }
}

fn since(view: &Overview, text: &str) -> String {
    parse_timestamp(text)
        .map(|at| relative(view.now, at))
        .unwrap_or_default()
}

fn running_panel(view: &Overview) -> Markup {
    let running: Vec<&OpenRun> = view
        .open
        .iter()
        .filter(|o| matches!(o.state, Unfinished::Running { .. }))
        .collect();
    html! {
        div.panel #running {
            h2 { "Running now (" (running.len()) ")" }
            @if running.is_empty() { p.muted { "Nothing runs." } }
            ul {
                @for open in running {
                    @if let Unfinished::Running { attempt } = open.state {
                        li { (run_link(&open.run)) " attempt " (attempt) " · started " (since(view, &open.run.started_at)) }
                    }
                }
            }
        }
    }
}

/// How many of the soonest fire times the overview lists above the table.
pub const NEXT_UP: usize = 5;

fn next_panel(view: &Overview) -> Markup {
    let mut next: Vec<&JobState> = view
        .jobs
        .iter()
        .filter(|s| s.next.is_some() && !s.paused)
        .collect();
    next.sort_by_key(|s| s.next);
    html! {
        div.panel #next-up {
            h2 { "Next up" }
            @if next.is_empty() { p.muted { "No job is due." } }
            ul {
                @for state in next.iter().take(NEXT_UP) {
                    @if let Some(at) = state.next {
                        li {
                            a href={"/jobs/" (state.job.name)} { (state.job.name) } " "
                            (relative(view.now, at)) span.sub { (time_in(state.job.timezone, at)) }
                        }
                    }
                }
            }
        }
    }
}

fn waiting_panel(view: &Overview) -> Markup {
    let waiting: Vec<&OpenRun> = view
        .open
        .iter()
        .filter(|o| !matches!(o.state, Unfinished::Running { .. }))
        .collect();
    html! {
        div.panel #waiting {
            h2 { "Waiting (" (waiting.len()) ")" }
            @if waiting.is_empty() { p.muted { "No run waits for a slot or a retry." } }
            ul {
                @for open in waiting {
                    li {
                        (run_link(&open.run)) " · "
                        @match &open.state {
                            Unfinished::Retry { attempt, retry_at } => {
                                "attempt " (attempt) " after its backoff, "
                                (since(view, retry_at))
                            }
                            _ => { "waiting for a slot since " (since(view, &open.run.started_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn failures_panel(view: &Overview) -> Markup {
    html! {
        div.panel #failures {
            h2 { "Failures, last 24 h (" (view.failures.len()) ")" }
            @if view.failures.is_empty() { p.muted { "None." } }
            ul {
                @for run in &view.failures {
                    li {
                        (run_link(run)) " " (badge(&run.status)) " "
                        @if let Some(end) = &run.finished_at { (since(view, end)) }
                        @if let Some(reason) = &run.reason { span.sub { (reason) } }
                    }
                }
            }
        }
    }
}

fn state_panel(view: &Overview) -> Markup {
    let paused = view.jobs.iter().filter(|s| s.paused).count();
    html! {
        div.panel #state {
            h2 { "Daemon" }
            ul {
                li {
                    "Engine: "
                    @match &view.engine {
                        Ok(()) => span.ok { "answers" },
                        Err(why) => span.bad { "does not answer (" (why) ")" },
                    }
                }
                li {
                    "Database: "
                    @match &view.database {
                        Ok(version) => span.ok title={"schema version " (version)} { "readable" },
                        Err(why) => span.bad { "not readable (" (why) ")" },
                    }
                }
                li { (view.jobs.len()) " jobs, " (paused) " paused" }
                li.muted { "As of " (time_in(chrono_tz::UTC, view.now)) }
            }
        }
    }
}

fn jobs_table(view: &Overview) -> Markup {
    html! {
        table.jobs {
            thead {
                tr {
                    th scope="col" { "Job" }
                    th scope="col" { "Schedule" }
                    th.wide scope="col" { "Zone" }
                    th scope="col" { "Next" }
                    th scope="col" { "Last run" }
                    th.wide scope="col" { "Last " (STRIP) " runs" }
                    th.num scope="col" { "7 d" }
                    th scope="col" { "State" }
                }
            }
            tbody {
                @for state in &view.jobs { (job_row(view, state)) }
            }
        }
    }
}

fn job_row(view: &Overview, state: &JobState) -> Markup {
    let job = &state.job;
    let runs = view.recent.get(&job.name).map(Vec::as_slice).unwrap_or(&[]);
    let last = view.last.get(&job.name);
    html! {
        tr data-job=(job.name) {
            td { a href={"/jobs/" (job.name)} { (job.name) } }
            td { (job.started_by().unwrap_or_else(|| job.schedule.in_words())) span.sub { code { (job.schedule.expression()) } } }
            td.wide { (job.timezone.name()) }
            td.next {
                @match state.next {
                    Some(next) => { (time_in(job.timezone, next)) span.sub { (relative(view.now, next)) } },
                    None => span.muted { "none" },
                }
            }
            td.last { (last_run(view, last)) }
            td.wide { (strip(runs)) }
            td.num { (rate(view.rates.get(&job.name))) }
            td.state { (job_state(state)) }
        }
    }
}

fn last_run(view: &Overview, run: Option<&RunRow>) -> Markup {
    let Some(run) = run else {
        return html! { span.muted { "never" } };
    };
    html! {
        a href={"/runs/" (run.id)} { (badge(&run.status)) }
        span.sub {
            (since(view, &run.started_at))
            @if let Some(took) = duration(&run.started_at, run.finished_at.as_deref()) { " · " (took) }
        }
    }
}

/// The runs oldest first, one coloured mark each; those that did not succeed
/// carry their id and status on hover (most succeed: the page stays light).
pub fn strip(runs: &[(i64, String)]) -> Markup {
    let failed = runs
        .iter()
        .filter(|r| r.1 != "succeeded" && r.1 != "running")
        .count();
    html! {
        span.strip role="img" aria-label={"last " (runs.len()) " runs, " (failed) " not succeeded"} {
            @for (id, status) in runs.iter().rev() {
                @if status == "succeeded" { i.s-succeeded {} }
                @else { i class={"s-" (status)} title={"#" (id) " " (status)} {} }
            }
        }
    }
}

fn rate(rate: Option<&SuccessRate>) -> Markup {
    match rate {
        Some(r) if r.ended > 0 => {
            let percent = r.succeeded * 100 / r.ended;
            html! { span title={(r.succeeded) " of " (r.ended) " runs succeeded"} { (percent) " %" } }
        }
        _ => html! { span.muted { "–" } },
    }
}

fn job_state(state: &JobState) -> Markup {
    html! {
        @if state.paused { span.state-paused { "paused" } " " }
        @for id in &state.running {
            a.state-running href={"/runs/" (id)} { "running #" (id) } " "
        }
        @if !state.paused && state.running.is_empty() { span.muted { "idle" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(database: Result<i64, String>) -> Overview {
        Overview {
            now: chrono::DateTime::UNIX_EPOCH,
            jobs: Vec::new(),
            recent: HashMap::new(),
            last: HashMap::new(),
            rates: HashMap::new(),
            failures: Vec::new(),
            open: Vec::new(),
            engine: Ok(()),
            database,
        }
    }

    #[test]
    fn the_state_panel_says_what_the_database_answered() {
        let frame = Frame {
            csrf: String::new(),
            login: false,
        };
        let page = render(&view(Ok(20261122000000)), &frame).into_string();
        assert!(
            page.contains(r#"Database: <span class="ok" title="schema version 20261122000000">readable</span>"#),
            "{page}"
        );
        let page = render(&view(Err("disk I/O error".into())), &frame).into_string();
        assert!(
            page.contains(r#"Database: <span class="bad">not readable (disk I/O error)</span>"#),
            "{page}"
        );
    }
}
