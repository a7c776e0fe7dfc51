//! Long-running operations: the status (`Azure-AsyncOperation`) and result
//! (`Location`) endpoints ARM clients poll.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::error::ArmError;
use super::state::{State, World};
use super::wire;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl OpStatus {
    fn wire(self) -> &'static str {
        match self {
            OpStatus::InProgress => "InProgress",
            OpStatus::Succeeded => "Succeeded",
            OpStatus::Failed => "Failed",
            OpStatus::Canceled => "Canceled",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// Path of the status endpoint, without query.
    path: String,
    api_version: &'static str,
    status: OpStatus,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    error: Option<ArmError>,
}

/// Where a client polls a new operation.
pub(crate) struct OpUrls {
    pub id: String,
    pub async_operation: String,
    pub location: String,
}

/// Starts tracking an operation in `provider` (e.g. "Microsoft.VirtualMachineImages").
pub(crate) fn create(
    state: &State,
    world: &mut World,
    subscription: &str,
    provider: &str,
    location: &str,
    api_version: &'static str,
) -> OpUrls {
    let id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
    let base = format!("/subscriptions/{subscription}/providers/{provider}/locations/{location}");
    let path = format!("{base}/operations/{id}");
    world.operations.insert(
        id.clone(),
        Operation {
            path: path.clone(),
            api_version,
            status: OpStatus::InProgress,
            start: state.now(),
            end: None,
            error: None,
        },
    );
    OpUrls {
        async_operation: format!("{}{path}?api-version={api_version}", state.base_url),
        location: format!(
            "{}{base}/operationresults/{id}?api-version={api_version}",
            state.base_url
        ),
        id,
    }
}

/// Moves an operation to a terminal state.
pub(crate) fn finish(
    state: &State,
    world: &mut World,
    id: &str,
    status: OpStatus,
    error: Option<ArmError>,
) {
    if let Some(op) = world.operations.get_mut(id)
        && op.status == OpStatus::InProgress
    {
        op.status = status;
        op.end = Some(state.now());
        op.error = error;
    }
}

fn not_found(id: &str) -> Response {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "OperationNotFound",
        format!("The operation '{id}' could not be found."),
    )
    .into_response()
}

pub(crate) fn status(state: &State, id: &str) -> Response {
    let world = state.world();
    let Some(op) = world.operations.get(&id.to_ascii_uppercase()) else {
        return not_found(id);
    };
    let mut body = json!({
        "id": op.path,
        "name": id,
        "status": op.status.wire(),
        "startTime": wire::timestamp(op.start),
    });
    if let Some(end) = op.end {
        body["endTime"] = json!(wire::timestamp(end));
    }
    if let Some(err) = &op.error {
        body["error"] = err.body()["error"].clone();
    }
    let mut resp = wire::json(StatusCode::OK, &body);
    if op.status == OpStatus::InProgress {
        let wait = state.settings.operation_retry_after_secs.to_string();
        wire::set_header(&mut resp, "retry-after", &wait);
    }
    resp
}

pub(crate) fn result(state: &State, id: &str) -> Response {
    let world = state.world();
    let Some(op) = world.operations.get(&id.to_ascii_uppercase()) else {
        return not_found(id);
    };
    match op.status {
        OpStatus::InProgress => {
            let mut resp = StatusCode::ACCEPTED.into_response();
            let url = format!(
                "{}{}?api-version={}",
                state.base_url,
                op.path.replace("/operations/", "/operationresults/"),
                op.api_version
            );
            wire::set_header(&mut resp, "location", &url);
            let wait = state.settings.operation_retry_after_secs.to_string();
            wire::set_header(&mut resp, "retry-after", &wait);
            resp
        }
        OpStatus::Succeeded => StatusCode::NO_CONTENT.into_response(),
        OpStatus::Failed | OpStatus::Canceled => op
            .error
            .clone()
            .unwrap_or_else(|| {
                ArmError::bad_request("OperationCanceled", "The operation was canceled.")
            })
            .into_response(),
    }
}
