//! One check cycle: resume what an earlier process left running, check, build
//! what is stale, and stop rebuilding images that keep failing. `run --once`
//! runs exactly this; the service runs the same steps spread over its loop.

use std::collections::BTreeSet;
use std::sync::Arc;

use tracing::{debug, warn};

use crate::build::{self, BuildContext, BuildError, Job};
use crate::catalog::{Catalog, ServiceSettings};
use crate::check::{CheckError, CheckOptions, Decision, Plan, run_check};
use crate::report::chain;
use crate::store::{BuildRecord, CheckTrigger, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error("read unfinished builds")]
    Unfinished(#[source] StoreError),
    #[error("check for stale images")]
    Check(#[from] CheckError),
}

/// What one cycle did.
#[derive(Debug)]
pub struct CycleReport {
    /// Resumed builds first, then new ones in plan order.
    pub results: Vec<Result<BuildRecord, BuildError>>,
    /// Images this cycle disabled, with the reason stored for `status`.
    pub disabled: Vec<(String, String)>,
}

/// Resumes unfinished builds, checks `catalog`, hands the plan to `on_plan`
/// (to show it before the builds start) and builds what is stale.
pub async fn run_cycle(
    ctx: &Arc<BuildContext>,
    catalog: &Catalog,
    trigger: CheckTrigger,
    on_plan: impl FnOnce(&Plan),
) -> Result<CycleReport, CycleError> {
    let mut results = Vec::new();
    build::release_dead_leases(ctx).await;
    let unfinished = ctx
        .store
        .unfinished_builds()
        .await
        .map_err(CycleError::Unfinished)?;
    for build in unfinished {
        results.push(build::resume(ctx, catalog, build).await);
    }
    let plan = check(ctx, catalog, trigger).await?;
    on_plan(&plan);
    let jobs = jobs_from_plan(catalog, &plan, false);
    results.extend(build::run_jobs(ctx.clone(), jobs, catalog.service.max_concurrent_builds).await);
    let mut disabled = Vec::new();
    for build in results.iter().flatten() {
        match after_build(&ctx.store, &catalog.service, build).await {
            Ok(Some(reason)) => disabled.push((build.image.clone(), reason)),
            Ok(None) => {}
            Err(error) => {
                warn!(image = %build.image, error = %chain(&error), "could not apply the failure limit; the next failure tries again");
            }
        }
    }
    Ok(CycleReport { results, disabled })
}

/// Checks `catalog` (all of it, or the images that are due) and records the cycle.
pub async fn check(
    ctx: &BuildContext,
    catalog: &Catalog,
    trigger: CheckTrigger,
) -> Result<Plan, CheckError> {
    run_check(
        &ctx.arm,
        &ctx.store,
        catalog,
        ctx.clock.now(),
        trigger,
        CheckOptions::default(),
    )
    .await
}

/// One job per stale image in the plan (every buildable image with `force`).
pub fn jobs_from_plan(catalog: &Catalog, plan: &Plan, force: bool) -> Vec<Job> {
    warn_unresolved(plan);
    plan.entries
        .iter()
        .filter(|entry| entry.stale || force)
        .filter_map(|entry| {
            let image = catalog.image(&entry.image)?;
            let Some(source_version) = entry.source_version.clone() else {
                warn!(image = %entry.image, reason = %entry.reason, "cannot build the image");
                return None;
            };
            let reason = if entry.stale {
                entry.reason.clone()
            } else {
                format!("forced by an operator ({})", entry.reason)
            };
            Some(Job {
                image: image.clone(),
                source_version,
                decision: Some(entry.decision.kind_word()),
                reason,
                check_id: Some(plan.check_id),
            })
        })
        .collect()
}

/// Otherwise an Azure outage (say, a failing token endpoint) leaves a check that
/// "found nothing stale" and not a word in the log. One line per check, not per
/// image: in an outage a catalog of a thousand images would bury everything else.
fn warn_unresolved(plan: &Plan) {
    let mut unresolved = plan
        .entries
        .iter()
        .filter_map(|entry| match &entry.decision {
            Decision::SourceUnavailable { error } => Some((&entry.image, error)),
            _ => None,
        });
    let Some((first_image, first_error)) = unresolved.next() else {
        return;
    };
    let mut images = 1;
    let mut errors = BTreeSet::from([first_error]);
    for (image, error) in unresolved {
        debug!(image = %image, %error, "cannot tell whether the image is stale");
        images += 1;
        errors.insert(error);
    }
    warn!(
        images,
        first = %first_image,
        error = %first_error,
        distinct_errors = errors.len(),
        "cannot tell whether {images} image(s) are stale; the next check tries again"
    );
}

/// Disables automatic rebuilds of an image whose failed build completes a run
/// of `disable_after_failures`; returns the reason it stored. The store
/// counted the failure in the same transaction as the build's final state.
pub async fn after_build(
    store: &Store,
    service: &ServiceSettings,
    build: &BuildRecord,
) -> Result<Option<String>, StoreError> {
    let threshold = service.disable_after_failures;
    if threshold == 0 || !build.state.is_terminal() || build.state.is_success() {
        return Ok(None);
    }
    disable_if_failing(store, threshold, build).await
}

async fn disable_if_failing(
    store: &Store,
    threshold: u32,
    build: &BuildRecord,
) -> Result<Option<String>, StoreError> {
    let Some(state) = store.image_state(&build.image).await? else {
        return Ok(None);
    };
    if !state.enabled || state.consecutive_failures < threshold {
        return Ok(None);
    }
    let last = build
        .error_message
        .as_deref()
        .unwrap_or("no message from AIB");
    let reason = format!(
        "{} consecutive failed builds; last: {last}",
        state.consecutive_failures
    );
    store
        .set_enabled(&build.image, false, Some(&reason))
        .await?;
    warn!(
        image = %build.image,
        %reason,
        "no longer rebuilt automatically; `image-refresh enable {}` resumes",
        build.image
    );
    Ok(Some(reason))
}
