//! User-assigned managed identities (`UserAssignedIdentities_Get`).
//!
//! Served in two api-versions: 2026-05-31, the newest stable, and 2023-01-31,
//! the stable version most tooling still pins. Their `properties` differ:
//! 2023-01-31 (`stable/2023-01-31/ManagedIdentity.json`) knows only tenantId,
//! principalId and clientId; `isolationScope` and `assignmentRestrictions`
//! came later. Each version answers with its own shape.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ArmError;
use super::routes::{IDENTITY_API_LEGACY, ResourcePath};
use super::scenario::IdentityDef;
use super::state::{State, World};
use super::wire;

pub(crate) const TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
}

/// The identity RP writes `resourcegroups` in lower case (as its examples do).
pub(crate) fn identity_id(subscription: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourcegroups/{rg}/providers/{TYPE}/{name}")
}

pub(crate) fn seed(state: &State, world: &mut World, def: &IdentityDef) {
    let sub = def
        .subscription_id
        .as_deref()
        .unwrap_or(&state.settings.subscription_id);
    let id = identity_id(sub, &def.resource_group, &def.name);
    world.identities.insert(
        id.to_ascii_lowercase(),
        Identity {
            id,
            name: def.name.clone(),
            location: def.location.clone(),
            tags: def.tags.clone(),
        },
    );
}

/// A GUID that depends only on `seed`: the same identity keeps its principal
/// and client ids across runs, as a real one does.
pub(crate) fn stable_guid(seed: &str) -> String {
    // FNV-1a, twice with different offsets: 128 bits, no dependency, stable
    // across Rust versions (std's hashers promise no such thing).
    let fnv = |offset: u64| {
        seed.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes[8..].copy_from_slice(&fnv(0x6c62_272e_07bb_0142).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// principalId and clientId of the identity with this id (any casing).
pub(crate) fn principal_and_client(id: &str) -> (String, String) {
    let id = id.to_ascii_lowercase();
    (
        stable_guid(&format!("principal:{id}")),
        stable_guid(&format!("client:{id}")),
    )
}

pub(crate) fn get(state: &State, p: &ResourcePath, api_version: &str) -> Response {
    let world = state.world();
    let key = identity_id(&p.subscription, &p.resource_group, &p.name).to_ascii_lowercase();
    let Some(i) = world.identities.get(&key) else {
        return ArmError::not_found(TYPE, &p.name, &p.resource_group).into_response();
    };
    let (principal, client) = principal_and_client(&i.id);
    let mut properties = json!({
        "tenantId": state.settings.tenant_id,
        "principalId": principal,
        "clientId": client,
    });
    if api_version != IDENTITY_API_LEGACY {
        properties["isolationScope"] = json!("None");
        properties["assignmentRestrictions"] = json!({"providers": []});
    }
    let mut body = json!({
        "id": i.id,
        "name": i.name,
        "type": TYPE,
        "location": i.location,
        "properties": properties,
    });
    if !i.tags.is_empty() {
        body["tags"] = json!(i.tags);
    }
    wire::json(StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_stable_distinct_and_case_blind() {
        let a = principal_and_client("/subscriptions/s/resourcegroups/rg/providers/x/y/id-a");
        let b = principal_and_client("/subscriptions/S/resourceGroups/RG/providers/x/y/ID-A");
        assert_eq!(a, b);
        assert_ne!(a.0, a.1);
        assert_ne!(
            a,
            principal_and_client("/subscriptions/s/resourcegroups/rg/providers/x/y/id-b")
        );
        assert_eq!(stable_guid("x"), stable_guid("x"));
        assert!(uuid::Uuid::parse_str(&a.0).is_ok());
    }
}
