//! The scenario file: what the simulated Azure contains and how it behaves.
//!
//! A scenario tells a story: which marketplace versions exist, which appear
//! later, what galleries hold, how long builds take, which builds fail and
//! which requests meet faults.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::SimError;
use super::faults::FaultRule;
pub use super::in_vm_validation::ValidationRule;

/// Subscription used for scenario resources that do not name one.
pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000a2b1";
/// Tenant whose Entra endpoint the simulator serves unless the scenario names one.
pub const DEFAULT_TENANT: &str = "72f988bf-0000-4000-8000-00000000cafe";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub throttle: ThrottleSettings,
    #[serde(default)]
    pub build: BuildTimings,
    #[serde(default)]
    pub marketplace: Vec<MarketplaceSku>,
    #[serde(default)]
    pub publish: Vec<TimedPublication>,
    #[serde(default)]
    pub galleries: Vec<GalleryImageDef>,
    #[serde(default)]
    pub resource_groups: Vec<ResourceGroupDef>,
    #[serde(default)]
    pub identities: Vec<IdentityDef>,
    #[serde(default)]
    pub builds: Vec<BuildRule>,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// Validators that fail (AIB's validation phase).
    #[serde(default)]
    pub validations: Vec<ValidationRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub subscription_id: String,
    pub tenant_id: String,
    /// The audience ARM accepts tokens for.
    pub arm_audience: String,
    pub token_lifetime_secs: u64,
    /// Service principal the Entra endpoint accepts.
    pub client_id: String,
    pub client_secret: String,
    /// `Retry-After` on long-running operations still in progress.
    pub operation_retry_after_secs: u64,
    /// Regions `Subscriptions_ListLocations` offers (names from the simulator's
    /// table of public-cloud regions); every region of that table when absent.
    pub locations: Vec<String>,
    /// Resource provider namespaces the subscription has not registered.
    pub unregistered_providers: Vec<String>,
    /// Whether the caller may read blobs (the staging accounts' build logs);
    /// false answers as Storage does to a token without a data role.
    pub blob_read_allowed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            subscription_id: DEFAULT_SUBSCRIPTION.to_owned(),
            tenant_id: DEFAULT_TENANT.to_owned(),
            arm_audience: "https://management.azure.com".to_owned(),
            token_lifetime_secs: 3600,
            client_id: "11111111-2222-4333-8444-555555555555".to_owned(),
            client_secret: "simulated-client-secret".to_owned(),
            operation_retry_after_secs: 5,
            locations: super::regions::all_names(),
            unregistered_providers: Vec::new(),
            blob_read_allowed: true,
        }
    }
}

/// ARM's per-subscription token buckets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    pub reads: u32,
    pub reads_per_sec: u32,
    pub writes: u32,
    pub writes_per_sec: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            reads: 250,
            reads_per_sec: 25,
            writes: 200,
            writes_per_sec: 10,
        }
    }
}

/// Simulated seconds spent in each phase of an image template's life.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildTimings {
    /// PUT and DELETE of a template stay in progress this long.
    pub provision_secs: u64,
    pub queued_secs: u64,
    pub building_secs: u64,
    pub customizing_secs: u64,
    pub validating_secs: u64,
    pub distributing_secs: u64,
}

impl Default for BuildTimings {
    fn default() -> Self {
        Self {
            provision_secs: 2,
            queued_secs: 3,
            building_secs: 5,
            customizing_secs: 10,
            validating_secs: 5,
            distributing_secs: 5,
        }
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    PartiallySucceeded,
    Failed,
}

/// Sub-states of a run, in the order AIB moves through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Building,
    Customizing,
    Validating,
    Distributing,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Queued,
        Phase::Building,
        Phase::Customizing,
        Phase::Validating,
        Phase::Distributing,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            Phase::Queued => "Queued",
            Phase::Building => "Building",
            Phase::Customizing => "Customizing",
            Phase::Validating => "Validating",
            Phase::Distributing => "Distributing",
        }
    }

    pub fn secs(self, t: &BuildTimings) -> u64 {
        match self {
            Phase::Queued => t.queued_secs,
            Phase::Building => t.building_secs,
            Phase::Customizing => t.customizing_secs,
            Phase::Validating => t.validating_secs,
            Phase::Distributing => t.distributing_secs,
        }
    }
}

/// How runs of templates whose name matches `match` (`*` wildcards) end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRule {
    #[serde(rename = "match")]
    pub pattern: String,
    pub outcome: Outcome,
    /// Where a failed run stops; customizing when not given.
    pub fail_in: Option<Phase>,
    /// Extra simulated seconds added to the customizing phase (a slow build).
    #[serde(default)]
    pub extra_secs: u64,
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

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadScenario {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    fn validate(&self) -> Result<(), SimError> {
        let t = &self.throttle;
        if t.reads == 0 || t.writes == 0 {
            return Err(SimError::InvalidScenario(
                "throttle bucket sizes must be at least 1".to_owned(),
            ));
        }
        for rule in &self.builds {
            if rule.fail_in.is_some() && rule.outcome != Outcome::Failed {
                return Err(SimError::InvalidScenario(format!(
                    "build rule '{}': fail_in only applies to outcome = \"failed\"",
                    rule.pattern
                )));
            }
        }
        super::validate::resources(self).map_err(SimError::InvalidScenario)
    }
}

/// Glob match with `*` only, case-insensitive like ARM resource names.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("win-*", "Win-2022"));
        assert!(wildcard_match("*-gen2-*", "ubuntu-gen2-x"));
        assert!(!wildcard_match("win-*", "ubuntu"));
        assert!(wildcard_match("exact", "EXACT"));
        assert!(!wildcard_match("a*a", "a"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = Scenario::from_toml("[settings]\nbogus = 1\n").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
