//! Creating a template: the PUT checked as AIB checks it, refused when it would
//! change an existing one, and provisioned in the background.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{PROVIDER, Provisioning, Template, body_of, conflict, key, op_location, template_id};
use crate::error::ArmError;
use crate::gallery;
use crate::operations::{self, OpStatus};
use crate::provisioning::{self, ProvisioningError};
use crate::routes::{IMAGE_BUILDER_API, ResourcePath};
use crate::schema::validate_image_template;
use crate::staging;
use crate::state::{State, lock};
use crate::wire;

/// AIB's answer to a PUT that would change an existing template (source:
/// Azure VM Image Builder troubleshooting guide, "Update/Upgrade of image
/// templates is currently not supported").
const IMMUTABLE: &str = "Update/Upgrade of image templates is currently not supported. Please change the name of the template you are submitting. If you have previously tried to submit a template and it failed to provision, you must delete it first and then resubmit. For more information, go to https://aka.ms/azvmimagebuilderts.";

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
            code: "BadStagingResourceGroup".to_owned(),
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
        created: gallery::seeded_by(state),
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
        // AIB looks at the source and scripts as they are when it gets to them.
        let verdict = world
            .templates
            .get(&k)
            .map(|t| provisioning::check(&world, &t.name, &t.location, &t.request).err());
        if let Some(t) = world.templates.get_mut(&k)
            && t.provisioning == Provisioning::Creating
        {
            failure = t.provisioning_error.clone().or(verdict.flatten());
            t.provisioning_error = failure.clone();
            t.provisioning = match failure {
                Some(_) => Provisioning::Failed,
                None => Provisioning::Succeeded,
            };
        }
        // The PUT's operation ends as the template's provisioning did.
        let (status, error) = match failure {
            Some(e) => (
                OpStatus::Failed,
                Some(ArmError::bad_request(&e.code, e.message)),
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
