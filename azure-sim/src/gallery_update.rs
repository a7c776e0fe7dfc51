//! `GalleryImageVersions_Update` (PATCH), as `revoke` and staged promotion use
//! it: `publishingProfile.excludeFromLatest` for the version, and
//! `targetRegions[].excludeFromLatest` per region. As in ARM, a list in a
//! PATCH replaces the stored one, so a region left out of `targetRegions`
//! stops being a replica location.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ArmError;
use super::gallery::{TargetRegion, gallery_not_found, path_id, version_body};
use super::routes::GalleryImagePath;
use super::state::State;
use super::wire;

pub(crate) fn version_update(
    state: &State,
    p: &GalleryImagePath,
    version: &str,
    body: &Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
        .into_response();
    };
    let properties = &request["properties"];
    // GalleryImageVersionProperties requires it even in a PATCH (the spec's
    // GalleryImageVersion_Update_WithoutSourceId example sends `{}`).
    if !properties["storageProfile"].is_object() {
        return invalid("Required parameter 'storageProfile' is missing (null).");
    }
    let profile = &properties["publishingProfile"];
    let regions = match profile.get("targetRegions") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => match list.iter().map(region).collect::<Option<Vec<_>>>() {
            Some(regions) if !regions.is_empty() => Some(regions),
            _ => {
                return invalid(
                    "Each target region needs a 'name'; 'targetRegions' may not be empty.",
                );
            }
        },
        Some(_) => return invalid("'targetRegions' must be an array."),
    };
    let end_of_life = match profile.get("endOfLifeDate") {
        None | Some(Value::Null) => None,
        Some(Value::String(date)) if chrono::DateTime::parse_from_rfc3339(date).is_ok() => {
            Some(date.clone())
        }
        Some(_) => return invalid("'endOfLifeDate' must be a date-time."),
    };
    let exclude = match profile.get("excludeFromLatest") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return invalid("'excludeFromLatest' must be a boolean."),
    };
    let mut world = state.world();
    let key = format!("{}/versions/{version}", path_id(p)).to_ascii_lowercase();
    let Some(stored) = world.gallery_versions.get_mut(&key) else {
        return gallery_not_found(p, Some(version));
    };
    if let Some(exclude) = exclude {
        stored.exclude_from_latest = exclude;
    }
    if let Some(regions) = regions {
        stored.target_regions = regions;
    }
    if let Some(date) = end_of_life {
        stored.end_of_life = Some(date);
    }
    wire::json(StatusCode::OK, &version_body(stored))
}

fn region(value: &Value) -> Option<TargetRegion> {
    Some(TargetRegion {
        name: value["name"].as_str().filter(|n| !n.is_empty())?.to_owned(),
        replicas: value["regionalReplicaCount"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        storage: value["storageAccountType"]
            .as_str()
            .unwrap_or("Standard_LRS")
            .to_owned(),
        exclude_from_latest: value["excludeFromLatest"].as_bool().unwrap_or(false),
    })
}

fn invalid(message: &str) -> Response {
    ArmError::bad_request("InvalidParameter", message).into_response()
}
