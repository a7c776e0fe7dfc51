//! Deleting a finished build's image template, or keeping a failed one.

use tracing::warn;

use crate::azure::image_templates::{self, TemplateRef};
use crate::model::Cleanup;
use crate::store::BuildRecord;

use super::{BuildContext, BuildError};

/// Deletes the template, or keeps a failed one when the catalog asks to. A
/// template Azure would not delete leaves the cleanup `pending`: the build's
/// result stands, and the next resume tries again.
pub(super) async fn clean_up(
    ctx: &BuildContext,
    template: &TemplateRef,
    build: BuildRecord,
) -> Result<BuildRecord, BuildError> {
    let keep = ctx.azure.keep_failed_templates && !build.state.is_success();
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
    match outcome {
        Ok(outcome) => Ok(ctx.store.set_cleanup(build.id, outcome, ctx.now()).await?),
        Err(error) => {
            warn!(template = %template.name, error = %error,
                "could not clean up the image template; the next resume retries");
            Ok(build)
        }
    }
}
