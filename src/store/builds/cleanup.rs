//! What became of a build's image template: cleaned up, or kept in Azure for a
//! while for someone to read its log.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;

use super::{BuildRecord, append_event, build_from_row};
use crate::model::{BuildId, Cleanup};
use crate::store::columns::time_text;
use crate::store::{Store, StoreError};

impl Store {
    /// Records what became of a build's image template, and logs it.
    pub async fn set_cleanup(
        &self,
        id: BuildId,
        cleanup: Cleanup,
        at: DateTime<Utc>,
    ) -> Result<BuildRecord, StoreError> {
        self.write_cleanup(id, cleanup, None, at).await
    }

    /// Keeps a build's template in Azure until `until` (forever when `None`),
    /// for someone to read its log; a later cycle deletes it then.
    pub async fn keep_template(
        &self,
        id: BuildId,
        until: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<BuildRecord, StoreError> {
        self.write_cleanup(id, Cleanup::Kept, until, at).await
    }

    /// Builds whose kept template is due for deletion at `now`, oldest first.
    pub async fn kept_templates_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<BuildRecord>, StoreError> {
        sqlx::query(
            "SELECT * FROM builds
             WHERE cleanup = 'kept' AND keep_until IS NOT NULL AND keep_until <= ?1
             ORDER BY keep_until",
        )
        .bind(time_text(now))
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the kept templates that are due"))
    }

    /// `image`'s builds whose template is kept in Azure, oldest first.
    pub async fn kept_templates_of(&self, image: &str) -> Result<Vec<BuildRecord>, StoreError> {
        sqlx::query(
            "SELECT * FROM builds WHERE cleanup = 'kept' AND image = ?1 ORDER BY created_at, rowid",
        )
        .bind(image)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read an image's kept templates"))
    }

    async fn write_cleanup(
        &self,
        id: BuildId,
        cleanup: Cleanup,
        keep_until: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<BuildRecord, StoreError> {
        const ACTION: &str = "record the cleanup of a build";
        let mut tx = self.begin_write(ACTION).await?;
        let record = sqlx::query(
            "UPDATE builds SET cleanup = ?2, updated_at = ?3, keep_until = ?4
             WHERE id = ?1 RETURNING *",
        )
        .bind(id.to_string())
        .bind(cleanup.as_str())
        .bind(time_text(at))
        .bind(keep_until.map(time_text))
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?
        .ok_or(StoreError::BuildNotFound(id))?;
        let detail = match keep_until {
            Some(until) => format!("template kept until {}", time_text(until)),
            None => format!("template cleanup {cleanup}"),
        };
        append_event(&mut tx, &record, &detail)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(record)
    }
}
