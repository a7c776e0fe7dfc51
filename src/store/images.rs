//! Small per-image state: automatic disabling, failure counts, and status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{count, opt_time, opt_word, time, word};
use super::{Store, StoreError};
use crate::model::{BuildId, BuildState, DecisionKind};

/// The stored state of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageState {
    pub name: String,
    /// `false` when the program stopped building the image by itself.
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: u32,
    pub last_check_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// A build in a status line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildSummary {
    pub id: BuildId,
    pub state: BuildState,
    pub source_version: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Everything `status` shows about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageStatus {
    #[serde(flatten)]
    pub state: ImageState,
    /// The newest build, whatever its outcome.
    pub last_build: Option<BuildSummary>,
    /// The newest build that produced an image.
    pub last_success: Option<BuildSummary>,
    /// What the newest finished check decided, and why.
    pub last_decision: Option<DecisionKind>,
    pub last_reason: Option<String>,
    /// The source version that check resolved, if it could.
    pub decided_source_version: Option<String>,
}

impl Store {
    /// Makes sure every named image has a row, leaving existing rows alone.
    pub async fn ensure_images<I, S>(&self, names: I) -> Result<(), StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        const ACTION: &str = "record the catalog's images";
        let mut tx = self.begin_write(ACTION).await?;
        for name in names {
            sqlx::query("INSERT INTO images (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")
                .bind(name.as_ref())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))
    }

    pub async fn image_state(&self, name: &str) -> Result<Option<ImageState>, StoreError> {
        sqlx::query("SELECT * FROM images WHERE name = ?1")
            .bind(name)
            .try_map(|row: SqliteRow| image_from_row(&row))
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("read an image's state"))
    }

    /// Stops or resumes automatic builds of an image. Enabling forgets the
    /// reason and the failure count, so the next failure does not disable the
    /// image again at once.
    pub async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO images (name, enabled, disabled_reason) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET
                 enabled = excluded.enabled,
                 disabled_reason = excluded.disabled_reason,
                 consecutive_failures = CASE WHEN excluded.enabled THEN 0
                                             ELSE consecutive_failures END",
        )
        .bind(name)
        .bind(enabled)
        .bind(if enabled { None } else { reason })
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("enable or disable an image"))?;
        Ok(())
    }

    /// Counts a build's outcome and returns the failures in a row since the
    /// last success (0 after a success). Builds count themselves when they
    /// finish (see [`Store::transition`]); this is for outcomes recorded by hand.
    pub async fn record_build_result(
        &self,
        name: &str,
        success: bool,
        at: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::query(COUNT_OUTCOME))?;
        count_outcome(&mut conn, name, success, at, FailureLimit(0), "")
            .await
            .map(|counted| counted.failures)
            .map_err(StoreError::query(COUNT_OUTCOME))
    }

    /// One line per known image, by name.
    pub async fn status(&self) -> Result<Vec<ImageStatus>, StoreError> {
        sqlx::query(
            "SELECT images.*,
                 last.id AS last_id, last.state AS last_state,
                 last.source_version AS last_source_version,
                 last.created_at AS last_created_at, last.finished_at AS last_finished_at,
                 good.id AS good_id, good.state AS good_state,
                 good.source_version AS good_source_version,
                 good.created_at AS good_created_at, good.finished_at AS good_finished_at,
                 decided.decision AS last_decision, decided.reason AS last_reason,
                 decided.source_version AS decided_source_version
             FROM images
             LEFT JOIN builds AS last ON last.id = (
                 SELECT id FROM builds WHERE image = images.name
                 ORDER BY created_at DESC, rowid DESC LIMIT 1)
             LEFT JOIN builds AS good ON good.id = (
                 SELECT id FROM builds
                 WHERE image = images.name AND state IN ('succeeded', 'partially_succeeded')
                 ORDER BY created_at DESC, rowid DESC LIMIT 1)
             LEFT JOIN check_decisions AS decided
                 ON decided.image = images.name
                AND decided.check_id = (
                    SELECT max(check_id) FROM check_decisions WHERE image = images.name)
             ORDER BY images.name",
        )
        .try_map(|row: SqliteRow| {
            Ok(ImageStatus {
                state: image_from_row(&row)?,
                last_build: summary_from_row(&row, "last")?,
                last_success: summary_from_row(&row, "good")?,
                last_decision: opt_word(&row, "last_decision")?,
                last_reason: row.try_get("last_reason")?,
                decided_source_version: row.try_get("decided_source_version")?,
            })
        })
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the status of the images"))
    }
}

fn image_from_row(row: &SqliteRow) -> Result<ImageState, sqlx::Error> {
    Ok(ImageState {
        name: row.try_get("name")?,
        enabled: row.try_get("enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        consecutive_failures: count(row, "consecutive_failures")?,
        last_check_at: opt_time(row, "last_check_at")?,
        last_success_at: opt_time(row, "last_success_at")?,
        last_failure_at: opt_time(row, "last_failure_at")?,
    })
}

/// The build whose columns carry `prefix`, if the join found one.
fn summary_from_row(row: &SqliteRow, prefix: &str) -> Result<Option<BuildSummary>, sqlx::Error> {
    let id_column = format!("{prefix}_id");
    let id: Option<String> = row.try_get(id_column.as_str())?;
    if id.is_none() {
        return Ok(None);
    }
    Ok(Some(BuildSummary {
        id: word(row, &id_column)?,
        state: word(row, &format!("{prefix}_state"))?,
        source_version: row.try_get(format!("{prefix}_source_version").as_str())?,
        created_at: time(row, &format!("{prefix}_created_at"))?,
        finished_at: opt_time(row, &format!("{prefix}_finished_at"))?,
    }))
}

pub(super) const COUNT_OUTCOME: &str = "record a build's outcome for its image";

/// After how many failed builds in a row an image stops being rebuilt
/// automatically; 0 never stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit(pub u32);

/// What counting an outcome did to the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Counted {
    pub failures: u32,
    /// Set when this failure completed the run that disables the image.
    pub disabled: Option<String>,
}

/// The one place failures in a row are counted and an image that keeps failing
/// is disabled, so a build's final state, its image's count and the disabling
/// are written in the same transaction.
pub(super) async fn count_outcome(
    conn: &mut sqlx::SqliteConnection,
    name: &str,
    success: bool,
    at: DateTime<Utc>,
    limit: FailureLimit,
    last_error: &str,
) -> Result<Counted, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO images (name, consecutive_failures, last_success_at, last_failure_at)
         VALUES (?1, CASE WHEN ?2 THEN 0 ELSE 1 END,
                 CASE WHEN ?2 THEN ?3 END, CASE WHEN ?2 THEN NULL ELSE ?3 END)
         ON CONFLICT (name) DO UPDATE SET
             consecutive_failures = CASE WHEN ?2 THEN 0 ELSE consecutive_failures + 1 END,
             last_success_at = CASE WHEN ?2 THEN ?3 ELSE last_success_at END,
             last_failure_at = CASE WHEN ?2 THEN last_failure_at ELSE ?3 END
         RETURNING consecutive_failures, enabled",
    )
    .bind(name)
    .bind(success)
    .bind(super::columns::time_text(at))
    .fetch_one(&mut *conn)
    .await?;
    let failures = count(&row, "consecutive_failures")?;
    let enabled: bool = row.try_get("enabled")?;
    if success || !enabled || limit.0 == 0 || failures < limit.0 {
        return Ok(Counted {
            failures,
            disabled: None,
        });
    }
    let reason = format!("{failures} consecutive failed builds; last: {last_error}");
    sqlx::query("UPDATE images SET enabled = 0, disabled_reason = ?2 WHERE name = ?1")
        .bind(name)
        .bind(&reason)
        .execute(&mut *conn)
        .await?;
    Ok(Counted {
        failures,
        disabled: Some(reason),
    })
}
