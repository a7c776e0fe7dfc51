//! Azure is the second source of truth. Everything a build makes carries its
//! image, build id, recipe hash and source version as tags; when the history
//! is new, lost or restored from an old backup, these tags tell what it does
//! not know, before the first check decides anything from it:
//!
//! - a template of this catalog in the template resource group whose build
//!   is not recorded is *adopted*: recorded as `run_requested`, so the build
//!   machine follows its run (or requests the one that never started) and
//!   then records and cleans up as for any build, with exactly one run;
//! - the newest tagged gallery image version or managed image of each image,
//!   when its build is not recorded and is newer than the last recorded
//!   success, is recorded as that image's last successful build.
//!
//! Only the newest artifact is recorded: pruning deletes only what the history
//! names (see `build::prune`), and a tag alone proves nothing, so older tagged
//! versions stay out of the history and out of pruning's reach.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::azure::AzureError;
use crate::azure::gallery::{self, GalleryImageRef};
use crate::azure::image_templates;
use crate::azure::managed_images::{self, ManagedImageRef};
use crate::build::BuildContext;
use crate::build::template::{
    TAG_BUILD_ID, TAG_IMAGE, TAG_RECIPE_HASH, TAG_SOURCE_VERSION, template_name,
};
use crate::catalog::{Catalog, Distribute, Image};
use crate::model::BuildId;
use crate::store::{BuildRecord, Found, FoundBuild, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("list the image templates in resource group {group}")]
    Templates {
        group: String,
        #[source]
        source: AzureError,
    },
    #[error("read what image {image}'s builds made ({target})")]
    Artifacts {
        image: String,
        target: String,
        #[source]
        source: AzureError,
    },
    #[error("compare the history with Azure")]
    Store(#[from] StoreError),
}

impl ReconcileError {
    pub fn is_disk_fault(&self) -> bool {
        matches!(self, ReconcileError::Store(e) if e.is_disk_fault())
    }
}

/// What reconciling recorded.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Templates adopted; the resume pass carries them on.
    pub adopted: Vec<BuildRecord>,
    /// Last successful builds recorded from their artifacts.
    pub recorded: Vec<BuildRecord>,
}

/// Records what Azure has of `catalog`'s builds and the history does not.
pub async fn reconcile(
    ctx: &BuildContext,
    catalog: &Catalog,
) -> Result<Reconciled, ReconcileError> {
    let mut done = Reconciled::default();
    adopt_templates(ctx, catalog, &mut done).await?;
    for image in &catalog.images {
        if let Some(record) = record_newest_artifact(ctx, image).await? {
            done.recorded.push(record);
        }
    }
    Ok(done)
}

/// What an artifact's or template's tags say about the build that made it.
struct Tagged {
    id: BuildId,
    recipe_hash: String,
    source_version: String,
}

fn tagged(tags: &BTreeMap<String, String>, image: &str) -> Option<Tagged> {
    if tags.get(TAG_IMAGE).map(String::as_str) != Some(image) {
        return None;
    }
    Some(Tagged {
        id: tags.get(TAG_BUILD_ID)?.parse().ok()?,
        recipe_hash: tags.get(TAG_RECIPE_HASH)?.clone(),
        source_version: tags.get(TAG_SOURCE_VERSION)?.clone(),
    })
}

async fn adopt_templates(
    ctx: &BuildContext,
    catalog: &Catalog,
    done: &mut Reconciled,
) -> Result<(), ReconcileError> {
    let group = &ctx.azure.resource_group;
    let listed = image_templates::list_in_group(&ctx.arm, &ctx.azure.subscription_id, group)
        .await
        .map_err(|source| ReconcileError::Templates {
            group: group.clone(),
            source,
        })?;
    for listed in listed {
        let Some(image) = listed.tags.get(TAG_IMAGE).and_then(|n| catalog.image(n)) else {
            continue;
        };
        let Some(tags) = tagged(&listed.tags, &image.name) else {
            continue;
        };
        // Only a template named as the build machine names it is one of ours.
        let name = &listed.template.name;
        if *name != template_name(&image.name, &tags.id.to_string())
            || ctx.store.get_build(tags.id).await?.is_some()
        {
            continue;
        }
        let created_at = listed
            .status
            .last_run_status
            .as_ref()
            .and_then(|run| run.start_time)
            .unwrap_or_else(|| ctx.clock.now());
        let found = FoundBuild {
            id: tags.id,
            image: image.name.clone(),
            recipe_hash: tags.recipe_hash,
            source_version: tags.source_version,
            what: Found::Template {
                name: name.clone(),
                created_at,
            },
            at: ctx.clock.now(),
            reason: format!(
                "adopted from Azure: image template {name} carries this build's tags and the history had no record of it"
            ),
        };
        if let Some(record) = ctx.store.record_found(&found).await? {
            warn!(image = %image.name, build_id = %record.id, template = %name,
                "adopted a build the history did not know; following it");
            done.adopted.push(record);
        }
    }
    Ok(())
}

/// One build's artifacts, as found in the image's targets.
struct Candidate {
    tags: Tagged,
    ids: Vec<String>,
    finished_at: DateTime<Utc>,
}

async fn record_newest_artifact(
    ctx: &BuildContext,
    image: &Image,
) -> Result<Option<BuildRecord>, ReconcileError> {
    let mut candidates: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut add = |tags: Tagged, id: String, at: DateTime<Utc>| {
        let entry = candidates
            .entry(tags.id.to_string())
            .or_insert_with(|| Candidate {
                tags,
                ids: Vec::new(),
                finished_at: at,
            });
        entry.ids.push(id);
        entry.finished_at = entry.finished_at.max(at);
    };
    let failed = |target: String| {
        let image = image.name.clone();
        move |source| ReconcileError::Artifacts {
            image,
            target,
            source,
        }
    };
    for target in &image.distribute {
        match target {
            Distribute::Gallery(target) => {
                let Some(gallery) = GalleryImageRef::from_id(&target.image_id) else {
                    continue;
                };
                let versions = gallery::list_versions(&ctx.arm, &gallery)
                    .await
                    .map_err(failed(target.image_id.clone()))?;
                for version in versions {
                    let (Some(tags), Some(id), Some(published)) = (
                        tagged(&version.tags, &image.name),
                        version.id,
                        version.published_date,
                    ) else {
                        continue;
                    };
                    if version.provisioning_state.as_deref() == Some("Succeeded") {
                        add(tags, id, published);
                    }
                }
            }
            Distribute::ManagedImage(target) => {
                let Some(reference) = ManagedImageRef::from_id(&target.image_id) else {
                    continue;
                };
                let found = managed_images::get(&ctx.arm, &reference)
                    .await
                    .map_err(failed(target.image_id.clone()))?;
                let Some(managed) = found else { continue };
                let (Some(tags), Some(id)) = (tagged(&managed.tags, &image.name), managed.id)
                else {
                    continue;
                };
                if managed.provisioning_state.as_deref() == Some("Succeeded") {
                    // A managed image says when it was made only in systemData.
                    let at = managed.created_at.unwrap_or_else(|| ctx.clock.now());
                    add(tags, id, at);
                }
            }
            // A VHD lives in AIB's staging account, gone with the template.
            Distribute::Vhd => {}
        }
    }
    let Some(newest) = candidates.into_values().max_by_key(|c| c.finished_at) else {
        return Ok(None);
    };
    if ctx.store.get_build(newest.tags.id).await?.is_some() {
        return Ok(None);
    }
    if let Some(last) = ctx.store.last_successful_build(&image.name).await?
        && last.finished_at.unwrap_or(last.created_at) >= newest.finished_at
    {
        return Ok(None);
    }
    let found = FoundBuild {
        id: newest.tags.id,
        image: image.name.clone(),
        recipe_hash: newest.tags.recipe_hash,
        source_version: newest.tags.source_version,
        what: Found::Artifacts {
            ids: newest.ids.clone(),
            finished_at: newest.finished_at,
        },
        at: ctx.clock.now(),
        reason: format!(
            "recorded from Azure: {} carries this build's tags and the history had no record of it",
            newest.ids.join(", ")
        ),
    };
    let record = ctx.store.record_found(&found).await?;
    if let Some(record) = &record {
        info!(image = %image.name, build_id = %record.id, source_version = %record.source_version,
            "recorded the image's last successful build from its tags in Azure");
    }
    Ok(record)
}
