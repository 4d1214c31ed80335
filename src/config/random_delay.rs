//! `random_delay` (issue 14, systemd's `RandomizedDelaySec` with
//! `FixedRandomDelay=true`): each job's ticks fire a fixed offset after their
//! instant. The offset comes from the database's seed (a random value made once
//! per database, so that boxes sharing a schedule spread differently) and the
//! job's name, so it stays the same across restarts and reloads. Pure: the seed is
//! read by whoever holds the database and handed in.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Config, Job};
use crate::schedule::{End, fixed_offset};

impl Config {
    /// Set every job's [`Job::fire_offset`] from `seed` (the database's
    /// `database_seed`) and its name: in `[0, random_delay)`, zero without
    /// `random_delay`.
    pub fn spread_ticks(&mut self, seed: &str) {
        for job in &mut self.jobs {
            let offset = job
                .random_delay
                .map_or(std::time::Duration::ZERO, |window| {
                    fixed_offset(&[seed, &job.name], window)
                });
            // A job is shared (Arc) with the configuration it came from: only
            // one whose offset changes is copied.
            if job.fire_offset != offset {
                std::sync::Arc::make_mut(job).fire_offset = offset;
            }
        }
    }

    /// This configuration with [`Config::spread_ticks`] applied; its jobs are
    /// those of `self` (shared), but for the ones with a `random_delay`.
    pub fn with_spread_ticks(&self, seed: &str) -> Config {
        let mut config = self.clone();
        config.spread_ticks(seed);
        config
    }
}

impl Job {
    /// The instant the daemon fires `tick`, a tick of the schedule: `tick`
    /// shifted by [`Job::fire_offset`] (`random_delay`).
    pub fn fire_at(&self, tick: DateTime<Utc>) -> DateTime<Utc> {
        tick + self.offset()
    }

    /// The tick that fires at `fire` (the inverse of [`Job::fire_at`]).
    pub fn tick_of(&self, fire: DateTime<Utc>) -> DateTime<Utc> {
        fire - self.offset()
    }

    /// The first fire instant strictly after `after` ([`Job::fire_at`] of a tick;
    /// the tick itself without `random_delay`), or why there is none (see
    /// [`crate::schedule::Schedule::next_or_end`]).
    pub fn next_fire(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>, End> {
        self.schedule
            .next_or_end(self.tick_of(after))
            .map(|tick| self.fire_at(tick))
    }

    /// [`Job::fire_offset`] as a `TimeDelta` (at most 365 days: always fits).
    fn offset(&self) -> TimeDelta {
        TimeDelta::from_std(self.fire_offset).unwrap_or_default()
    }
}
