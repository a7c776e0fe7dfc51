//! Where a built image goes.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Distribute {
    Gallery(GalleryTarget),
    ManagedImage(ManagedImageTarget),
    /// AIB writes the VHD to its own storage account and reports the URI in the run output.
    Vhd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GalleryTarget {
    /// Resource ID of the gallery image definition; AIB adds a new version to it.
    pub image_id: String,
    /// Never empty: defaults to `azure.location` with one replica.
    pub regions: Vec<TargetRegion>,
    pub storage_account_type: StorageAccountType,
    pub exclude_from_latest: bool,
    /// How many versions to keep after a successful build; all when absent.
    pub versions_to_keep: Option<u32>,
    /// Set as each new version's `endOfLifeDate`, counted from its build's end.
    pub end_of_life_after: Option<std::time::Duration>,
    /// How a new version reaches `latest`.
    pub promotion: Promotion,
}

/// How a gallery target's new versions become `latest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "rings", rename_all = "snake_case")]
pub enum Promotion {
    /// Published as latest (unless `exclude_from_latest`).
    Immediate,
    /// Published excluded from latest; `image-refresh promote` makes it latest.
    Manual,
    /// Published excluded from latest, then made latest ring by ring.
    Rings(Vec<Ring>),
}

impl Promotion {
    /// Whether new versions are published excluded from latest, to be promoted.
    pub fn is_staged(&self) -> bool {
        !matches!(self, Promotion::Immediate)
    }
}

/// Regions that become `latest` together, a delay after the ring before
/// (after the build, for the first ring).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ring {
    pub regions: Vec<String>,
    pub after: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRegion {
    pub name: String,
    /// At least 1.
    pub replicas: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StorageAccountType {
    #[serde(rename = "Standard_LRS")]
    StandardLrs,
    #[serde(rename = "Standard_ZRS")]
    StandardZrs,
    #[serde(rename = "Premium_LRS")]
    PremiumLrs,
}

impl StorageAccountType {
    pub(super) const NAMES: &'static [&'static str] =
        &["Standard_LRS", "Standard_ZRS", "Premium_LRS"];

    pub(super) fn from_name(name: &str) -> Option<Self> {
        match name {
            "Standard_LRS" => Some(StorageAccountType::StandardLrs),
            "Standard_ZRS" => Some(StorageAccountType::StandardZrs),
            "Premium_LRS" => Some(StorageAccountType::PremiumLrs),
            _ => None,
        }
    }

    /// The ARM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageAccountType::StandardLrs => "Standard_LRS",
            StorageAccountType::StandardZrs => "Standard_ZRS",
            StorageAccountType::PremiumLrs => "Premium_LRS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedImageTarget {
    pub image_id: String,
    /// `azure.location` unless the target says otherwise.
    pub location: String,
}
