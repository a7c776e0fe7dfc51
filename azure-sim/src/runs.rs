//! A build run's progression through AIB's sub-states on tokio time, and
//! what it writes to its customization.log; [`super::distribution`] makes
//! what a finished run leaves behind.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::blob::{self, LOG_CONTAINER};
use super::buildlog;
use super::distribution::distribute;
use super::error::ArmError;
use super::in_vm_validation;
use super::marketplace;
use super::operations::{self, OpStatus};
use super::scenario::{BuildTimings, Outcome, Phase, wildcard_match};
use super::staging;
use super::state::{State, World};

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
    let text = match t.last_run.as_mut() {
        Some(run) if run.state == "Running" => {
            run.sub_state = Some(phase.wire_name());
            buildlog::phase(&t.request, phase)
        }
        _ => return false,
    };
    staging::append_log(state, &mut world, key, &text);
    true
}

/// Writes the end of the run's log.
fn log(state: &State, key: &str, text: &str) {
    let mut world = state.world();
    staging::append_log(state, &mut world, key, text);
}

fn request_of(state: &State, key: &str) -> Value {
    state
        .world()
        .templates
        .get(key)
        .map(|t| t.request.clone())
        .unwrap_or_default()
}

pub(crate) async fn drive(state: Arc<State>, key: String, plan: RunPlan) {
    resolve_source_version(&state, &key);
    let source_only = in_vm_validation::source_only(&request_of(&state, &key));
    for phase in Phase::ALL {
        // Validating the source alone customizes nothing.
        if phase == Phase::Customizing && source_only {
            continue;
        }
        if !enter(&state, &key, phase) {
            return;
        }
        let mut secs = phase.secs(&plan.timings);
        if phase == Phase::Customizing {
            secs += plan.extra_secs;
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        if phase == Phase::Validating && failed_validation(&state, &key) {
            return;
        }
        if plan.outcome == Outcome::Failed && plan.fail_in == phase {
            let message = failure_message(&state, &key, phase);
            log(
                &state,
                &key,
                &buildlog::failed(&request_of(&state, &key), phase),
            );
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
            log(&state, &key, &buildlog::succeeded());
            end_run(&state, &key, run_state, message);
        }
        Err(message) => {
            drop(world);
            log(&state, &key, &buildlog::distribution_failed(&message));
            end_run(&state, &key, "Failed", message);
        }
    }
}

/// Ends the run if a scenario rule fails one of its validators: failed, with
/// the validator's output in the log and the message, and distributed only
/// with `continueDistributeOnFailure`. False when validation passed.
fn failed_validation(state: &State, key: &str) -> bool {
    let request = request_of(state, key);
    let name = key.rsplit('/').next().unwrap_or_default();
    let Some(failure) = in_vm_validation::failure(&state.world(), name, &request) else {
        return false;
    };
    log(state, key, &failure.log());
    let mut message = failure_message(state, key, Phase::Validating);
    message.insert_str(
        message
            .find(" During the image build")
            .unwrap_or(message.len()),
        &format!(" {}", failure.detail()),
    );
    if failure.continue_distribute {
        let mut world = state.world();
        if let Err(error) = distribute(state, &mut world, key, Outcome::Succeeded) {
            message = format!("{message} {error}");
        }
    }
    end_run(state, key, "Failed", message);
    true
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
    log(&state, &key, &buildlog::canceled());
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
/// staging storage account, which the simulator serves itself.
fn failure_message(state: &State, key: &str, phase: Phase) -> String {
    let world = state.world();
    let t = world.templates.get(key);
    let op = t
        .and_then(|t| t.run_op.clone())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let log = match t.and_then(|t| Some((t.staging.as_ref()?, t.log_blob.as_ref()?))) {
        Some((s, blob)) => blob::url(state, &s.account, LOG_CONTAINER, blob),
        None => String::new(),
    };
    let what = match phase {
        Phase::Validating => "A validation step failed.",
        Phase::Distributing => "Distribution of the image failed.",
        _ => "A customizer step failed.",
    };
    format!(
        "Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: Packer build command has failed: exit status 1. {what} During the image build, a failure has occurred, please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts. Image Build log location: {log}. OperationId: {op}. Use this operation ID when contacting support."
    )
}
