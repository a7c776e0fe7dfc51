//! A template's two actions, run and cancel: each answers at once and leaves the
//! work to [`crate::runs`].

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{PROVIDER, Provisioning, RunStatus, conflict, key, not_found, op_location};
use crate::buildlog;
use crate::operations;
use crate::routes::{IMAGE_BUILDER_API, ResourcePath};
use crate::runs;
use crate::staging;
use crate::state::{State, lock};
use crate::wire;

pub(crate) fn run(state: &Arc<State>, p: &ResourcePath) -> Response {
    let mut world = state.world();
    let Some(t) = world.templates.get(&key(p)) else {
        return not_found(p);
    };
    if t.provisioning != Provisioning::Succeeded {
        return conflict(&format!(
            "The image template is in provisioning state '{}'; it can only run after provisioning succeeded.",
            t.provisioning.wire()
        ));
    }
    if t.is_running() {
        return conflict(
            "A build of this image template is already running. Wait for it to finish or cancel it.",
        );
    }
    let (subscription, location) = (t.subscription.clone(), op_location(&t.location));
    let urls = operations::create(
        state,
        &mut world,
        &subscription,
        PROVIDER,
        &location,
        IMAGE_BUILDER_API,
    );
    let plan = runs::plan_for(&mut world, &p.name);
    let now = state.now();
    let staging = staging::ensure(&mut world, &key(p));
    let mut log_start = None;
    if let Some(t) = world.templates.get_mut(&key(p)) {
        t.last_run = Some(RunStatus {
            start: now,
            end: None,
            state: "Running",
            sub_state: Some("Queued"),
            message: String::new(),
        });
        t.outputs.clear();
        t.run_op = Some(urls.id.clone());
        // AIB names each run's log folder with a GUID of its own.
        let run_id = uuid::Uuid::new_v4().to_string();
        t.log_blob = Some(staging::log_blob(&run_id));
        let group = staging
            .as_ref()
            .and_then(|s| s.group_id.rsplit('/').next())
            .unwrap_or_default();
        log_start = Some(buildlog::start(&t.name, &run_id, group, &t.location));
    }
    if let Some(text) = log_start {
        staging::append_log(state, &mut world, &key(p), &text);
    }
    drop(world);
    let task = tokio::spawn(runs::drive(state.clone(), key(p), plan));
    if let Some(t) = state.world().templates.get_mut(&key(p)) {
        t.run_task = Some(task.abort_handle());
    }
    lock(&state.background).push(task.abort_handle());

    let mut resp = StatusCode::ACCEPTED.into_response();
    wire::set_header(&mut resp, "azure-asyncoperation", &urls.async_operation);
    wire::set_header(&mut resp, "location", &urls.location);
    wire::set_header(&mut resp, "retry-after", "10");
    resp
}

pub(crate) fn cancel(state: &Arc<State>, p: &ResourcePath) -> Response {
    let mut world = state.world();
    let Some(t) = world.templates.get_mut(&key(p)) else {
        return not_found(p);
    };
    if t.last_run.as_ref().is_none_or(|r| r.state != "Running") {
        return conflict("There is no running build of this image template to cancel.");
    }
    if let Some(task) = t.run_task.take() {
        task.abort();
    }
    if let Some(run) = t.last_run.as_mut() {
        run.state = "Canceling";
    }
    let (subscription, location) = (t.subscription.clone(), op_location(&t.location));
    let urls = operations::create(
        state,
        &mut world,
        &subscription,
        PROVIDER,
        &location,
        IMAGE_BUILDER_API,
    );
    drop(world);
    let task = tokio::spawn(runs::finish_cancel(state.clone(), key(p), urls.id.clone()));
    lock(&state.background).push(task.abort_handle());

    let mut resp = StatusCode::ACCEPTED.into_response();
    wire::set_header(&mut resp, "azure-asyncoperation", &urls.async_operation);
    wire::set_header(&mut resp, "location", &urls.location);
    resp
}
