//! Staged promotion: a version published excluded from `latest` becomes
//! latest ring by ring, each ring its delay after the one before, or by hand
//! (`image-refresh promote`).
//!
//! A ring is recorded as asked for before Azure is asked and as done once
//! Azure has applied it. Each move sets the version's flags to what the rings
//! promoted so far mean (latest in their regions, excluded elsewhere) after
//! reading what Azure has, so a process that died half-way sends the PATCH
//! again only if Azure never applied it: no ring is lost and none is asked
//! twice. A revoked version is never promoted (checked in the transaction that
//! records the request, and again after Azure's answer).

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::azure::AzureError;
use crate::azure::gallery::GalleryImageRef;
use crate::azure::gallery_latest::{self, Applied, LatestIn};
use crate::build::BuildContext;
use crate::events::Event;
use crate::report::chain;
use crate::store::{Promotion, RingRequest, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error("image {image} has no staged gallery image version to promote")]
    NothingStaged { image: String },
    #[error("version {version} of image {image} is not staged (or is promoted everywhere already)")]
    NotStaged { image: String, version: String },
    #[error("version {version} is revoked; a revoked version is never promoted")]
    Revoked { version: String },
    #[error("promote {version} in {definition}")]
    Azure {
        version: String,
        definition: String,
        #[source]
        source: AzureError,
    },
    #[error("record the promotion")]
    Store(#[from] StoreError),
}

/// One move of one version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Moved {
    pub image: String,
    pub gallery_image_id: String,
    pub version: String,
    /// The last ring promoted by this move, and how many rings there are.
    pub ring: u32,
    pub rings: u32,
    /// The regions in which the version is latest now.
    pub latest_in: Vec<String>,
    /// Whether a PATCH was sent (false: Azure had it already).
    pub patched: bool,
    /// When the next ring moves on its own, if one does.
    pub next_at: Option<DateTime<Utc>>,
}

/// Moves every ring that is due (or was asked for by a process that died
/// before seeing it through), of `image` only when given. A failure is
/// returned with the others' results; its ring stays asked for and is tried
/// again by the next pass.
pub async fn promote_due(
    ctx: &BuildContext,
    image: Option<&str>,
) -> Result<Vec<Result<Moved, PromoteError>>, StoreError> {
    let mut results = Vec::new();
    for mut promotion in ctx.store.promotions(image).await? {
        // A ring whose delay is zero falls due the moment the one before is done.
        while promotion.due_at().is_some_and(|at| at <= ctx.clock.now()) {
            let Some(ring) = promotion.next_ring().map(|r| r.ring) else {
                break;
            };
            let moved = move_to(ctx, &promotion, ring, "schedule").await;
            let failed = moved.is_err();
            results.push(moved);
            if failed {
                break;
            }
            match reread(ctx, &promotion).await? {
                Some(again) => promotion = again,
                None => break,
            }
        }
    }
    Ok(results)
}

async fn reread(ctx: &BuildContext, p: &Promotion) -> Result<Option<Promotion>, StoreError> {
    Ok(ctx
        .store
        .promotions(Some(&p.image))
        .await?
        .into_iter()
        .find(|q| q.gallery_image_id == p.gallery_image_id && q.version == p.version))
}

/// `image-refresh promote`: the next ring (every remaining one with `all`) of
/// `version`, or of the newest staged version of each definition.
pub async fn promote_by_hand(
    ctx: &BuildContext,
    image: &str,
    version: Option<&str>,
    all: bool,
    by: &str,
) -> Result<Vec<Moved>, PromoteError> {
    let promotions = ctx.store.promotions(Some(image)).await?;
    let revoked = ctx.store.revocations(Some(image)).await?;
    if let Some(version) = version
        && revoked.iter().any(|r| r.version == version)
    {
        return Err(PromoteError::Revoked {
            version: version.to_owned(),
        });
    }
    let mut chosen: Vec<&Promotion> = Vec::new();
    for p in promotions.iter().filter(|p| p.next_ring().is_some()) {
        if version.is_some_and(|v| v != p.version) {
            continue;
        }
        // The newest staged version of each definition, when none is named.
        match chosen
            .iter_mut()
            .find(|c| c.gallery_image_id == p.gallery_image_id)
        {
            Some(c) if newer(&p.version, &c.version) => *c = p,
            Some(_) => {}
            None => chosen.push(p),
        }
    }
    if chosen.is_empty() {
        return Err(match version {
            Some(version) => PromoteError::NotStaged {
                image: image.to_owned(),
                version: version.to_owned(),
            },
            None => PromoteError::NothingStaged {
                image: image.to_owned(),
            },
        });
    }
    let mut moved = Vec::new();
    for promotion in chosen {
        let upto = match (all, promotion.next_ring()) {
            (true, _) => promotion.rings.len() as u32,
            (false, Some(ring)) => ring.ring,
            (false, None) => continue,
        };
        moved.push(move_to(ctx, promotion, upto, by).await?);
    }
    Ok(moved)
}

fn newer(a: &str, b: &str) -> bool {
    use crate::azure::version::ImageVersion;
    match (ImageVersion::parse(a), ImageVersion::parse(b)) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// Promotes rings up to `upto`: recorded, applied in Azure, recorded as done.
async fn move_to(
    ctx: &BuildContext,
    promotion: &Promotion,
    upto: u32,
    by: &str,
) -> Result<Moved, PromoteError> {
    let Promotion {
        gallery_image_id: definition,
        version,
        ..
    } = promotion;
    let azure = |source| PromoteError::Azure {
        version: version.clone(),
        definition: definition.clone(),
        source,
    };
    let reference =
        GalleryImageRef::from_id(definition).ok_or_else(|| PromoteError::NotStaged {
            image: promotion.image.clone(),
            version: version.clone(),
        })?;
    let outcome = ctx
        .store
        .request_rings(definition, version, upto, by, ctx.clock.now())
        .await?;
    if outcome == RingRequest::Revoked {
        info!(image = %promotion.image, %version, "not promoting a revoked version; its promotion is stopped");
        return Err(PromoteError::Revoked {
            version: version.clone(),
        });
    }
    let rings = promotion.rings.len() as u32;
    let latest_in: Vec<String> = promotion
        .rings
        .iter()
        .filter(|r| r.ring <= upto)
        .flat_map(|r| r.regions.iter().cloned())
        .collect();
    let wanted = if upto >= rings {
        LatestIn::Everywhere
    } else {
        LatestIn::Regions(&latest_in)
    };
    let deadline = tokio::time::Instant::now() + ctx.options.arm_operation_timeout;
    let applied =
        match gallery_latest::set_latest(&ctx.arm, &reference, version, wanted, deadline).await {
            Ok(applied) => applied,
            // Deleted by hand: nothing is left to promote, and asking again cannot help.
            Err(error) if error.is_not_found() => {
                let reason = "the version no longer exists in Azure";
                warn!(image = %promotion.image, %version, "{reason}; its promotion is stopped");
                ctx.store
                    .stop_promotion(definition, version, reason, ctx.clock.now())
                    .await?;
                return Err(azure(error));
            }
            Err(error) => {
                let ring = promotion.next_ring().map_or(upto, |r| r.ring);
                let said = chain(&error);
                ctx.store
                    .fail_ring(definition, version, ring, &said, ctx.clock.now())
                    .await?;
                return Err(azure(error));
            }
        };
    // A revoke recorded while the PATCH was under way wins: it is applied again.
    if ctx
        .store
        .revocations(Some(&promotion.image))
        .await?
        .iter()
        .any(|r| r.gallery_image_id == *definition && r.version == *version)
    {
        gallery_latest::set_latest(&ctx.arm, &reference, version, LatestIn::Nowhere, deadline)
            .await
            .map_err(azure)?;
        ctx.store
            .request_rings(definition, version, upto, by, ctx.clock.now())
            .await?;
        return Err(PromoteError::Revoked {
            version: version.clone(),
        });
    }
    let now = ctx.clock.now();
    ctx.store
        .finish_rings(definition, version, upto, now)
        .await?;
    let next_at = reread(ctx, promotion)
        .await?
        .and_then(|p| p.next_ring().and_then(|r| r.due_at));
    let moved = Moved {
        image: promotion.image.clone(),
        gallery_image_id: definition.clone(),
        version: version.clone(),
        ring: upto.min(rings),
        rings,
        latest_in,
        patched: applied == Applied::Patched,
        next_at,
    };
    info!(image = %moved.image, build_id = %promotion.build_id, version = %moved.version,
        ring = moved.ring, rings, by, "promoted a gallery image version");
    note(ctx, promotion, &moved).await;
    ctx.events.emit(Event::VersionPromoted {
        image: moved.image.clone(),
        version: moved.version.clone(),
        gallery_image_id: moved.gallery_image_id.clone(),
        ring: moved.ring,
        rings,
        latest_in: moved.latest_in.clone(),
    });
    Ok(moved)
}

/// The move as an event of the build that published the version, for `history`.
async fn note(ctx: &BuildContext, promotion: &Promotion, moved: &Moved) {
    let Ok(build) = promotion.build_id.parse() else {
        return;
    };
    let definition = moved
        .gallery_image_id
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let mut detail = if moved.ring >= moved.rings {
        format!(
            "promoted gallery image version {definition}/{}: latest everywhere",
            moved.version
        )
    } else {
        format!(
            "promoted gallery image version {definition}/{} to ring {} of {}: latest in {}",
            moved.version,
            moved.ring,
            moved.rings,
            moved.latest_in.join(", ")
        )
    };
    if let Some(at) = moved.next_at {
        detail.push_str(&format!(
            "; ring {} from {}",
            moved.ring + 1,
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if let Err(error) = ctx.store.note_event(build, ctx.clock.now(), &detail).await {
        warn!(error = %chain(&error), "could not note the promotion in the build's history");
    }
}
