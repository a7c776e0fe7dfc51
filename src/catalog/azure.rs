//! Where and as whom the service talks to Azure.

use std::path::PathBuf;

use serde::Serialize;

/// The `[azure]` table, with cloud endpoints already resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AzureSettings {
    pub subscription_id: String,
    /// Resource group that holds the image templates.
    pub resource_group: String,
    /// Default location for templates, sources and managed image targets.
    pub location: String,
    /// Resource ID of the user-assigned managed identity that AIB builds run as.
    pub identity: String,
    /// Resource ID of a resource group AIB builds in; AIB creates its own when absent.
    pub staging_resource_group: Option<String>,
    /// Where the build VM runs, for builds that must stay in the company's network
    /// (`vmProfile.vnetConfig`); AIB uses a network of its own when absent.
    pub network: Option<BuildNetwork>,
    pub cloud: Cloud,
    pub endpoints: CloudEndpoints,
    /// Keep the template of a failed build for inspection instead of deleting it.
    pub keep_failed_templates: bool,
}

/// A pre-existing subnet for the build VM and, for isolated builds, a second subnet of the
/// same virtual network for the Azure Container Instance that reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildNetwork {
    pub subnet_id: String,
    pub container_instance_subnet_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    Public,
    UsGov,
    China,
    Custom,
}

impl Cloud {
    pub(super) const NAMES: &'static [&'static str] = &["public", "usgov", "china", "custom"];

    pub(super) fn from_name(name: &str) -> Option<Cloud> {
        match name {
            "public" => Some(Cloud::Public),
            "usgov" => Some(Cloud::UsGov),
            "china" => Some(Cloud::China),
            "custom" => Some(Cloud::Custom),
            _ => None,
        }
    }

    /// The well-known endpoints of a named cloud; `None` for `custom`.
    pub fn known_endpoints(self) -> Option<CloudEndpoints> {
        let (arm, login) = match self {
            Cloud::Public => (
                "https://management.azure.com",
                "https://login.microsoftonline.com",
            ),
            Cloud::UsGov => (
                "https://management.usgovcloudapi.net",
                "https://login.microsoftonline.us",
            ),
            Cloud::China => (
                "https://management.chinacloudapi.cn",
                "https://login.chinacloudapi.cn",
            ),
            Cloud::Custom => return None,
        };
        Some(CloudEndpoints {
            resource_manager_url: arm.to_owned(),
            authority_host: login.to_owned(),
            resource_manager_audience: arm.to_owned(),
        })
    }
}

/// Base URLs without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudEndpoints {
    pub resource_manager_url: String,
    pub authority_host: String,
    /// Token audience for ARM; the scope requested is `<audience>/.default`.
    pub resource_manager_audience: String,
}

/// The `[azure.credential]` table: how the service itself authenticates to ARM.
///
/// Only references to secrets are stored (file paths, systemd credential names), never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialSettings {
    ManagedIdentity {
        /// Selects a user-assigned identity of the host; the system-assigned one when absent.
        client_id: Option<String>,
    },
    WorkloadIdentity {
        tenant_id: String,
        client_id: String,
        /// Federated token file; `AZURE_FEDERATED_TOKEN_FILE` when absent.
        token_file: Option<PathBuf>,
    },
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: SecretSource,
    },
    ClientCertificate {
        tenant_id: String,
        client_id: String,
        certificate: SecretSource,
    },
    AzureCli,
}

impl Default for CredentialSettings {
    fn default() -> Self {
        CredentialSettings::ManagedIdentity { client_id: None }
    }
}

/// Where a secret is read from at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    File(PathBuf),
    /// Name of a systemd credential, read from `$CREDENTIALS_DIRECTORY/<name>`.
    SystemdCredential(String),
}
