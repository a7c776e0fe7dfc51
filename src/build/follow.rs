//! Following an accepted run to its end, cancelling it past the build timeout.

use tracing::{info, warn};

use crate::azure::arm::{MAX_MESSAGE, printable};
use crate::azure::image_templates::{self, RunState, RunStatus, TemplateRef};
use crate::model::{BuildState, RunSubState};
use crate::store::{BuildRecord, BuildTransition};

use super::BuildContext;
use super::machine::{StepError, is_conflict, require_template};

/// Polls the template until its run changes sub-state or ends. Past the
/// deadline a running build first records `canceling` (intent) and then, in
/// that state, asks AIB to cancel, so a crash in between cancels on resume.
pub(super) async fn follow_run(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: &BuildRecord,
    build_timeout_minutes: u32,
) -> Result<BuildTransition, StepError> {
    let started = build.run_started_at.unwrap_or(build.updated_at);
    let deadline = started + ctx.options.run_timeout(build_timeout_minutes);
    let mut cancel_sent = false;
    let mut pause = PollPause::new(ctx.options.poll_interval);
    loop {
        ctx.renew_lease(&build.image)
            .await
            .map_err(StepError::Interrupted)?;
        let status = require_template(ctx, template).await?;
        let Some(run) = status.last_run_status else {
            // AIB may take a moment to show a run it accepted.
            if ctx.now() <= deadline {
                pause.sleep().await;
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
            return finished_run(ctx, template, build, run).await;
        }
        let sub_state = run.run_sub_state.and_then(sub_state_word);
        match build.state {
            BuildState::Running if ctx.now() > deadline => {
                warn!(template = %template.name, "build timeout passed; cancelling the run");
                let mut change =
                    BuildTransition::to(BuildState::Canceling, ctx.now(), "build timeout passed");
                change.run_sub_state = sub_state;
                return Ok(change);
            }
            BuildState::Running if sub_state != build.run_sub_state => {
                let mut change =
                    BuildTransition::to(BuildState::Running, ctx.now(), "AIB progress");
                change.run_sub_state = sub_state;
                return Ok(change);
            }
            BuildState::Canceling if run.run_state == RunState::Running && !cancel_sent => {
                cancel(ctx, template).await?;
                cancel_sent = true;
            }
            _ => {}
        }
        pause.sleep().await;
    }
}

/// Waits between polls: a second at first, doubling up to the configured
/// interval. Short phases are seen promptly; an hour-long customization is
/// not polled every second.
struct PollPause {
    next: std::time::Duration,
    max: std::time::Duration,
}

impl PollPause {
    fn new(max: std::time::Duration) -> Self {
        PollPause {
            next: std::time::Duration::from_secs(1).min(max),
            max,
        }
    }

    async fn sleep(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
    }
}

async fn cancel(ctx: &BuildContext, template: &TemplateRef) -> Result<(), StepError> {
    info!(template = %template.name, "asking AIB to cancel the run");
    match image_templates::cancel(&ctx.arm, template).await {
        Ok(_) => Ok(()),
        // The run stopped running meanwhile; the next look says how it ended.
        Err(error) if is_conflict(&error) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

async fn finished_run(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: &BuildRecord,
    run: RunStatus,
) -> Result<BuildTransition, StepError> {
    let now = ctx.now();
    // AIB's message reaches terminals, logs and the history: no escapes in it.
    let message = run
        .message
        .filter(|m| !m.is_empty())
        .map(|m| printable(&m, MAX_MESSAGE));
    let change = match run.run_state {
        RunState::Succeeded | RunState::PartiallySucceeded => {
            let artifacts = artifacts(ctx, template).await?;
            let state = if run.run_state == RunState::Succeeded {
                BuildState::Succeeded
            } else {
                BuildState::PartiallySucceeded
            };
            let mut change = BuildTransition::to(state, now, "run finished");
            change.artifact_ids = Some(artifacts);
            change.error_message = message;
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
            // Where the run stopped, as AIB last said it.
            change.run_sub_state = run
                .run_sub_state
                .and_then(sub_state_word)
                .or(build.run_sub_state);
            let validation = change.run_sub_state == Some(RunSubState::Validating);
            change.error_code = Some(
                if validation {
                    "ValidationFailed"
                } else {
                    "BuildFailed"
                }
                .into(),
            );
            if validation {
                // With continueDistributeOnFailure the image was distributed
                // all the same: history must say where it went.
                change.artifact_ids = Some(artifacts(ctx, template).await?);
            }
            change.log_url = message.as_deref().and_then(log_url);
            change.error_message = message;
            change
        }
    };
    Ok(change)
}

/// The ids (or VHD URIs) of what the run distributed.
async fn artifacts(ctx: &BuildContext, template: &TemplateRef) -> Result<Vec<String>, StepError> {
    let outputs = image_templates::run_outputs(&ctx.arm, template).await?;
    Ok(outputs
        .into_iter()
        .filter_map(|o| o.artifact_id.or(o.artifact_uri))
        .collect())
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

/// Where AIB keeps the run's customization.log: its failure message says
/// "Image Build log location: URL.".
pub fn log_url(message: &str) -> Option<String> {
    message
        .split_whitespace()
        .map(|word| word.trim_end_matches(['.', ',', ';', ')']))
        .find(|word| {
            (word.starts_with("https://") || word.starts_with("http://"))
                && word.ends_with("/customization.log")
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::log_url;

    #[test]
    fn the_log_is_found_in_aibs_message() {
        let message = "Packer build command has failed: exit status 1. During the image build, \
            a failure has occurred. Image Build log location: \
            https://abc.blob.core.windows.net/packerlogs/1-2/customization.log. OperationId: 9.";
        assert_eq!(
            log_url(message).as_deref(),
            Some("https://abc.blob.core.windows.net/packerlogs/1-2/customization.log")
        );
        assert_eq!(log_url("see https://aka.ms/azvmimagebuilderts."), None);
    }
}
