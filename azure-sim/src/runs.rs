//! A build run's progression through AIB's sub-states on tokio time, and the
//! artifacts (managed images, gallery versions) a finished run leaves behind.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::error::ArmError;
use super::gallery::{self, GalleryVersion, ManagedImage, TargetRegion};
use super::marketplace::{self, compare_versions};
use super::operations::{self, OpStatus};
use super::scenario::{BuildTimings, Outcome, Phase, wildcard_match};
use super::state::{State, World};
use super::templates::RunOutput;

/// Simulated seconds a cancellation takes to settle.
const CANCEL_SECS: u64 = 5;

pub(crate) struct RunPlan {
    outcome: Outcome,
    fail_in: Phase,
    extra_secs: u64,
    timings: BuildTimings,
}

/// Picks the outcome of a new run: queued control-call outcomes first, then
/// the first scenario rule matching the template name, else success.
pub(crate) fn plan_for(world: &mut World, name: &str) -> RunPlan {
    let rule = world.queued_outcomes.pop_front().or_else(|| {
        world
            .build_rules
            .iter()
            .find(|r| wildcard_match(&r.pattern, name))
            .cloned()
    });
    RunPlan {
        outcome: rule.as_ref().map_or(Outcome::Succeeded, |r| r.outcome),
        fail_in: rule
            .as_ref()
            .and_then(|r| r.fail_in)
            .unwrap_or(Phase::Customizing),
        extra_secs: rule.map_or(0, |r| r.extra_secs),
        timings: world.timings.clone(),
    }
}

/// Moves the run to `phase`; false when the run is gone or no longer running.
fn enter(state: &State, key: &str, phase: Phase) -> bool {
    let mut world = state.world();
    let Some(t) = world.templates.get_mut(key) else {
        return false;
    };
    match t.last_run.as_mut() {
        Some(run) if run.state == "Running" => {
            run.sub_state = Some(phase.wire_name());
            true
        }
        _ => false,
    }
}

pub(crate) async fn drive(state: Arc<State>, key: String, plan: RunPlan) {
    resolve_source_version(&state, &key);
    for phase in Phase::ALL {
        if !enter(&state, &key, phase) {
            return;
        }
        let mut secs = phase.secs(&plan.timings);
        if phase == Phase::Customizing {
            secs += plan.extra_secs;
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        if plan.outcome == Outcome::Failed && plan.fail_in == phase {
            let message = failure_message(&state, &key, phase);
            end_run(&state, &key, "Failed", message);
            return;
        }
    }
    let mut world = state.world();
    match distribute(&state, &mut world, &key, plan.outcome) {
        Ok(()) => {
            let (run_state, message) = match plan.outcome {
                Outcome::PartiallySucceeded => (
                    "PartiallySucceeded",
                    "The image build succeeded but distribution to some targets failed; see the run outputs for what was created.".to_owned(),
                ),
                _ => ("Succeeded", String::new()),
            };
            drop(world);
            end_run(&state, &key, run_state, message);
        }
        Err(message) => {
            drop(world);
            end_run(&state, &key, "Failed", message);
        }
    }
}

fn resolve_source_version(state: &State, key: &str) {
    let mut world = state.world();
    let Some(t) = world.templates.get(key) else {
        return;
    };
    let source = &t.request["properties"]["source"];
    if source["type"] != "PlatformImage" {
        return;
    }
    let field = |name: &str| source[name].as_str().unwrap_or_default().to_owned();
    let version = field("version");
    let exact = if version.eq_ignore_ascii_case("latest") {
        let k = marketplace::key(
            &t.location,
            &field("publisher"),
            &field("offer"),
            &field("sku"),
        );
        world
            .marketplace
            .get(&k)
            .and_then(|s| s.versions.last().cloned())
            .unwrap_or(version)
    } else {
        version
    };
    if let Some(t) = world.templates.get_mut(key) {
        t.exact_version = Some(exact);
    }
}

fn end_run(state: &State, key: &str, run_state: &'static str, message: String) {
    let now = state.now();
    let mut world = state.world();
    let Some(t) = world.templates.get_mut(key) else {
        return;
    };
    let op = t.run_op.take();
    t.run_task = None;
    if let Some(run) = t.last_run.as_mut() {
        run.state = run_state;
        run.end = Some(now);
        run.message = message.clone();
    }
    if let Some(op) = op {
        let (status, error) = match run_state {
            "Failed" => (
                OpStatus::Failed,
                Some(ArmError::bad_request("BuildFailed", message)),
            ),
            "Canceled" => (
                OpStatus::Canceled,
                Some(ArmError::bad_request("Canceled", "The build was canceled.")),
            ),
            _ => (OpStatus::Succeeded, None),
        };
        operations::finish(state, &mut world, &op, status, error);
    }
}

pub(crate) async fn finish_cancel(state: Arc<State>, key: String, cancel_op: String) {
    tokio::time::sleep(Duration::from_secs(CANCEL_SECS)).await;
    end_run(
        &state,
        &key,
        "Canceled",
        "The build was canceled by the user.".to_owned(),
    );
    let mut world = state.world();
    operations::finish(&state, &mut world, &cancel_op, OpStatus::Succeeded, None);
}

/// AIB's message for a failed build: it points at customization.log in the
/// staging storage account.
fn failure_message(state: &State, key: &str, phase: Phase) -> String {
    let world = state.world();
    let op = world
        .templates
        .get(key)
        .and_then(|t| t.run_op.clone())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let account: String = op
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    let log = format!(
        "https://{account}.blob.core.windows.net/packerlogs/{}/customization.log",
        uuid::Uuid::new_v4()
    );
    let what = match phase {
        Phase::Validating => "A validation step failed.",
        Phase::Distributing => "Distribution of the image failed.",
        _ => "A customizer step failed.",
    };
    format!(
        "Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: Packer build command has failed: exit status 1. {what} During the image build, a failure has occurred, please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts. Image Build log location: {log}. OperationId: {op}. Use this operation ID when contacting support."
    )
}

/// Creates the artifacts of a finished run and records the run outputs.
fn distribute(state: &State, world: &mut World, key: &str, outcome: Outcome) -> Result<(), String> {
    let Some(t) = world.templates.get(key) else {
        return Ok(());
    };
    let request = t.request.clone();
    let template_location = t.location.clone();
    let exact = t.exact_version.clone().unwrap_or_default();
    let distributors = request["properties"]["distribute"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // A partial success leaves the last target without an artifact.
    let skip_last = outcome == Outcome::PartiallySucceeded && distributors.len() > 1;
    let (os, generation) = source_traits(world, &request, &template_location);
    let mut outputs = Vec::new();
    for (i, d) in distributors.iter().enumerate() {
        if skip_last && i + 1 == distributors.len() {
            continue;
        }
        let name = d["runOutputName"].as_str().unwrap_or_default().to_owned();
        let output = match d["type"].as_str() {
            Some("ManagedImage") => {
                let id = d["imageId"].as_str().unwrap_or_default().to_owned();
                world.managed_images.insert(
                    id.to_ascii_lowercase(),
                    ManagedImage {
                        name: id.rsplit('/').next().unwrap_or_default().to_owned(),
                        id: id.clone(),
                        location: d["location"]
                            .as_str()
                            .unwrap_or(&template_location)
                            .to_owned(),
                        os: os.clone(),
                        hyper_v_generation: generation.clone(),
                    },
                );
                RunOutput {
                    name,
                    artifact_id: Some(id),
                    artifact_uri: None,
                }
            }
            Some("SharedImage") => {
                let id = gallery_version(state, world, d, &template_location, &exact)?;
                RunOutput {
                    name,
                    artifact_id: Some(id),
                    artifact_uri: None,
                }
            }
            _ => RunOutput {
                artifact_uri: Some(format!(
                    "https://imagebuilderstaging.blob.core.windows.net/vhds/{name}-{}.vhd",
                    uuid::Uuid::new_v4().simple()
                )),
                name,
                artifact_id: None,
            },
        };
        outputs.push(output);
    }
    if let Some(t) = world.templates.get_mut(key) {
        t.outputs = outputs;
    }
    Ok(())
}

fn source_traits(world: &World, request: &Value, location: &str) -> (String, String) {
    let source = &request["properties"]["source"];
    let field = |name: &str| source[name].as_str().unwrap_or_default();
    let k = marketplace::key(location, field("publisher"), field("offer"), field("sku"));
    match world.marketplace.get(&k) {
        Some(s) => (s.os.clone(), s.hyper_v_generation.clone()),
        None => ("Linux".to_owned(), "V2".to_owned()),
    }
}

fn gallery_version(
    state: &State,
    world: &mut World,
    d: &Value,
    template_location: &str,
    exact_source: &str,
) -> Result<String, String> {
    let requested = d["galleryImageId"].as_str().unwrap_or_default();
    let (image_id, explicit) = match requested.to_ascii_lowercase().find("/versions/") {
        Some(i) => (
            &requested[..i],
            Some(requested[i + "/versions/".len()..].to_owned()),
        ),
        None => (requested, None),
    };
    let Some(image) = world
        .gallery_images
        .get(&image_id.to_ascii_lowercase())
        .cloned()
    else {
        return Err(format!(
            "Distribution failed: the gallery image definition '{image_id}' was not found. Create the image definition before distributing to it."
        ));
    };
    let version = match explicit {
        Some(v) => v,
        None => next_version(world, image_id, &d["versioning"], exact_source),
    };
    let regions: Vec<TargetRegion> = match d["targetRegions"].as_array() {
        Some(list) => list
            .iter()
            .map(|r| TargetRegion {
                name: r["name"].as_str().unwrap_or_default().to_owned(),
                replicas: r["replicaCount"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1),
                storage: r["storageAccountType"]
                    .as_str()
                    .unwrap_or("Standard_LRS")
                    .to_owned(),
            })
            .collect(),
        None => d["replicationRegions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|name| TargetRegion {
                name: name.to_owned(),
                replicas: 1,
                storage: d["storageAccountType"]
                    .as_str()
                    .unwrap_or("Standard_LRS")
                    .to_owned(),
            })
            .collect(),
    };
    let regions = if regions.is_empty() {
        vec![TargetRegion {
            name: template_location.to_owned(),
            replicas: 1,
            storage: "Standard_LRS".to_owned(),
        }]
    } else {
        regions
    };
    let id = format!("{}/versions/{version}", image.id);
    gallery::insert_version(
        world,
        GalleryVersion {
            id: id.clone(),
            name: version,
            location: image.location.clone(),
            target_regions: regions,
            exclude_from_latest: d["excludeFromLatest"].as_bool().unwrap_or(false),
            end_of_life: None,
            published: state.now(),
            source_id: String::new(),
            tags: d["artifactTags"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect(),
        },
    );
    Ok(id)
}

/// AIB's versioning: `Latest` bumps the patch of the highest version (within
/// `major` when set); `Source` reuses the source image's version numbers.
fn next_version(world: &World, image_id: &str, versioning: &Value, exact_source: &str) -> String {
    if versioning["scheme"] == "Source" {
        let parts: Vec<u64> = exact_source
            .split('.')
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        if parts.len() == 3 {
            return format!("{}.{}.{}", parts[0], parts[1], parts[2]);
        }
    }
    let major = versioning["major"].as_i64().unwrap_or(-1);
    let prefix = format!("{}/versions/", image_id.to_ascii_lowercase());
    let latest = world
        .gallery_versions
        .values()
        .filter(|v| v.id.to_ascii_lowercase().starts_with(&prefix))
        .map(|v| v.name.clone())
        .filter(|name| major < 0 || name.split('.').next() == Some(major.to_string().as_str()))
        .max_by(|a, b| compare_versions(a, b));
    match latest {
        Some(v) => {
            let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
            parts.resize(3, 0);
            format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1)
        }
        None if major >= 0 => format!("{major}.0.0"),
        None => "1.0.0".to_owned(),
    }
}
