//! Compute Gallery image definitions and versions (Microsoft.Compute), as
//! the scenario seeds them and the simulated builds leave them behind.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::error::ArmError;
use super::operations;
use super::paging;
use super::routes::{GALLERY_API, GalleryImagePath};
use super::scenario::{GalleryFeature, GalleryImageDef};
use super::state::{State, World};
use super::wire::{self, Creator};

#[derive(Debug, Clone)]
pub(crate) struct GalleryImage {
    pub id: String,
    pub name: String,
    pub location: String,
    pub os: String,
    pub hyper_v_generation: String,
    pub architecture: String,
    pub os_state: String,
    pub features: Vec<GalleryFeature>,
    pub block_deletion_before_end_of_life: bool,
    pub created: Creator,
}

#[derive(Debug, Clone)]
pub(crate) struct TargetRegion {
    pub name: String,
    pub replicas: u32,
    pub storage: String,
    /// The region's own `excludeFromLatest` (set by a PATCH), beside the version's.
    pub exclude_from_latest: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct GalleryVersion {
    pub id: String,
    pub name: String,
    pub location: String,
    pub target_regions: Vec<TargetRegion>,
    pub exclude_from_latest: bool,
    pub end_of_life: Option<String>,
    pub block_deletion_before_end_of_life: bool,
    /// `storageProfile.source.id`: the managed image it was published from.
    pub source_id: String,
    /// `systemData`; `publishedDate` is its creation time.
    pub created: Creator,
    /// The distributor's `artifactTags`, as AIB puts them on what it made.
    pub tags: BTreeMap<String, String>,
}

pub(crate) fn image_definition_id(sub: &str, rg: &str, gallery: &str, image: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}"
    )
}

pub(crate) fn path_id(p: &GalleryImagePath) -> String {
    image_definition_id(&p.subscription, &p.resource_group, &p.gallery, &p.image)
}

pub(crate) fn seed(state: &State, world: &mut World, def: &GalleryImageDef) {
    // A definition without its own subscription lives in the scenario's.
    let sub = def
        .subscription_id
        .as_deref()
        .unwrap_or(&state.settings.subscription_id);
    let id = image_definition_id(sub, &def.resource_group, &def.gallery, &def.image);
    world.gallery_images.insert(
        id.to_ascii_lowercase(),
        GalleryImage {
            id: id.clone(),
            name: def.image.clone(),
            location: def.location.clone(),
            os: def.os.clone(),
            hyper_v_generation: def.hyper_v_generation.clone(),
            architecture: def.architecture.clone(),
            os_state: def.os_state.clone(),
            features: def.features.clone(),
            block_deletion_before_end_of_life: def.block_deletion_before_end_of_life,
            created: seeded_by(state),
        },
    );
    for v in &def.versions {
        insert_version(
            world,
            GalleryVersion {
                id: format!("{id}/versions/{v}"),
                name: v.clone(),
                location: def.location.clone(),
                target_regions: vec![TargetRegion {
                    name: def.location.clone(),
                    replicas: 1,
                    storage: "Standard_LRS".to_owned(),
                    exclude_from_latest: false,
                }],
                exclude_from_latest: false,
                end_of_life: def.end_of_life_date.clone(),
                block_deletion_before_end_of_life: def.block_deletion_before_end_of_life,
                // Published by hand from a managed image next to the gallery.
                source_id: format!(
                    "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Compute/images/{}-{v}",
                    def.resource_group, def.image
                ),
                created: seeded_by(state),
                tags: BTreeMap::new(),
            },
        );
    }
}

/// The end of life a version's safety profile makes Azure wait for, if not past.
fn deletion_blocked_until(
    v: &GalleryVersion,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let eol = v.end_of_life.as_deref()?;
    let at = chrono::DateTime::parse_from_rfc3339(eol)
        .ok()?
        .with_timezone(&chrono::Utc);
    (v.block_deletion_before_end_of_life && at > now).then(|| eol.to_owned())
}

/// Whoever set up the scenario's resources: the service principal it names.
pub(crate) fn seeded_by(state: &State) -> Creator {
    Creator {
        by: state.settings.client_id.clone(),
        by_type: "Application",
        at: state.now(),
    }
}

/// The version Azure means by `latest` for the definition `definition` (lower
/// case) in `region`: the highest one excluded from latest neither as a whole
/// nor in that region, among those replicated there.
pub(crate) fn latest_in<'a>(
    world: &'a World,
    definition: &str,
    region: &str,
) -> Option<&'a GalleryVersion> {
    let prefix = format!("{definition}/versions/");
    let region = region.replace(' ', "").to_ascii_lowercase();
    let number = |name: &str| -> Vec<u64> {
        name.split('.')
            .map(|part| part.parse().unwrap_or(0))
            .collect()
    };
    world
        .gallery_versions
        .iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .map(|(_, v)| v)
        .filter(|v| !v.exclude_from_latest)
        .filter(|v| {
            v.target_regions.iter().any(|r| {
                r.name.replace(' ', "").eq_ignore_ascii_case(&region) && !r.exclude_from_latest
            })
        })
        .max_by_key(|v| number(&v.name))
}

pub(crate) fn insert_version(world: &mut World, v: GalleryVersion) {
    world.gallery_versions.insert(v.id.to_ascii_lowercase(), v);
}

pub(crate) fn gallery_not_found(p: &GalleryImagePath, version: Option<&str>) -> Response {
    let (kind, name) = match version {
        Some(v) => (
            "Microsoft.Compute/galleries/images/versions",
            format!("{}/{}/{v}", p.gallery, p.image),
        ),
        None => (
            "Microsoft.Compute/galleries/images",
            format!("{}/{}", p.gallery, p.image),
        ),
    };
    ArmError::not_found(kind, &name, &p.resource_group).into_response()
}

pub(crate) fn image_definition_get(state: &State, p: &GalleryImagePath) -> Response {
    let world = state.world();
    let Some(img) = world.gallery_images.get(&path_id(p).to_ascii_lowercase()) else {
        return gallery_not_found(p, None);
    };
    let mut body = json!({
        "id": img.id,
        "name": img.name,
        "type": "Microsoft.Compute/galleries/images",
        "location": img.location,
        "properties": {
            "osType": img.os,
            "osState": img.os_state,
            "hyperVGeneration": img.hyper_v_generation,
            "architecture": img.architecture,
            "identifier": {"publisher": "image-refresh", "offer": p.gallery, "sku": img.name},
            "provisioningState": "Succeeded"
        },
        "systemData": img.created.system_data(),
    });
    // Compute leaves `features` out of a definition that has none.
    if !img.features.is_empty() {
        let features: Vec<Value> = img
            .features
            .iter()
            .map(|f| {
                let mut feature = json!({"name": f.name, "value": f.value});
                if let Some(v) = &f.starts_at_version {
                    feature["startsAtVersion"] = json!(v);
                }
                feature
            })
            .collect();
        body["properties"]["features"] = json!(features);
    }
    wire::json(StatusCode::OK, &body)
}

pub(crate) fn version_body(v: &GalleryVersion) -> Value {
    let regions: Vec<Value> = v
        .target_regions
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "regionalReplicaCount": r.replicas,
                "storageAccountType": r.storage,
                "excludeFromLatest": r.exclude_from_latest,
            })
        })
        .collect();
    let mut profile = json!({
        "targetRegions": regions,
        "replicaCount": 1,
        "excludeFromLatest": v.exclude_from_latest,
        "publishedDate": wire::timestamp(v.created.at),
        "storageAccountType": "Standard_LRS",
    });
    if let Some(eol) = &v.end_of_life {
        profile["endOfLifeDate"] = json!(eol);
    }
    let mut body = json!({
        "id": v.id,
        "name": v.name,
        "type": "Microsoft.Compute/galleries/images/versions",
        "location": v.location,
        "properties": {
            "publishingProfile": profile,
            "storageProfile": {
                "source": {"id": v.source_id},
                "osDiskImage": {"sizeInGB": 30, "hostCaching": "ReadWrite"}
            },
            "safetyProfile": {"allowDeletionOfReplicatedLocations": false},
            "provisioningState": "Succeeded"
        },
        "systemData": v.created.system_data(),
    });
    if v.block_deletion_before_end_of_life {
        body["properties"]["safetyProfile"]["blockDeletionBeforeEndOfLife"] = json!(true);
    }
    // ARM leaves `tags` out of a resource that has none.
    if !v.tags.is_empty() {
        body["tags"] = json!(v.tags);
    }
    body
}

pub(crate) fn version_list(
    state: &State,
    p: &GalleryImagePath,
    path: &str,
    query: &[(String, String)],
) -> Response {
    let world = state.world();
    let image_id = path_id(p).to_ascii_lowercase();
    if !world.gallery_images.contains_key(&image_id) {
        return gallery_not_found(p, None);
    }
    let prefix = format!("{image_id}/versions/");
    let value: Vec<Value> = world
        .gallery_versions
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| version_body(v))
        .collect();
    drop(world);
    paging::answer(state, path, query, value)
}

pub(crate) fn version_get(state: &State, p: &GalleryImagePath, version: &str) -> Response {
    let world = state.world();
    let key = format!("{}/versions/{version}", path_id(p)).to_ascii_lowercase();
    match world.gallery_versions.get(&key) {
        Some(v) => wire::json(StatusCode::OK, &version_body(v)),
        None => gallery_not_found(p, Some(version)),
    }
}

/// Deletes at once and answers like Compute: 202 with both polling headers.
pub(crate) fn accepted_delete(
    state: &State,
    world: &mut World,
    subscription: &str,
    location: &str,
    api: &'static str,
) -> Response {
    let location = location.replace(' ', "").to_ascii_lowercase();
    let urls = operations::create(
        state,
        world,
        subscription,
        "Microsoft.Compute",
        &location,
        api,
    );
    operations::finish(
        state,
        world,
        &urls.id,
        operations::OpStatus::Succeeded,
        None,
    );
    let mut resp = StatusCode::ACCEPTED.into_response();
    wire::set_header(&mut resp, "azure-asyncoperation", &urls.async_operation);
    wire::set_header(&mut resp, "location", &urls.location);
    resp
}

pub(crate) fn version_delete(state: &State, p: &GalleryImagePath, version: &str) -> Response {
    let mut world = state.world();
    let key = format!("{}/versions/{version}", path_id(p)).to_ascii_lowercase();
    if let Some(until) = world
        .gallery_versions
        .get(&key)
        .and_then(|v| deletion_blocked_until(v, state.now()))
    {
        return ArmError::new(
            StatusCode::CONFLICT,
            "OperationNotAllowed",
            format!(
                "Gallery image version '{version}' cannot be deleted before its end of life date {until}: its safety profile sets blockDeletionBeforeEndOfLife."
            ),
        )
        .into_response();
    }
    match world.gallery_versions.remove(&key) {
        Some(v) => accepted_delete(state, &mut world, &p.subscription, &v.location, GALLERY_API),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}
