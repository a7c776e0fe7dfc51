//! Resource groups (`ResourceGroups_Get`, `Resources_ListByResourceGroup`,
//! resources 2025-04-01), and the scope checks ARM makes before any resource
//! provider sees a request: the subscription exists, the namespace is
//! registered, the resource group exists.
//!
//! A group exists when the scenario declares it, when the scenario declares a
//! resource inside it (a gallery or an identity proves its group), or when
//! AIB makes it as a staging group.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ArmError;
use super::providers;
use super::scenario::Scenario;
use super::state::{State, World};
use super::validate::resource_ref;
use super::wire;

pub(crate) const TYPE: &str = "Microsoft.Resources/resourceGroups";

#[derive(Debug, Clone)]
pub(crate) struct ResourceGroup {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
    /// Resources the scenario put there: (type, name).
    pub resources: Vec<(String, String)>,
}

pub(crate) fn group_id(subscription: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{name}")
}

/// World key of a group: its lower-cased id, a prefix of its resources' keys.
pub(crate) fn key(subscription: &str, name: &str) -> String {
    group_id(subscription, name).to_ascii_lowercase()
}

/// `(subscription, resource group)` of an ARM resource id, if it has them.
pub(crate) fn scope_of(id: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [s, sub, g, rg, ..]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups")
                && !sub.is_empty()
                && !rg.is_empty() =>
        {
            Some(((*sub).to_owned(), (*rg).to_owned()))
        }
        _ => None,
    }
}

pub(crate) fn insert(world: &mut World, subscription: &str, group: ResourceGroup) {
    world
        .subscriptions
        .insert(subscription.to_ascii_lowercase());
    world
        .resource_groups
        .insert(key(subscription, &group.name), group);
}

/// Declared groups first; then the groups the scenario's galleries and
/// identities live in, where the first resource seen places the group.
pub(crate) fn seed(state: &State, world: &mut World, scenario: &Scenario) {
    let default_sub = state.settings.subscription_id.as_str();
    world.subscriptions.insert(default_sub.to_ascii_lowercase());
    for g in &scenario.resource_groups {
        let sub = g.subscription_id.as_deref().unwrap_or(default_sub);
        let resources = g.resources.iter().filter_map(|r| resource_ref(r)).collect();
        let group = ResourceGroup {
            id: group_id(sub, &g.name),
            name: g.name.clone(),
            location: g.location.clone(),
            tags: g.tags.clone(),
            resources,
        };
        insert(world, sub, group);
    }
    let implied = scenario
        .galleries
        .iter()
        .map(|g| (&g.subscription_id, &g.resource_group, &g.location))
        .chain(
            scenario
                .identities
                .iter()
                .map(|i| (&i.subscription_id, &i.resource_group, &i.location)),
        );
    for (sub, rg, location) in implied {
        let sub = sub.as_deref().unwrap_or(default_sub);
        if !world.resource_groups.contains_key(&key(sub, rg)) {
            let group = ResourceGroup {
                id: group_id(sub, rg),
                name: rg.clone(),
                location: location.clone(),
                tags: BTreeMap::new(),
                resources: Vec::new(),
            };
            insert(world, sub, group);
        }
    }
}

pub(crate) fn exists(world: &World, subscription: &str, name: &str) -> bool {
    world.resource_groups.contains_key(&key(subscription, name))
}

/// The checks ARM makes, in its order, before routing to a resource provider.
pub(crate) fn check_scope(
    state: &State,
    subscription: &str,
    group: Option<(&str, &str)>,
    write_namespace: Option<&str>,
) -> Result<(), ArmError> {
    let world = state.world();
    if !world
        .subscriptions
        .contains(&subscription.to_ascii_lowercase())
    {
        return Err(ArmError::subscription_not_found(subscription));
    }
    if let Some(namespace) = write_namespace {
        providers::check_registered(state, namespace)?;
    }
    match group {
        Some((sub, rg)) if !exists(&world, sub, rg) => Err(ArmError::resource_group_not_found(rg)),
        _ => Ok(()),
    }
}

/// `GET /subscriptions/{s}/resourcegroups/{rg}`; the scope check has proven the group.
pub(crate) fn get(state: &State, subscription: &str, name: &str) -> Response {
    let world = state.world();
    let Some(g) = world.resource_groups.get(&key(subscription, name)) else {
        return ArmError::resource_group_not_found(name).into_response();
    };
    let mut body = json!({
        "id": g.id,
        "name": g.name,
        "type": TYPE,
        "location": g.location,
        "properties": {"provisioningState": "Succeeded"},
    });
    if !g.tags.is_empty() {
        body["tags"] = json!(g.tags);
    }
    wire::json(StatusCode::OK, &body)
}

/// A GenericResource list entry for `id`: ARM names nested resources by
/// their path of names (`gallery/image/1.0.0`) and types them by the path
/// of types (`Microsoft.Compute/galleries/images/versions`).
fn generic(id: &str, location: &str, tags: Option<&Value>) -> Value {
    let after = id
        .to_ascii_lowercase()
        .find("/providers/")
        .map_or("", |i| &id[i + "/providers/".len()..]);
    let parts: Vec<&str> = after.split('/').collect();
    let namespace = parts.first().copied().unwrap_or_default();
    let types: Vec<&str> = parts.iter().skip(1).step_by(2).copied().collect();
    let names: Vec<&str> = parts.iter().skip(2).step_by(2).copied().collect();
    let mut body = json!({
        "id": id,
        "name": names.join("/"),
        "type": format!("{namespace}/{}", types.join("/")),
        "location": location,
    });
    if let Some(tags) = tags.filter(|t| t.as_object().is_some_and(|m| !m.is_empty())) {
        body["tags"] = tags.clone();
    }
    body
}

/// Everything the simulator knows lives in the group, ordered by id. Gallery
/// image definitions and versions are tracked resources of their own, and ARM
/// lists them beside their gallery; run outputs and triggers are proxy
/// resources and are not listed.
pub(crate) fn resources_in(world: &World, subscription: &str, name: &str) -> Vec<Value> {
    let group_key = key(subscription, name);
    let prefix = format!("{group_key}/providers/");
    let inside = |k: &str| k.starts_with(&prefix);
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    let mut add = |id: &str, v: Value| {
        found.insert(id.to_ascii_lowercase(), v);
    };
    if let Some(g) = world.resource_groups.get(&group_key) {
        for (ty, name) in &g.resources {
            let mut parts = ty.splitn(2, '/');
            let (ns, types) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let mut path = String::new();
            for (t, n) in types.split('/').zip(name.split('/')) {
                path.push_str(&format!("/{t}/{n}"));
            }
            let id = format!("{}/providers/{ns}{path}", g.id);
            add(&id, generic(&id, &g.location, None));
        }
    }
    for (k, t) in world.templates.iter().filter(|(k, _)| inside(k)) {
        add(k, generic(&t.id, &t.location, t.request.get("tags")));
    }
    for (k, i) in world.managed_images.iter().filter(|(k, _)| inside(k)) {
        add(k, generic(&i.id, &i.location, None));
    }
    for (k, i) in world.gallery_images.iter().filter(|(k, _)| inside(k)) {
        if let Some(at) = i.id.to_ascii_lowercase().rfind("/images/") {
            let gallery = &i.id[..at];
            add(gallery, generic(gallery, &i.location, None));
        }
        add(k, generic(&i.id, &i.location, None));
    }
    for (k, v) in world.gallery_versions.iter().filter(|(k, _)| inside(k)) {
        add(k, generic(&v.id, &v.location, Some(&json!(v.tags))));
    }
    for (k, i) in world.identities.iter().filter(|(k, _)| inside(k)) {
        add(k, generic(&i.id, &i.location, Some(&json!(i.tags))));
    }
    for a in world
        .storage
        .accounts
        .values()
        .filter(|a| a.group_key == group_key)
    {
        let mut body = generic(&a.id, &a.location, None);
        body["kind"] = json!("StorageV2");
        body["sku"] = json!({"name": "Standard_LRS", "tier": "Standard"});
        add(&a.id, body);
    }
    found.into_values().collect()
}

/// `GET /subscriptions/{s}/resourceGroups/{rg}/resources`.
pub(crate) fn list_resources(
    state: &State,
    subscription: &str,
    name: &str,
    path: &str,
    query: &[(String, String)],
) -> Response {
    let world = state.world();
    if !exists(&world, subscription, name) {
        return ArmError::resource_group_not_found(name).into_response();
    }
    let value = resources_in(&world, subscription, name);
    drop(world);
    super::paging::answer(state, path, query, value)
}
