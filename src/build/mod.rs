//! Build: turn a stale image into a new image version through AIB, exactly once.

mod cleanup;
mod end_of_life;
mod follow;
mod holder;
mod machine;
mod prune;
pub mod template;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span, warn};

use crate::azure::image_templates::TemplateRef;
use crate::azure::{ArmClient, AzureError};
use crate::catalog::{AzureSettings, Catalog, ServiceSettings};
use crate::clock::SharedClock;
use crate::events::{Event, Events};
use crate::model::{BuildId, BuildState, RunSubState};
use crate::plan::Job;
use crate::preflight::Lookups;
use crate::report::chain;
use crate::store::{
    BuildRecord, BuildTransition, ClaimError, FailureLimit, NewBuild, Store, StoreError,
};

pub use cleanup::delete_expired;
pub use follow::log_url;
pub use holder::{is_followed, name_this_process};
pub use machine::{PREFLIGHT_FAILED, drive};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Another process builds the image; the message names it.
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("keep the lease on image {image}; another process may take over the build")]
    LeaseLost {
        image: String,
        #[source]
        source: ClaimError,
    },
    #[error("talk to Azure")]
    Azure(#[from] AzureError),
    #[error("record the build")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Bug(String),
}

/// Knobs that differ between production, the demo and tests.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// How often a running build's template is read.
    pub poll_interval: std::time::Duration,
    /// How long a claim on an image lasts without renewal; a crashed holder's
    /// claim is taken over after this.
    pub lease_ttl: Duration,
    /// Bound on waiting for a template to be created or deleted.
    pub arm_operation_timeout: std::time::Duration,
    /// Extra time after `buildTimeoutInMinutes` before the run is cancelled;
    /// AIB normally ends an overdue build itself.
    pub timeout_grace: Duration,
    /// Return as soon as AIB accepted the run, leaving the build for a later
    /// resume (the daemon, or `run --once`) to follow: `build` without `--wait`.
    pub detach_when_running: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            poll_interval: std::time::Duration::from_secs(30),
            lease_ttl: Duration::minutes(10),
            arm_operation_timeout: std::time::Duration::from_secs(30 * 60),
            timeout_grace: Duration::minutes(10),
            detach_when_running: false,
        }
    }
}

impl BuildOptions {
    /// AIB's own default when the template says 0.
    const AIB_DEFAULT_TIMEOUT_MINUTES: i64 = 240;

    fn run_timeout(&self, build_timeout_minutes: u32) -> Duration {
        let minutes = match build_timeout_minutes {
            0 => Self::AIB_DEFAULT_TIMEOUT_MINUTES,
            m => i64::from(m),
        };
        Duration::minutes(minutes) + self.timeout_grace
    }
}

/// A build's progress, for the CLI's live lines and the daemon's status.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub image: String,
    pub build_id: BuildId,
    pub state: BuildState,
    pub run_sub_state: Option<RunSubState>,
    pub started_at: DateTime<Utc>,
}

impl Progress {
    fn from_record(build: &BuildRecord) -> Self {
        Progress {
            image: build.image.clone(),
            build_id: build.id,
            state: build.state,
            run_sub_state: build.run_sub_state,
            started_at: build.created_at,
        }
    }
}

/// What every build of one process shares.
pub struct BuildContext {
    pub arm: ArmClient,
    pub store: Store,
    pub clock: SharedClock,
    pub azure: AzureSettings,
    /// The build limit and the failure limit.
    pub service: ServiceSettings,
    pub options: BuildOptions,
    pub events: Events,
    /// Names this process in leases: "host:pid:start:uuid" (see [`name_this_process`]).
    pub holder: String,
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
    /// What the preflight before each template PUT learned, shared by the
    /// builds of one cycle (see [`Lookups::default`]).
    pub lookups: Arc<Lookups>,
}

impl BuildContext {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The image template `name` in the catalog's resource group.
    fn template_ref(&self, name: &str) -> TemplateRef {
        TemplateRef {
            subscription_id: self.azure.subscription_id.clone(),
            resource_group: self.azure.resource_group.clone(),
            name: name.to_owned(),
        }
    }

    fn deadline_for_arm(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.options.arm_operation_timeout
    }

    /// Records a build's move, counting its outcome against the failure limit in
    /// the same transaction, and tells subscribers when it ended or disabled its image.
    async fn record(
        &self,
        build: &BuildRecord,
        change: &BuildTransition,
    ) -> Result<BuildRecord, StoreError> {
        let limit = FailureLimit(self.service.disable_after_failures);
        let written = self
            .store
            .transition_counting(build.id, change, limit)
            .await?;
        let record = written.record;
        if record.state.is_terminal() {
            self.events.emit(Event::BuildFinished {
                image: record.image.clone(),
                build_id: record.id,
                state: record.state,
                artifact_ids: record.artifact_ids.clone(),
                error_code: record.error_code.clone(),
                error_message: record.error_message.clone(),
            });
        }
        if let Some(reason) = written.disabled {
            warn!(
                image = %record.image,
                %reason,
                "no longer rebuilt automatically; `image-refresh enable {}` resumes",
                record.image
            );
            self.events.emit(Event::ImageDisabled {
                image: record.image.clone(),
                reason,
            });
        }
        Ok(record)
    }

    fn started(&self, build: &BuildRecord, resumed: bool) {
        self.events.emit(Event::BuildStarted {
            image: build.image.clone(),
            build_id: build.id,
            reason: build.reason.clone(),
            resumed,
        });
    }

    fn progress(&self, progress: Progress) {
        if let Some(sender) = &self.progress {
            // A closed receiver only means nobody is watching any more.
            let _ = sender.send(progress);
        }
    }

    /// Takes the lease on `image`; a lease left by a process that died on
    /// this host is taken over at once instead of after its ttl.
    async fn claim(&self, image: &str) -> Result<(), BuildError> {
        let ttl = self.options.lease_ttl;
        let held = match self
            .store
            .try_claim(image, &self.holder, self.now(), ttl)
            .await
        {
            Err(ClaimError::HeldBy { holder, .. })
                if holder::is_dead_on_this_host(&self.holder, &holder) =>
            {
                holder
            }
            claimed => return Ok(claimed.map(drop)?),
        };
        warn!(image, dead = %held, "taking over the lease of a process that died on this host");
        match self
            .store
            .take_over(image, &held, &self.holder, self.now(), ttl)
            .await
        {
            Ok(_) => Ok(()),
            // Someone else took it over or it was released meanwhile: claim as usual.
            Err(_) => Ok(self
                .store
                .try_claim(image, &self.holder, self.now(), ttl)
                .await
                .map(drop)?),
        }
    }

    async fn renew_lease(&self, image: &str) -> Result<(), BuildError> {
        self.store
            .renew(image, &self.holder, self.now(), self.options.lease_ttl)
            .await
            .map_err(|source| BuildError::LeaseLost {
                image: image.to_owned(),
                source,
            })?;
        Ok(())
    }

    /// Runs `work`, one Azure call that may wait long (a template PUT or DELETE
    /// waits for AIB's operation, a DELETE for the staging resource group: minutes,
    /// up to `arm_operation_timeout`), renewing the lease first and then every third
    /// of its ttl, so that no other process takes the build over while it waits.
    async fn holding_lease<T>(
        &self,
        image: &str,
        work: impl Future<Output = T>,
    ) -> Result<T, BuildError> {
        let every = (self.options.lease_ttl / 3)
            .to_std()
            .unwrap_or_default()
            .max(std::time::Duration::from_secs(1));
        self.renew_lease(image).await?;
        let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return Ok(done),
                _ = renewals.tick() => self.renew_lease(image).await?,
            }
        }
    }

    async fn release(&self, image: &str) {
        match self.store.release(image, &self.holder).await {
            Ok(_) => {}
            // Said once by whoever reports the disk fault (the service, or the command's
            // error); this process takes its own leftover lease back with its next claim.
            Err(error) if error.is_disk_fault() => {
                debug!(image, error = %chain(&error), "could not release the image lease; it expires by itself");
            }
            Err(error) => {
                warn!(image, error = %chain(&error), "could not release the image lease; it expires by itself");
            }
        }
    }
}

/// Releases every lease that a process which died on this host left behind.
///
/// A claim takes over such a lease, but only a claim of the same image: a
/// process killed after its build's last record (the clean-up) and before it
/// released the lease leaves it on an image that nothing claims again, since
/// its build is finished and its check is answered. The restart sweeps them
/// before it resumes anything. Only rows still naming the dead holder are
/// deleted, so a lease taken over meanwhile stays; a failure leaves the leases
/// to the next sweep or claim.
pub async fn release_dead_leases(ctx: &BuildContext) {
    let leases = match ctx.store.leases().await {
        Ok(leases) => leases,
        Err(error) => {
            warn!(error = %chain(&error), "could not read the image leases to release those of dead processes");
            return;
        }
    };
    for lease in leases {
        if !holder::is_dead_on_this_host(&ctx.holder, &lease.holder) {
            continue;
        }
        match ctx.store.release(&lease.image, &lease.holder).await {
            Ok(true) => {
                warn!(image = %lease.image, dead = %lease.holder, "released the lease of a process that died on this host");
            }
            // Taken over or released meanwhile.
            Ok(false) => {}
            Err(error) if error.is_disk_fault() => {
                debug!(image = %lease.image, error = %chain(&error), "could not release the lease of a dead process");
            }
            Err(error) => {
                warn!(image = %lease.image, error = %chain(&error), "could not release the lease of a dead process");
            }
        }
    }
}

/// Claims the image, records the build as planned, and drives it to its end.
///
/// An unfinished build of the same image (one left running by `build` without
/// `--wait`, or by a crashed process) is followed to its end instead of
/// starting a second AIB build of the image beside it.
pub async fn run_job(ctx: &BuildContext, job: &Job) -> Result<BuildRecord, BuildError> {
    let image = &job.image;
    ctx.claim(&image.name).await?;
    let result = async {
        let unfinished = ctx
            .store
            .unfinished_builds()
            .await?
            .into_iter()
            .find(|build| build.image == image.name && !build.state.is_terminal());
        let (build, resumed) = match unfinished {
            Some(build) => {
                warn!(image = %image.name, build_id = %build.id,
                    "the image has an unfinished build; following it instead of starting another");
                (build, true)
            }
            None => {
                let build = ctx
                    .store
                    .insert_build(NewBuild {
                        image: image.name.clone(),
                        check_id: job.check_id,
                        decision: job.decision,
                        reason: job.reason.clone(),
                        recipe_hash: image.recipe_hash.hex().to_owned(),
                        source_version: job.source_version.clone(),
                        created_at: ctx.now(),
                    })
                    .await?;
                (build, false)
            }
        };
        ctx.started(&build, resumed);
        let span = info_span!("build", image = %image.name, build_id = %build.id, resumed);
        drive(ctx, Some(image), build).instrument(span).await
    }
    .await;
    ctx.release(&image.name).await;
    result
}

/// Carries an unfinished build found in the store (after a crash or restart)
/// to its end. A build whose image left the catalog is still followed if its
/// run was requested, and abandoned otherwise (see [`drive`]).
pub async fn resume(
    ctx: &BuildContext,
    catalog: &Catalog,
    build: BuildRecord,
) -> Result<BuildRecord, BuildError> {
    let name = build.image.clone();
    ctx.claim(&name).await?;
    let span = info_span!("build", image = %name, build_id = %build.id, resumed = true);
    let result = async {
        // The record may be stale: until we held the lease, another process
        // may have carried the build on.
        let fresh = ctx
            .store
            .get_build(build.id)
            .await?
            .ok_or(StoreError::BuildNotFound(build.id))?;
        if !fresh.state.is_terminal() {
            ctx.started(&fresh, true);
        }
        drive(ctx, catalog.image(&name), fresh).await
    }
    .instrument(span)
    .await;
    ctx.release(&name).await;
    result
}
