//! Builds found in Azure that the history has no record of (see `reconcile`):
//! a lost or restored database must not make the service build again what
//! Azure already has, nor start a second run beside one that is going.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;

use super::builds::{BuildRecord, append_event, build_from_row};
use super::columns::time_text;
use super::{Store, StoreError};
use crate::model::{BuildId, BuildState, Cleanup};

/// A build Azure knows, as its tags describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBuild {
    pub id: BuildId,
    pub image: String,
    pub recipe_hash: String,
    pub source_version: String,
    pub what: Found,
    /// When it was found: the record's `updated_at`.
    pub at: DateTime<Utc>,
    /// For people: where it was found.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Its template: recorded as `run_requested`, so the build machine looks
    /// at the template's `lastRunStatus` and follows a run that exists (or
    /// asks for the one that never started), then records and cleans up.
    Template {
        name: String,
        created_at: DateTime<Utc>,
    },
    /// What it produced, its template long gone: recorded as succeeded and
    /// cleaned up, so that it counts as the image's last good build.
    Artifacts {
        ids: Vec<String>,
        finished_at: DateTime<Utc>,
    },
}

impl Store {
    /// Records `found` unless a build with its id is recorded already (another
    /// process found it first); `None` then.
    pub async fn record_found(
        &self,
        found: &FoundBuild,
    ) -> Result<Option<BuildRecord>, StoreError> {
        const ACTION: &str = "record a build found in Azure";
        let (state, cleanup, template, created, finished, artifacts) = match &found.what {
            Found::Template { name, created_at } => (
                BuildState::RunRequested,
                Cleanup::Pending,
                Some(name.as_str()),
                *created_at,
                None,
                Vec::new(),
            ),
            Found::Artifacts { ids, finished_at } => (
                BuildState::Succeeded,
                Cleanup::Done,
                None,
                *finished_at,
                Some(*finished_at),
                ids.clone(),
            ),
        };
        let artifacts = serde_json::to_string(&artifacts)
            .map_err(|e| StoreError::query(ACTION)(sqlx::Error::Encode(Box::new(e))))?;
        let mut tx = self.begin_write(ACTION).await?;
        let finished_text = finished.map(time_text);
        sqlx::query(
            "INSERT INTO images (name, last_success_at) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET
                 last_success_at = CASE WHEN ?2 IS NOT NULL
                     AND (last_success_at IS NULL OR last_success_at < ?2)
                     THEN ?2 ELSE last_success_at END",
        )
        .bind(&found.image)
        .bind(&finished_text)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        let record = sqlx::query(
            "INSERT INTO builds (id, image, reason, recipe_hash, source_version, template_name,
                 state, cleanup, created_at, updated_at, finished_at, artifact_ids)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (id) DO NOTHING
             RETURNING *",
        )
        .bind(found.id.to_string())
        .bind(&found.image)
        .bind(&found.reason)
        .bind(&found.recipe_hash)
        .bind(&found.source_version)
        .bind(template)
        .bind(state.as_str())
        .bind(cleanup.as_str())
        .bind(time_text(created))
        .bind(time_text(found.at))
        .bind(&finished_text)
        .bind(&artifacts)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        let Some(record) = record else {
            return Ok(None);
        };
        append_event(&mut tx, &record, &found.reason)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(Some(record))
    }
}
