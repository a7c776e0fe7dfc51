//! Deleting a finished build's image template, or keeping a failed one.

use tracing::{Instrument, info, warn};

use crate::azure::image_templates::{self, TemplateRef};
use crate::catalog::Image;
use crate::model::{BuildState, Cleanup};
use crate::store::{BuildRecord, StoreError};

use super::machine::StepError;
use super::{BuildContext, BuildError};

/// Deletes the template, or keeps a failed one for `failed_template_retention`
/// (a later cycle deletes it then; see [`delete_expired`]). A template Azure
/// would not delete leaves the cleanup `pending`: the build's result stands, and
/// the next resume tries again.
pub(super) async fn clean_up(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: BuildRecord,
) -> Result<BuildRecord, BuildError> {
    let retention = ctx.azure.failed_template_retention;
    // A failed or timed-out run's log says why; a cancelled or successful one's
    // is not worth a week of a resource group.
    let keep =
        retention.keeps() && matches!(build.state, BuildState::Failed | BuildState::TimedOut);
    let outcome = match build.template_name {
        // Nothing was ever sent to Azure.
        None => Ok(Cleanup::Done),
        Some(_) if keep => match image_templates::get(&ctx.arm, template).await {
            Ok(Some(_)) => Ok(Cleanup::Kept),
            // A refused PUT leaves nothing to keep.
            Ok(None) => Ok(Cleanup::Done),
            Err(error) => Err(error),
        },
        Some(_) => {
            let delete = image_templates::delete(&ctx.arm, template, ctx.deadline_for_arm());
            ctx.holding_lease(&build.image, delete)
                .await?
                .map(|()| Cleanup::Done)
        }
    };
    let now = ctx.now();
    match outcome {
        Ok(Cleanup::Kept) => {
            let until = retention.until(build.finished_at.unwrap_or(now));
            Ok(ctx.store.keep_template(build.id, until, now).await?)
        }
        Ok(outcome) => Ok(ctx.store.set_cleanup(build.id, outcome, now).await?),
        Err(error) => {
            warn!(template = %template.name, error = %error,
                "could not clean up the image template; the next resume retries");
            Ok(build)
        }
    }
}

/// Deletes the kept templates whose retention ended. One that Azure will not
/// delete now stays kept and due: the next cycle tries again.
pub async fn delete_expired(ctx: &BuildContext) -> Result<usize, StoreError> {
    let mut deleted = 0;
    for build in ctx.store.kept_templates_due(ctx.now()).await? {
        let Some(name) = &build.template_name else {
            continue;
        };
        let template = ctx.template_ref(name);
        let span = tracing::info_span!("expire", image = %build.image, build_id = %build.id);
        let deleted_now = image_templates::delete(&ctx.arm, &template, ctx.deadline_for_arm())
            .instrument(span.clone())
            .await;
        match deleted_now {
            Ok(()) => {
                ctx.store
                    .set_cleanup(build.id, Cleanup::Done, ctx.now())
                    .await?;
                span.in_scope(|| {
                    info!(template = %name, "deleted a failed build's template after its retention")
                });
                deleted += 1;
            }
            Err(error) => span.in_scope(|| {
                warn!(template = %name, error = %error,
                    "could not delete an expired template; the next cycle tries again")
            }),
        }
    }
    Ok(deleted)
}

/// A configured staging group must be empty for AIB to build in it, so a
/// failed template of the same image that is still kept (with its log) goes
/// before the image's next build, instead of failing it for its retention.
pub(super) async fn free_staging_group(ctx: &BuildContext, image: &Image) -> Result<(), StepError> {
    let kept = ctx
        .store
        .kept_templates_of(&image.name)
        .await
        .map_err(|e| StepError::Interrupted(e.into()))?;
    for build in kept {
        let Some(name) = &build.template_name else {
            continue;
        };
        image_templates::delete(&ctx.arm, &ctx.template_ref(name), ctx.deadline_for_arm()).await?;
        ctx.store
            .set_cleanup(build.id, Cleanup::Done, ctx.now())
            .await
            .map_err(|e| StepError::Interrupted(e.into()))?;
        info!(template = %name, failed_build = %build.id,
            "deleted a kept template, and its log, to empty the staging group for the next build");
    }
    Ok(())
}
