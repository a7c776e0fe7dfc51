//! The read-only lookups a preflight makes: subscription, locations, resource
//! groups and what they hold, resource providers, user-assigned identities, and
//! the image traits of sources and gallery image definitions.
//!
//! Each returns `Ok(None)` for a 404, so a caller tells "does not exist" from
//! "could not ask".

use serde_json::Value;

use super::AzureError;
use super::api_versions;
use super::arm::{ArmClient, ResourcePath};
use super::marketplace::MarketplaceSku;

/// A resource group's region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    pub location: String,
}

/// What AIB needs to agree between a source image and a gallery image
/// definition it publishes to; `None` where Azure did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageTraits {
    pub os_type: Option<String>,
    pub hyper_v_generation: Option<String>,
    pub architecture: Option<String>,
    /// The `SecurityType` feature, e.g. `TrustedLaunchSupported`.
    pub security_type: Option<String>,
}

impl ImageTraits {
    /// From a VirtualMachineImage or GalleryImage body's `properties`.
    fn from_properties(properties: &Value) -> ImageTraits {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let os_type = text(&properties["osType"])
            .or_else(|| text(&properties["osDiskImage"]["operatingSystem"]));
        let security_type = properties["features"].as_array().and_then(|features| {
            features
                .iter()
                .find(|f| {
                    f["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("SecurityType"))
                })
                .and_then(|f| text(&f["value"]))
        });
        ImageTraits {
            os_type,
            hyper_v_generation: text(&properties["hyperVGeneration"]),
            architecture: text(&properties["architecture"]),
            security_type,
        }
    }
}

async fn get_or_none(
    arm: &ArmClient,
    path: &ResourcePath,
    api_version: &str,
) -> Result<Option<Value>, AzureError> {
    match arm.get(path, api_version).await {
        Ok(response) => Ok(Some(response.body)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

fn text_field(body: &Value, field: &str, what: &str) -> Result<String, AzureError> {
    body[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AzureError::unexpected_body(what, format!("no `{field}`")))
}

/// Whether the subscription is readable; `None` when ARM does not know it.
pub async fn subscription_state(
    arm: &ArmClient,
    subscription_id: &str,
) -> Result<Option<String>, AzureError> {
    let path = ResourcePath::subscription(subscription_id);
    let body = get_or_none(arm, &path, api_versions::SUBSCRIPTIONS).await?;
    body.map(|b| text_field(&b, "state", "subscription"))
        .transpose()
}

/// The names of the subscription's locations (`westeurope`, …).
pub async fn locations(arm: &ArmClient, subscription_id: &str) -> Result<Vec<String>, AzureError> {
    let path = ResourcePath::subscription(subscription_id).join("locations");
    let items = arm.list_all(&path, api_versions::SUBSCRIPTIONS).await?;
    items
        .iter()
        .map(|item| text_field(item, "name", "location"))
        .collect()
}

pub async fn resource_group(
    arm: &ArmClient,
    subscription_id: &str,
    name: &str,
) -> Result<Option<ResourceGroup>, AzureError> {
    let path = ResourcePath::resource_group(subscription_id, name);
    let body = get_or_none(arm, &path, api_versions::RESOURCES).await?;
    body.map(|b| {
        Ok(ResourceGroup {
            location: text_field(&b, "location", "resource group")?,
        })
    })
    .transpose()
}

/// The ids of the resources in a group.
pub async fn resources_in_group(
    arm: &ArmClient,
    subscription_id: &str,
    name: &str,
) -> Result<Vec<String>, AzureError> {
    let path = ResourcePath::resource_group(subscription_id, name).join("resources");
    let items = arm.list_all(&path, api_versions::RESOURCES).await?;
    items
        .iter()
        .map(|item| text_field(item, "id", "resource"))
        .collect()
}

/// A provider's `registrationState` (`Registered`, `NotRegistered`, …).
pub async fn provider_state(
    arm: &ArmClient,
    subscription_id: &str,
    namespace: &str,
) -> Result<Option<String>, AzureError> {
    let path = ResourcePath::subscription(subscription_id)
        .join("providers")
        .join(namespace);
    let body = get_or_none(arm, &path, api_versions::RESOURCES).await?;
    body.map(|b| text_field(&b, "registrationState", "resource provider"))
        .transpose()
}

/// Whether a resource exists, from its full id: a user-assigned identity,
/// a managed image.
pub async fn exists(arm: &ArmClient, id: &str, api_version: &str) -> Result<bool, AzureError> {
    Ok(get_or_none(arm, &id_path(id), api_version).await?.is_some())
}

/// A gallery image definition's traits, or `None` when it does not exist.
pub async fn gallery_image_traits(
    arm: &ArmClient,
    image_id: &str,
) -> Result<Option<ImageTraits>, AzureError> {
    let body = get_or_none(arm, &id_path(image_id), api_versions::GALLERIES).await?;
    Ok(body.map(|b| ImageTraits::from_properties(&b["properties"])))
}

/// A marketplace image version's traits (`VirtualMachineImages_Get`).
pub async fn marketplace_image_traits(
    arm: &ArmClient,
    sku: &MarketplaceSku,
    version: &str,
) -> Result<Option<ImageTraits>, AzureError> {
    let path = sku.versions_path().join(version);
    let body = get_or_none(arm, &path, api_versions::COMPUTE).await?;
    Ok(body.map(|b| ImageTraits::from_properties(&b["properties"])))
}

/// A path from a resource id the catalog validated, one segment per part.
pub fn id_path(id: &str) -> ResourcePath {
    ResourcePath::from_segments(id.trim_matches('/').split('/'))
}
