//! Marketplace image versions (Microsoft.Compute `VirtualMachineImages_List` / `_Get`).

use std::cmp::Ordering;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ArmError;
use super::scenario::{ImageFeature, MarketplaceSku};
use super::state::State;
use super::wire::{self, query_value};

/// One (location, publisher, offer, sku) and its published versions.
#[derive(Debug, Clone)]
pub(crate) struct MarketSku {
    pub location: String,
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub os: String,
    pub hyper_v_generation: String,
    pub architecture: String,
    pub features: Vec<ImageFeature>,
    pub versions: Vec<String>,
}

pub(crate) fn key(location: &str, publisher: &str, offer: &str, sku: &str) -> String {
    format!("{location}/{publisher}/{offer}/{sku}").to_ascii_lowercase()
}

impl From<&MarketplaceSku> for MarketSku {
    fn from(s: &MarketplaceSku) -> Self {
        let mut versions = s.versions.clone();
        versions.sort_by(|a, b| compare_versions(a, b));
        Self {
            location: s.location.clone(),
            publisher: s.publisher.clone(),
            offer: s.offer.clone(),
            sku: s.sku.clone(),
            os: s.os.clone(),
            hyper_v_generation: s.hyper_v_generation.clone(),
            architecture: s.architecture.clone(),
            features: s.features.clone(),
            versions,
        }
    }
}

/// Marketplace versions order numerically part by part ("1.10" > "1.9").
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a).cmp(&parse(b)).then_with(|| a.cmp(b))
}

/// Path parameters of a marketplace request.
#[derive(Debug, Clone)]
pub(crate) struct SkuPath {
    pub subscription: String,
    pub location: String,
    pub publisher: String,
    pub offer: String,
    pub sku: String,
}

fn not_found() -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "Artifact: VMImage was not found.",
    )
}

fn version_id(p: &SkuPath, s: &MarketSku, version: &str) -> String {
    format!(
        "/Subscriptions/{}/Providers/Microsoft.Compute/Locations/{}/Publishers/{}/ArtifactTypes/VMImage/Offers/{}/Skus/{}/Versions/{version}",
        p.subscription, s.location, s.publisher, s.offer, s.sku
    )
}

pub(crate) fn list(state: &State, p: &SkuPath, query: &[(String, String)]) -> Response {
    let world = state.world();
    let Some(sku) = world
        .marketplace
        .get(&key(&p.location, &p.publisher, &p.offer, &p.sku))
    else {
        return not_found().into_response();
    };
    let mut versions = sku.versions.clone();
    if let Some(order) = query_value(query, "$orderby")
        && order.trim().eq_ignore_ascii_case("name desc")
    {
        versions.reverse();
    }
    if let Some(top) = query_value(query, "$top") {
        match top.parse::<usize>() {
            Ok(n) => versions.truncate(n),
            Err(_) => {
                return ArmError::bad_request(
                    "InvalidParameter",
                    format!("The value '{top}' of parameter '$top' is not valid."),
                )
                .into_response();
            }
        }
    }
    let body: Vec<Value> = versions
        .iter()
        .map(|v| json!({"location": sku.location, "name": v, "id": version_id(p, sku, v)}))
        .collect();
    wire::json(StatusCode::OK, &Value::Array(body))
}

pub(crate) fn get(state: &State, p: &SkuPath, version: &str) -> Response {
    let world = state.world();
    let Some(sku) = world
        .marketplace
        .get(&key(&p.location, &p.publisher, &p.offer, &p.sku))
    else {
        return not_found().into_response();
    };
    let Some(found) = sku
        .versions
        .iter()
        .find(|v| v.eq_ignore_ascii_case(version))
    else {
        return not_found().into_response();
    };
    let features: Vec<Value> = sku
        .features
        .iter()
        .map(|f| json!({"name": f.name, "value": f.value}))
        .collect();
    let body = json!({
        "properties": {
            "hyperVGeneration": sku.hyper_v_generation,
            "architecture": sku.architecture,
            "replicaType": "Managed",
            "disallowed": {"vmDiskType": "Unmanaged"},
            "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": false},
            "imageDeprecationStatus": {"imageState": "Active"},
            "features": features,
            "osDiskImage": {"operatingSystem": sku.os, "sizeInGb": 30},
            "dataDiskImages": []
        },
        "location": sku.location,
        "name": found,
        "id": version_id(p, sku, found),
    });
    wire::json(StatusCode::OK, &body)
}

/// Adds a version (idempotent) and creates the sku when it is new.
pub(crate) fn publish(
    state: &State,
    location: &str,
    publisher: &str,
    offer: &str,
    sku: &str,
    version: &str,
) {
    let mut world = state.world();
    let entry = world
        .marketplace
        .entry(key(location, publisher, offer, sku))
        .or_insert_with(|| MarketSku {
            location: location.to_owned(),
            publisher: publisher.to_owned(),
            offer: offer.to_owned(),
            sku: sku.to_owned(),
            os: "Linux".to_owned(),
            hyper_v_generation: "V2".to_owned(),
            architecture: "x64".to_owned(),
            features: Vec::new(),
            versions: Vec::new(),
        });
    if !entry.versions.iter().any(|v| v == version) {
        entry.versions.push(version.to_owned());
        entry.versions.sort_by(|a, b| compare_versions(a, b));
    }
}

/// Removes a version (a no-op when it is not there).
pub(crate) fn withdraw(
    state: &State,
    location: &str,
    publisher: &str,
    offer: &str,
    sku: &str,
    version: &str,
) {
    let mut world = state.world();
    if let Some(entry) = world
        .marketplace
        .get_mut(&key(location, publisher, offer, sku))
    {
        entry.versions.retain(|v| !v.eq_ignore_ascii_case(version));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        let mut v = vec!["1.10.0", "1.9.0", "1.9.10"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, ["1.9.0", "1.9.10", "1.10.0"]);
    }
}
