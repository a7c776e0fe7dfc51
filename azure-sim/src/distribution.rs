//! The artifacts a finished run leaves behind (managed images, gallery
//! image versions, VHD URIs) and its run outputs, or AIB's distribution error.

use serde_json::{Value, json};

use super::gallery::{self, GalleryVersion, ManagedImage, TargetRegion};
use super::marketplace::{self, compare_versions};
use super::resource_groups;
use super::scenario::Outcome;
use super::state::{State, World};
use super::templates::RunOutput;

/// AIB's words when a managed image target's resource group is missing: it
/// counts the distributions that failed, then quotes ARM's error.
fn missing_groups(world: &World, distributors: &[Value]) -> Result<(), String> {
    let missing: Vec<(String, String)> = distributors
        .iter()
        .filter(|d| d["type"] == "ManagedImage")
        .filter_map(|d| {
            let (sub, rg) = resource_groups::scope_of(d["imageId"].as_str()?)?;
            let name = d["runOutputName"].as_str().unwrap_or_default().to_owned();
            (!resource_groups::exists(world, &sub, &rg)
                || !world.subscriptions.contains(&sub.to_ascii_lowercase()))
            .then_some((name, rg))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let details: Vec<String> = missing
        .iter()
        .map(|(name, rg)| {
            format!(
                "distribution '{name}' (ManagedImage): ResourceGroupNotFound: Resource group '{rg}' could not be found."
            )
        })
        .collect();
    Err(format!(
        "Failed in distributing {} images out of total {}: {}",
        missing.len(),
        distributors.len(),
        details.join(" ")
    ))
}

/// Creates the artifacts of a finished run and records the run outputs.
pub(crate) fn distribute(
    state: &State,
    world: &mut World,
    key: &str,
    outcome: Outcome,
) -> Result<(), String> {
    let Some(t) = world.templates.get(key) else {
        return Ok(());
    };
    let request = t.request.clone();
    let template_location = t.location.clone();
    let exact = t.exact_version.clone().unwrap_or_default();
    let distributors = request["properties"]["distribute"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    missing_groups(world, &distributors)?;
    // A partial success leaves the last target without an artifact.
    let skip_last = outcome == Outcome::PartiallySucceeded && distributors.len() > 1;
    let (os, generation) = source_traits(world, &request, &template_location);
    let mut outputs = Vec::new();
    for (i, d) in distributors.iter().enumerate() {
        if skip_last && i + 1 == distributors.len() {
            continue;
        }
        let name = d["runOutputName"].as_str().unwrap_or_default().to_owned();
        let output = match d["type"].as_str() {
            Some("ManagedImage") => {
                let id = d["imageId"].as_str().unwrap_or_default().to_owned();
                world.managed_images.insert(
                    id.to_ascii_lowercase(),
                    ManagedImage {
                        name: id.rsplit('/').next().unwrap_or_default().to_owned(),
                        id: id.clone(),
                        location: d["location"]
                            .as_str()
                            .unwrap_or(&template_location)
                            .to_owned(),
                        os: os.clone(),
                        hyper_v_generation: generation.clone(),
                        tags: d.get("artifactTags").cloned().unwrap_or_else(|| json!({})),
                        created_at: state.now(),
                    },
                );
                RunOutput {
                    name,
                    artifact_id: Some(id),
                    artifact_uri: None,
                }
            }
            Some("SharedImage") => {
                let id = gallery_version(state, world, d, &template_location, &exact)?;
                RunOutput {
                    name,
                    artifact_id: Some(id),
                    artifact_uri: None,
                }
            }
            _ => RunOutput {
                artifact_uri: Some(format!(
                    "https://imagebuilderstaging.blob.core.windows.net/vhds/{name}-{}.vhd",
                    uuid::Uuid::new_v4().simple()
                )),
                name,
                artifact_id: None,
            },
        };
        outputs.push(output);
    }
    if let Some(t) = world.templates.get_mut(key) {
        t.outputs = outputs;
    }
    Ok(())
}

fn source_traits(world: &World, request: &Value, location: &str) -> (String, String) {
    let source = &request["properties"]["source"];
    let field = |name: &str| source[name].as_str().unwrap_or_default();
    let k = marketplace::key(location, field("publisher"), field("offer"), field("sku"));
    match world.marketplace.get(&k) {
        Some(s) => (s.os.clone(), s.hyper_v_generation.clone()),
        None => ("Linux".to_owned(), "V2".to_owned()),
    }
}

fn gallery_version(
    state: &State,
    world: &mut World,
    d: &Value,
    template_location: &str,
    exact_source: &str,
) -> Result<String, String> {
    let requested = d["galleryImageId"].as_str().unwrap_or_default();
    let (image_id, explicit) = match requested.to_ascii_lowercase().find("/versions/") {
        Some(i) => (
            &requested[..i],
            Some(requested[i + "/versions/".len()..].to_owned()),
        ),
        None => (requested, None),
    };
    let Some(image) = world
        .gallery_images
        .get(&image_id.to_ascii_lowercase())
        .cloned()
    else {
        return Err(format!(
            "Distribution failed: the gallery image definition '{image_id}' was not found. Create the image definition before distributing to it."
        ));
    };
    let version = match explicit {
        Some(v) => v,
        None => next_version(world, image_id, &d["versioning"], exact_source),
    };
    let regions: Vec<TargetRegion> = match d["targetRegions"].as_array() {
        Some(list) => list
            .iter()
            .map(|r| TargetRegion {
                name: r["name"].as_str().unwrap_or_default().to_owned(),
                replicas: r["replicaCount"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1),
                storage: r["storageAccountType"]
                    .as_str()
                    .unwrap_or("Standard_LRS")
                    .to_owned(),
                exclude_from_latest: false,
            })
            .collect(),
        None => d["replicationRegions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|name| TargetRegion {
                name: name.to_owned(),
                replicas: 1,
                storage: d["storageAccountType"]
                    .as_str()
                    .unwrap_or("Standard_LRS")
                    .to_owned(),
                exclude_from_latest: false,
            })
            .collect(),
    };
    let regions = if regions.is_empty() {
        vec![TargetRegion {
            name: template_location.to_owned(),
            replicas: 1,
            storage: "Standard_LRS".to_owned(),
            exclude_from_latest: false,
        }]
    } else {
        regions
    };
    let id = format!("{}/versions/{version}", image.id);
    gallery::insert_version(
        world,
        GalleryVersion {
            id: id.clone(),
            name: version,
            location: image.location.clone(),
            target_regions: regions,
            exclude_from_latest: d["excludeFromLatest"].as_bool().unwrap_or(false),
            end_of_life: None,
            block_deletion_before_end_of_life: image.block_deletion_before_end_of_life,
            published: state.now(),
            source_id: String::new(),
            tags: d["artifactTags"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect(),
        },
    );
    Ok(id)
}

/// AIB's versioning: `Latest` bumps the patch of the highest version (within
/// `major` when set); `Source` reuses the source image's version numbers.
fn next_version(world: &World, image_id: &str, versioning: &Value, exact_source: &str) -> String {
    if versioning["scheme"] == "Source" {
        let parts: Vec<u64> = exact_source
            .split('.')
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        if parts.len() == 3 {
            return format!("{}.{}.{}", parts[0], parts[1], parts[2]);
        }
    }
    let major = versioning["major"].as_i64().unwrap_or(-1);
    let prefix = format!("{}/versions/", image_id.to_ascii_lowercase());
    let latest = world
        .gallery_versions
        .values()
        .filter(|v| v.id.to_ascii_lowercase().starts_with(&prefix))
        .map(|v| v.name.clone())
        .filter(|name| major < 0 || name.split('.').next() == Some(major.to_string().as_str()))
        .max_by(|a, b| compare_versions(a, b));
    match latest {
        Some(v) => {
            let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
            parts.resize(3, 0);
            format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1)
        }
        None if major >= 0 => format!("{major}.0.0"),
        None => "1.0.0".to_owned(),
    }
}
