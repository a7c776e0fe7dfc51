//! Builds: one row per attempt, plus an append-only log of its changes.
//!
//! Every change to a build's row is written together with its `build_events`
//! row in one transaction, so the log and the row never disagree.

mod cleanup;
mod notices;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{decode_error, opt_time, opt_word, time, time_text, word};
use super::images::FailureLimit;
use super::{Store, StoreError};
use crate::model::{BuildId, BuildState, CheckId, Cleanup, DecisionKind, RunSubState};
use notices::tell;

/// What is known about a build before anything is sent to Azure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBuild {
    pub image: String,
    /// The check that asked for the build; `None` when a person asked directly.
    pub check_id: Option<CheckId>,
    pub decision: Option<DecisionKind>,
    /// For people: why this build happens.
    pub reason: String,
    pub recipe_hash: String,
    pub source_version: String,
    pub created_at: DateTime<Utc>,
}

/// A move of a build to `state`. `None` in the optional fields keeps what is
/// stored; `run_sub_state` is always replaced since it belongs to one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTransition {
    pub state: BuildState,
    pub run_sub_state: Option<RunSubState>,
    pub at: DateTime<Utc>,
    pub template_name: Option<String>,
    pub artifact_ids: Option<Vec<String>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Where AIB keeps the run's customization.log.
    pub log_url: Option<String>,
    /// For people reading the event log.
    pub detail: String,
}

impl BuildTransition {
    /// A transition that changes nothing but the state.
    pub fn to(state: BuildState, at: DateTime<Utc>, detail: impl Into<String>) -> Self {
        BuildTransition {
            state,
            run_sub_state: None,
            at,
            template_name: None,
            artifact_ids: None,
            error_code: None,
            error_message: None,
            log_url: None,
            detail: detail.into(),
        }
    }
}

/// What a transition wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transitioned {
    pub record: BuildRecord,
    /// Why the image was disabled, when this build's failure disabled it.
    pub disabled: Option<String>,
}

/// A build as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildRecord {
    pub id: BuildId,
    pub image: String,
    pub check_id: Option<CheckId>,
    pub decision: Option<DecisionKind>,
    pub reason: String,
    pub recipe_hash: String,
    pub source_version: String,
    pub template_name: Option<String>,
    pub state: BuildState,
    pub run_sub_state: Option<RunSubState>,
    pub cleanup: Cleanup,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub run_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub artifact_ids: Vec<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Where AIB keeps the run's customization.log, when it said.
    pub log_url: Option<String>,
    /// Until when a failed build's template is kept (cleanup `kept`); `None`
    /// with `kept` means until someone deletes it.
    pub keep_until: Option<DateTime<Utc>>,
}

/// One entry of a build's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    pub build_id: BuildId,
    pub at: DateTime<Utc>,
    pub state: BuildState,
    pub run_sub_state: Option<RunSubState>,
    pub cleanup: Cleanup,
    pub detail: String,
}

impl Store {
    /// Records a planned build under a fresh id, before anything is sent to Azure.
    pub async fn insert_build(&self, new: NewBuild) -> Result<BuildRecord, StoreError> {
        const ACTION: &str = "record a new build";
        let at = time_text(new.created_at);
        let mut tx = self.begin_write(ACTION).await?;
        sqlx::query("INSERT INTO images (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")
            .bind(&new.image)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        let record = sqlx::query(
            "INSERT INTO builds (id, image, check_id, decision, reason, recipe_hash,
                 source_version, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
             RETURNING *",
        )
        .bind(BuildId::generate().to_string())
        .bind(&new.image)
        .bind(new.check_id.map(|id| id.0))
        .bind(new.decision.map(DecisionKind::as_str))
        .bind(&new.reason)
        .bind(&new.recipe_hash)
        .bind(&new.source_version)
        .bind(BuildState::Planned.as_str())
        .bind(&at)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        append_event(&mut tx, &record, &new.reason)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(record)
    }

    /// Moves a build to a new state and logs it. A build that reached a
    /// terminal state stays there. Never disables the image; see
    /// [`Store::transition_counting`].
    pub async fn transition(
        &self,
        id: BuildId,
        change: &BuildTransition,
    ) -> Result<BuildRecord, StoreError> {
        Ok(self
            .transition_counting(id, change, FailureLimit(0))
            .await?
            .record)
    }

    /// [`Store::transition`], and when the build ends as a failure that completes
    /// a run of `limit`, disables its image in the same transaction.
    pub async fn transition_counting(
        &self,
        id: BuildId,
        change: &BuildTransition,
        limit: FailureLimit,
    ) -> Result<Transitioned, StoreError> {
        const ACTION: &str = "record a build's new state";
        let mut tx = self.begin_write(ACTION).await?;
        let current: Option<String> = sqlx::query_scalar("SELECT state FROM builds WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        let Some(current) = current else {
            return Err(StoreError::BuildNotFound(id));
        };
        let current: BuildState = current
            .parse()
            .map_err(|e| StoreError::query(ACTION)(decode_error("state", e)))?;
        if current.is_terminal() {
            return Err(StoreError::BuildFinished { id, state: current });
        }
        let record = sqlx::query(
            "UPDATE builds SET
                 state = ?2,
                 run_sub_state = ?3,
                 updated_at = ?4,
                 template_name = coalesce(?5, template_name),
                 artifact_ids = coalesce(?6, artifact_ids),
                 error_code = coalesce(?7, error_code),
                 error_message = coalesce(?8, error_message),
                 log_url = coalesce(?11, log_url),
                 run_started_at = CASE WHEN ?9 THEN coalesce(run_started_at, ?4)
                                       ELSE run_started_at END,
                 finished_at = CASE WHEN ?10 THEN ?4 ELSE finished_at END
             WHERE id = ?1
             RETURNING *",
        )
        .bind(id.to_string())
        .bind(change.state.as_str())
        .bind(change.run_sub_state.map(RunSubState::as_str))
        .bind(time_text(change.at))
        .bind(&change.template_name)
        .bind(change.artifact_ids.as_ref().map(|ids| json_list(ids)))
        .bind(&change.error_code)
        .bind(&change.error_message)
        .bind(change.state == BuildState::Running)
        .bind(change.state.is_terminal())
        .bind(&change.log_url)
        .try_map(|row: SqliteRow| build_from_row(&row))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        append_event(&mut tx, &record, &change.detail)
            .await
            .map_err(StoreError::query(ACTION))?;
        // A run cancelled by a person says nothing about the recipe; every
        // other end counts towards (or resets) the image's failures in a row.
        let mut disabled = None;
        if change.state.is_terminal() && change.state != BuildState::Canceled {
            let last_error = record
                .error_message
                .as_deref()
                .unwrap_or("no message from AIB");
            disabled = super::images::count_outcome(
                &mut tx,
                &record.image,
                change.state.is_success(),
                change.at,
                limit,
                last_error,
            )
            .await
            .map_err(StoreError::query(ACTION))?
            .disabled;
            tell(&mut tx, &record, disabled.as_deref())
                .await
                .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(Transitioned { record, disabled })
    }
}

impl Store {
    /// Logs something done for a build that does not change it, such as an old
    /// gallery image version deleted after it succeeded.
    pub async fn note_event(
        &self,
        id: BuildId,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "record an event of a build";
        let mut tx = self.begin_write(ACTION).await?;
        let mut record = sqlx::query("SELECT * FROM builds WHERE id = ?1")
            .bind(id.to_string())
            .try_map(|row: SqliteRow| build_from_row(&row))
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?
            .ok_or(StoreError::BuildNotFound(id))?;
        // The event is stamped when it happened; the build row itself is unchanged.
        record.updated_at = at;
        append_event(&mut tx, &record, detail)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))
    }
}

/// Logs the row as it is now; `at` is the row's `updated_at`.
pub(super) async fn append_event(
    tx: &mut sqlx::SqliteConnection,
    build: &BuildRecord,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO build_events (build_id, at, state, run_sub_state, cleanup, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(build.id.to_string())
    .bind(time_text(build.updated_at))
    .bind(build.state.as_str())
    .bind(build.run_sub_state.map(RunSubState::as_str))
    .bind(build.cleanup.as_str())
    .bind(detail)
    .execute(tx)
    .await
    .map(|_| ())
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

pub(super) fn build_from_row(row: &SqliteRow) -> Result<BuildRecord, sqlx::Error> {
    let artifact_ids: String = row.try_get("artifact_ids")?;
    let check_id: Option<i64> = row.try_get("check_id")?;
    Ok(BuildRecord {
        id: word(row, "id")?,
        image: row.try_get("image")?,
        check_id: check_id.map(CheckId),
        decision: opt_word(row, "decision")?,
        reason: row.try_get("reason")?,
        recipe_hash: row.try_get("recipe_hash")?,
        source_version: row.try_get("source_version")?,
        template_name: row.try_get("template_name")?,
        state: word(row, "state")?,
        run_sub_state: opt_word(row, "run_sub_state")?,
        cleanup: word(row, "cleanup")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        run_started_at: opt_time(row, "run_started_at")?,
        finished_at: opt_time(row, "finished_at")?,
        artifact_ids: serde_json::from_str(&artifact_ids)
            .map_err(|e| decode_error("artifact_ids", e))?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        log_url: row.try_get("log_url")?,
        keep_until: opt_time(row, "keep_until")?,
    })
}

pub(super) fn event_from_row(row: &SqliteRow) -> Result<EventRecord, sqlx::Error> {
    Ok(EventRecord {
        build_id: word(row, "build_id")?,
        at: time(row, "at")?,
        state: word(row, "state")?,
        run_sub_state: opt_word(row, "run_sub_state")?,
        cleanup: word(row, "cleanup")?,
        detail: row.try_get("detail")?,
    })
}
