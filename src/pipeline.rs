//! The one pipeline: reconcile with Azure → resume unfinished builds → check →
//! plan → build → promote → failure limit. The service, `run --once`, `build` and `demo` all run these stages
//! through [`Pipeline`]; `run_cycle` runs them in order, the service spreads the
//! same calls over its loop. Each stage tells [`Events`] subscribers what it did.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::task::JoinSet;
use tracing::warn;

use crate::build::{self, BuildContext, BuildError};
use crate::catalog::Catalog;
use crate::check::{self, CheckError, CheckOptions};
use crate::events::{Event, Events};
use crate::model::CheckTrigger;
use crate::plan::{Job, Plan, Selection};
use crate::promote::{self, Moved, PromoteError, RevokeError, RevokeRequest, Revoked};
use crate::reconcile::{self, ReconcileError, Reconciled};
use crate::report::chain;
use crate::store::{BuildRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error("read unfinished builds")]
    Unfinished(#[source] StoreError),
    #[error("check for stale images")]
    Check(#[from] CheckError),
    #[error("read the staged versions to promote")]
    Promotions(#[source] StoreError),
}

/// What one cycle did.
#[derive(Debug)]
pub struct CycleReport {
    pub plan: Plan,
    /// Resumed builds first, then new ones in plan order.
    pub results: Vec<Result<BuildRecord, BuildError>>,
    /// Images this cycle disabled, with the reason stored for `status`.
    pub disabled: Vec<(String, String)>,
    /// Rings of staged versions this cycle promoted, or could not.
    pub promoted: Vec<Result<Moved, PromoteError>>,
}

/// The stages, sharing one process's build context. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    ctx: Arc<BuildContext>,
}

impl Pipeline {
    pub fn new(ctx: BuildContext) -> Pipeline {
        Pipeline { ctx: Arc::new(ctx) }
    }

    pub fn context(&self) -> &BuildContext {
        &self.ctx
    }

    /// Whether `other` is a clone of this pipeline.
    pub fn same_as(&self, other: &Pipeline) -> bool {
        Arc::ptr_eq(&self.ctx, &other.ctx)
    }

    /// Whether a clone of this pipeline exists elsewhere (a running build's).
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.ctx) > 1
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    pub fn events(&self) -> &Events {
        &self.ctx.events
    }

    /// Records the builds Azure has of `catalog` and the history does not (a
    /// new, lost or restored database); run before the first check.
    pub async fn reconcile(&self, catalog: &Catalog) -> Result<Reconciled, ReconcileError> {
        reconcile::reconcile(&self.ctx, catalog).await
    }

    /// Takes a gallery image version out of `latest` everywhere (`revoke`).
    pub async fn revoke(&self, request: RevokeRequest<'_>) -> Result<Revoked, RevokeError> {
        promote::revoke(&self.ctx, request).await
    }

    /// Moves the staged versions whose next ring is due (of `image` only, when
    /// given), and the rings an earlier process asked for and did not see through.
    pub async fn promote_due(
        &self,
        image: Option<&str>,
    ) -> Result<Vec<Result<Moved, PromoteError>>, StoreError> {
        let moved = promote::promote_due(&self.ctx, image).await;
        if let Ok(moved) = &moved {
            for failed in moved.iter().filter_map(|m| m.as_ref().err()) {
                if !matches!(failed, PromoteError::Revoked { .. }) {
                    warn!(error = %chain(failed), "a promotion could not move; the next pass tries again");
                }
            }
        }
        moved
    }

    /// `image-refresh promote`: the next ring of a staged version, by hand.
    pub async fn promote(
        &self,
        image: &str,
        version: Option<&str>,
        all: bool,
        by: &str,
    ) -> Result<Vec<Moved>, PromoteError> {
        promote::promote_by_hand(&self.ctx, image, version, all, by).await
    }

    /// Finishes revokes an earlier process recorded but did not see through.
    pub async fn finish_revocations(&self) {
        promote::finish_pending(&self.ctx).await;
    }

    /// Builds an earlier process (or an earlier `build` without `--wait`) left unfinished.
    pub async fn unfinished(&self) -> Result<Vec<BuildRecord>, StoreError> {
        self.ctx.store.unfinished_builds().await
    }

    /// Carries an unfinished build to its end; AIB went on meanwhile and is asked.
    pub async fn resume(
        &self,
        catalog: &Catalog,
        build: BuildRecord,
    ) -> Result<BuildRecord, BuildError> {
        build::resume(&self.ctx, catalog, build).await
    }

    /// Checks `catalog` (all of it, or the images that are due) and records it.
    pub async fn check(
        &self,
        catalog: &Catalog,
        trigger: CheckTrigger,
    ) -> Result<Plan, CheckError> {
        let checked = check::run_check(
            &self.ctx.arm,
            &self.ctx.store,
            catalog,
            self.ctx.clock.now(),
            trigger,
            CheckOptions::default(),
        )
        .await;
        if checked.is_ok() {
            self.prune_checks(catalog).await;
            self.delete_expired_templates().await;
        }
        self.ctx.events.emit(match &checked {
            Ok(plan) => Event::CheckFinished {
                check_id: plan.check_id,
                trigger,
                images: plan.entries.len(),
                stale: plan.stale().map(|e| e.image.clone()).collect(),
                unresolved: plan
                    .unresolved()
                    .map(|e| (e.image.clone(), e.reason.clone()))
                    .collect(),
            },
            Err(error) => Event::CheckFailed {
                trigger,
                error: chain(error),
            },
        });
        checked
    }

    /// History retention: old checks go after each recorded one, so a frequent
    /// schedule cannot grow the database forever. A failure only waits for the
    /// next check.
    async fn prune_checks(&self, catalog: &Catalog) {
        let before = self.ctx.clock.now() - catalog.store.keep_checks;
        match self.ctx.store.prune_checks(before).await {
            Ok(0) => {}
            Ok(gone) => tracing::debug!(gone, "deleted checks past [store] keep_checks_days"),
            // Said once by whoever reports the disk fault.
            Err(error) if error.is_disk_fault() => {
                tracing::debug!(error = %chain(&error), "could not delete old checks")
            }
            Err(error) => {
                warn!(error = %chain(&error), "could not delete old checks; the next check tries again")
            }
        }
    }

    /// Failed builds' templates past `failed_template_retention` go after each
    /// check, the cycle's regular beat; one Azure keeps waits for the next.
    async fn delete_expired_templates(&self) {
        match build::delete_expired(&self.ctx).await {
            Ok(_) => {}
            Err(error) if error.is_disk_fault() => {
                tracing::debug!(error = %chain(&error), "could not delete expired templates")
            }
            Err(error) => {
                warn!(error = %chain(&error), "could not delete expired templates; the next check tries again")
            }
        }
    }

    /// Claims the image, records the build and drives it to its end. A failure
    /// that completes the catalog's failure limit disables the image in the same
    /// transaction as the build's final state.
    pub async fn build(&self, job: &Job) -> Result<BuildRecord, BuildError> {
        build::run_job(&self.ctx, job).await
    }

    /// Runs `jobs` with at most `[service] max_concurrent_builds` at once;
    /// results come back in job order.
    pub async fn build_all(&self, jobs: Vec<Job>) -> Vec<Result<BuildRecord, BuildError>> {
        let permits = Arc::new(Semaphore::new(
            self.ctx.service.max_concurrent_builds.max(1),
        ));
        let mut tasks = JoinSet::new();
        for (index, job) in jobs.into_iter().enumerate() {
            let pipeline = self.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = permits.acquire_owned().await;
                (index, pipeline.build(&job).await)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                Err(error) => warn!(error = %error, "a build task ended abnormally"),
            }
        }
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// Reconciles with Azure, resumes unfinished builds, checks `catalog`, hands the plan to `on_plan`
    /// (to show it before the builds start) and builds what is stale.
    pub async fn run_cycle(
        &self,
        catalog: &Catalog,
        trigger: CheckTrigger,
        on_plan: impl FnOnce(&Plan),
    ) -> Result<CycleReport, CycleError> {
        let mut events = self.events().subscribe();
        // The check runs (and is recorded, and told) even when Azure would not
        // say what it has; only the builds wait for that answer.
        let reconciled = self.reconcile(catalog).await;
        self.finish_revocations().await;
        build::release_dead_leases(&self.ctx).await;
        let mut results = Vec::new();
        let unfinished = self.unfinished().await.map_err(CycleError::Unfinished)?;
        for build in unfinished {
            results.push(self.resume(catalog, build).await);
        }
        let plan = self.check(catalog, trigger).await?;
        on_plan(&plan);
        if let Err(error) = reconciled {
            // Nothing is built. A check that could not tell either has said
            // why in its plan (the same outage, as a rule).
            if plan.unresolved().next().is_none() {
                return Err(error.into());
            }
            return Ok(CycleReport {
                plan,
                results,
                disabled: Vec::new(),
                promoted: Vec::new(),
            });
        }
        let jobs = plan.jobs(catalog, Selection::Stale);
        results.extend(self.build_all(jobs).await);
        let promoted = self
            .promote_due(None)
            .await
            .map_err(CycleError::Promotions)?;
        let mut disabled = Vec::new();
        loop {
            match events.try_recv() {
                Ok(Event::ImageDisabled { image, reason }) => disabled.push((image, reason)),
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        Ok(CycleReport {
            plan,
            results,
            disabled,
            promoted,
        })
    }
}
