//! What can go wrong with the history database.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::model::{BuildId, BuildState, CheckId};

/// Errors read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("create the directory {} for the history database", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("create the history database {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("open the history database {}: there is no such file", path.display())]
    Missing { path: PathBuf },
    #[error("open the history database {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("apply the schema migrations to the history database {}", path.display())]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("{action} in the history database")]
    Query {
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("finish check {0}: no such check is running")]
    CheckNotRunning(CheckId),
    #[error("update build {0}: no such build")]
    BuildNotFound(BuildId),
    #[error("update build {id}: it already ended as {state}")]
    BuildFinished { id: BuildId, state: BuildState },
}

impl StoreError {
    pub(super) fn query(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { action, source }
    }
}

/// Why an image lease could not be taken or renewed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("claim image {image}: {holder} holds it until {expires_at}")]
    HeldBy {
        image: String,
        holder: String,
        expires_at: DateTime<Utc>,
    },
    #[error("renew the lease on image {image}: it is no longer held")]
    NotHeld { image: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
