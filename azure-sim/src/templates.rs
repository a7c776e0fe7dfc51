//! Image templates (Microsoft.VirtualMachineImages/imageTemplates): create,
//! read, delete, run and cancel. Run progression lives in [`super::runs`],
//! run outputs in [`super::run_outputs`], the staging group in [`super::staging`].

mod actions;
mod create;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::ArmError;
use super::identities;
use super::operations::{self, OpStatus};
use super::provisioning::ProvisioningError;
use super::routes::{IMAGE_BUILDER_API, ResourcePath};
use super::staging::{self, Staging};
use super::state::{State, lock};
use super::wire::{self, Creator};

const PROVIDER: &str = "Microsoft.VirtualMachineImages";
const TYPE: &str = "Microsoft.VirtualMachineImages/imageTemplates";

pub(crate) use actions::{cancel, run};
pub(crate) use create::put;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provisioning {
    Creating,
    Succeeded,
    Failed,
    Deleting,
}

impl Provisioning {
    fn wire(self) -> &'static str {
        match self {
            Provisioning::Creating => "Creating",
            Provisioning::Succeeded => "Succeeded",
            Provisioning::Failed => "Failed",
            Provisioning::Deleting => "Deleting",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RunStatus {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub state: &'static str,
    pub sub_state: Option<&'static str>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RunOutput {
    pub name: String,
    pub artifact_id: Option<String>,
    pub artifact_uri: Option<String>,
}

pub(crate) struct Template {
    pub id: String,
    pub name: String,
    pub subscription: String,
    pub location: String,
    /// The body as submitted; a PUT with a different body is an update.
    pub request: Value,
    pub provisioning: Provisioning,
    pub last_run: Option<RunStatus>,
    pub outputs: Vec<RunOutput>,
    /// Resolved `exactVersion` of a PlatformImage source at the last run.
    pub exact_version: Option<String>,
    /// The operation a running build reports to.
    pub run_op: Option<String>,
    pub run_task: Option<tokio::task::AbortHandle>,
    /// The staging check's verdict when the PUT arrives; AIB's other checks
    /// run when provisioning ends. Shown once provisioning has failed.
    pub provisioning_error: Option<ProvisioningError>,
    pub created: Creator,
    /// The staging group and storage account, from the first run on.
    pub staging: Option<Staging>,
    /// Blob path (in the staging account's packerlogs) of the last run's log.
    pub log_blob: Option<String>,
}

impl Template {
    pub fn is_running(&self) -> bool {
        self.last_run
            .as_ref()
            .is_some_and(|r| r.state == "Running" || r.state == "Canceling")
    }
}

pub(crate) fn template_id(p: &ResourcePath) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{PROVIDER}/imageTemplates/{}",
        p.subscription, p.resource_group, p.name
    )
}

pub(crate) fn key(p: &ResourcePath) -> String {
    template_id(p).to_ascii_lowercase()
}

pub(crate) fn not_found(p: &ResourcePath) -> Response {
    ArmError::not_found(TYPE, &p.name, &p.resource_group).into_response()
}

fn conflict(message: &str) -> Response {
    ArmError::new(StatusCode::CONFLICT, "Conflict", message).into_response()
}

/// Polling location segment: ARM location names have no spaces and are lower case.
fn op_location(location: &str) -> String {
    location.replace(' ', "").to_ascii_lowercase()
}

pub(crate) fn body_of(t: &Template) -> Value {
    let mut body = t.request.clone();
    body["id"] = json!(t.id);
    body["name"] = json!(t.name);
    body["type"] = json!(TYPE);
    body["systemData"] = t.created.system_data();
    if let Some(ids) = body["identity"]["userAssignedIdentities"].as_object_mut() {
        // The same ids the identity's own GET shows.
        for (id, v) in ids.iter_mut() {
            let (principal, client) = identities::principal_and_client(id);
            *v = json!({"principalId": principal, "clientId": client});
        }
    }
    let props = &mut body["properties"];
    props["provisioningState"] = json!(t.provisioning.wire());
    if t.provisioning == Provisioning::Failed
        && let Some(e) = &t.provisioning_error
    {
        props["provisioningError"] = json!({"provisioningErrorCode": e.code, "message": e.message});
    }
    if let Some(s) = &t.staging {
        props["exactStagingResourceGroup"] = json!(s.group_id);
    }
    if let Some(v) = &t.exact_version {
        props["source"]["exactVersion"] = json!(v);
    }
    if let Some(run) = &t.last_run {
        let mut status = json!({
            "startTime": wire::timestamp(run.start),
            "runState": run.state,
            "message": run.message,
        });
        if let Some(end) = run.end {
            status["endTime"] = json!(wire::timestamp(end));
        }
        if let Some(sub) = run.sub_state {
            status["runSubState"] = json!(sub);
        }
        props["lastRunStatus"] = status;
    }
    body
}

pub(crate) fn get(state: &Arc<State>, p: &ResourcePath) -> Response {
    match state.world().templates.get(&key(p)) {
        Some(t) => wire::json(StatusCode::OK, &body_of(t)),
        None => not_found(p),
    }
}

/// `ImageTemplates_ListByResourceGroup`: every template of the group, as GET shows it.
pub(crate) fn list(
    state: &Arc<State>,
    subscription: &str,
    group: &str,
    path: &str,
    query: &[(String, String)],
) -> Response {
    let world = state.world();
    if !super::resource_groups::exists(&world, subscription, group) {
        return ArmError::resource_group_not_found(group).into_response();
    }
    let prefix = format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/{PROVIDER}/imageTemplates/"
    )
    .to_ascii_lowercase();
    let value: Vec<Value> = world
        .templates
        .iter()
        .filter(|(key, t)| key.starts_with(&prefix) && t.provisioning != Provisioning::Deleting)
        .map(|(_, t)| body_of(t))
        .collect();
    drop(world);
    super::paging::answer(state, path, query, value)
}

pub(crate) fn delete(state: &Arc<State>, p: &ResourcePath) -> Response {
    let mut world = state.world();
    let Some(t) = world.templates.get_mut(&key(p)) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    t.provisioning = Provisioning::Deleting;
    if let Some(task) = t.run_task.take() {
        task.abort();
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
    let delay = Duration::from_secs(world.timings.provision_secs);
    drop(world);

    let st = state.clone();
    let k = key(p);
    let op = urls.id.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut world = st.world();
        staging::release(&mut world, &k);
        world.templates.remove(&k);
        operations::finish(&st, &mut world, &op, OpStatus::Succeeded, None);
    });
    lock(&state.background).push(task.abort_handle());

    let mut resp = StatusCode::ACCEPTED.into_response();
    wire::set_header(&mut resp, "location", &urls.location);
    wire::set_header(&mut resp, "azure-asyncoperation", &urls.async_operation);
    resp
}
