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
}

#[derive(Debug, Deserialize)]
struct ImageBody {
    id: Option<String>,
    name: String,
    location: Option<String>,
    #[serde(default)]
    properties: ImageProperties,
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
