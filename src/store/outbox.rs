//! The notification outbox (table `notifications`) and the routes that fill it
//! (table `notify_routes`).
//!
//! The rows are written by SQLite triggers on `runs` (see
//! `migrations/20261130010000_notifications.sql`), in the transaction that
//! records a run's end, from the routes the daemon writes here from the schedule
//! file. This file only reads them for the deliverer and moves them through their
//! states: pending, then delivered, folded or abandoned.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, parse_timestamp, timestamp};

/// Which channel a job tells about which events (one row of `notify_routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub job: String,
    pub channel: String,
    /// The events asked for (`failure`, `recovery`, `success`, `missed`, `skipped`).
    pub events: Vec<String>,
    /// Repeats within this many milliseconds are folded (0: never).
    pub cooldown_ms: i64,
}

/// A job that pings a healthchecks channel (one row of `ping_routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingRoute {
    pub job: String,
    pub channel: String,
    /// The check's UUID or slug.
    pub check: String,
}

/// A notification as the deliverer and `cronbox notifications` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub job: String,
    pub run_id: Option<i64>,
    pub channel: String,
    pub event: String,
    /// `pending`, `delivered`, `folded` or `abandoned`.
    pub state: String,
    pub created_at: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
    /// The last failure, naming the channel's host only.
    pub last_error: Option<String>,
    /// The JSON payload, once built (at the first attempt).
    #[serde(skip)]
    pub payload: Option<String>,
    /// The job's `notify_cooldown` for this channel, in milliseconds (0 when the
    /// route is gone).
    #[serde(skip)]
    pub cooldown_ms: i64,
}

/// The columns [`notification`] reads, in its order, and the tables they come from.
macro_rules! select_notifications {
    () => {
        "SELECT n.id, n.job, n.run_id, n.channel, n.event, n.state, n.created_at, n.attempts,
             n.next_attempt_at, n.delivered_at, n.last_error, n.payload, coalesce(r.cooldown_ms, 0)
         FROM notifications n LEFT JOIN notify_routes r ON r.job = n.job AND r.channel = n.channel "
    };
}

fn notification(row: &sqlx::sqlite::SqliteRow) -> Notification {
    Notification {
        id: row.get(0),
        job: row.get(1),
        run_id: row.get(2),
        channel: row.get(3),
        event: row.get(4),
        state: row.get(5),
        created_at: row.get(6),
        attempts: row.get(7),
        next_attempt_at: row.get(8),
        delivered_at: row.get(9),
        last_error: row.get(10),
        payload: row.get(11),
        cooldown_ms: row.get(12),
    }
}

impl Store {
    /// Replace every route with `routes` (the daemon's schedule file, at start and
    /// reload), in one transaction.
    pub async fn set_notify_routes(
        &self,
        routes: Vec<Route>,
        pings: Vec<PingRoute>,
    ) -> Result<(), StoreError> {
        self.in_transaction("writing the notification routes", move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM notify_routes").execute(&mut *conn).await?;
                sqlx::query("DELETE FROM ping_routes").execute(&mut *conn).await?;
                for ping in &pings {
                    sqlx::query("INSERT INTO ping_routes (job, channel, \"check\") VALUES (?1, ?2, ?3)")
                        .bind(&ping.job)
                        .bind(&ping.channel)
                        .bind(&ping.check)
                        .execute(&mut *conn)
                        .await?;
                }
                for route in &routes {
                    let on = |event: &str| route.events.iter().any(|e| e == event);
                    sqlx::query(
                        "INSERT INTO notify_routes (job, channel, on_failure, on_recovery, on_success,
                             on_missed, on_skipped, on_overdue, cooldown_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .bind(&route.job)
                    .bind(&route.channel)
                    .bind(on("failure"))
                    .bind(on("recovery"))
                    .bind(on("success"))
                    .bind(on("missed"))
                    .bind(on("skipped"))
                    .bind(on("overdue"))
                    .bind(route.cooldown_ms)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Up to `limit` pending notifications due at `now`, oldest first.
    pub async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(concat!(
            select_notifications!(),
            "WHERE n.state = 'pending' AND n.next_attempt_at <= ?1
             ORDER BY n.next_attempt_at, n.id LIMIT ?2"
        ))
        .bind(timestamp(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading due notifications"))?;
        Ok(rows.iter().map(notification).collect())
    }

    /// When the next pending notification is due, if any is pending.
    pub async fn next_notification_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT min(next_attempt_at) FROM notifications WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("reading the next notification"))?;
        Ok(row.as_deref().and_then(parse_timestamp))
    }

    /// Notifications, newest first: all, or only the pending ones.
    pub async fn notifications(
        &self,
        pending_only: bool,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(concat!(
            select_notifications!(),
            "WHERE (?1 = 0 OR n.state = 'pending') ORDER BY n.id DESC LIMIT ?2"
        ))
        .bind(pending_only)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("listing notifications"))?;
        Ok(rows.iter().map(notification).collect())
    }

    /// Keep `payload` as the body every attempt of notification `id` sends.
    pub async fn set_notification_payload(&self, id: i64, payload: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE notifications SET payload = ?2 WHERE id = ?1 AND payload IS NULL")
            .bind(id)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(self.err("recording a notification's payload"))?;
        Ok(())
    }

    /// The notification sent last before `id` for the same job, channel and event
    /// (delivered, or still being tried): its creation instant.
    pub async fn last_sent_before(
        &self,
        n: &Notification,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT created_at FROM notifications
             WHERE job = ?1 AND channel = ?2 AND event = ?3 AND id < ?4
               AND state IN ('delivered', 'pending', 'abandoned')
             ORDER BY id DESC LIMIT 1",
        )
        .bind(&n.job)
        .bind(&n.channel)
        .bind(&n.event)
        .bind(n.id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading the last notification sent"))?;
        Ok(row.as_deref().and_then(parse_timestamp))
    }

    /// How many notifications for the same job, channel and event were folded
    /// since the last one sent before `n`.
    pub async fn folded_before(&self, n: &Notification) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM notifications
             WHERE job = ?1 AND channel = ?2 AND event = ?3 AND id < ?4 AND state = 'folded'
               AND id > coalesce((SELECT max(id) FROM notifications
                                  WHERE job = ?1 AND channel = ?2 AND event = ?3 AND id < ?4
                                    AND state <> 'folded'), 0)",
        )
        .bind(&n.job)
        .bind(&n.channel)
        .bind(&n.event)
        .bind(n.id)
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("counting folded notifications"))
    }

    /// Record what became of one attempt to deliver notification `id`: its new
    /// `state`, its attempt count, when to try again and the error (host only).
    pub async fn record_delivery(
        &self,
        id: i64,
        outcome: &DeliveryRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notifications SET state = ?2, attempts = ?3, next_attempt_at = ?4,
                 delivered_at = ?5, last_error = ?6
             WHERE id = ?1 AND state = 'pending'",
        )
        .bind(id)
        .bind(outcome.state)
        .bind(outcome.attempts)
        .bind(timestamp(outcome.next_attempt_at))
        .bind(outcome.delivered_at.map(timestamp))
        .bind(outcome.last_error.as_deref())
        .execute(&self.pool)
        .await
        .map_err(self.err("recording a notification's delivery"))?;
        Ok(())
    }

    /// Find the jobs of `watched` (name, `expect_success_within` in milliseconds)
    /// that became overdue at `now`: no success for that long, counted from
    /// their last success or from when this first saw them. Each is marked and
    /// gets its `overdue` notifications in one transaction; returns their names.
    pub async fn mark_overdue(
        &self,
        watched: Vec<(String, i64)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let now = timestamp(now);
        self.in_transaction("finding overdue jobs", move |conn| {
            Box::pin(async move {
                let mut found = Vec::new();
                for (job, within_ms) in &watched {
                    sqlx::query("INSERT INTO overdue_jobs (job, since) VALUES (?1, ?2) ON CONFLICT (job) DO NOTHING")
                        .bind(job)
                        .bind(&now)
                        .execute(&mut *conn)
                        .await?;
                    let marked = sqlx::query(
                        "UPDATE overdue_jobs SET overdue_at = ?2
                         WHERE job = ?1 AND overdue_at IS NULL
                           AND julianday(?2) - julianday(max(since, coalesce(
                               (SELECT max(finished_at) FROM runs WHERE job = ?1 AND status = 'succeeded'),
                               since))) >= ?3 / 86400000.0",
                    )
                    .bind(job)
                    .bind(&now)
                    .bind(within_ms)
                    .execute(&mut *conn)
                    .await?;
                    if marked.rows_affected() == 0 {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO notifications (job, channel, event, created_at, next_attempt_at)
                         SELECT job, channel, 'overdue', ?2, ?2 FROM notify_routes
                         WHERE job = ?1 AND on_overdue",
                    )
                    .bind(job)
                    .bind(&now)
                    .execute(&mut *conn)
                    .await?;
                    found.push(job.clone());
                }
                Ok(found)
            })
        })
        .await
    }

    /// Write a notification now (`cronbox notify test`): pending, due at `at`.
    pub async fn insert_notification(
        &self,
        job: &str,
        channel: &str,
        event: &str,
        payload: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO notifications (job, channel, event, payload, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )
        .bind(job)
        .bind(channel)
        .bind(event)
        .bind(payload)
        .bind(timestamp(at))
        .execute(&self.pool)
        .await
        .map_err(self.err("recording a notification"))?;
        Ok(done.last_insert_rowid())
    }
}

/// The new state of a notification after one delivery attempt (see
/// [`Store::record_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `pending` (to retry), `delivered`, `folded` or `abandoned`.
    pub state: &'static str,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
