//! Reads for the daemon's metrics: what a restarted process exports instead of zeros.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{time, word};
use super::{Store, StoreError};
use crate::model::BuildState;

/// A build that reached its final state, as the metrics count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedBuild {
    pub image: String,
    pub state: BuildState,
    /// From the build's record to its final state.
    pub duration_secs: i64,
}

/// The newest check that was recorded with its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoodCheck {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Store {
    /// Every build in the history that reached its final state, oldest first.
    pub async fn finished_builds(&self) -> Result<Vec<FinishedBuild>, StoreError> {
        sqlx::query(
            "SELECT image, state, created_at, finished_at FROM builds
             WHERE finished_at IS NOT NULL
               AND state IN ('succeeded', 'partially_succeeded', 'failed', 'canceled', 'timed_out')
             ORDER BY created_at, rowid",
        )
        .try_map(|row: SqliteRow| {
            let created = time(&row, "created_at")?;
            let finished = time(&row, "finished_at")?;
            Ok(FinishedBuild {
                image: row.try_get("image")?,
                state: word(&row, "state")?,
                duration_secs: (finished - created).num_seconds().max(0),
            })
        })
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("read the finished builds"))
    }

    /// How many builds have not reached their final state.
    pub async fn builds_in_flight(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM builds
             WHERE state NOT IN ('succeeded', 'partially_succeeded', 'failed', 'canceled',
                                 'timed_out')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("count the builds in flight"))
    }

    /// The newest check that finished without an error, if any.
    pub async fn last_good_check(&self) -> Result<Option<GoodCheck>, StoreError> {
        sqlx::query(
            "SELECT started_at, finished_at FROM check_cycles
             WHERE finished_at IS NOT NULL AND error IS NULL
             ORDER BY id DESC LIMIT 1",
        )
        .try_map(|row: SqliteRow| {
            Ok(GoodCheck {
                started_at: time(&row, "started_at")?,
                finished_at: time(&row, "finished_at")?,
            })
        })
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("read the last good check"))
    }
}
