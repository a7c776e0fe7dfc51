//! `end_of_life_after`: the versions a build publishes get an `endOfLifeDate`.
//! AIB's gallery distributor cannot set it, so it is PATCHed after the build
//! succeeded, before pruning and the clean-up: a process that dies in between
//! sets it again on resume (a version that has one already is left alone).

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::azure::gallery::{self, GalleryImageRef};
use crate::catalog::{Distribute, Image};
use crate::report::chain;
use crate::store::BuildRecord;

use super::{BuildContext, BuildError};

pub(super) async fn set(
    ctx: &BuildContext,
    image: &Image,
    build: &BuildRecord,
) -> Result<(), BuildError> {
    let built_at = build.finished_at.unwrap_or(build.updated_at);
    for target in &image.distribute {
        let Distribute::Gallery(target) = target else {
            continue;
        };
        let (Some(after), Some(gallery)) = (
            target.end_of_life_after,
            GalleryImageRef::from_id(&target.image_id),
        ) else {
            continue;
        };
        let Some(version) = build.version_in(&target.image_id) else {
            continue;
        };
        let Ok(after) = chrono::Duration::from_std(after) else {
            continue;
        };
        let end_of_life: DateTime<Utc> = built_at + after;
        let current = match gallery::get_version(&ctx.arm, &gallery, &version).await {
            Ok(Some(current)) => current,
            Ok(None) => continue,
            Err(error) => {
                warn!(gallery_image = %gallery.image, %version, error = %chain(&error),
                    "cannot read the new version to set its end of life; it has none");
                continue;
            }
        };
        if current.end_of_life.is_some() {
            continue;
        }
        let deadline = ctx.deadline_for_arm();
        let patch = gallery::set_end_of_life(&ctx.arm, &gallery, &version, end_of_life, deadline);
        match ctx.holding_lease(&build.image, patch).await? {
            Ok(()) => {
                info!(gallery_image = %gallery.image, %version, %end_of_life, "set the version's end of life");
                let detail = format!(
                    "set the end of life of gallery image version {}/{version} to {} (end_of_life_after)",
                    gallery.image,
                    end_of_life.format("%Y-%m-%d %H:%M UTC")
                );
                ctx.store.note_event(build.id, ctx.now(), &detail).await?;
            }
            Err(error) => warn!(gallery_image = %gallery.image, %version, error = %chain(&error),
                "could not set the version's end of life"),
        }
    }
    Ok(())
}
