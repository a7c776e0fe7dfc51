//! The notification outbox: events written in the transaction of the state
//! change they report, and each sink's progress delivering them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{count, time, time_text, word};
use super::{Store, StoreError};
use crate::model::{DeliveryState, NoticeKind};

/// One event to tell people about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Stable across retries and restarts: receivers deduplicate by it.
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub kind: NoticeKind,
    pub image: Option<String>,
    pub data: Value,
    /// Tries so far for the sink it was read for.
    pub attempts: u32,
}

/// Writes an event on `conn`, inside the caller's transaction.
pub(super) async fn enqueue(
    conn: &mut sqlx::SqliteConnection,
    kind: NoticeKind,
    image: Option<&str>,
    at: DateTime<Utc>,
    data: &Value,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO outbox (id, created_at, kind, image, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&id)
    .bind(time_text(at))
    .bind(kind.as_str())
    .bind(image)
    .bind(data.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

fn notice_from_row(row: &SqliteRow) -> Result<Notice, sqlx::Error> {
    let data: String = row.try_get("data")?;
    Ok(Notice {
        id: row.try_get("id")?,
        created_at: time(row, "created_at")?,
        kind: word(row, "kind")?,
        image: row.try_get("image")?,
        data: serde_json::from_str(&data).map_err(|e| super::columns::decode_error("data", e))?,
        attempts: count(row, "attempts")?,
    })
}

impl Store {
    /// Writes an event of its own (`notify test`).
    pub async fn enqueue_notice(
        &self,
        kind: NoticeKind,
        image: Option<&str>,
        at: DateTime<Utc>,
        data: &Value,
    ) -> Result<String, StoreError> {
        const ACTION: &str = "record a notification";
        let mut tx = self.begin_write(ACTION).await?;
        let id = enqueue(&mut tx, kind, image, at, data)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(id)
    }

    /// Events `sink` has not settled that are due at `now`, no older than
    /// `since`, oldest first.
    pub async fn due_notices(
        &self,
        sink: &str,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError> {
        sqlx::query(
            "SELECT o.*, coalesce(d.attempts, 0) AS attempts
             FROM outbox AS o LEFT JOIN deliveries AS d ON d.event_id = o.id AND d.sink = ?1
             WHERE o.created_at >= ?3
               AND (d.state IS NULL OR (d.state = 'pending' AND d.next_attempt_at <= ?2))
             ORDER BY o.created_at, o.rowid LIMIT ?4",
        )
        .bind(sink)
        .bind(time_text(now))
        .bind(time_text(since))
        .bind(limit)
        .try_map(|row: SqliteRow| notice_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the notifications due"))
    }

    /// Records what became of one try: delivered, skipped, or pending until
    /// `next_attempt_at` after `error`.
    pub async fn settle_notice(
        &self,
        id: &str,
        sink: &str,
        state: DeliveryState,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let delivered = (state == DeliveryState::Delivered).then(|| time_text(next_attempt_at));
        sqlx::query(
            "INSERT INTO deliveries
                 (event_id, sink, state, attempts, next_attempt_at, last_error, delivered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (event_id, sink) DO UPDATE SET
                 state = excluded.state, attempts = excluded.attempts,
                 next_attempt_at = excluded.next_attempt_at,
                 last_error = coalesce(excluded.last_error, last_error),
                 delivered_at = excluded.delivered_at",
        )
        .bind(id)
        .bind(sink)
        .bind(state.as_str())
        .bind(attempts)
        .bind(time_text(next_attempt_at))
        .bind(error)
        .bind(delivered)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("record a notification's delivery"))?;
        Ok(())
    }

    /// Notices no older than `since` that one of `sinks` has not settled
    /// (delivered, skipped or given up).
    pub async fn undelivered_notices(
        &self,
        sinks: &[&str],
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM outbox AS o
             WHERE o.created_at >= ?2 AND EXISTS (
                 SELECT 1 FROM json_each(?1) AS s WHERE NOT EXISTS (
                     SELECT 1 FROM deliveries AS d
                     WHERE d.event_id = o.id AND d.sink = s.value
                       AND d.state IN ('delivered', 'skipped', 'given_up')))",
        )
        .bind(serde_json::json!(sinks).to_string())
        .bind(time_text(since))
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("count the undelivered notifications"))
    }

    /// Failed delivery attempts by sink, over the whole history.
    pub async fn failed_deliveries(&self) -> Result<Vec<(String, u64)>, StoreError> {
        sqlx::query(
            "SELECT sink, sum(attempts - (state = 'delivered')) AS failed
             FROM deliveries GROUP BY sink HAVING failed > 0",
        )
        .try_map(|row: SqliteRow| {
            let failed: i64 = row.try_get("failed")?;
            Ok((row.try_get("sink")?, u64::try_from(failed).unwrap_or(0)))
        })
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("count the failed deliveries"))
    }

    /// What each sink did with one event: `(sink, state, last error)`.
    pub async fn deliveries_of(
        &self,
        id: &str,
    ) -> Result<Vec<(String, DeliveryState, Option<String>)>, StoreError> {
        sqlx::query(
            "SELECT sink, state, last_error FROM deliveries WHERE event_id = ?1 ORDER BY sink",
        )
        .bind(id)
        .try_map(|row: SqliteRow| {
            Ok((
                row.try_get("sink")?,
                word(&row, "state")?,
                row.try_get("last_error")?,
            ))
        })
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read a notification's deliveries"))
    }

    /// Gives up on `sink`'s pending deliveries of events older than `before`;
    /// returns them, for the one ERROR line each deserves.
    pub async fn give_up_notices(
        &self,
        sink: &str,
        before: DateTime<Utc>,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        sqlx::query(
            "UPDATE deliveries SET state = 'given_up'
             WHERE sink = ?1 AND state = 'pending'
               AND event_id IN (SELECT id FROM outbox WHERE created_at < ?2)
             RETURNING event_id, last_error",
        )
        .bind(sink)
        .bind(time_text(before))
        .try_map(|row: SqliteRow| Ok((row.try_get("event_id")?, row.try_get("last_error")?)))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("give up on old notifications"))
    }
}
