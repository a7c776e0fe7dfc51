//! Revoked gallery image versions (see `promote::revoke`): who took which
//! version out of `latest`, why, and whether Azure has applied it yet.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{opt_time, time, time_text};
use super::{Store, StoreError};
use crate::model::NoticeKind;

/// One version of one gallery image definition, revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// The gallery image definition, lower case.
    pub gallery_image_id: String,
    pub version: String,
    pub image: String,
    pub reason: String,
    pub revoked_by: String,
    pub requested_at: DateTime<Utc>,
    /// `None` while Azure has not yet excluded it everywhere.
    pub done_at: Option<DateTime<Utc>>,
}

fn from_row(row: &SqliteRow) -> Result<Revocation, sqlx::Error> {
    Ok(Revocation {
        gallery_image_id: row.try_get("gallery_image_id")?,
        version: row.try_get("version")?,
        image: row.try_get("image")?,
        reason: row.try_get("reason")?,
        revoked_by: row.try_get("revoked_by")?,
        requested_at: time(row, "requested_at")?,
        done_at: opt_time(row, "done_at")?,
    })
}

impl Store {
    /// Records the intent to revoke, before Azure is asked. Revoking a version
    /// again keeps the first who and why.
    pub async fn request_revocations(&self, wanted: &[Revocation]) -> Result<(), StoreError> {
        const ACTION: &str = "record a revocation";
        let mut tx = self.begin_write(ACTION).await?;
        for r in wanted {
            let recorded = sqlx::query(
                "INSERT INTO revocations (gallery_image_id, version, image, reason, revoked_by,
                     requested_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (gallery_image_id, version) DO NOTHING",
            )
            .bind(r.gallery_image_id.to_ascii_lowercase())
            .bind(&r.version)
            .bind(&r.image)
            .bind(&r.reason)
            .bind(&r.revoked_by)
            .bind(time_text(r.requested_at))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?
            .rows_affected();
            if recorded == 1 {
                let data = serde_json::json!({
                    "version": r.version,
                    "gallery_image_id": r.gallery_image_id.to_ascii_lowercase(),
                    "reason": r.reason,
                    "revoked_by": r.revoked_by,
                });
                let at = r.requested_at;
                super::outbox::enqueue(
                    &mut tx,
                    NoticeKind::VersionRevoked,
                    Some(&r.image),
                    at,
                    &data,
                )
                .await
                .map_err(StoreError::query(ACTION))?;
            }
            // A revoked version is never promoted again: its rollout stops here.
            sqlx::query(
                "UPDATE promotions SET stopped_reason = 'revoked: ' || ?3, stopped_at = ?4
                 WHERE gallery_image_id = ?1 AND version = ?2 AND stopped_reason IS NULL",
            )
            .bind(r.gallery_image_id.to_ascii_lowercase())
            .bind(&r.version)
            .bind(&r.reason)
            .bind(time_text(r.requested_at))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(())
    }

    /// Azure excluded the version everywhere.
    pub async fn finish_revocation(
        &self,
        gallery_image_id: &str,
        version: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE revocations SET done_at = coalesce(done_at, ?3)
             WHERE gallery_image_id = ?1 AND version = ?2",
        )
        .bind(gallery_image_id.to_ascii_lowercase())
        .bind(version)
        .bind(time_text(at))
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("record a revocation as done"))?;
        Ok(())
    }

    /// Revocations of `image` (all images when `None`), oldest first.
    pub async fn revocations(&self, image: Option<&str>) -> Result<Vec<Revocation>, StoreError> {
        sqlx::query(
            "SELECT * FROM revocations WHERE ?1 IS NULL OR image = ?1
             ORDER BY requested_at, rowid",
        )
        .bind(image)
        .try_map(|row: SqliteRow| from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the revocations"))
    }
}
