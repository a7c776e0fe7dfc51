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
use crate::azure::image_templates::{self, ImageTemplateStatus, RunState, TemplateRef};
use crate::catalog::Image;
use crate::store::{BuildRecord, BuildState, BuildTransition, Cleanup, RunSubState};

use super::template::{self, TemplateInput};
use super::{BuildContext, BuildError, Progress};

/// Carries `build` from its current state to a final record with its template
/// cleaned up (or kept). Azure failures end the build as failed; store failures
/// stop here and leave the build to be resumed.
pub async fn drive(
    ctx: &BuildContext,
    image: &Image,
    mut build: BuildRecord,
) -> Result<BuildRecord, BuildError> {
    let template = TemplateRef {
        subscription_id: ctx.azure.subscription_id.clone(),
        resource_group: ctx.azure.resource_group.clone(),
        name: build
            .template_name
            .clone()
            .unwrap_or_else(|| template::template_name(&image.name, &build.id.to_string())),
    };
    while !build.state.is_terminal() {
        ctx.progress(Progress::from_record(&build));
        let step = step(ctx, image, &template, &build).await;
        build = match step {
            Ok(change) => ctx.store.transition(build.id, &change).await?,
            Err(StepError::Refused { code, message }) => {
                warn!(%code, %message, "Azure refused the build");
                let mut change =
                    BuildTransition::to(BuildState::Failed, ctx.now(), "Azure refused");
                change.error_code = Some(code);
                change.error_message = Some(message);
                ctx.store.transition(build.id, &change).await?
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
        build = clean_up(ctx, &template, build).await?;
    }
    Ok(build)
}

/// Why a step did not produce a transition.
enum StepError {
    /// Azure said no for good (a 4xx, a failed operation): the build fails.
    Refused { code: String, message: String },
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

impl From<crate::store::StoreError> for StepError {
    fn from(error: crate::store::StoreError) -> Self {
        StepError::Interrupted(error.into())
    }
}

/// Does the one external action the current state calls for and returns the
/// transition that records its result.
async fn step(
    ctx: &BuildContext,
    image: &Image,
    template: &TemplateRef,
    build: &BuildRecord,
) -> Result<BuildTransition, StepError> {
    match build.state {
        BuildState::Planned => {
            let build_id = build.id.to_string();
            let body = template::render(TemplateInput {
                image,
                azure: &ctx.azure,
                source_version: &build.source_version,
                build_id: &build_id,
            });
            // Same name, same body: a PUT repeated after a crash is a no-op in AIB.
            let status =
                image_templates::put(&ctx.arm, template, &body, ctx.deadline_for_arm()).await?;
            if let Some(error) = status.provisioning_error.filter(|_| {
                status.provisioning_state == Some(image_templates::ProvisioningState::Failed)
            }) {
                let mut change =
                    BuildTransition::to(BuildState::Failed, ctx.now(), "template rejected");
                change.template_name = Some(template.name.clone());
                change.error_code = error.provisioning_error_code;
                change.error_message = error.message;
                return Ok(change);
            }
            let mut change =
                BuildTransition::to(BuildState::TemplateCreated, ctx.now(), "template created");
            change.template_name = Some(template.name.clone());
            Ok(change)
        }
        // Intent first: from here on a crash may leave a run behind, and
        // `run_requested` tells the resumed process to look before it asks.
        BuildState::TemplateCreated => Ok(BuildTransition::to(
            BuildState::RunRequested,
            ctx.now(),
            "requesting a run",
        )),
        BuildState::RunRequested => {
            let status = require_template(ctx, template).await?;
            if status.last_run_status.is_none() {
                info!(template = %template.name, "starting the AIB run");
                image_templates::run(&ctx.arm, template).await?;
            } else {
                info!(template = %template.name, "a run already exists; following it");
            }
            let mut change = BuildTransition::to(BuildState::Running, ctx.now(), "run accepted");
            change.run_sub_state = Some(RunSubState::Queued);
            Ok(change)
        }
        BuildState::Running | BuildState::Canceling => {
            follow_run(ctx, template, build, image.build_timeout_minutes).await
        }
        terminal => unreachable_terminal(terminal),
    }
}

fn unreachable_terminal(state: BuildState) -> Result<BuildTransition, StepError> {
    // `drive` only steps non-terminal builds; reaching here is a bug, reported
    // rather than panicking inside a daemon.
    Err(StepError::Interrupted(BuildError::Bug(format!(
        "a build in terminal state {state} was stepped"
    ))))
}

async fn require_template(
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

/// Polls the template until its run changes sub-state or ends, cancelling it
/// once the build timeout has passed.
async fn follow_run(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: &BuildRecord,
    build_timeout_minutes: u32,
) -> Result<BuildTransition, StepError> {
    let started = build.run_started_at.unwrap_or(build.updated_at);
    let deadline = started + ctx.options.run_timeout(build_timeout_minutes);
    loop {
        ctx.renew_lease(&build.image)
            .await
            .map_err(StepError::Interrupted)?;
        let status = require_template(ctx, template).await?;
        let Some(run) = status.last_run_status else {
            // AIB may take a moment to show a run it accepted.
            if ctx.now() <= deadline {
                tokio::time::sleep(ctx.options.poll_interval).await;
                continue;
            }
            return Err(StepError::Refused {
                code: "RunNotFound".into(),
                message: format!(
                    "image template {} has no run although one was accepted",
                    template.name
                ),
            });
        };
        if run.run_state.is_terminal() {
            return finished_run(ctx, template, build, run.run_state, run.message).await;
        }
        let sub_state = run.run_sub_state.and_then(sub_state_word);
        if build.state == BuildState::Running && ctx.now() > deadline {
            warn!(template = %template.name, "build timeout passed; cancelling the run");
            image_templates::cancel(&ctx.arm, template).await?;
            let mut change =
                BuildTransition::to(BuildState::Canceling, ctx.now(), "build timeout passed");
            change.run_sub_state = sub_state;
            return Ok(change);
        }
        if build.state == BuildState::Running && sub_state != build.run_sub_state {
            let mut change = BuildTransition::to(BuildState::Running, ctx.now(), "AIB progress");
            change.run_sub_state = sub_state;
            return Ok(change);
        }
        tokio::time::sleep(ctx.options.poll_interval).await;
    }
}

async fn finished_run(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: &BuildRecord,
    run_state: RunState,
    message: Option<String>,
) -> Result<BuildTransition, StepError> {
    let now = ctx.now();
    let change = match run_state {
        RunState::Succeeded | RunState::PartiallySucceeded => {
            let outputs = image_templates::run_outputs(&ctx.arm, template).await?;
            let artifacts = outputs
                .into_iter()
                .filter_map(|o| o.artifact_id.or(o.artifact_uri))
                .collect();
            let state = if run_state == RunState::Succeeded {
                BuildState::Succeeded
            } else {
                BuildState::PartiallySucceeded
            };
            let mut change = BuildTransition::to(state, now, "run finished");
            change.artifact_ids = Some(artifacts);
            change.error_message = message.filter(|m| !m.is_empty());
            change
        }
        RunState::Canceled if build.state == BuildState::Canceling => {
            let mut change = BuildTransition::to(BuildState::TimedOut, now, "run cancelled");
            change.error_code = Some("BuildTimeout".into());
            change.error_message = Some(format!(
                "the build did not finish within its timeout and was cancelled{}",
                message.map(|m| format!(": {m}")).unwrap_or_default()
            ));
            change
        }
        RunState::Canceled => {
            let mut change = BuildTransition::to(BuildState::Canceled, now, "run cancelled");
            change.error_message = message;
            change
        }
        _ => {
            let mut change = BuildTransition::to(BuildState::Failed, now, "run failed");
            change.error_code = Some("BuildFailed".into());
            change.error_message = message;
            change.run_sub_state = build.run_sub_state;
            change
        }
    };
    Ok(change)
}

fn sub_state_word(sub_state: image_templates::RunSubState) -> Option<RunSubState> {
    use image_templates::RunSubState as Aib;
    Some(match sub_state {
        Aib::Queued => RunSubState::Queued,
        Aib::Building => RunSubState::Building,
        Aib::Customizing => RunSubState::Customizing,
        Aib::Optimizing => RunSubState::Optimizing,
        Aib::Validating => RunSubState::Validating,
        Aib::Distributing => RunSubState::Distributing,
        Aib::Unknown => return None,
    })
}

/// Deletes the template, or keeps a failed one when the catalog asks to.
async fn clean_up(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: BuildRecord,
) -> Result<BuildRecord, BuildError> {
    let keep = ctx.azure.keep_failed_templates && !build.state.is_success();
    if keep || build.template_name.is_none() {
        let outcome = if keep { Cleanup::Kept } else { Cleanup::Done };
        return Ok(ctx.store.set_cleanup(build.id, outcome, ctx.now()).await?);
    }
    match image_templates::delete(&ctx.arm, template, ctx.deadline_for_arm()).await {
        Ok(()) => Ok(ctx
            .store
            .set_cleanup(build.id, Cleanup::Done, ctx.now())
            .await?),
        Err(error) => {
            // The image exists either way; a template left behind is retried
            // at the next resume rather than failing the build.
            warn!(template = %template.name, error = %error, "could not delete the image template");
            Err(BuildError::Cleanup {
                template: template.name.clone(),
                source: error,
            })
        }
    }
}
