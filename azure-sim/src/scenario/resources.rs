//! What the simulated Azure holds before anything runs: marketplace versions and
//! their timed publications, galleries, managed images, resource groups and identities.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A managed image (Microsoft.Compute/images) someone made earlier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedImageDef {
    pub subscription_id: Option<String>,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    #[serde(default = "default_os")]
    pub os: String,
    #[serde(default = "default_generation")]
    pub hyper_v_generation: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketplaceSku {
    pub location: String,
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    #[serde(default = "default_os")]
    pub os: String,
    #[serde(default = "default_generation")]
    pub hyper_v_generation: String,
    /// `x64` or `Arm64`.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// `properties.features` of every version, e.g. SecurityType.
    #[serde(default)]
    pub features: Vec<ImageFeature>,
    #[serde(default)]
    pub versions: Vec<String>,
}

/// A `{name, value}` feature of a marketplace image (VirtualMachineImageFeature).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFeature {
    pub name: String,
    pub value: String,
}

/// A gallery image definition's feature (GalleryImageFeature).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryFeature {
    pub name: String,
    pub value: String,
    pub starts_at_version: Option<String>,
}

/// A version that appears `at_secs` simulated seconds after start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedPublication {
    pub at_secs: u64,
    pub location: String,
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub version: String,
}

/// A Compute Gallery image definition, with the versions it already holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryImageDef {
    pub subscription_id: Option<String>,
    pub resource_group: String,
    pub gallery: String,
    pub image: String,
    pub location: String,
    #[serde(default = "default_os")]
    pub os: String,
    #[serde(default = "default_generation")]
    pub hyper_v_generation: String,
    /// `x64` or `Arm64`.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// `Generalized` or `Specialized`.
    #[serde(default = "default_os_state")]
    pub os_state: String,
    #[serde(default)]
    pub features: Vec<GalleryFeature>,
    #[serde(default)]
    pub versions: Vec<String>,
    /// `publishingProfile.endOfLifeDate` of the seeded versions.
    pub end_of_life_date: Option<String>,
    /// `safetyProfile.blockDeletionBeforeEndOfLife` of every version, seeded or
    /// built (as an organisation's policy would set it): a DELETE before the
    /// version's end of life is refused.
    #[serde(default)]
    pub block_deletion_before_end_of_life: bool,
}

/// A resource group that exists before anything runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroupDef {
    pub subscription_id: Option<String>,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Resources someone else left in it, as `{namespace}/{type}/{name}`
    /// (nested: `Microsoft.Network/virtualNetworks/vnet/subnets/snet`).
    #[serde(default)]
    pub resources: Vec<String>,
}

/// A user-assigned managed identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDef {
    pub subscription_id: Option<String>,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_os() -> String {
    "Linux".to_owned()
}

fn default_generation() -> String {
    "V2".to_owned()
}

fn default_architecture() -> String {
    "x64".to_owned()
}

fn default_os_state() -> String {
    "Generalized".to_owned()
}
