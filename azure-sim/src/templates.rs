//! Image templates (Microsoft.VirtualMachineImages/imageTemplates): create,
//! read, delete, run and cancel. Run progression lives in [`super::runs`],
//! run outputs in [`super::run_outputs`], the staging group in [`super::staging`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::buildlog;
use super::error::ArmError;
use super::identities;
use super::operations::{self, OpStatus};
use super::routes::{IMAGE_BUILDER_API, ResourcePath};
use super::runs;
use super::schema::validate_image_template;
use super::staging::{self, Staging};
use super::state::{State, lock};
use super::wire;

const PROVIDER: &str = "Microsoft.VirtualMachineImages";
const TYPE: &str = "Microsoft.VirtualMachineImages/imageTemplates";

/// AIB's answer to a PUT that would change an existing template (source:
/// Azure VM Image Builder troubleshooting guide, "Update/Upgrade of image
/// templates is currently not supported").
const IMMUTABLE: &str = "Update/Upgrade of image templates is currently not supported. Please change the name of the template you are submitting. If you have previously tried to submit a template and it failed to provision, you must delete it first and then resubmit. For more information, go to https://aka.ms/azvmimagebuilderts.";

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

/// `properties.provisioningError`: why AIB refused the template.
#[derive(Debug, Clone)]
pub(crate) struct ProvisioningError {
    pub code: &'static str,
    pub message: String,
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
    /// Decided when the PUT arrives, shown once provisioning has failed.
    pub provisioning_error: Option<ProvisioningError>,
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

pub(crate) fn put(state: &Arc<State>, p: &ResourcePath, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
        .into_response();
    };
    if let Err(errors) = validate_name(&p.name).and_then(|()| validate_image_template(&request)) {
        return ArmError::bad_request("InvalidParameter", errors.join("; ")).into_response();
    }
    if let Err(message) = check_identity(&request) {
        return ArmError::bad_request("InvalidParameter", message).into_response();
    }
    let mut world = state.world();
    if let Some(existing) = world.templates.get(&key(p)) {
        if existing.request != request || existing.provisioning == Provisioning::Deleting {
            return conflict(IMMUTABLE);
        }
        return wire::json(StatusCode::OK, &body_of(existing));
    }
    let location = request["location"].as_str().unwrap_or_default().to_owned();
    let provisioning_error = staging::check(&world, &p.subscription, &location, &request)
        .err()
        .map(|message| ProvisioningError {
            code: "BadStagingResourceGroup",
            message,
        });
    let urls = operations::create(
        state,
        &mut world,
        &p.subscription,
        PROVIDER,
        &op_location(&location),
        IMAGE_BUILDER_API,
    );
    let template = Template {
        id: template_id(p),
        name: p.name.clone(),
        subscription: p.subscription.clone(),
        location,
        request,
        provisioning: Provisioning::Creating,
        last_run: None,
        outputs: Vec::new(),
        exact_version: None,
        run_op: None,
        run_task: None,
        provisioning_error,
        staging: None,
        log_blob: None,
    };
    let body = body_of(&template);
    world.templates.insert(key(p), template);
    let delay = Duration::from_secs(world.timings.provision_secs);
    drop(world);

    let st = state.clone();
    let k = key(p);
    let op = urls.id.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut world = st.world();
        let mut failure = None;
        if let Some(t) = world.templates.get_mut(&k)
            && t.provisioning == Provisioning::Creating
        {
            failure = t.provisioning_error.clone();
            t.provisioning = match failure {
                Some(_) => Provisioning::Failed,
                None => Provisioning::Succeeded,
            };
        }
        // The PUT's operation ends as the template's provisioning did.
        let (status, error) = match failure {
            Some(e) => (
                OpStatus::Failed,
                Some(ArmError::bad_request(e.code, e.message)),
            ),
            None => (OpStatus::Succeeded, None),
        };
        operations::finish(&st, &mut world, &op, status, error);
    });
    lock(&state.background).push(task.abort_handle());

    let mut resp = wire::json(StatusCode::CREATED, &body);
    wire::set_header(&mut resp, "azure-asyncoperation", &urls.async_operation);
    resp
}

fn validate_name(name: &str) -> Result<(), Vec<String>> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(vec![format!(
            "imageTemplateName '{name}' does not match pattern ^[A-Za-z0-9-_.]{{1,64}}$"
        )])
    }
}

/// AIB needs a user-assigned identity to act with; the schema alone allows `None`.
fn check_identity(request: &Value) -> Result<(), String> {
    let identity = &request["identity"];
    let has_uami = identity["type"] == "UserAssigned"
        && identity["userAssignedIdentities"]
            .as_object()
            .is_some_and(|m| !m.is_empty());
    if has_uami {
        Ok(())
    } else {
        Err("The image template must have exactly one user-assigned managed identity: set identity.type to 'UserAssigned' and list it in identity.userAssignedIdentities.".to_owned())
    }
}

pub(crate) fn body_of(t: &Template) -> Value {
    let mut body = t.request.clone();
    body["id"] = json!(t.id);
    body["name"] = json!(t.name);
    body["type"] = json!(TYPE);
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
pub(crate) fn list(state: &Arc<State>, subscription: &str, group: &str) -> Response {
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
    wire::json(StatusCode::OK, &json!({ "value": value }))
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
