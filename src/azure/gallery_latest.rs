//! Where a gallery image version may be `latest`: its `excludeFromLatest`
//! flags, for the whole version and per target region, as revoke and staged
//! promotion set them.

use serde_json::Value;
use tokio::time::Instant;

use super::AzureError;
use super::api_versions::GALLERIES;
use super::arm::ArmClient;
use super::gallery::{GalleryImageRef, same_region};
use super::lro::LroPoller;

/// Where the version is to be a candidate for `latest`.
#[derive(Debug, Clone, Copy)]
pub enum LatestIn<'a> {
    /// Nowhere: staged, or revoked.
    Nowhere,
    /// Only in these regions; the version is otherwise excluded.
    Regions(&'a [String]),
    Everywhere,
}

impl LatestIn<'_> {
    fn excludes(&self, region: &str) -> bool {
        match self {
            LatestIn::Nowhere => true,
            LatestIn::Regions(regions) => !regions.iter().any(|r| same_region(r, region)),
            LatestIn::Everywhere => false,
        }
    }
}

/// What [`set_latest`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Azure had the flags already: nothing was sent.
    Already,
    Patched,
}

/// Sets the version's flags to `wanted` and waits until Azure has applied
/// them. Azure is read first and not asked when it has them already, so a
/// process resuming a step that was applied before it died sends nothing.
///
/// A PATCH replaces the target region list, so the regions are sent back as
/// GET showed them (replica counts, storage, encryption), only with
/// `excludeFromLatest` changed: no replica is dropped. The whole-version flag
/// and the regional ones change in one PATCH, so no consumer sees a moment in
/// which the version is latest in a region it is not meant for.
pub async fn set_latest(
    client: &ArmClient,
    image: &GalleryImageRef,
    version: &str,
    wanted: LatestIn<'_>,
    deadline: Instant,
) -> Result<Applied, AzureError> {
    let path = image.versions_path().join(version);
    let current = client.get(&path, GALLERIES).await?.body;
    let profile = &current["properties"]["publishingProfile"];
    let global = matches!(wanted, LatestIn::Nowhere);
    let mut regions = profile["targetRegions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut same = profile["excludeFromLatest"].as_bool().unwrap_or(false) == global;
    for region in &mut regions {
        let name = region["name"].as_str().unwrap_or_default().to_owned();
        let excluded = wanted.excludes(&name);
        same &= region["excludeFromLatest"].as_bool().unwrap_or(false) == excluded;
        region["excludeFromLatest"] = Value::Bool(excluded);
    }
    if same {
        return Ok(Applied::Already);
    }
    let mut profile = serde_json::json!({ "excludeFromLatest": global });
    if !regions.is_empty() {
        profile["targetRegions"] = Value::Array(regions);
    }
    let body = serde_json::json!({
        "properties": { "publishingProfile": profile, "storageProfile": {} }
    });
    let response = client.patch(&path, GALLERIES, &body).await?;
    let operation = format!(
        "set where gallery image version {}/{version} is latest",
        image.image
    );
    if let Some(poller) = LroPoller::from_response(client, operation, &response)? {
        poller.wait(deadline).await?;
    }
    Ok(Applied::Patched)
}
