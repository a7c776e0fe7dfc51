//! After a successful build, keeps each gallery image definition with `versions_to_keep`
//! to its newest versions.
//!
//! Only versions this image's builds made are ever deleted: tagged by AIB with the
//! template's `artifactTags` *and* recorded in this deployment's history as a build's
//! artifact. A tag alone proves nothing (anyone with tag rights can set one), so a
//! version someone published by hand, or tagged to look like ours, counts towards the
//! newest ones but is left alone. Pruning is best effort: a version Azure will not
//! delete now is tried again after the next successful build.

use tracing::{info, warn};

use crate::azure::gallery::{self, GalleryImageRef, GalleryImageVersion};
use crate::azure::version::ImageVersion;
use std::collections::HashSet;

use crate::catalog::{Distribute, GalleryTarget, Image};
use crate::report::chain;
use crate::store::{BuildRecord, Promotion, Revocation};

use super::template::TAG_IMAGE;
use super::{BuildContext, BuildError};

/// Deletes the versions [`doomed`] names in every gallery target that sets a limit.
/// Only the lease and the history can fail it; Azure's refusals are logged.
pub(super) async fn prune(
    ctx: &BuildContext,
    image: &Image,
    build: &BuildRecord,
) -> Result<(), BuildError> {
    for target in &image.distribute {
        let Distribute::Gallery(target) = target else {
            continue;
        };
        let (Some(keep), Some(gallery)) = (
            target.versions_to_keep,
            GalleryImageRef::from_id(&target.image_id),
        ) else {
            continue;
        };
        let recorded = ctx.store.recorded_artifacts(&image.name).await?;
        let revoked = ctx.store.revocations(Some(&image.name)).await?;
        let staged = ctx.store.promotions(Some(&image.name)).await?;
        let versions = match gallery::list_versions(&ctx.arm, &gallery).await {
            Ok(versions) => versions,
            Err(error) => {
                warn!(gallery_image = %gallery.image, error = %chain(&error),
                    "cannot list the gallery image's versions to prune them; the next successful build tries again");
                continue;
            }
        };
        warn_near_limit(&gallery, versions.len());
        let protected = protected(&versions, target, &revoked, &staged);
        for version in doomed(&versions, keep, &image.name, &recorded, &protected) {
            // Asking would only be refused: not before the date Azure allows.
            if let Some(until) = version.deletion_blocked_until(ctx.now()) {
                let detail = format!(
                    "kept gallery image version {}/{}: its safety profile blocks deletion until its end of life, {}",
                    gallery.image,
                    version.name,
                    until.format("%Y-%m-%d %H:%M UTC")
                );
                info!(gallery_image = %gallery.image, version = %version.name, %until,
                    "not deleting an old gallery image version before its end of life");
                ctx.store.note_event(build.id, ctx.now(), &detail).await?;
                continue;
            }
            let deadline = ctx.deadline_for_arm();
            let delete = gallery::delete_version(&ctx.arm, &gallery, &version.name, deadline);
            match ctx.holding_lease(&build.image, delete).await? {
                Ok(()) => {
                    info!(gallery_image = %gallery.image, version = %version.name, keep,
                        "deleted an old gallery image version");
                    let detail = format!(
                        "deleted gallery image version {}/{} (versions_to_keep = {keep})",
                        gallery.image, version.name
                    );
                    ctx.store.note_event(build.id, ctx.now(), &detail).await?;
                }
                Err(error) => {
                    warn!(gallery_image = %gallery.image, version = %version.name, error = %chain(&error),
                        "could not delete an old gallery image version; the next successful build tries again");
                }
            }
        }
    }
    Ok(())
}

/// Azure allows 10,000 image versions per subscription and region (Azure
/// Compute Gallery, "Limits"), however they are spread over definitions.
const VERSION_LIMIT: usize = 10_000;

/// One definition holding most of the allowance leaves little for the rest.
fn warn_near_limit(gallery: &GalleryImageRef, count: usize) {
    if count * 10 >= VERSION_LIMIT * 8 {
        warn!(gallery_image = %gallery.image, versions = count, limit = VERSION_LIMIT,
            "the gallery image nears Azure's limit of image versions per subscription and region; lower versions_to_keep or delete old versions");
    }
}

/// What pruning never deletes whatever its number: the version `latest` means
/// now, for the definition and in each of the target's regions (after a revoke
/// or with staged promotion it can be older than the newest `keep`), every
/// version still being promoted, and every revoked version, kept as the record
/// of what went wrong.
fn protected(
    versions: &[GalleryImageVersion],
    target: &GalleryTarget,
    revoked: &[Revocation],
    staged: &[Promotion],
) -> HashSet<String> {
    let definition = target.image_id.to_ascii_lowercase();
    let regions = target.regions.iter().map(|r| Some(r.name.as_str()));
    std::iter::once(None)
        .chain(regions)
        .filter_map(|region| gallery::newest_for_latest(versions, region))
        .map(|v| v.name.clone())
        .chain(
            revoked
                .iter()
                .filter(|r| r.gallery_image_id == definition)
                .map(|r| r.version.clone()),
        )
        .chain(
            staged
                .iter()
                .filter(|p| p.gallery_image_id == definition && p.next_ring().is_some())
                .map(|p| p.version.clone()),
        )
        .collect()
}

/// The versions beyond the newest `keep` (by version number) that `image`'s builds made
/// and that are not being created or changed right now. A name that is not a version
/// number cannot be ordered, so it is neither counted nor deleted.
fn doomed<'a>(
    versions: &'a [GalleryImageVersion],
    keep: u32,
    image: &str,
    recorded: &HashSet<String>,
    protected: &HashSet<String>,
) -> Vec<&'a GalleryImageVersion> {
    let mut ordered: Vec<(ImageVersion, &GalleryImageVersion)> = versions
        .iter()
        .filter_map(|v| ImageVersion::parse(&v.name).ok().map(|parsed| (parsed, v)))
        .collect();
    ordered.sort_by(|(a, _), (b, _)| b.cmp(a));
    let keep = usize::try_from(keep).unwrap_or(usize::MAX);
    ordered
        .into_iter()
        .skip(keep)
        .map(|(_, v)| v)
        .filter(|v| !protected.contains(&v.name))
        .filter(|v| {
            v.tags
                .get(TAG_IMAGE)
                .is_some_and(|made_for| made_for == image)
        })
        .filter(|v| {
            v.id.as_ref()
                .is_some_and(|id| recorded.contains(&id.to_ascii_lowercase()))
        })
        .filter(|v| {
            v.provisioning_state.as_deref().is_none_or(|state| {
                state.eq_ignore_ascii_case("succeeded") || state.eq_ignore_ascii_case("failed")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn id(name: &str) -> String {
        format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web/versions/{name}"
        )
    }

    fn version(name: &str, made_for: Option<&str>, state: &str) -> GalleryImageVersion {
        GalleryImageVersion {
            name: name.to_owned(),
            id: Some(id(name)),
            provisioning_state: Some(state.to_owned()),
            exclude_from_latest: false,
            excluded_regions: Vec::new(),
            published_date: None,
            end_of_life: None,
            deletion_blocked_before_end_of_life: false,
            tags: made_for
                .map(|image| BTreeMap::from([(TAG_IMAGE.to_owned(), image.to_owned())]))
                .unwrap_or_default(),
        }
    }

    fn none() -> HashSet<String> {
        HashSet::new()
    }

    fn names(doomed: Vec<&GalleryImageVersion>) -> Vec<&str> {
        doomed.into_iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn keeps_the_newest_by_number_and_deletes_only_its_own() {
        let versions = vec![
            version("1.0.9", Some("web"), "Succeeded"),
            version("1.0.10", Some("web"), "Succeeded"),
            version("1.0.2", None, "Succeeded"),
            version("1.0.3", Some("api"), "Succeeded"),
            version("1.0.4", Some("web"), "Failed"),
            version("1.0.5", Some("web"), "Creating"),
            version("1.0.1", Some("web"), "Succeeded"),
            version("nightly", Some("web"), "Succeeded"),
        ];
        let ours: std::collections::HashSet<String> = versions
            .iter()
            .map(|v| id(&v.name).to_ascii_lowercase())
            .collect();
        // Newest two: 1.0.10 and 1.0.9 (numerically, not as text).
        assert_eq!(
            names(doomed(&versions, 2, "web", &ours, &none())),
            ["1.0.4", "1.0.1"]
        );
        assert_eq!(
            names(doomed(&versions, 6, "web", &ours, &none())),
            ["1.0.1"],
            "versions made by others count towards the newest"
        );
        assert!(doomed(&versions, 7, "web", &ours, &none()).is_empty());
        assert!(doomed(&versions[..2], 2, "web", &ours, &none()).is_empty());
    }

    /// Security finding (low): a tag is not proof. A version someone tagged as
    /// ours, but that no build of this deployment recorded, is never deleted.
    #[test]
    fn a_version_tagged_as_ours_but_not_recorded_is_left_alone() {
        let versions = vec![
            version("1.0.3", Some("web"), "Succeeded"),
            version("1.0.2", Some("web"), "Succeeded"),
            version("1.0.1", Some("web"), "Succeeded"),
        ];
        let recorded: std::collections::HashSet<String> = [id("1.0.3"), id("1.0.1").to_uppercase()]
            .into_iter()
            .map(|id| id.to_ascii_lowercase())
            .collect();
        assert_eq!(
            names(doomed(&versions, 1, "web", &recorded, &none())),
            ["1.0.1"]
        );
    }

    /// After a revoke (or with staged promotion) `latest` can be a version
    /// beyond the newest `keep`; it and the revoked versions stay.
    #[test]
    fn the_version_latest_means_and_revoked_ones_are_never_deleted() {
        let mut versions = vec![
            version("1.0.4", Some("web"), "Succeeded"),
            version("1.0.3", Some("web"), "Succeeded"),
            version("1.0.2", Some("web"), "Succeeded"),
            version("1.0.1", Some("web"), "Succeeded"),
        ];
        versions[0].exclude_from_latest = true;
        versions[1].exclude_from_latest = true;
        let ours: HashSet<String> = versions
            .iter()
            .map(|v| id(&v.name).to_ascii_lowercase())
            .collect();
        let target = GalleryTarget {
            image_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web".into(),
            regions: vec![crate::catalog::TargetRegion {
                name: "westeurope".into(),
                replicas: 1,
            }],
            storage_account_type: crate::catalog::StorageAccountType::StandardLrs,
            exclude_from_latest: false,
            versions_to_keep: Some(1),
            end_of_life_after: None,
            promotion: crate::catalog::Promotion::Immediate,
        };
        let revoked = [Revocation {
            gallery_image_id: target.image_id.to_ascii_lowercase(),
            version: "1.0.3".into(),
            image: "web".into(),
            reason: "boot loop".into(),
            revoked_by: "ops".into(),
            requested_at: chrono::Utc::now(),
            done_at: None,
        }];
        let kept = protected(&versions, &target, &revoked, &[]);
        assert_eq!(
            names(doomed(&versions, 1, "web", &ours, &kept)),
            ["1.0.1"],
            "1.0.2 is latest, 1.0.3 revoked"
        );
        assert_eq!(
            names(doomed(&versions, 1, "web", &ours, &none())),
            ["1.0.3", "1.0.2", "1.0.1"]
        );
    }
}
