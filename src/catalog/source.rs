//! What an image is built from.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    Marketplace(MarketplaceSource),
    Gallery(GallerySource),
    ManagedImage(ManagedImageSource),
}

impl Source {
    /// The version the catalog asks for; managed images have none.
    pub fn version(&self) -> Option<&VersionSpec> {
        match self {
            Source::Marketplace(s) => Some(&s.version),
            Source::Gallery(s) => Some(&s.version),
            Source::ManagedImage(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketplaceSource {
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub version: VersionSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PurchasePlan>,
    /// Where versions are looked up and the image is built (AIB takes a platform
    /// image from its template's region); `azure.location` unless the source says otherwise.
    pub location: String,
}

/// Purchase plan of a marketplace image that requires one (AIB `planInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurchasePlan {
    pub name: String,
    pub product: String,
    pub publisher: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GallerySource {
    /// Resource ID of the gallery image definition (not of a version).
    pub image_id: String,
    pub version: VersionSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedImageSource {
    pub image_id: String,
}

/// A source version: follow the newest, or pin one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSpec {
    Latest,
    /// Validated `major.minor.build` digits, e.g. "22.04.202411010".
    Exact(String),
}

impl VersionSpec {
    /// The string AIB and ARM expect: "latest" or the exact version.
    pub fn as_str(&self) -> &str {
        match self {
            VersionSpec::Latest => "latest",
            VersionSpec::Exact(version) => version,
        }
    }
}
