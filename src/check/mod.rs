//! Check: resolve what Azure offers now and decide, per image, whether to rebuild.
//!
//! A check changes nothing in Azure. It records the cycle, the versions it
//! resolved and every decision in history, all in one transaction.

mod decide;
mod resolve;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::azure::ArmClient;
use crate::catalog::{Catalog, Image};
use crate::store::{
    BuildRecord, CheckId, CheckTrigger, DecisionRecord, ResolvedVersionRecord, Store, StoreError,
};

pub use decide::{Decision, Facts, Outcome, PastBuild, Wanted, decide};
pub use resolve::{Resolution, lookup_key, resolution_for, resolve_all};

/// The version recorded for sources that have none (managed images).
pub const UNVERSIONED: &str = "unversioned";

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("read or record history")]
    Store(#[from] StoreError),
}

/// One image's line in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    pub image: String,
    pub decision: Decision,
    pub stale: bool,
    pub reason: String,
    /// The exact version a build would use.
    pub source_version: Option<String>,
    pub recipe_hash: String,
}

/// What a check decided, in catalog order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub check_id: CheckId,
    pub checked_at: DateTime<Utc>,
    /// How many distinct sources were looked up in Azure.
    pub lookups: usize,
    pub entries: Vec<PlanEntry>,
}

impl Plan {
    pub fn stale(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries.iter().filter(|e| e.stale)
    }
}

/// Knobs of a check.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Lookups in flight at once.
    pub concurrency: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { concurrency: 16 }
    }
}

/// Runs one check cycle and records it.
pub async fn run_check(
    arm: &ArmClient,
    store: &Store,
    catalog: &Catalog,
    now: DateTime<Utc>,
    trigger: CheckTrigger,
    options: CheckOptions,
) -> Result<Plan, CheckError> {
    let check_id = store.begin_check(now, trigger).await?;
    let keys: Vec<_> = catalog.images.iter().map(lookup_key).collect();
    let mut unique: Vec<_> = keys.iter().flatten().cloned().collect();
    unique.sort_by_key(|k| format!("{k:?}"));
    unique.dedup();
    let lookups = unique.len();
    let resolved = resolve_all(
        arm,
        &catalog.azure.subscription_id,
        unique,
        options.concurrency,
    )
    .await;

    let mut entries = Vec::with_capacity(catalog.images.len());
    for (image, key) in catalog.images.iter().zip(&keys) {
        let resolution = resolution_for(image, key.as_ref(), &resolved);
        entries.push(plan_entry(store, image, resolution, now).await?);
    }

    let versions: Vec<ResolvedVersionRecord> = resolved
        .iter()
        .filter_map(|(key, result)| {
            result.as_ref().ok().map(|version| ResolvedVersionRecord {
                key: key.clone(),
                version: version.clone(),
                resolved_at: now,
            })
        })
        .collect();
    let decisions: Vec<DecisionRecord> = entries.iter().map(decision_record).collect();
    store
        .finish_check(check_id, now, &versions, &decisions)
        .await?;
    Ok(Plan {
        check_id,
        checked_at: now,
        lookups,
        entries,
    })
}

async fn plan_entry(
    store: &Store,
    image: &Image,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Result<PlanEntry, CheckError> {
    let recipe_hash = image.recipe_hash.hex().to_owned();
    let source_version = match &resolution {
        Resolution::Version(v) => Some(v.clone()),
        Resolution::Unversioned => Some(UNVERSIONED.to_owned()),
        Resolution::Failed(_) => None,
    };
    let decision = match (&resolution, &source_version) {
        (Resolution::Failed(error), _) => Decision::SourceUnavailable {
            error: error.clone(),
        },
        (_, Some(version)) => {
            let last_attempt = store.last_build(&image.name).await?;
            let last_success = store.last_successful_build(&image.name).await?;
            let state = store.image_state(&image.name).await?;
            let auto_disabled = state.as_ref().filter(|s| !s.enabled).map(|s| {
                s.disabled_reason
                    .clone()
                    .unwrap_or_else(|| "disabled".into())
            });
            decide(&Facts {
                wanted: Wanted {
                    recipe_hash: &recipe_hash,
                    max_age: image.max_age,
                    enabled: image.enabled,
                    auto_disabled: auto_disabled.as_deref(),
                },
                last_success: last_success.as_ref().map(past_build),
                last_attempt: last_attempt.as_ref().map(past_build),
                source_version: version,
                now,
            })
        }
        (_, None) => Decision::SourceUnavailable {
            error: "no version".into(),
        },
    };
    Ok(PlanEntry {
        image: image.name.clone(),
        stale: decision.is_stale(),
        reason: decision.reason(),
        decision,
        source_version,
        recipe_hash,
    })
}

fn past_build(build: &BuildRecord) -> PastBuild<'_> {
    let outcome = if !build.state.is_terminal() {
        Outcome::InProgress
    } else if build.state.is_success() {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    };
    PastBuild {
        id: build.id.to_string(),
        recipe_hash: &build.recipe_hash,
        source_version: &build.source_version,
        outcome,
        finished_at: build.finished_at,
    }
}

fn decision_record(entry: &PlanEntry) -> DecisionRecord {
    DecisionRecord {
        image: entry.image.clone(),
        kind: entry.decision.kind_word(),
        reason: entry.reason.clone(),
        source_version: entry.source_version.clone(),
        recipe_hash: entry.recipe_hash.clone(),
    }
}
