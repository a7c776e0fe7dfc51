//! Managed images (`Microsoft.Compute/images`): look up and delete old build outputs.

use serde::Deserialize;
use tokio::time::Instant;

use super::AzureError;
use super::api_versions::COMPUTE;
use super::arm::{ArmClient, ResourcePath};
use super::lro::LroPoller;

/// Names one managed image.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ManagedImageRef {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl ManagedImageRef {
    /// Splits `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/images/{name}`
    /// (the catalog validated the shape; ARM's segment names are case-insensitive).
    pub fn from_id(id: &str) -> Option<ManagedImageRef> {
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            [
                subscriptions,
                subscription_id,
                groups,
                resource_group,
                providers,
                compute,
                images,
                name,
            ] if subscriptions.eq_ignore_ascii_case("subscriptions")
                && groups.eq_ignore_ascii_case("resourceGroups")
                && providers.eq_ignore_ascii_case("providers")
                && compute.eq_ignore_ascii_case("Microsoft.Compute")
                && images.eq_ignore_ascii_case("images") =>
            {
                Some(ManagedImageRef {
                    subscription_id: (*subscription_id).to_owned(),
                    resource_group: (*resource_group).to_owned(),
                    name: (*name).to_owned(),
                })
            }
            _ => None,
        }
    }

    fn path(&self) -> ResourcePath {
        ResourcePath::resource_group(&self.subscription_id, &self.resource_group)
            .join("providers")
            .join("Microsoft.Compute")
            .join("images")
            .join(&self.name)
    }
}

/// What we read back about a managed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedImage {
    pub id: Option<String>,
    pub name: String,
    pub location: Option<String>,
    pub provisioning_state: Option<String>,
    /// AIB tags what it makes with the template's `artifactTags`.
    pub tags: std::collections::BTreeMap<String, String>,
    /// `systemData.createdAt`: the only place an image says when it was made.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize)]
struct ImageBody {
    id: Option<String>,
    name: String,
    location: Option<String>,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "systemData")]
    system_data: SystemData,
    #[serde(default)]
    properties: ImageProperties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SystemData {
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageProperties {
    provisioning_state: Option<String>,
}

/// The image, or `None` if it does not exist.
pub async fn get(
    client: &ArmClient,
    image: &ManagedImageRef,
) -> Result<Option<ManagedImage>, AzureError> {
    let response = match client.get(&image.path(), COMPUTE).await {
        Ok(response) => response,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let body: ImageBody = serde_json::from_value(response.body)
        .map_err(|e| AzureError::unexpected_body(format!("managed image {}", image.name), e))?;
    Ok(Some(ManagedImage {
        id: body.id,
        name: body.name,
        location: body.location,
        provisioning_state: body.properties.provisioning_state,
        tags: body.tags,
        created_at: body.system_data.created_at,
    }))
}

/// Deletes the image and waits until it is gone. A missing image is not an error.
pub async fn delete(
    client: &ArmClient,
    image: &ManagedImageRef,
    deadline: Instant,
) -> Result<(), AzureError> {
    let response = match client.delete(&image.path(), COMPUTE).await {
        Ok(response) => response,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let operation = format!("delete managed image {}", image.name);
    if let Some(poller) = LroPoller::from_response(client, operation, &response)? {
        poller.wait(deadline).await?;
    }
    Ok(())
}
