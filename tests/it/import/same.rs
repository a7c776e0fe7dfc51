//! "Equivalent" for a round trip: an original AIB template and the body
//! `template` renders for its imported image, each reduced to what means the
//! same thing. Only the differences the README documents are normalised away:
//! run output names, the daemon's `image-refresh.*` tags, tags merged into one
//! set, defaults spelled out (`runElevated = false`, one replica, Standard_LRS,
//! the catalog's `vm_size` where the template has none),
//! and a pinned version followed (the round trip renders the pinned one).

use image_refresh::catalog;
use serde_json::{Map, Value, json};

/// A template (its top level) or a rendered body, reduced. The caller first
/// removes from an original what the import reported as not imported.
pub fn reduce(top: &Value) -> Value {
    let properties = &top["properties"];
    let steps = each(&properties["customize"], step);
    let targets = each(&properties["distribute"], target);
    reduced(top, steps, targets)
}

fn each(list: &Value, reduce: fn(&Value) -> Value) -> Vec<Value> {
    list.as_array()
        .map(|items| items.iter().map(reduce).collect())
        .unwrap_or_default()
}

fn reduced(top: &Value, steps: Vec<Value>, targets: Vec<Value>) -> Value {
    let properties = &top["properties"];
    let profile = &properties["vmProfile"];
    let timeout = match properties["buildTimeoutInMinutes"].as_u64() {
        None | Some(0) => 240,
        Some(minutes) => minutes,
    };
    json!({
        "location": top["location"],
        "source": source(&properties["source"]),
        "customize": steps,
        "distribute": targets,
        // The catalog's default when the template has none (a documented change).
        "vmSize": profile["vmSize"].as_str().unwrap_or(catalog::Defaults::VM_SIZE),
        "osDiskSizeGB": profile["osDiskSizeGB"].as_u64().unwrap_or(0),
        "subnetId": profile["vnetConfig"]["subnetId"],
        "buildTimeoutInMinutes": timeout,
        "stagingResourceGroup": properties["stagingResourceGroup"],
        "tags": tags(top),
        "validate": validate(&properties["validate"]),
    })
}

/// Validators like steps; the switches default to false, and without a
/// validator there is no `validate` section at all, as the build renders it.
fn validate(validate: &Value) -> Value {
    let validators = each(&validate["inVMValidations"], step);
    if validators.is_empty() {
        return Value::Null;
    }
    json!({
        "inVMValidations": validators,
        "continueDistributeOnFailure": validate["continueDistributeOnFailure"].as_bool().unwrap_or(false),
        "sourceValidationOnly": validate["sourceValidationOnly"].as_bool().unwrap_or(false),
    })
}

fn source(source: &Value) -> Value {
    without(source, &["exactVersion"])
}

fn step(step: &Value) -> Value {
    let mut step = without(step, &[]);
    if step["type"] == "PowerShell" {
        for key in ["runElevated", "runAsSystem"] {
            if step.get(key).is_none() {
                step[key] = json!(false);
            }
        }
    }
    if let Some(sum) = step.get("sha256Checksum").and_then(Value::as_str) {
        step["sha256Checksum"] = json!(sum.to_ascii_lowercase());
    }
    step
}

fn target(target: &Value) -> Value {
    let mut target = without(target, &["runOutputName", "artifactTags"]);
    if target["type"] == "SharedImage" {
        let storage = target
            .get("storageAccountType")
            .cloned()
            .unwrap_or_else(|| json!("Standard_LRS"));
        let mut regions: Vec<Value> = Vec::new();
        if let Some(names) = target["replicationRegions"].as_array() {
            regions.extend(names.iter().map(
                |name| json!({ "name": name, "replicaCount": 1, "storageAccountType": storage }),
            ));
        }
        if let Some(list) = target["targetRegions"].as_array() {
            regions.extend(list.iter().map(|r| {
                json!({
                    "name": r["name"],
                    "replicaCount": r["replicaCount"].as_u64().unwrap_or(1),
                    "storageAccountType": r.get("storageAccountType").unwrap_or(&storage),
                })
            }));
        }
        target = without(
            &target,
            &["replicationRegions", "storageAccountType", "targetRegions"],
        );
        target["targetRegions"] = Value::from(regions);
        if target.get("excludeFromLatest").is_none() {
            target["excludeFromLatest"] = json!(false);
        }
    }
    target
}

/// The template's tags and every artifact's, without the daemon's own.
fn tags(top: &Value) -> Value {
    let mut tags = Map::new();
    let artifacts = top["properties"]["distribute"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| &t["artifactTags"]);
    for set in std::iter::once(&top["tags"]).chain(artifacts) {
        for (key, value) in set.as_object().into_iter().flatten() {
            if !key.starts_with("image-refresh.") {
                tags.entry(key.clone()).or_insert(value.clone());
            }
        }
    }
    Value::Object(tags)
}

fn without(value: &Value, keys: &[&str]) -> Value {
    let mut object = value.as_object().cloned().unwrap_or_default();
    // An empty name is no name: the import leaves it out.
    let dropped = |k: &String, v: &Value| keys.contains(&k.as_str()) || (k == "name" && v == "");
    object.retain(|k, v| !dropped(k, v));
    Value::Object(object)
}
