//! Renders the AIB `imageTemplates` body (api-version 2025-10-01) for one build.
//!
//! The body is a pure function of the catalog image, the exact source version and
//! the build id. That is what makes a crashed build safe to resume: PUTting the
//! same body to the same template name again is a no-op for AIB, while any other
//! body would be refused (templates are immutable).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::catalog::{
    AzureSettings, Distribute, GalleryTarget, Image, Retention, Script, Source, Step, Validation,
};

/// Tags AIB puts on every artifact, so a gallery version or managed image can be
/// traced back to the build record that produced it.
pub const TAG_IMAGE: &str = "image-refresh.image";
pub const TAG_BUILD_ID: &str = "image-refresh.build-id";
pub const TAG_RECIPE_HASH: &str = "image-refresh.recipe-hash";
pub const TAG_SOURCE_VERSION: &str = "image-refresh.source-version";

/// ARM's limit for image template and run output names.
const MAX_NAME_LEN: usize = 64;

/// Everything one build's template depends on.
#[derive(Debug, Clone, Copy)]
pub struct TemplateInput<'a> {
    pub image: &'a Image,
    pub azure: &'a AzureSettings,
    /// Exact version: a marketplace version ("22.04.202411010") or a gallery image
    /// version name ("1.2.3"). Never "latest": builds are pinned so they are
    /// reproducible and the history says what was built from what.
    pub source_version: &'a str,
    pub build_id: &'a str,
}

/// The template name for a build: readable in the portal, unique per build,
/// valid for ARM (`^[A-Za-z0-9-_.]{1,64}$`).
pub fn template_name(image: &str, build_id: &str) -> String {
    let short_id: String = build_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    let suffix = format!("-{short_id}");
    let prefix = "ir-";
    let room = MAX_NAME_LEN - prefix.len() - suffix.len();
    format!("{prefix}{}{suffix}", sanitize(image, room))
}

/// The run output name of the `index`-th distribute target.
pub fn run_output_name(image: &str, index: usize) -> String {
    let suffix = format!("-{}", index + 1);
    format!("{}{suffix}", sanitize(image, MAX_NAME_LEN - suffix.len()))
}

fn sanitize(name: &str, max_len: usize) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(max_len)
        .collect()
}

/// The full PUT body.
pub fn render(input: TemplateInput<'_>) -> Value {
    let TemplateInput { image, azure, .. } = input;
    let mut properties = Map::new();
    properties.insert("source".into(), source(input));
    properties.insert(
        "customize".into(),
        Value::Array(image.steps.iter().map(customizer).collect()),
    );
    if let Some(validate) = validate(&image.validation) {
        properties.insert("validate".into(), validate);
    }
    properties.insert(
        "distribute".into(),
        Value::Array(
            image
                .distribute
                .iter()
                .enumerate()
                .map(|(index, target)| distributor(input, index, target))
                .collect(),
        ),
    );
    let mut vm_profile = json!({ "vmSize": image.vm_size, "osDiskSizeGB": image.os_disk_size_gb });
    if let Some(network) = &azure.network {
        let mut vnet = json!({ "subnetId": network.subnet_id });
        if let Some(instances) = &network.container_instance_subnet_id {
            vnet["containerInstanceSubnetId"] = json!(instances);
        }
        vm_profile["vnetConfig"] = vnet;
    }
    properties.insert("vmProfile".into(), vm_profile);
    properties.insert(
        "buildTimeoutInMinutes".into(),
        json!(image.build_timeout_minutes),
    );
    if let Some(staging) = &input.image.staging_resource_group {
        properties.insert("stagingResourceGroup".into(), json!(staging));
    }
    // Keeping a failed template is for debugging, so keep its build VM too.
    let on_error = if azure.failed_template_retention == Retention::Forever {
        "abort"
    } else {
        "cleanup"
    };
    properties.insert(
        "errorHandling".into(),
        json!({ "onCustomizerError": on_error, "onValidationError": on_error }),
    );

    json!({
        "location": input.image.location,
        "tags": artifact_tags(input),
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": { azure.identity.clone(): {} }
        },
        "properties": properties,
    })
}

fn artifact_tags(input: TemplateInput<'_>) -> BTreeMap<String, String> {
    let mut tags = input.image.tags.clone();
    tags.insert(TAG_IMAGE.into(), input.image.name.clone());
    tags.insert(TAG_BUILD_ID.into(), input.build_id.into());
    tags.insert(TAG_RECIPE_HASH.into(), input.image.recipe_hash.hex().into());
    tags.insert(TAG_SOURCE_VERSION.into(), input.source_version.into());
    tags
}

fn source(input: TemplateInput<'_>) -> Value {
    match &input.image.source {
        Source::Marketplace(m) => {
            let mut body = json!({
                "type": "PlatformImage",
                "publisher": m.publisher,
                "offer": m.offer,
                "sku": m.sku,
                "version": input.source_version,
            });
            if let Some(plan) = &m.plan {
                body["planInfo"] = json!({
                    "planName": plan.name,
                    "planProduct": plan.product,
                    "planPublisher": plan.publisher,
                });
            }
            body
        }
        Source::Gallery(g) => json!({
            "type": "SharedImageVersion",
            "imageVersionId": format!("{}/versions/{}", g.image_id, input.source_version),
        }),
        Source::ManagedImage(m) => json!({ "type": "ManagedImage", "imageId": m.image_id }),
    }
}

fn customizer(step: &Step) -> Value {
    let mut body = match step {
        Step::Shell(s) => script(json!({ "type": "Shell" }), &s.script),
        Step::PowerShell(s) => {
            let mut body = script(json!({ "type": "PowerShell" }), &s.script);
            body["runElevated"] = json!(s.run_elevated);
            body["runAsSystem"] = json!(s.run_as_system);
            if !s.valid_exit_codes.is_empty() {
                body["validExitCodes"] = json!(s.valid_exit_codes);
            }
            body
        }
        Step::File(s) => json!({
            "type": "File",
            "sourceUri": s.source_uri,
            "destination": s.destination,
            "sha256Checksum": s.sha256_checksum,
        }),
        Step::WindowsRestart(s) => {
            let mut body = json!({ "type": "WindowsRestart" });
            insert_some(&mut body, "restartCommand", &s.restart_command);
            insert_some(&mut body, "restartCheckCommand", &s.restart_check_command);
            insert_some(&mut body, "restartTimeout", &s.restart_timeout);
            body
        }
        Step::WindowsUpdate(s) => {
            let mut body = json!({ "type": "WindowsUpdate" });
            insert_some(&mut body, "searchCriteria", &s.search_criteria);
            if !s.filters.is_empty() {
                body["filters"] = json!(s.filters);
            }
            if let Some(limit) = s.update_limit {
                body["updateLimit"] = json!(limit);
            }
            body
        }
    };
    if let Some(name) = step.name() {
        body["name"] = json!(name);
    }
    body
}

/// The `validate` section; absent without validators, as AIB's default is.
/// Validators have the customizers' shape (Shell, PowerShell, File).
fn validate(validation: &Validation) -> Option<Value> {
    if validation.validators.is_empty() {
        return None;
    }
    Some(json!({
        "continueDistributeOnFailure": validation.continue_distribute_on_failure,
        "sourceValidationOnly": validation.source_validation_only,
        "inVMValidations": validation.validators.iter().map(customizer).collect::<Vec<_>>(),
    }))
}

fn script(mut body: Value, script: &Script) -> Value {
    match script {
        Script::Inline(lines) => body["inline"] = json!(lines),
        Script::Uri {
            uri,
            sha256_checksum,
        } => {
            body["scriptUri"] = json!(uri);
            body["sha256Checksum"] = json!(sha256_checksum);
        }
    }
    body
}

fn insert_some(body: &mut Value, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        body[key] = json!(value);
    }
}

fn distributor(input: TemplateInput<'_>, index: usize, target: &Distribute) -> Value {
    let mut body = match target {
        Distribute::Gallery(g) => gallery(g),
        Distribute::ManagedImage(m) => json!({
            "type": "ManagedImage",
            "imageId": m.image_id,
            "location": m.location,
        }),
        Distribute::Vhd => json!({ "type": "VHD" }),
    };
    body["runOutputName"] = json!(run_output_name(&input.image.name, index));
    body["artifactTags"] = json!(artifact_tags(input));
    body
}

fn gallery(target: &GalleryTarget) -> Value {
    let regions: Vec<Value> = target
        .regions
        .iter()
        .map(|region| {
            json!({
                "name": region.name,
                "replicaCount": region.replicas,
                "storageAccountType": target.storage_account_type.as_str(),
            })
        })
        .collect();
    json!({
        "type": "SharedImage",
        "galleryImageId": target.image_id,
        "targetRegions": regions,
        // A staged version waits outside latest until it is promoted.
        "excludeFromLatest": target.exclude_from_latest || target.promotion.is_staged(),
    })
}
