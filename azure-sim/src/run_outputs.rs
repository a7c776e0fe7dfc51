//! Run outputs of an image template (`VirtualMachineImageTemplates_ListRunOutputs`
//! and `_GetRunOutput`): what its last run made.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ArmError;
use super::paging;
use super::routes::ResourcePath;
use super::state::State;
use super::templates::{RunOutput, Template, key, not_found};
use super::wire;

fn output_body(t: &Template, o: &RunOutput) -> Value {
    let mut props = json!({"provisioningState": "Succeeded"});
    if let Some(id) = &o.artifact_id {
        props["artifactId"] = json!(id);
    }
    if let Some(uri) = &o.artifact_uri {
        props["artifactUri"] = json!(uri);
    }
    json!({
        "id": format!("{}/runOutputs/{}", t.id, o.name),
        "name": o.name,
        "type": "Microsoft.VirtualMachineImages/imageTemplates/runOutputs",
        "properties": props,
    })
}

pub(crate) fn list(
    state: &Arc<State>,
    p: &ResourcePath,
    path: &str,
    query: &[(String, String)],
) -> Response {
    let world = state.world();
    let Some(t) = world.templates.get(&key(p)) else {
        return not_found(p);
    };
    let value: Vec<Value> = t.outputs.iter().map(|o| output_body(t, o)).collect();
    drop(world);
    paging::answer(state, path, query, value)
}

pub(crate) fn get(state: &Arc<State>, p: &ResourcePath, name: &str) -> Response {
    let world = state.world();
    let Some(t) = world.templates.get(&key(p)) else {
        return not_found(p);
    };
    match t.outputs.iter().find(|o| o.name.eq_ignore_ascii_case(name)) {
        Some(o) => wire::json(StatusCode::OK, &output_body(t, o)),
        None => ArmError::not_found(
            "Microsoft.VirtualMachineImages/imageTemplates/runOutputs",
            &format!("{}/{name}", p.name),
            &p.resource_group,
        )
        .into_response(),
    }
}
