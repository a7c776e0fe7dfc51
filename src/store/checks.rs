//! Check cycles: what was resolved and what was decided.

mod notices;
mod prune;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{count, opt_time, time, time_text, word};
use super::{Store, StoreError};
use crate::model::{CheckId, CheckTrigger, DecisionKind, NoticeKind, SourceKey};
use notices::{previous_check_went_wrong, tell};

/// A check cycle as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRecord {
    pub id: CheckId,
    pub started_at: DateTime<Utc>,
    /// `None` while the check runs, or if the process died during it.
    pub finished_at: Option<DateTime<Utc>>,
    pub trigger: CheckTrigger,
    pub images_total: Option<u32>,
    pub images_stale: Option<u32>,
    pub error: Option<String>,
}

/// One exact version a check resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedVersionRecord {
    pub key: SourceKey,
    pub version: String,
    pub resolved_at: DateTime<Utc>,
}

/// What a check decided for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    pub image: String,
    pub kind: DecisionKind,
    /// For people: e.g. "new base version 22.04.202411010 → 22.04.202411200".
    pub reason: String,
    /// `None` when the source has no version or could not be resolved.
    pub source_version: Option<String>,
    pub recipe_hash: String,
}

impl Store {
    /// Records that a check started; finish it with [`Store::finish_check`] or
    /// [`Store::fail_check`].
    pub async fn begin_check(
        &self,
        started_at: DateTime<Utc>,
        trigger: CheckTrigger,
    ) -> Result<CheckId, StoreError> {
        const ACTION: &str = "record the start of a check";
        // In a transaction of its own although it is one statement: sqlx stops
        // reading a `RETURNING` statement after its first row, and SQLite then
        // commits an autocommit statement when it is reset, where a failed commit
        // (a full disk) goes unseen. The id came back, yet the row was never kept.
        let mut tx = self.begin_write(ACTION).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO check_cycles (started_at, trigger) VALUES (?1, ?2) RETURNING id",
        )
        .bind(time_text(started_at))
        .bind(trigger.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(CheckId(id))
    }

    /// Records a check's results: all of them, or (on any error) none.
    pub async fn finish_check(
        &self,
        id: CheckId,
        finished_at: DateTime<Utc>,
        resolved: &[ResolvedVersionRecord],
        decisions: &[DecisionRecord],
    ) -> Result<(), StoreError> {
        const ACTION: &str = "record the results of a check";
        let at = time_text(finished_at);
        let stale = decisions.iter().filter(|d| d.kind.is_stale()).count();
        let mut tx = self.begin_write(ACTION).await?;
        let updated = sqlx::query(
            "UPDATE check_cycles SET finished_at = ?2, images_total = ?3, images_stale = ?4
             WHERE id = ?1 AND finished_at IS NULL",
        )
        .bind(id.0)
        .bind(&at)
        .bind(i64::try_from(decisions.len()).unwrap_or(i64::MAX))
        .bind(i64::try_from(stale).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::CheckNotRunning(id));
        }
        for record in resolved {
            insert_resolved(&mut tx, id, record)
                .await
                .map_err(StoreError::query(ACTION))?;
            sqlx::query(
                "INSERT INTO source_versions (source, version, first_seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, version) DO NOTHING",
            )
            .bind(record.key.folded())
            .bind(&record.version)
            .bind(time_text(record.resolved_at))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        }
        let unanswered: Vec<&DecisionRecord> = decisions
            .iter()
            .filter(|d| d.kind == DecisionKind::SourceUnavailable)
            .collect();
        if let Some(first) = unanswered.first()
            && !previous_check_went_wrong(&mut tx, id)
                .await
                .map_err(StoreError::query(ACTION))?
        {
            let images: Vec<&str> = unanswered.iter().map(|d| d.image.as_str()).collect();
            let data = serde_json::json!({
                "check_id": id.0, "images": images, "error": first.reason,
            });
            super::outbox::enqueue(&mut tx, NoticeKind::CheckFailed, None, finished_at, &data)
                .await
                .map_err(StoreError::query(ACTION))?;
        }
        for decision in decisions {
            tell(&mut tx, decision, finished_at)
                .await
                .map_err(StoreError::query(ACTION))?;
            sqlx::query(
                "INSERT INTO images (name, last_check_at) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET last_check_at = excluded.last_check_at",
            )
            .bind(&decision.image)
            .bind(&at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
            sqlx::query(
                "INSERT INTO check_decisions
                     (check_id, image, decision, reason, source_version, recipe_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(id.0)
            .bind(&decision.image)
            .bind(decision.kind.as_str())
            .bind(&decision.reason)
            .bind(&decision.source_version)
            .bind(&decision.recipe_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))
    }

    /// Records that a check ended without results.
    pub async fn fail_check(
        &self,
        id: CheckId,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "record a failed check";
        let mut tx = self.begin_write(ACTION).await?;
        let updated = sqlx::query(
            "UPDATE check_cycles SET finished_at = ?2, error = ?3
             WHERE id = ?1 AND finished_at IS NULL",
        )
        .bind(id.0)
        .bind(time_text(at))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::CheckNotRunning(id));
        }
        if !previous_check_went_wrong(&mut tx, id)
            .await
            .map_err(StoreError::query(ACTION))?
        {
            let data = serde_json::json!({ "check_id": id.0, "error": error });
            super::outbox::enqueue(&mut tx, NoticeKind::CheckFailed, None, at, &data)
                .await
                .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))
    }

    /// The newest check, running or not.
    pub async fn last_check(&self) -> Result<Option<CheckRecord>, StoreError> {
        sqlx::query("SELECT * FROM check_cycles ORDER BY id DESC LIMIT 1")
            .try_map(|row: SqliteRow| check_from_row(&row))
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("read the last check"))
    }

    /// The checks recorded after `id`, oldest first, running or not.
    pub async fn checks_after(&self, id: CheckId) -> Result<Vec<CheckRecord>, StoreError> {
        sqlx::query("SELECT * FROM check_cycles WHERE id > ?1 ORDER BY id")
            .bind(id.0)
            .try_map(|row: SqliteRow| check_from_row(&row))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("read the checks after a check"))
    }

    /// The versions a check resolved, in the order they were recorded.
    pub async fn resolved_versions(
        &self,
        id: CheckId,
    ) -> Result<Vec<ResolvedVersionRecord>, StoreError> {
        sqlx::query("SELECT * FROM resolved_versions WHERE check_id = ?1 ORDER BY id")
            .bind(id.0)
            .try_map(|row: SqliteRow| resolved_from_row(&row))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("read the versions a check resolved"))
    }

    /// When a check first resolved `key` to `version`; `None` if none has.
    pub async fn first_seen(
        &self,
        key: &SourceKey,
        version: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        sqlx::query("SELECT first_seen_at FROM source_versions WHERE source = ?1 AND version = ?2")
            .bind(key.folded())
            .bind(version)
            .try_map(|row: SqliteRow| time(&row, "first_seen_at"))
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(
                "read when a source version was first seen",
            ))
    }

    /// What the newest recorded check decided for `image`, if any check did.
    pub async fn last_decision(&self, image: &str) -> Result<Option<DecisionKind>, StoreError> {
        sqlx::query(
            "SELECT decision FROM check_decisions WHERE image = ?1
             ORDER BY check_id DESC LIMIT 1",
        )
        .bind(image)
        .try_map(|row: SqliteRow| word(&row, "decision"))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("read an image's last decision"))
    }

    /// A check's decisions, by image name.
    pub async fn decisions(&self, id: CheckId) -> Result<Vec<DecisionRecord>, StoreError> {
        sqlx::query("SELECT * FROM check_decisions WHERE check_id = ?1 ORDER BY image")
            .bind(id.0)
            .try_map(|row: SqliteRow| decision_from_row(&row))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("read the decisions of a check"))
    }
}

async fn insert_resolved(
    tx: &mut sqlx::SqliteConnection,
    id: CheckId,
    record: &ResolvedVersionRecord,
) -> Result<(), sqlx::Error> {
    let (source, location, publisher, offer, sku, gallery_image_id) = match &record.key {
        SourceKey::Marketplace {
            location,
            publisher,
            offer,
            sku,
        } => (
            "marketplace",
            Some(location),
            Some(publisher),
            Some(offer),
            Some(sku),
            None,
        ),
        SourceKey::Gallery { image_id } => ("gallery", None, None, None, None, Some(image_id)),
    };
    sqlx::query(
        "INSERT INTO resolved_versions (check_id, source, location, publisher, offer, sku,
             gallery_image_id, version, resolved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(id.0)
    .bind(source)
    .bind(location)
    .bind(publisher)
    .bind(offer)
    .bind(sku)
    .bind(gallery_image_id)
    .bind(&record.version)
    .bind(time_text(record.resolved_at))
    .execute(tx)
    .await
    .map(|_| ())
}

fn check_from_row(row: &SqliteRow) -> Result<CheckRecord, sqlx::Error> {
    Ok(CheckRecord {
        id: CheckId(row.try_get("id")?),
        started_at: time(row, "started_at")?,
        finished_at: opt_time(row, "finished_at")?,
        trigger: word(row, "trigger")?,
        images_total: opt_count(row, "images_total")?,
        images_stale: opt_count(row, "images_stale")?,
        error: row.try_get("error")?,
    })
}

fn opt_count(row: &SqliteRow, column: &str) -> Result<Option<u32>, sqlx::Error> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|_| count(row, column)).transpose()
}

fn resolved_from_row(row: &SqliteRow) -> Result<ResolvedVersionRecord, sqlx::Error> {
    let source: String = row.try_get("source")?;
    let key = if source == "gallery" {
        SourceKey::Gallery {
            image_id: row.try_get("gallery_image_id")?,
        }
    } else {
        SourceKey::Marketplace {
            location: row.try_get("location")?,
            publisher: row.try_get("publisher")?,
            offer: row.try_get("offer")?,
            sku: row.try_get("sku")?,
        }
    };
    Ok(ResolvedVersionRecord {
        key,
        version: row.try_get("version")?,
        resolved_at: time(row, "resolved_at")?,
    })
}

fn decision_from_row(row: &SqliteRow) -> Result<DecisionRecord, sqlx::Error> {
    Ok(DecisionRecord {
        image: row.try_get("image")?,
        kind: word(row, "decision")?,
        reason: row.try_get("reason")?,
        source_version: row.try_get("source_version")?,
        recipe_hash: row.try_get("recipe_hash")?,
    })
}
