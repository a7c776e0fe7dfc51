//! The catalog exactly as written, with a span on everything that is checked later.
//!
//! Serde only checks the shape here (syntax, unknown keys, wrong value types); toml reports
//! those one at a time, which is acceptable because they are rare and quick to fix. Everything
//! semantic is checked in `validate` so that all such problems are reported together. That is
//! why nearly every field is optional (a missing required field is a semantic problem with a
//! span) and why there are no internally tagged or untagged enums (they discard spans and
//! replace helpful messages with "data did not match any variant").

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;
pub(super) type Str = Option<S<String>>;
pub(super) type Int = Option<S<i64>>;
pub(super) type Bool = Option<S<bool>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalog {
    pub azure: Option<S<RawAzure>>,
    pub store: Option<RawStore>,
    pub schedule: Option<S<RawSchedule>>,
    pub defaults: Option<RawDefaults>,
    pub service: Option<RawService>,
    #[serde(default)]
    pub recipes: BTreeMap<S<String>, S<RawRecipe>>,
    #[serde(default)]
    pub images: Vec<S<RawImage>>,
    #[serde(default)]
    pub notify: Vec<S<RawNotify>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub name: Str,
    pub kind: Str,
    pub url_file: Str,
    pub credential: Str,
    pub secret_file: Str,
    pub events: Option<Vec<S<String>>>,
    pub images: Option<Vec<S<String>>>,
    pub give_up_after: Str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAzure {
    pub subscription_id: Str,
    pub resource_group: Str,
    pub location: Str,
    pub identity: Str,
    pub staging_resource_group: Str,
    pub subnet_id: Str,
    pub container_instance_subnet_id: Str,
    pub cloud: Str,
    pub resource_manager_url: Str,
    pub authority_host: Str,
    pub resource_manager_audience: Str,
    pub blob_url: Str,
    pub keep_failed_templates: Option<S<bool>>,
    pub failed_template_retention: Str,
    pub credential: Option<S<RawCredential>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    pub kind: Str,
    pub tenant_id: Str,
    pub client_id: Str,
    pub token_file: Str,
    pub secret_file: Str,
    pub certificate_file: Str,
    pub credential: Str,
    // Accepted only so that they can be rejected with a precise hint; the values are never kept.
    pub secret: Option<S<Discarded>>,
    pub client_secret: Option<S<Discarded>>,
    pub password: Option<S<Discarded>>,
}

/// Parts of key names whose values are blanked in diagnostics: secrets, and URLs,
/// which often carry one (a SAS token, a webhook's key).
pub(super) const SECRET_KEY_PARTS: &[&str] = &[
    "secret", "password", "token", "key", "sas", "url", "webhook",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub database: Str,
    pub keep_checks_days: Int,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub cron: Str,
    pub timezone: Str,
    pub jitter: Str,
    pub allow_frequent: Option<S<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub vm_size: Str,
    pub os_disk_size_gb: Int,
    pub build_timeout_minutes: Int,
    pub max_age_days: Int,
    pub min_base_age: Str,
    pub tags: Option<BTreeMap<String, S<String>>>,
    pub build_window: Option<S<RawBuildWindow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub max_concurrent_builds: Int,
    pub disable_after_failures: Int,
    pub metrics_listen: Str,
    pub metrics_allow_remote: Bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecipe {
    pub description: Option<String>,
    #[serde(default)]
    pub steps: Vec<S<RawStep>>,
    /// In-VM validators: steps of the shell, powershell and file types.
    #[serde(default)]
    pub validate: Vec<S<RawStep>>,
}

/// One customization step with the fields of every step type; `validate` rejects fields that
/// do not belong to the step's `type`, naming the type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub r#type: Str,
    pub name: Str,
    pub inline: Option<S<Vec<String>>>,
    pub script_uri: Str,
    pub sha256_checksum: Str,
    pub run_elevated: Bool,
    pub run_as_system: Bool,
    pub valid_exit_codes: Option<S<Vec<S<i64>>>>,
    pub source_uri: Str,
    pub destination: Str,
    pub restart_command: Str,
    pub restart_check_command: Str,
    pub restart_timeout: Str,
    pub search_criteria: Str,
    pub filters: Option<S<Vec<String>>>,
    pub update_limit: Int,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImage {
    pub name: Str,
    pub enabled: Option<bool>,
    pub recipes: Option<Vec<S<String>>>,
    #[serde(default)]
    pub steps: Vec<S<RawStep>>,
    pub source: Option<S<RawSource>>,
    #[serde(default)]
    pub distribute: Vec<S<RawDistribute>>,
    pub schedule: Option<S<RawSchedule>>,
    pub max_age_days: Int,
    pub min_base_age: Str,
    pub vm_size: Str,
    pub os_disk_size_gb: Int,
    pub build_timeout_minutes: Int,
    pub staging_resource_group: Str,
    pub tags: Option<BTreeMap<String, S<String>>>,
    #[serde(default)]
    pub validate: Vec<S<RawStep>>,
    pub continue_distribute_on_failure: Bool,
    pub source_validation_only: Bool,
    pub build_window: Option<S<RawBuildWindow>>,
}

/// `build_window = { cron = "0 22 * * FRI", duration = "8h", timezone = "UTC" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuildWindow {
    pub cron: Str,
    pub duration: Str,
    pub timezone: Str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub r#type: Str,
    pub publisher: Str,
    pub offer: Str,
    pub sku: Str,
    pub version: Str,
    pub plan: Option<S<RawPlan>>,
    pub image_id: Str,
    pub location: Str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlan {
    pub name: Str,
    pub product: Str,
    pub publisher: Str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDistribute {
    pub r#type: Str,
    pub image_id: Str,
    pub location: Str,
    pub regions: Option<S<Vec<S<RawRegion>>>>,
    pub storage_account_type: Str,
    pub exclude_from_latest: Bool,
    pub versions_to_keep: Int,
    pub end_of_life_after: Str,
    pub promotion: Str,
    pub rings: Option<S<Vec<S<RawRing>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRing {
    pub regions: Option<S<Vec<S<String>>>>,
    pub after: Str,
}

/// A gallery target region: either `"westeurope"` or `{ name = "westeurope", replicas = 2 }`.
pub(super) struct RawRegion {
    pub name: Option<String>,
    pub replicas: Option<i64>,
}

impl<'de> Deserialize<'de> for RawRegion {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RegionVisitor)
    }
}

struct RegionVisitor;

impl<'de> Visitor<'de> for RegionVisitor {
    type Value = RawRegion;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a region name or a table { name = \"…\", replicas = N }")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<RawRegion, E> {
        Ok(RawRegion {
            name: Some(name.to_owned()),
            replicas: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRegion, A::Error> {
        let mut region = RawRegion {
            name: None,
            replicas: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => region.name = Some(map.next_value()?),
                "replicas" => region.replicas = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, &["name", "replicas"])),
            }
        }
        Ok(region)
    }
}

/// Any value, thrown away on arrival so that it cannot leak through `Debug` or an error.
pub(super) struct Discarded;

impl<'de> Deserialize<'de> for Discarded {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Discarded)
    }
}
