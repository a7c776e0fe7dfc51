//! What AIB checks while it provisions a template, after the schema check of
//! the PUT: the source exists, every script step names exactly one script,
//! the staging group is usable; and the failures a scenario injects. A
//! refused template ends in `provisioningState: Failed` with
//! `provisioningError {provisioningErrorCode, message}`, codes from the
//! 2025-10-01 spec's `ProvisioningErrorCode` enum.

use serde::Deserialize;
use serde_json::Value;

use super::marketplace;
use super::scenario::wildcard_match;
use super::state::World;

/// The spec's `ProvisioningErrorCode` values.
pub(crate) const CODES: [&str; 15] = [
    "BadSourceType",
    "BadPIRSource",
    "BadManagedImageSource",
    "BadSharedImageVersionSource",
    "BadCustomizerType",
    "UnsupportedCustomizerType",
    "NoCustomizerScript",
    "BadValidatorType",
    "UnsupportedValidatorType",
    "NoValidatorScript",
    "BadDistributeType",
    "BadSharedImageDistribute",
    "BadStagingResourceGroup",
    "ServerError",
    "Other",
];

/// `properties.provisioningError`: why AIB refused the template.
#[derive(Debug, Clone)]
pub(crate) struct ProvisioningError {
    pub code: String,
    pub message: String,
}

impl ProvisioningError {
    fn new(code: &str, message: String) -> Self {
        Self {
            code: code.to_owned(),
            message,
        }
    }
}

/// A scenario's injected provisioning failure for templates matching `match`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningRule {
    #[serde(rename = "match")]
    pub pattern: String,
    /// One of the spec's `ProvisioningErrorCode` values.
    pub code: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// An injected failure first, then AIB's own checks against the world as it is now.
pub(crate) fn check(
    world: &World,
    name: &str,
    location: &str,
    request: &Value,
) -> Result<(), ProvisioningError> {
    if let Some(rule) = world
        .provisioning_rules
        .iter()
        .find(|r| wildcard_match(&r.pattern, name))
    {
        let message = rule
            .message
            .clone()
            .unwrap_or_else(|| format!("The image template failed to provision ({}).", rule.code));
        return Err(ProvisioningError::new(&rule.code, message));
    }
    let props = &request["properties"];
    source(world, location, &props["source"])?;
    for step in props["customize"].as_array().into_iter().flatten() {
        script(step, "customizer", "NoCustomizerScript")?;
    }
    let validations = props["validate"]["inVMValidations"].as_array();
    for step in validations.into_iter().flatten() {
        script(step, "validator", "NoValidatorScript")?;
    }
    Ok(())
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_default()
}

fn source(world: &World, location: &str, source: &Value) -> Result<(), ProvisioningError> {
    match text(source, "type") {
        "PlatformImage" => {
            let (publisher, offer, sku) = (
                text(source, "publisher"),
                text(source, "offer"),
                text(source, "sku"),
            );
            let version = text(source, "version");
            let urn = format!("{publisher}:{offer}:{sku}:{version}");
            let found = world
                .marketplace
                .get(&marketplace::key(location, publisher, offer, sku))
                .is_some_and(|s| {
                    version.eq_ignore_ascii_case("latest") && !s.versions.is_empty()
                        || s.versions.iter().any(|v| v.eq_ignore_ascii_case(version))
                });
            if found {
                return Ok(());
            }
            Err(ProvisioningError::new(
                "BadPIRSource",
                format!(
                    "The platform image '{urn}' could not be found in location '{location}': the publisher, offer, sku and version must name a published Marketplace image (az vm image list --all --location {location} --publisher {publisher} --offer {offer} --sku {sku})."
                ),
            ))
        }
        "ManagedImage" => {
            let id = text(source, "imageId");
            if world.managed_images.contains_key(&id.to_ascii_lowercase()) {
                return Ok(());
            }
            Err(ProvisioningError::new(
                "BadManagedImageSource",
                format!("The managed image '{id}' in source.imageId could not be found."),
            ))
        }
        "SharedImageVersion" => {
            let id = text(source, "imageVersionId");
            let lower = id.to_ascii_lowercase();
            // An image definition id means its latest version where AIB builds,
            // as Azure resolves it: excluded versions do not count.
            let found = if lower.contains("/versions/") {
                world.gallery_versions.contains_key(&lower)
            } else {
                world.gallery_images.contains_key(&lower)
                    && crate::gallery::latest_in(world, &lower, location).is_some()
            };
            if found {
                return Ok(());
            }
            Err(ProvisioningError::new(
                "BadSharedImageVersionSource",
                format!(
                    "The Azure Compute Gallery image version '{id}' in source.imageVersionId could not be found."
                ),
            ))
        }
        other => Err(ProvisioningError::new(
            "BadSourceType",
            format!("The source type '{other}' is not supported."),
        )),
    }
}

/// Shell and PowerShell steps run exactly one of `scriptUri` and `inline`;
/// a File step needs what it uploads.
fn script(step: &Value, what: &str, code: &str) -> Result<(), ProvisioningError> {
    let name = text(step, "name");
    let kind = text(step, "type");
    match kind {
        "Shell" | "PowerShell" => {
            let uri = !text(step, "scriptUri").trim().is_empty();
            let inline = step["inline"].as_array().is_some_and(|a| !a.is_empty());
            if uri == inline {
                let why = if uri {
                    "both scriptUri and inline are set"
                } else {
                    "neither scriptUri nor inline is set"
                };
                return Err(ProvisioningError::new(
                    code,
                    format!(
                        "The {kind} {what} '{name}' must have exactly one of scriptUri and inline: {why}."
                    ),
                ));
            }
        }
        "File" if text(step, "sourceUri").trim().is_empty() => {
            return Err(ProvisioningError::new(
                code,
                format!("The File {what} '{name}' has no sourceUri."),
            ));
        }
        _ => {}
    }
    Ok(())
}
