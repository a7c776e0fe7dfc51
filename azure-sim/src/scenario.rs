//! The scenario file: what the simulated Azure contains and how it behaves.
//!
//! A scenario tells a story: which marketplace versions exist, which appear
//! later, what galleries hold, how long builds take, which builds fail and
//! which requests meet faults.

mod resources;
mod runs;

use std::path::Path;

use serde::Deserialize;

use super::SimError;
use super::faults::FaultRule;
pub use super::in_vm_validation::ValidationRule;
pub use super::provisioning::ProvisioningRule;
pub use resources::{
    GalleryFeature, GalleryImageDef, IdentityDef, ImageFeature, ManagedImageDef, MarketplaceSku,
    ResourceGroupDef, TimedPublication,
};
pub use runs::{BuildRule, Outcome, Phase};

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
    /// Provisioning failures injected into templates whose name matches.
    #[serde(default)]
    pub provisioning: Vec<ProvisioningRule>,
    /// Managed images that exist before anything runs (sources of templates).
    #[serde(default)]
    pub managed_images: Vec<ManagedImageDef>,
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
    /// Items per page of a paged list (gallery versions, run outputs,
    /// resources, locations); longer lists come with a `nextLink`.
    pub page_size: usize,
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
            page_size: 100,
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
    pub deletes: u32,
    pub deletes_per_sec: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            reads: 250,
            reads_per_sec: 25,
            writes: 200,
            writes_per_sec: 10,
            deletes: 200,
            deletes_per_sec: 10,
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
        if t.reads == 0 || t.writes == 0 || t.deletes == 0 {
            return Err(SimError::InvalidScenario(
                "throttle bucket sizes must be at least 1".to_owned(),
            ));
        }
        if self.settings.page_size == 0 {
            return Err(SimError::InvalidScenario(
                "settings.page_size: a page holds at least one item".to_owned(),
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
        for rule in &self.provisioning {
            if !super::provisioning::CODES.contains(&rule.code.as_str()) {
                return Err(SimError::InvalidScenario(format!(
                    "provisioning rule '{}': code '{}' is not one of the spec's ProvisioningErrorCode values ({})",
                    rule.pattern,
                    rule.code,
                    super::provisioning::CODES.join(", ")
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
