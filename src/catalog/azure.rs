//! Where and as whom the service talks to Azure.

use serde::Serialize;

use crate::azure::CloudEndpoints;

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
    #[serde(skip)]
    pub endpoints: CloudEndpoints,
    /// How long a failed build's template (and with it AIB's staging resource
    /// group, where its customization.log lives) stays in Azure.
    pub failed_template_retention: Retention,
}

/// How long something is kept before a later cycle deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// Deleted by the first cycle after this long; zero deletes at once.
    For(#[serde(serialize_with = "seconds")] chrono::Duration),
    /// Until someone deletes it (`keep_failed_templates = true`, for debugging:
    /// AIB also keeps the failed build VM).
    Forever,
}

impl Retention {
    /// A week: long enough that the log link still works the morning after a
    /// failure on a Friday night.
    pub const FAILED_TEMPLATES: Retention = Retention::For(chrono::Duration::days(7));

    /// Until when something finished at `at` is kept; `None` for ever.
    pub fn until(self, at: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Retention::For(keep) => Some(at + keep),
            Retention::Forever => None,
        }
    }

    /// Whether anything is kept at all.
    pub fn keeps(self) -> bool {
        self != Retention::For(chrono::Duration::zero())
    }
}

fn seconds<S: serde::Serializer>(d: &chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
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
        match self {
            Cloud::Public => Some(CloudEndpoints::public()),
            Cloud::UsGov => Some(CloudEndpoints::usgov()),
            Cloud::China => Some(CloudEndpoints::china()),
            Cloud::Custom => None,
        }
    }
}
