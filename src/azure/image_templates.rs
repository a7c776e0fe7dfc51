//! Azure VM Image Builder templates: create, inspect, run, cancel, delete, outputs.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::AzureError;
use super::api_versions::IMAGE_BUILDER;
use super::arm::{ArmClient, ResourcePath};
use super::lro::LroPoller;

/// Names one image template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateRef {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl TemplateRef {
    fn path(&self) -> ResourcePath {
        ResourcePath::resource_group(&self.subscription_id, &self.resource_group)
            .join("providers")
            .join("Microsoft.VirtualMachineImages")
            .join("imageTemplates")
            .join(&self.name)
    }
}

/// `properties.provisioningState` (a closed enum in the 2025-10-01 spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProvisioningState {
    Creating,
    Updating,
    Succeeded,
    Failed,
    Deleting,
    Canceled,
    /// A value newer than the spec this was written against.
    #[serde(other)]
    Unknown,
}

/// `lastRunStatus.runState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RunState {
    Running,
    Canceling,
    Succeeded,
    PartiallySucceeded,
    Failed,
    Canceled,
    #[serde(other)]
    Unknown,
}

impl RunState {
    /// True once the run can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded
                | RunState::PartiallySucceeded
                | RunState::Failed
                | RunState::Canceled
        )
    }
}

/// `lastRunStatus.runSubState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RunSubState {
    Queued,
    Building,
    Customizing,
    Optimizing,
    Validating,
    Distributing,
    #[serde(other)]
    Unknown,
}

/// The template's last (or current) run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    pub run_state: RunState,
    pub run_sub_state: Option<RunSubState>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// `properties.provisioningError`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningError {
    pub provisioning_error_code: Option<String>,
    pub message: Option<String>,
}

/// What the daemon needs to know about a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTemplateStatus {
    pub provisioning_state: Option<ProvisioningState>,
    pub provisioning_error: Option<ProvisioningError>,
    pub last_run_status: Option<RunStatus>,
    /// `properties.source.exactVersion`: the version a "latest" source resolved to.
    pub source_exact_version: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TemplateBody {
    properties: Option<TemplateProperties>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TemplateProperties {
    provisioning_state: Option<ProvisioningState>,
    provisioning_error: Option<ProvisioningError>,
    last_run_status: Option<RunStatus>,
    source: Option<SourceProperties>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceProperties {
    exact_version: Option<String>,
}

fn parse_status(template: &TemplateRef, body: Value) -> Result<ImageTemplateStatus, AzureError> {
    let body: TemplateBody = serde_json::from_value(body)
        .map_err(|e| AzureError::unexpected_body(format!("image template {}", template.name), e))?;
    let props = body.properties;
    Ok(ImageTemplateStatus {
        provisioning_state: props.as_ref().and_then(|p| p.provisioning_state),
        provisioning_error: props.as_ref().and_then(|p| p.provisioning_error.clone()),
        last_run_status: props.as_ref().and_then(|p| p.last_run_status.clone()),
        source_exact_version: props.and_then(|p| p.source).and_then(|s| s.exact_version),
    })
}

/// A template found by [`list_in_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTemplate {
    pub template: TemplateRef,
    pub tags: std::collections::BTreeMap<String, String>,
    pub status: ImageTemplateStatus,
}

#[derive(Debug, Deserialize)]
struct ListedBody {
    name: String,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
}

/// Every template in the resource group, across pages.
pub async fn list_in_group(
    client: &ArmClient,
    subscription_id: &str,
    resource_group: &str,
) -> Result<Vec<ListedTemplate>, AzureError> {
    let path = ResourcePath::resource_group(subscription_id, resource_group)
        .join("providers")
        .join("Microsoft.VirtualMachineImages")
        .join("imageTemplates");
    let mut found = Vec::new();
    for item in client.list_all(&path, IMAGE_BUILDER).await? {
        let listed: ListedBody = serde_json::from_value(item.clone()).map_err(|e| {
            AzureError::unexpected_body(format!("image templates of {resource_group}"), e)
        })?;
        let template = TemplateRef {
            subscription_id: subscription_id.to_owned(),
            resource_group: resource_group.to_owned(),
            name: listed.name,
        };
        let status = parse_status(&template, item)?;
        found.push(ListedTemplate {
            template,
            tags: listed.tags,
            status,
        });
    }
    Ok(found)
}

/// The template's state, or `None` if it does not exist.
pub async fn get(
    client: &ArmClient,
    template: &TemplateRef,
) -> Result<Option<ImageTemplateStatus>, AzureError> {
    match client.get(&template.path(), IMAGE_BUILDER).await {
        Ok(response) => parse_status(template, response.body).map(Some),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates or replaces the template and waits (until `deadline`) for provisioning to finish.
pub async fn put(
    client: &ArmClient,
    template: &TemplateRef,
    body: &Value,
    deadline: Instant,
) -> Result<ImageTemplateStatus, AzureError> {
    let path = template.path();
    let response = client.put(&path, IMAGE_BUILDER, body).await?;
    let operation = format!("create image template {}", template.name);
    if let Some(poller) = LroPoller::from_response(client, operation, &response)? {
        poller.wait(deadline).await?;
        // final-state-via azure-async-operation: the resource itself holds the result.
        let response = client.get(&path, IMAGE_BUILDER).await?;
        return parse_status(template, response.body);
    }
    parse_status(template, response.body)
}

/// Starts a build. Returns the poller without waiting (a build takes hours; the caller
/// follows `lastRunStatus` or the poller), or `None` when ARM gave no poll URL.
pub async fn run(
    client: &ArmClient,
    template: &TemplateRef,
) -> Result<Option<LroPoller>, AzureError> {
    let path = template.path().join("run");
    let response = client.post(&path, IMAGE_BUILDER, None).await?;
    LroPoller::from_response(
        client,
        format!("run image template {}", template.name),
        &response,
    )
}

/// Asks AIB to cancel the running build; same shape as [`run`].
pub async fn cancel(
    client: &ArmClient,
    template: &TemplateRef,
) -> Result<Option<LroPoller>, AzureError> {
    let path = template.path().join("cancel");
    let response = client.post(&path, IMAGE_BUILDER, None).await?;
    LroPoller::from_response(
        client,
        format!("cancel build of image template {}", template.name),
        &response,
    )
}

/// Deletes the template and waits for it to be gone. A missing template is not an error.
pub async fn delete(
    client: &ArmClient,
    template: &TemplateRef,
    deadline: Instant,
) -> Result<(), AzureError> {
    let response = match client.delete(&template.path(), IMAGE_BUILDER).await {
        Ok(response) => response,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let operation = format!("delete image template {}", template.name);
    if let Some(poller) = LroPoller::from_response(client, operation, &response)? {
        poller.wait(deadline).await?;
    }
    Ok(())
}

/// One artifact of the last run (a managed image, gallery image version or VHD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub name: String,
    pub artifact_id: Option<String>,
    pub artifact_uri: Option<String>,
    pub provisioning_state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunOutputBody {
    name: String,
    #[serde(default)]
    properties: RunOutputProperties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunOutputProperties {
    artifact_id: Option<String>,
    artifact_uri: Option<String>,
    provisioning_state: Option<String>,
}

/// The outputs of the last run, across all pages.
pub async fn run_outputs(
    client: &ArmClient,
    template: &TemplateRef,
) -> Result<Vec<RunOutput>, AzureError> {
    let items = client
        .list_all(&template.path().join("runOutputs"), IMAGE_BUILDER)
        .await?;
    items
        .into_iter()
        .map(|item| {
            let body: RunOutputBody = serde_json::from_value(item).map_err(|e| {
                AzureError::unexpected_body(format!("run outputs of {}", template.name), e)
            })?;
            Ok(RunOutput {
                name: body.name,
                artifact_id: body.properties.artifact_id,
                artifact_uri: body.properties.artifact_uri,
                provisioning_state: body.properties.provisioning_state,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> TemplateRef {
        TemplateRef {
            subscription_id: "sub".into(),
            resource_group: "rg".into(),
            name: "t".into(),
        }
    }

    #[test]
    fn parses_the_spec_example_and_a_running_build() {
        // Trimmed from the 2025-10-01 GetImageTemplate example: a template never run.
        let example = serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.VirtualMachineImages/imageTemplates/myImageTemplate",
            "name": "myImageTemplate", "location": "westus",
            "type": "Microsoft.VirtualMachineImages/imageTemplates",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {}},
            "properties": {
                "source": {"type": "ManagedImage", "imageId": "/subscriptions/s/resourceGroups/source_rg/providers/Microsoft.Compute/images/source_image"},
                "customize": [{"type": "Shell", "name": "Shell Customizer Example", "scriptUri": "https://example.com/path/to/script.sh"}],
                "distribute": [{"type": "ManagedImage", "location": "1_location", "runOutputName": "image_it_pir_1",
                    "imageId": "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/images/image_it_1"}],
                "vmProfile": {"vmSize": "Standard_D2s_v3", "osDiskSizeGB": 64}
            }
        });
        let status = parse_status(&template(), example).unwrap();
        assert_eq!(status.last_run_status, None);
        assert_eq!(status.provisioning_state, None);

        let running = serde_json::json!({"properties": {
            "provisioningState": "Succeeded",
            "source": {"type": "PlatformImage", "version": "latest", "exactVersion": "22.04.202501150"},
            "lastRunStatus": {"runState": "Running", "runSubState": "Customizing",
                "startTime": "2026-11-10T06:00:00Z", "message": ""}}});
        let status = parse_status(&template(), running).unwrap();
        assert_eq!(
            status.provisioning_state,
            Some(ProvisioningState::Succeeded)
        );
        let run = status.last_run_status.unwrap();
        assert_eq!(run.run_state, RunState::Running);
        assert!(!run.run_state.is_terminal());
        assert_eq!(run.run_sub_state, Some(RunSubState::Customizing));
        assert_eq!(
            run.start_time.unwrap().to_rfc3339(),
            "2026-11-10T06:00:00+00:00"
        );
        assert_eq!(
            status.source_exact_version.as_deref(),
            Some("22.04.202501150")
        );
    }

    #[test]
    fn unknown_enum_values_do_not_break_parsing() {
        let body = serde_json::json!({"properties": {"provisioningState": "Migrating",
            "lastRunStatus": {"runState": "Paused"}}});
        let status = parse_status(&template(), body).unwrap();
        assert_eq!(status.provisioning_state, Some(ProvisioningState::Unknown));
        assert_eq!(status.last_run_status.unwrap().run_state, RunState::Unknown);
    }
}
