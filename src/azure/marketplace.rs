//! Marketplace VM image versions (`VirtualMachineImages_List`).

use serde::Deserialize;

use super::AzureError;
use super::api_versions;
use super::arm::{ArmClient, ResourcePath};
use super::version::{IgnoredVersion, ImageVersion, latest_version};

/// One marketplace SKU in one region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarketplaceSku {
    pub subscription_id: String,
    pub location: String,
    pub publisher: String,
    pub offer: String,
    pub sku: String,
}

impl MarketplaceSku {
    pub(crate) fn versions_path(&self) -> ResourcePath {
        ResourcePath::subscription(&self.subscription_id)
            .join("providers")
            .join("Microsoft.Compute")
            .join("locations")
            .join(&self.location)
            .join("publishers")
            .join(&self.publisher)
            .join("artifacttypes")
            .join("vmimage")
            .join("offers")
            .join(&self.offer)
            .join("skus")
            .join(&self.sku)
            .join("versions")
    }
}

/// The newest version of a SKU, with the listed versions that could not be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLatest {
    pub version: ImageVersion,
    pub ignored: Vec<IgnoredVersion>,
}

#[derive(Debug, Deserialize)]
struct VersionResource {
    name: String,
}

/// Every published version of the SKU, in the order Azure listed them.
pub async fn list_versions(
    client: &ArmClient,
    sku: &MarketplaceSku,
) -> Result<Vec<String>, AzureError> {
    let path = sku.versions_path();
    let response = client.get(&path, api_versions::COMPUTE).await?;
    // The 200 body is a bare array (no `value`, no paging) per the 2025-04-01 spec.
    let resources: Vec<VersionResource> = serde_json::from_value(response.body)
        .map_err(|e| AzureError::unexpected_body(format!("versions of {path}"), e))?;
    Ok(resources.into_iter().map(|r| r.name).collect())
}

/// Resolves `version = "latest"`: the highest listed version by Azure's numeric ordering.
pub async fn resolve_latest(
    client: &ArmClient,
    sku: &MarketplaceSku,
) -> Result<ResolvedLatest, AzureError> {
    let versions = list_versions(client, sku).await?;
    resolve_latest_of(sku, versions)
}

/// The newest of `versions`, listed for `sku`; ignored names are said in the log.
pub fn resolve_latest_of(
    sku: &MarketplaceSku,
    versions: Vec<String>,
) -> Result<ResolvedLatest, AzureError> {
    let choice = latest_version(&versions);
    for ignored in &choice.ignored {
        tracing::warn!(
            version = ignored.version,
            reason = %ignored.reason,
            offer = sku.offer,
            sku = sku.sku,
            "ignoring a marketplace version that is not dotted numbers"
        );
    }
    match choice.latest {
        Some(version) => Ok(ResolvedLatest {
            version,
            ignored: choice.ignored,
        }),
        None => Err(AzureError::UnexpectedBody {
            what: format!(
                "versions of {}:{}:{} in {}",
                sku.publisher, sku.offer, sku.sku, sku.location
            ),
            detail: format!("no usable version among {} listed", versions.len()),
        }),
    }
}
