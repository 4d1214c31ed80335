//! The JSON shapes the API answers with and takes, with their OpenAPI
//! schemas, and their making from the daemon's and the database's types.
//! Timestamps are RFC 3339 in UTC with milliseconds, as the database keeps them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::daemon::control::JobState;
use crate::store::{AttemptRow, RunRow, timestamp};

/// How many of a job's next fire times `GET /jobs` lists.
pub const NEXT_TIMES: usize = 5;

/// The URL of run `id`.
pub fn run_url(id: i64) -> String {
    format!("/api/v1/runs/{id}")
}

/// A job of the schedule, as the daemon plans it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[schema(example = "backup-db")]
    pub name: String,
    /// The schedule as written: 5 cron fields, a nickname or "@every ...";
    /// empty for a job that another job's end (`after`) or a file's arrival
    /// (`on_file`) starts: `started_by` says what does.
    #[schema(example = "30 2 * * *")]
    pub schedule: String,
    /// What starts the job instead of the clock, in words, as `cronbox check`
    /// and `cronbox next` say it ("after backup-db succeeds", "a file matching
    /// *.csv in /srv/inbox"); `null` for a job its schedule starts.
    pub started_by: Option<String>,
    /// The zone the schedule is read in.
    #[schema(example = "Europe/Paris")]
    pub timezone: String,
    pub image: String,
    /// `forbid`, `allow` or `replace`.
    pub concurrency: String,
    /// The environment variables a run started through the API may set.
    pub params: Vec<String>,
    /// Whether the job is paused (its ticks do not run).
    pub paused: bool,
    /// Its next fire times (the first is the daemon's next tick), at most 5:
    /// with `random_delay`, the instants the ticks fire (shifted by the job's
    /// fixed offset).
    pub next: Vec<String>,
    /// The ticks of the schedule those are for, in the same order: equal to
    /// `next` without `random_delay`.
    pub next_ticks: Vec<String>,
    /// The window of `random_delay` in seconds (`null`: none), and the job's
    /// fixed offset in it in seconds (0 without one).
    pub random_delay_seconds: Option<u64>,
    pub fire_offset_seconds: u64,
    /// The runs of it this daemon supervises now.
    pub running: Vec<i64>,
    /// Its latest run, if any.
    pub last_run: Option<RunSummary>,
}

/// A run, in short.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    pub id: i64,
    pub status: String,
    pub trigger: String,
    pub scheduled_at: String,
    pub finished_at: Option<String>,
}

impl JobView {
    /// `state` with its latest run `last`.
    pub fn new(state: &JobState, last: Option<&RunRow>) -> JobView {
        let job = &state.job;
        let (mut next, mut next_ticks) = (Vec::new(), Vec::new());
        let mut at = state.next;
        while let Some(fire) = at {
            next.push(timestamp(fire));
            next_ticks.push(timestamp(job.tick_of(fire)));
            if next.len() == NEXT_TIMES {
                break;
            }
            at = job.next_fire(fire).ok();
        }
        JobView {
            name: job.name.clone(),
            schedule: job.schedule.expression().to_owned(),
            started_by: job.started_by(),
            timezone: job.timezone.name().to_owned(),
            image: job.image.clone(),
            concurrency: job.concurrency.as_str().to_owned(),
            params: job.params.clone(),
            paused: state.paused,
            next,
            next_ticks,
            random_delay_seconds: job.random_delay.map(|d| d.as_secs()),
            fire_offset_seconds: job.fire_offset.as_secs(),
            running: state.running.clone(),
            last_run: last.map(|run| RunSummary {
                id: run.id,
                status: run.status.clone(),
                trigger: run.trigger.clone(),
                scheduled_at: run.scheduled_at.clone(),
                finished_at: run.finished_at.clone(),
            }),
        }
    }
}

/// A run: one firing of a job (`runs` in the database).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: i64,
    pub job: String,
    /// `schedule`, `catch-up`, `manual` or `api`.
    pub trigger: String,
    /// The tick's instant; for other triggers, when it was asked for.
    pub scheduled_at: String,
    /// For a tick that ran (`schedule`, `catch-up`): the instant it fired,
    /// `scheduled_at` shifted by the job's `random_delay` offset (equal to it
    /// without one); `null` otherwise.
    pub fire_at: Option<String>,
    /// `running`, `succeeded`, `failed`, `interrupted`, `stopped`, `skipped`,
    /// `missed` or `paused`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why it failed, was skipped, missed, paused or stopped, in words.
    pub reason: Option<String>,
    /// For a `missed` or `paused` run: how many ticks it stands for.
    pub missed_count: Option<i64>,
    /// ... and the first of them (`scheduled_at` is the last).
    pub missed_first: Option<String>,
    /// The parameters it was started with through the API; `null` for the
    /// value of one named as a secret of the job (never stored).
    pub params: BTreeMap<String, Option<String>>,
    /// Its URL in this API.
    pub url: String,
}

impl From<RunRow> for RunView {
    fn from(run: RunRow) -> RunView {
        RunView {
            url: run_url(run.id),
            id: run.id,
            job: run.job,
            trigger: run.trigger,
            scheduled_at: run.scheduled_at,
            fire_at: run.fire_at,
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            reason: run.reason,
            missed_count: run.missed_count,
            missed_first: run.missed_first,
            params: run.params.into_iter().collect(),
        }
    }
}

/// One container execution of a run (`attempts` in the database).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: i64,
    pub container_id: Option<String>,
    pub image: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    pub oom_killed: Option<bool>,
    /// `running`, `exited`, `oom`, `timeout`, `deadline`, `replaced`,
    /// `stopped`, `interrupted`, `image-missing` or `engine-error`.
    pub outcome: String,
    pub error: Option<String>,
    /// Milliseconds it waited for a [daemon] max_concurrent slot.
    pub waited_ms: Option<i64>,
    /// Bytes of output dropped between the head and the tail kept (max_output).
    pub stdout_dropped: i64,
    pub stderr_dropped: i64,
}

impl From<AttemptRow> for AttemptView {
    fn from(a: AttemptRow) -> AttemptView {
        AttemptView {
            attempt: a.attempt,
            container_id: a.container_id,
            image: a.image,
            started_at: a.started_at,
            finished_at: a.finished_at,
            exit_code: a.exit_code,
            oom_killed: a.oom_killed,
            outcome: a.outcome,
            error: a.error,
            waited_ms: a.waited_ms,
            stdout_dropped: a.stdout_dropped,
            stderr_dropped: a.stderr_dropped,
        }
    }
}

/// A run with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    pub run: RunView,
    pub attempts: Vec<AttemptView>,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunsPage {
    pub runs: Vec<RunView>,
    /// The URL of the next (older) page with the same filter; `null` on the last.
    pub next: Option<String>,
}

/// The body of `POST /jobs/{job}/runs` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Environment variables for this run only, over the job's env; only the
    /// names the job lists in `params`.
    #[serde(default)]
    #[schema(example = json!({"TARGET": "2026-11-30"}))]
    pub env: BTreeMap<String, String>,
}

/// A run that was started.
#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    pub run_id: i64,
    /// Where to follow it.
    #[schema(example = "/api/v1/runs/42")]
    pub url: String,
}

/// A run asked to stop.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stopping {
    pub run_id: i64,
    /// Always `stopping`: its stop_signal is sent, SIGKILL follows after its
    /// stop_grace, and it is recorded `stopped`.
    #[schema(example = "stopping")]
    pub status: &'static str,
    pub url: String,
}

/// A job's pause, after a pause or resume.
#[derive(Debug, Serialize, ToSchema)]
pub struct PauseState {
    pub job: String,
    pub paused: bool,
    /// Whether this request changed it (pausing a paused job changes nothing).
    pub changed: bool,
}
