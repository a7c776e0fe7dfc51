//! A successful build's staged versions: recorded with their ring plan, so
//! that the promotion stage (and any later process) knows what to move when.

use tracing::info;

use crate::catalog::{Distribute, Image, Promotion as Plan};
use crate::store::{BuildRecord, Promotion, PromotionRing, StoreError};

/// Records each staged gallery version `build` published. Called after the
/// build succeeded and before its clean-up, its last record, so a process that
/// dies in between records it on resume (recording twice changes nothing).
pub async fn record(
    ctx: &crate::build::BuildContext,
    image: &Image,
    build: &BuildRecord,
) -> Result<(), StoreError> {
    let staged_at = build.finished_at.unwrap_or(build.updated_at);
    for target in &image.distribute {
        let Distribute::Gallery(target) = target else {
            continue;
        };
        let rings = match &target.promotion {
            Plan::Immediate => continue,
            Plan::Manual => vec![PromotionRing {
                regions: target.regions.iter().map(|r| r.name.clone()).collect(),
                after_secs: None,
                ..ring(1)
            }],
            Plan::Rings(rings) => rings
                .iter()
                .zip(1..)
                .map(|(r, number)| PromotionRing {
                    regions: r.regions.clone(),
                    after_secs: Some(r.after.as_secs()),
                    ..ring(number)
                })
                .collect(),
        };
        let Some(version) = build.version_in(&target.image_id) else {
            continue;
        };
        info!(image = %image.name, build_id = %build.id, %version, rings = rings.len(),
            "staged a gallery image version: excluded from latest until promoted");
        ctx.store
            .stage_promotion(&Promotion {
                gallery_image_id: target.image_id.to_ascii_lowercase(),
                version,
                image: image.name.clone(),
                build_id: build.id.to_string(),
                staged_at,
                stopped_reason: None,
                stopped_at: None,
                rings,
            })
            .await?;
    }
    Ok(())
}

fn ring(number: u32) -> PromotionRing {
    PromotionRing {
        ring: number,
        regions: Vec::new(),
        after_secs: None,
        due_at: None,
        requested_at: None,
        requested_by: None,
        done_at: None,
        last_error: None,
    }
}
