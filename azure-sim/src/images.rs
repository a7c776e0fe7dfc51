//! Managed images (Microsoft.Compute/images): seeded by the scenario as
//! template sources, or left behind by a build's ManagedImage distributor.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ArmError;
use super::gallery::accepted_delete;
use super::routes::{COMPUTE_API, ResourcePath};
use super::scenario::ManagedImageDef;
use super::state::{State, World};
use super::wire;

#[derive(Debug, Clone)]
pub(crate) struct ManagedImage {
    pub id: String,
    pub name: String,
    pub location: String,
    pub os: String,
    pub hyper_v_generation: String,
    /// `properties.sourceVirtualMachine.id`: the build VM the image was captured from.
    pub source_vm: Option<String>,
    /// The distributor's `artifactTags`, as AIB puts them on what it made.
    pub tags: BTreeMap<String, String>,
}

pub(crate) fn managed_image_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/images/{name}")
}

/// Compute's `Image` derives from its own `Resource`, which has no
/// `systemData` (unlike the gallery's and AIB's resources).
pub(crate) fn seed(state: &State, world: &mut World, def: &ManagedImageDef) {
    let sub = def
        .subscription_id
        .as_deref()
        .unwrap_or(&state.settings.subscription_id);
    let id = managed_image_id(sub, &def.resource_group, &def.name);
    world.managed_images.insert(
        id.to_ascii_lowercase(),
        ManagedImage {
            id,
            name: def.name.clone(),
            location: def.location.clone(),
            os: def.os.clone(),
            hyper_v_generation: def.hyper_v_generation.clone(),
            source_vm: None,
            tags: def.tags.clone(),
        },
    );
}

pub(crate) fn get(state: &State, p: &ResourcePath) -> Response {
    let world = state.world();
    let id = managed_image_id(&p.subscription, &p.resource_group, &p.name);
    let Some(img) = world.managed_images.get(&id.to_ascii_lowercase()) else {
        return ArmError::not_found("Microsoft.Compute/images", &p.name, &p.resource_group)
            .into_response();
    };
    let mut body = json!({
        "id": img.id,
        "name": img.name,
        "type": "Microsoft.Compute/images",
        "location": img.location,
        "properties": {
            "storageProfile": {
                "osDisk": {
                    "osType": img.os,
                    "osState": "Generalized",
                    "storageAccountType": "Standard_LRS",
                    "diskSizeGB": 30
                },
                "dataDisks": [],
                "zoneResilient": false
            },
            "provisioningState": "Succeeded",
            "hyperVGeneration": img.hyper_v_generation
        }
    });
    if let Some(vm) = &img.source_vm {
        body["properties"]["sourceVirtualMachine"] = json!({"id": vm});
    }
    // ARM leaves `tags` out of a resource that has none.
    if !img.tags.is_empty() {
        body["tags"] = json!(img.tags);
    }
    wire::json(StatusCode::OK, &body)
}

pub(crate) fn delete(state: &State, p: &ResourcePath) -> Response {
    let mut world = state.world();
    let id = managed_image_id(&p.subscription, &p.resource_group, &p.name);
    match world.managed_images.remove(&id.to_ascii_lowercase()) {
        Some(img) => accepted_delete(
            state,
            &mut world,
            &p.subscription,
            &img.location,
            COMPUTE_API,
        ),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}
