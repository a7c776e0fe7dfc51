//! Reading builds back: one, the unfinished ones, and history.

use sqlx::sqlite::SqliteRow;

use super::builds::{build_from_row, event_from_row};
use super::{BuildRecord, EventRecord, Store, StoreError};
use crate::model::BuildId;

impl BuildRecord {
    /// The name of the gallery image version the build made in the definition `image_id`.
    pub fn version_in(&self, image_id: &str) -> Option<String> {
        let prefix = format!("{}/versions/", image_id.trim_end_matches('/')).to_ascii_lowercase();
        self.artifact_ids.iter().find_map(|id| {
            id.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| id[prefix.len()..].to_owned())
        })
    }
}

impl Store {
    pub async fn get_build(&self, id: BuildId) -> Result<Option<BuildRecord>, StoreError> {
        sqlx::query("SELECT * FROM builds WHERE id = ?1")
            .bind(id.to_string())
            .try_map(|row: SqliteRow| build_from_row(&row))
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("read a build"))
    }

    /// The builds whose id starts with `prefix` (as `history` shows them, the
    /// first 8 characters), at most `limit`, newest first.
    pub async fn builds_by_prefix(
        &self,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<BuildRecord>, StoreError> {
        // substr, not LIKE: a prefix cannot then smuggle in wildcards.
        sqlx::query(
            "SELECT * FROM builds WHERE substr(id, 1, length(?1)) = lower(?1)
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )
        .bind(prefix)
        .bind(limit)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("find a build by its id"))
    }

    /// Builds a restarted process has to pick up: not yet ended, or ended with
    /// their image template still to delete. Oldest first.
    pub async fn unfinished_builds(&self) -> Result<Vec<BuildRecord>, StoreError> {
        sqlx::query(
            "SELECT * FROM builds
             WHERE state NOT IN ('succeeded', 'partially_succeeded', 'failed', 'canceled',
                                 'timed_out')
                OR cleanup = 'pending'
             ORDER BY created_at, rowid",
        )
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the unfinished builds"))
    }

    /// The newest `limit` builds, of one image or of all.
    pub async fn history(
        &self,
        image: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BuildRecord>, StoreError> {
        // rowid breaks ties between builds created in the same second.
        sqlx::query(
            "SELECT * FROM builds WHERE ?1 IS NULL OR image = ?1
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )
        .bind(image)
        .bind(limit)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the build history"))
    }

    /// The newest build of an image, whatever its outcome.
    pub async fn last_build(&self, image: &str) -> Result<Option<BuildRecord>, StoreError> {
        sqlx::query(
            "SELECT * FROM builds WHERE image = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(image)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("read an image's last build"))
    }

    /// The newest build of an image that produced an image.
    /// Every artifact (resource ID, lowercase) that builds of `image` recorded: what
    /// this deployment made, as opposed to what merely carries its tags.
    pub async fn recorded_artifacts(
        &self,
        image: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let lists: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT artifact_ids FROM builds WHERE image = ?1 AND artifact_ids IS NOT NULL",
        )
        .bind(image)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read an image's recorded artifacts"))?;
        Ok(lists
            .into_iter()
            .flatten()
            .filter_map(|list| serde_json::from_str::<Vec<String>>(&list).ok())
            .flatten()
            .map(|id| id.to_ascii_lowercase())
            .collect())
    }

    pub async fn last_successful_build(
        &self,
        image: &str,
    ) -> Result<Option<BuildRecord>, StoreError> {
        sqlx::query(
            "SELECT * FROM builds
             WHERE image = ?1 AND state IN ('succeeded', 'partially_succeeded')
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(image)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("read an image's last successful build"))
    }

    /// A build's log, oldest first.
    pub async fn build_events(&self, id: BuildId) -> Result<Vec<EventRecord>, StoreError> {
        sqlx::query("SELECT * FROM build_events WHERE build_id = ?1 ORDER BY id")
            .bind(id.to_string())
            .try_map(|row: SqliteRow| event_from_row(&row))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("read a build's events"))
    }
}
