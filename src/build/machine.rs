//! One build as a persisted state machine.
//!
//! Every step writes its intent to the history store *before* it talks to
//! Azure, and the template's `lastRunStatus` is the truth about what Azure did.
//! `drive` can therefore be called on a build in any state — fresh, or found
//! half-done after a crash — and carries it to its end with exactly one AIB
//! run: `run_requested` + a template with a `lastRunStatus` means a run exists
//! and is followed; no `lastRunStatus` means no run was accepted, so it is
//! requested now.

use tracing::{info, warn};

use crate::azure::AzureError;
use crate::azure::arm::{MAX_CODE, MAX_MESSAGE, printable};
use crate::azure::image_templates::{self, ImageTemplateStatus, ProvisioningState, TemplateRef};
use crate::catalog::Image;
use crate::model::{BuildState, Cleanup, RunSubState};
use crate::store::{BuildRecord, BuildTransition};

use super::follow::follow_run;
use super::template::{self, TemplateInput};
use super::{BuildContext, BuildError, Progress};

/// Carries `build` from its current state to a final record with its template
/// cleaned up (or kept). Azure refusals end the build as failed; outages and
/// store failures stop here and leave the build to be resumed.
///
/// `image` is the build's catalog entry, `None` when it left the catalog: a
/// build that already asked Azure for a run is still followed to its end, one
/// that did not is abandoned (as is one whose recipe changed meanwhile, since
/// its template would no longer match the recorded recipe hash).
pub async fn drive(
    ctx: &BuildContext,
    image: Option<&Image>,
    mut build: BuildRecord,
) -> Result<BuildRecord, BuildError> {
    let template = ctx.template_ref(
        &build
            .template_name
            .clone()
            .unwrap_or_else(|| template::template_name(&build.image, &build.id.to_string())),
    );
    while !build.state.is_terminal() {
        ctx.progress(Progress::from_record(&build));
        // Before every external action: a holder that lost its lease (it
        // stalled past the ttl and another process took over) must stop.
        ctx.renew_lease(&build.image).await?;
        let step = step(ctx, image, &template, &build).await;
        build = match step {
            Ok(change) => ctx.record(&build, &change).await?,
            Err(StepError::Refused { code, message }) => {
                warn!(%code, %message, "Azure refused the build");
                let mut change =
                    BuildTransition::to(BuildState::Failed, ctx.now(), "Azure refused");
                // A refused PUT may still have left a template behind.
                change.template_name = Some(template.name.clone());
                change.error_code = Some(code);
                change.error_message = Some(message);
                ctx.record(&build, &change).await?
            }
            Err(StepError::Unbuildable { message }) => {
                warn!(%message, "the build cannot succeed; no template was created");
                let mut change =
                    BuildTransition::to(BuildState::Failed, ctx.now(), "preflight failed");
                change.error_code = Some(PREFLIGHT_FAILED.to_owned());
                change.error_message = Some(message);
                ctx.record(&build, &change).await?
            }
            Err(StepError::Interrupted(error)) => return Err(error),
        };
        if ctx.options.detach_when_running && build.state == BuildState::Running {
            ctx.progress(Progress::from_record(&build));
            return Ok(build);
        }
    }
    ctx.progress(Progress::from_record(&build));
    if build.cleanup == Cleanup::Pending {
        // Before the clean-up, which is the build's last record; a process that dies
        // in between prunes again when it resumes, and deleting is idempotent.
        if build.state == BuildState::Succeeded
            && let Some(image) = image
        {
            crate::promote::record_staged(ctx, image, &build).await?;
            super::end_of_life::set(ctx, image, &build).await?;
            super::prune::prune(ctx, image, &build).await?;
        }
        ctx.renew_lease(&build.image).await?;
        build = super::cleanup::clean_up(ctx, &template, build).await?;
    }
    Ok(build)
}

/// Why a step did not produce a transition.
pub(super) enum StepError {
    /// Azure said no for good (a 4xx, a failed operation): the build fails.
    Refused { code: String, message: String },
    /// The preflight found what would make AIB fail it: the build fails
    /// before anything is created in Azure.
    Unbuildable { message: String },
    /// Azure or the database could not be reached, or a deadline passed: the
    /// build keeps its state and is resumed later. An outage must not count
    /// as a failed build.
    Interrupted(BuildError),
}

impl From<AzureError> for StepError {
    fn from(error: AzureError) -> Self {
        match &error {
            AzureError::Arm {
                status,
                code,
                message,
                ..
            } if (400..500).contains(status) && !matches!(status, 408 | 429) => {
                StepError::Refused {
                    code: code.clone(),
                    message: message.clone(),
                }
            }
            AzureError::Lro { code, message, .. } => StepError::Refused {
                code: code.clone(),
                message: message.clone(),
            },
            _ => StepError::Interrupted(BuildError::Azure(error)),
        }
    }
}

pub(super) fn is_conflict(error: &AzureError) -> bool {
    matches!(error, AzureError::Arm { status: 409, .. })
}

/// Does the one external action the current state calls for and returns the
/// transition that records its result.
async fn step(
    ctx: &BuildContext,
    image: Option<&Image>,
    template: &TemplateRef,
    build: &BuildRecord,
) -> Result<BuildTransition, StepError> {
    match build.state {
        BuildState::Planned => match image {
            Some(image) if image.recipe_hash.hex() == build.recipe_hash => {
                if image.staging_resource_group.is_some() {
                    super::cleanup::free_staging_group(ctx, image).await?;
                }
                preflight(ctx, image, &build.source_version).await?;
                create_template(ctx, image, template, build).await
            }
            _ => Ok(abandon(ctx, template, image.is_none())),
        },
        // Intent first: from here on a crash may leave a run behind, and
        // `run_requested` tells the resumed process to look before it asks.
        BuildState::TemplateCreated => Ok(BuildTransition::to(
            BuildState::RunRequested,
            ctx.now(),
            "requesting a run",
        )),
        BuildState::RunRequested => start_run(ctx, template).await,
        BuildState::Running | BuildState::Canceling => {
            // AIB's own default applies when the image is gone from the catalog.
            let timeout_minutes = image.map_or(0, |image| image.build_timeout_minutes);
            follow_run(ctx, template, build, timeout_minutes).await
        }
        terminal => Err(StepError::Interrupted(BuildError::Bug(format!(
            "a build in terminal state {terminal} was stepped"
        )))),
    }
}

/// The error code of a build the preflight stopped.
pub const PREFLIGHT_FAILED: &str = "PreflightFailed";

/// What Azure said would make the build fail, asked before the template PUT.
/// Only answers count: a question Azure did not answer leaves the PUT to tell.
async fn preflight(ctx: &BuildContext, image: &Image, version: &str) -> Result<(), StepError> {
    let issues = crate::preflight::image(&ctx.arm, &ctx.azure, image, version, &ctx.lookups).await;
    let certain: Vec<String> = issues
        .into_iter()
        .filter(|issue| issue.certain)
        .map(|issue| issue.finding.message)
        .collect();
    if certain.is_empty() {
        Ok(())
    } else {
        Err(StepError::Unbuildable {
            message: certain.join("; "),
        })
    }
}

/// Ends a planned build whose template can no longer be rendered as recorded.
fn abandon(ctx: &BuildContext, template: &TemplateRef, image_gone: bool) -> BuildTransition {
    let why = if image_gone {
        "the image left the catalog before its build started"
    } else {
        "the image's recipe changed before its build started"
    };
    let mut change = BuildTransition::to(BuildState::Canceled, ctx.now(), why);
    // The crashed process may have sent the PUT: clean-up deletes what it made.
    change.template_name = Some(template.name.clone());
    change.error_message = Some(why.to_owned());
    change
}

async fn create_template(
    ctx: &BuildContext,
    image: &Image,
    template: &TemplateRef,
    build: &BuildRecord,
) -> Result<BuildTransition, StepError> {
    let build_id = build.id.to_string();
    let body = template::render(TemplateInput {
        image,
        azure: &ctx.azure,
        source_version: &build.source_version,
        build_id: &build_id,
    });
    // Same name, same body: a PUT repeated after a crash is a no-op in AIB.
    let put = image_templates::put(&ctx.arm, template, &body, ctx.deadline_for_arm());
    let status = ctx
        .holding_lease(&build.image, put)
        .await
        .map_err(StepError::Interrupted)??;
    let status = ctx
        .holding_lease(&build.image, wait_provisioned(ctx, template, status))
        .await
        .map_err(StepError::Interrupted)??;
    if status.provisioning_state == Some(ProvisioningState::Failed) {
        let error = status
            .provisioning_error
            .unwrap_or(image_templates::ProvisioningError {
                provisioning_error_code: None,
                message: None,
            });
        let mut change = BuildTransition::to(BuildState::Failed, ctx.now(), "template rejected");
        change.template_name = Some(template.name.clone());
        change.error_code = Some(printable(
            &error
                .provisioning_error_code
                .unwrap_or_else(|| "ProvisioningFailed".into()),
            MAX_CODE,
        ));
        change.error_message = error.message.map(|m| printable(&m, MAX_MESSAGE));
        return Ok(change);
    }
    let mut change =
        BuildTransition::to(BuildState::TemplateCreated, ctx.now(), "template created");
    change.template_name = Some(template.name.clone());
    Ok(change)
}

/// A PUT repeated after a crash answers at once with the template as it is,
/// possibly still being created; a run can only start once it is not.
async fn wait_provisioned(
    ctx: &BuildContext,
    template: &TemplateRef,
    mut status: ImageTemplateStatus,
) -> Result<ImageTemplateStatus, StepError> {
    let deadline = ctx.deadline_for_arm();
    while matches!(
        status.provisioning_state,
        Some(ProvisioningState::Creating | ProvisioningState::Updating)
    ) {
        if tokio::time::Instant::now() >= deadline {
            return Err(StepError::Interrupted(BuildError::Azure(
                AzureError::Timeout {
                    what: format!("create image template {}", template.name),
                    after: ctx.options.arm_operation_timeout,
                },
            )));
        }
        tokio::time::sleep(ctx.arm.options().lro_poll_interval).await;
        status = require_template(ctx, template).await?;
    }
    Ok(status)
}

/// Asks for the run unless Azure shows one already: the POST of a crashed
/// process may have been accepted without the answer being recorded.
async fn start_run(
    ctx: &BuildContext,
    template: &TemplateRef,
) -> Result<BuildTransition, StepError> {
    let status = require_template(ctx, template).await?;
    if status.last_run_status.is_none() {
        info!(template = %template.name, "starting the AIB run");
        if let Err(error) = image_templates::run(&ctx.arm, template).await {
            // 409: a run is under way after all (an earlier POST landed after
            // the look above); anything else stands.
            let started_meanwhile = is_conflict(&error)
                && require_template(ctx, template)
                    .await?
                    .last_run_status
                    .is_some();
            if !started_meanwhile {
                return Err(error.into());
            }
            info!(template = %template.name, "a run started meanwhile; following it");
        }
    } else {
        info!(template = %template.name, "a run already exists; following it");
    }
    let mut change = BuildTransition::to(BuildState::Running, ctx.now(), "run accepted");
    change.run_sub_state = Some(RunSubState::Queued);
    Ok(change)
}

pub(super) async fn require_template(
    ctx: &BuildContext,
    template: &TemplateRef,
) -> Result<ImageTemplateStatus, StepError> {
    image_templates::get(&ctx.arm, template)
        .await?
        .ok_or_else(|| StepError::Refused {
            code: "TemplateNotFound".into(),
            message: format!(
                "image template {} disappeared from Azure before its run finished",
                template.name
            ),
        })
}
