//! `image-refresh revoke IMAGE VERSION --reason TEXT`.

use tracing::{info, warn};

use crate::azure::AzureError;
use crate::azure::gallery::{self, GalleryImageRef, GalleryImageVersion};
use crate::azure::gallery_latest::{self, LatestIn};
use crate::build::BuildContext;
use crate::catalog::{Distribute, GalleryTarget, Image};
use crate::report::chain;
use crate::store::{Revocation, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("image {image} has no gallery target; only gallery image versions can be revoked")]
    NoGallery { image: String },
    #[error("version {version} is in none of image {image}'s gallery image definitions")]
    NotFound { image: String, version: String },
    #[error(
        "revoking {version} leaves no version for `latest` in {regions}: VMs and scale sets that ask for latest could not be created there"
    )]
    WouldLeaveNothing { version: String, regions: String },
    #[error("exclude {version} from latest in {definition}")]
    Azure {
        version: String,
        definition: String,
        #[source]
        source: AzureError,
    },
    #[error("record the revocation")]
    Store(#[from] StoreError),
}

/// What to revoke, and who asks why.
#[derive(Debug, Clone)]
pub struct RevokeRequest<'a> {
    pub image: &'a Image,
    pub version: &'a str,
    pub reason: &'a str,
    pub by: &'a str,
    /// Revoke even when no other version is left for `latest` somewhere.
    pub force: bool,
}

/// What `latest` means in one region of one definition after the revoke.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Latest {
    pub gallery_image_id: String,
    pub region: String,
    /// `None`: no version is left for latest there.
    pub version: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Revoked {
    pub image: String,
    pub version: String,
    pub latest: Vec<Latest>,
}

/// The image's gallery targets that hold `version`.
async fn holders<'a>(
    ctx: &BuildContext,
    image: &'a Image,
    version: &str,
) -> Result<Vec<(&'a GalleryTarget, GalleryImageRef)>, RevokeError> {
    let targets: Vec<(&GalleryTarget, GalleryImageRef)> = image
        .distribute
        .iter()
        .filter_map(|d| match d {
            Distribute::Gallery(t) => GalleryImageRef::from_id(&t.image_id).map(|r| (t, r)),
            _ => None,
        })
        .collect();
    if targets.is_empty() {
        return Err(RevokeError::NoGallery {
            image: image.name.clone(),
        });
    }
    let mut holding = Vec::new();
    for (target, reference) in targets {
        let found = gallery::get_version(&ctx.arm, &reference, version)
            .await
            .map_err(azure(version, &target.image_id))?;
        if found.is_some() {
            holding.push((target, reference));
        }
    }
    if holding.is_empty() {
        return Err(RevokeError::NotFound {
            image: image.name.clone(),
            version: version.to_owned(),
        });
    }
    Ok(holding)
}

fn azure(version: &str, definition: &str) -> impl FnOnce(AzureError) -> RevokeError {
    let (version, definition) = (version.to_owned(), definition.to_owned());
    move |source| RevokeError::Azure {
        version,
        definition,
        source,
    }
}

/// `latest` in each of the target's regions, as a consumer resolves it.
pub fn latest(target: &GalleryTarget, versions: &[GalleryImageVersion]) -> Vec<Latest> {
    target
        .regions
        .iter()
        .map(|region| Latest {
            gallery_image_id: target.image_id.clone(),
            region: region.name.clone(),
            version: gallery::newest_for_latest(versions, Some(&region.name))
                .map(|v| v.name.clone()),
        })
        .collect()
}

/// Excludes `request.version` from latest in every gallery target that holds
/// it, after recording who and why; says what latest is afterwards.
pub async fn revoke(
    ctx: &BuildContext,
    request: RevokeRequest<'_>,
) -> Result<Revoked, RevokeError> {
    let RevokeRequest { image, version, .. } = request;
    let holding = holders(ctx, image, version).await?;
    if !request.force {
        let mut empty = Vec::new();
        for (target, reference) in &holding {
            let mut versions = gallery::list_versions(&ctx.arm, reference)
                .await
                .map_err(azure(version, &target.image_id))?;
            versions.retain(|v| v.name != version);
            empty.extend(
                latest(target, &versions)
                    .into_iter()
                    .filter(|l| l.version.is_none())
                    .map(|l| format!("{} ({})", l.region, reference.image)),
            );
        }
        if !empty.is_empty() {
            return Err(RevokeError::WouldLeaveNothing {
                version: version.to_owned(),
                regions: empty.join(", "),
            });
        }
    }
    let now = ctx.clock.now();
    let wanted: Vec<Revocation> = holding
        .iter()
        .map(|(target, _)| Revocation {
            gallery_image_id: target.image_id.to_ascii_lowercase(),
            version: version.to_owned(),
            image: image.name.clone(),
            reason: request.reason.to_owned(),
            revoked_by: request.by.to_owned(),
            requested_at: now,
            done_at: None,
        })
        .collect();
    ctx.store.request_revocations(&wanted).await?;
    let mut after = Vec::new();
    for (target, reference) in &holding {
        apply(ctx, reference, &target.image_id, version).await?;
        let versions = gallery::list_versions(&ctx.arm, reference)
            .await
            .map_err(azure(version, &target.image_id))?;
        after.extend(latest(target, &versions));
    }
    info!(image = %image.name, %version, by = request.by, reason = request.reason,
        "revoked a gallery image version: excluded from latest everywhere");
    Ok(Revoked {
        image: image.name.clone(),
        version: version.to_owned(),
        latest: after,
    })
}

async fn apply(
    ctx: &BuildContext,
    reference: &GalleryImageRef,
    definition: &str,
    version: &str,
) -> Result<(), RevokeError> {
    let deadline = tokio::time::Instant::now() + ctx.options.arm_operation_timeout;
    gallery_latest::set_latest(&ctx.arm, reference, version, LatestIn::Nowhere, deadline)
        .await
        .map_err(azure(version, definition))?;
    ctx.store
        .finish_revocation(definition, version, ctx.clock.now())
        .await?;
    Ok(())
}

/// Finishes every revoke an earlier process recorded and did not see through
/// (killed between its record and Azure's answer). A failure is logged and
/// left for the next pass; the revocation stays recorded, so pruning already
/// leaves the version alone.
pub async fn finish_pending(ctx: &BuildContext) {
    let pending = match ctx.store.revocations(None).await {
        Ok(all) => all.into_iter().filter(|r| r.done_at.is_none()),
        Err(error) => {
            warn!(error = %chain(&error), "cannot read unfinished revocations; the next pass tries again");
            return;
        }
    };
    for revocation in pending {
        let Some(reference) = GalleryImageRef::from_id(&revocation.gallery_image_id) else {
            continue;
        };
        match apply(
            ctx,
            &reference,
            &revocation.gallery_image_id,
            &revocation.version,
        )
        .await
        {
            Ok(()) => info!(image = %revocation.image, version = %revocation.version,
                "finished an interrupted revoke"),
            Err(error) => warn!(image = %revocation.image, version = %revocation.version,
                error = %chain(&error), "cannot finish an interrupted revoke yet; the next pass tries again"),
        }
    }
}
