//! Check: resolve what Azure offers now and decide, per image, whether to rebuild.
//!
//! A check changes nothing in Azure. It records the cycle, the versions it
//! resolved and every decision in history, all in one transaction.

mod decide;
mod resolve;

use chrono::{DateTime, Utc};
use tracing::{debug, error, warn};

use crate::azure::ArmClient;
use crate::catalog::{Catalog, Image};
use crate::model::{CheckId, CheckTrigger, DecisionKind};
use crate::plan::{Plan, PlanEntry};
use crate::report::chain;
use crate::store::{
    BuildRecord, DecisionRecord, ImageStatus, ResolvedVersionRecord, Store, StoreError,
};

pub use decide::{Decision, Facts, Outcome, PastBuild, Wanted, decide};
pub use resolve::{Resolution, Resolved, lookup_key, resolution_for, resolve_all};

/// The version recorded for sources that have none (managed images).
pub const UNVERSIONED: &str = "unversioned";

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("read or record history")]
    Store(#[from] StoreError),
}

/// Knobs of a check.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Lookups in flight at once. The default of 16 finishes 50 lookups at
    /// 50 ms latency in four rounds while staying far inside ARM's read burst;
    /// BENCHMARKS.md has the measurements.
    pub concurrency: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { concurrency: 16 }
    }
}

/// Runs one check cycle and records it. A cycle that fails is recorded as
/// failed, so history never shows it running forever.
pub async fn run_check(
    arm: &ArmClient,
    store: &Store,
    catalog: &Catalog,
    now: DateTime<Utc>,
    trigger: CheckTrigger,
    options: CheckOptions,
) -> Result<Plan, CheckError> {
    let check_id = store.begin_check(now, trigger).await?;
    match cycle(arm, store, catalog, now, check_id, options).await {
        Ok(plan) => Ok(plan),
        Err(error) => {
            match store.fail_check(check_id, now, &chain(&error)).await {
                Ok(()) => {}
                // The check's own error has the same cause and is reported.
                Err(record) if record.is_disk_fault() => {
                    debug!(check = %check_id, error = %chain(&record), "could not record the failed check");
                }
                Err(record) => {
                    warn!(check = %check_id, error = %chain(&record), "could not record the failed check");
                }
            }
            Err(error)
        }
    }
}

async fn cycle(
    arm: &ArmClient,
    store: &Store,
    catalog: &Catalog,
    now: DateTime<Utc>,
    check_id: CheckId,
    options: CheckOptions,
) -> Result<Plan, CheckError> {
    // An image the catalog switches off is never built: its source is not
    // worth a request (nor, if it is gone, a warning).
    let keys = catalog
        .images
        .iter()
        .filter(|image| image.enabled)
        .filter_map(lookup_key);
    let resolved = resolve_all(
        arm,
        &catalog.azure.subscription_id,
        keys,
        options.concurrency,
    )
    .await;

    let mut entries = Vec::with_capacity(catalog.images.len());
    for image in &catalog.images {
        let resolution = resolution_for(image, &resolved);
        let entry = plan_entry(store, image, resolution, now).await?;
        if let Decision::SourceNotFound { missing } = &entry.decision {
            say_not_found(store, &image.name, missing).await?;
        }
        entries.push(entry);
    }

    let versions: Vec<ResolvedVersionRecord> = resolved
        .versions()
        .map(|(key, version)| ResolvedVersionRecord {
            key: key.clone(),
            version: version.clone(),
            resolved_at: now,
        })
        .collect();
    let decisions: Vec<DecisionRecord> = entries.iter().map(decision_record).collect();
    store
        .finish_check(check_id, now, &versions, &decisions)
        .await?;
    Ok(Plan {
        check_id,
        checked_at: now,
        lookups: resolved.lookups(),
        entries,
    })
}

/// What the catalog and history say about `image` now, given what the newest
/// check learned of its source: `status` shows this rather than a reason that a
/// build since has made untrue.
pub async fn decide_now(
    store: &Store,
    image: &Image,
    status: &ImageStatus,
    now: DateTime<Utc>,
) -> Result<Option<PlanEntry>, CheckError> {
    let (Some(kind), Some(reason)) = (status.last_decision, &status.last_reason) else {
        return Ok(None);
    };
    let resolution = match (kind, &status.decided_source_version) {
        (DecisionKind::SourceNotFound, _) => Resolution::NotFound(reason.clone()),
        (DecisionKind::Disabled, None) => {
            Resolution::Failed("not checked while it was disabled".to_owned())
        }
        (_, Some(version)) if version == UNVERSIONED => Resolution::Unversioned,
        (_, Some(version)) => Resolution::Version(version.clone()),
        (_, None) => Resolution::Failed(decide::unavailable_error(reason).to_owned()),
    };
    Ok(Some(plan_entry(store, image, resolution, now).await?))
}

async fn plan_entry(
    store: &Store,
    image: &Image,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Result<PlanEntry, CheckError> {
    let recipe_hash = image.recipe_hash.hex().to_owned();
    // Independent reads: one round trip's wait instead of three per image.
    let (last_attempt, last_success, state) = tokio::try_join!(
        store.last_build(&image.name),
        store.last_successful_build(&image.name),
        store.image_state(&image.name),
    )?;
    let auto_disabled = state.as_ref().filter(|s| !s.enabled).map(|s| {
        s.disabled_reason
            .clone()
            .unwrap_or_else(|| "disabled".into())
    });
    let wanted = Wanted {
        recipe_hash: &recipe_hash,
        max_age: image.max_age,
        min_base_age: image.min_base_age,
        enabled: image.enabled,
        auto_disabled: auto_disabled.as_deref(),
        window_closed_until: crate::schedule::closed_until(image.build_window.as_ref(), now),
    };
    let source_version = match resolution {
        Resolution::Version(v) => Ok(v),
        Resolution::Unversioned => Ok(UNVERSIONED.to_owned()),
        Resolution::Failed(error) => Err(Decision::SourceUnavailable { error }),
        Resolution::NotFound(missing) => Err(Decision::SourceNotFound { missing }),
    };
    // Only a followed version soaks: a pinned one was chosen by a person.
    let source_first_seen = match (&source_version, lookup_key(image), image.min_base_age) {
        (Ok(version), Some(key), Some(_)) => store.first_seen(&key, version).await?,
        _ => None,
    };
    let decision = match (decide::disabled(&wanted), &source_version) {
        (Some(disabled), _) => disabled,
        (None, Err(unresolved)) => unresolved.clone(),
        (None, Ok(version)) => decide(&Facts {
            wanted,
            last_success: last_success.as_ref().map(past_build),
            last_attempt: last_attempt.as_ref().map(past_build),
            source_version: version,
            source_first_seen,
            now,
        }),
    };
    Ok(PlanEntry {
        image: image.name.clone(),
        stale: decision.is_stale(),
        reason: decision.reason(),
        decision,
        source_version: source_version.ok(),
        recipe_hash,
    })
}

/// A missing source is said at ERROR once per episode: the first check that finds
/// it gone, not every check after it (the decision and `status` keep saying it).
async fn say_not_found(store: &Store, image: &str, missing: &str) -> Result<(), CheckError> {
    if store.last_decision(image).await? == Some(DecisionKind::SourceNotFound) {
        debug!(image, missing, "the source is still missing");
    } else {
        error!(
            image,
            missing, "the image's source does not exist in Azure; fix the catalog"
        );
    }
    Ok(())
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
        kind: entry.decision.kind(),
        reason: entry.reason.clone(),
        source_version: entry.source_version.clone(),
        recipe_hash: entry.recipe_hash.clone(),
    }
}
