//! AIB's staging resource group: where a template's builds run, and the
//! storage account that holds their customization logs.
//!
//! The rules are the 2025-10-01 spec's (`stagingResourceGroup`): without the
//! property AIB makes a group `IT_{templateGroup}_{templateName}_{guid}`; a
//! configured group that does not exist is made with that name; one that
//! exists must be empty and in the template's region. Deleting the template
//! deletes a group AIB made, and only AIB's resources in a group it was given.

use std::collections::BTreeMap;

use serde_json::Value;

use super::blob::{Account, LOG_CONTAINER};
use super::regions::normalize;
use super::resource_groups::{self, ResourceGroup};
use super::state::{State, World};
use super::validate::resource_group_name_ok;

/// Tag values AIB puts on a staging group it creates.
const CREATED_BY: &str = "AzureVMImageBuilder";
/// Resource group names are at most 90 characters.
const MAX_GROUP_NAME: usize = 90;

#[derive(Debug, Clone)]
pub(crate) struct Staging {
    pub group_key: String,
    /// What `exactStagingResourceGroup` shows.
    pub group_id: String,
    pub account: String,
    /// AIB made the group, so deleting the template deletes it.
    pub created: bool,
}

/// The configured `stagingResourceGroup` of a template body, if any.
fn configured(request: &Value) -> Option<&str> {
    request["properties"]["stagingResourceGroup"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
}

/// A bare resource group id: `/subscriptions/{s}/resourceGroups/{rg}` and nothing after.
fn parse_group(id: &str) -> Option<(String, String)> {
    let segments = id.trim_matches('/').split('/').count();
    resource_groups::scope_of(id).filter(|_| segments == 4)
}

/// AIB's checks of a configured staging group when the template is submitted;
/// the error is the `provisioningError` message (code BadStagingResourceGroup).
pub(crate) fn check(
    world: &World,
    subscription: &str,
    location: &str,
    request: &Value,
) -> Result<(), String> {
    let Some(raw) = configured(request) else {
        return Ok(());
    };
    let rules = "A staging resource group must be in the image template's subscription; if it exists, it must be empty and in the same region as the image template.";
    let Some((sub, name)) = parse_group(raw).filter(|(_, n)| resource_group_name_ok(n)) else {
        return Err(format!(
            "The staging resource group '{raw}' is not a resource group id of the form /subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}. {rules}"
        ));
    };
    if !sub.eq_ignore_ascii_case(subscription) {
        return Err(format!(
            "The staging resource group '{raw}' is not in the subscription of the image template ('{subscription}'). {rules}"
        ));
    }
    let Some(group) = world
        .resource_groups
        .get(&resource_groups::key(&sub, &name))
    else {
        // AIB creates it at the first build.
        return Ok(());
    };
    if !resource_groups::resources_in(world, &sub, &name).is_empty() {
        return Err(format!(
            "The staging resource group '{raw}' is not empty. {rules}"
        ));
    }
    if normalize(&group.location) != normalize(location) {
        return Err(format!(
            "The staging resource group '{raw}' is in location '{}', not in the image template's location '{location}'. {rules}",
            group.location
        ));
    }
    Ok(())
}

/// `IT_{group}_{template}_{guid}`, shortened in the middle to ARM's 90 characters.
fn generated_name(group: &str, template: &str) -> String {
    let guid = uuid::Uuid::new_v4().to_string();
    let room = MAX_GROUP_NAME - "IT___".len() - guid.len();
    let middle: String = format!("{group}_{template}").chars().take(room).collect();
    format!("IT_{middle}_{guid}")
}

/// The template's staging group and storage account, made at its first run.
pub(crate) fn ensure(world: &mut World, key: &str) -> Option<Staging> {
    let t = world.templates.get(key)?;
    if let Some(s) = &t.staging {
        return Some(s.clone());
    }
    let (sub, template_group) = resource_groups::scope_of(&t.id)?;
    let (name, location) = (t.name.clone(), t.location.clone());
    let group_name = match configured(&t.request).and_then(parse_group) {
        Some((_, configured)) => configured,
        None => generated_name(&template_group, &name),
    };
    let group_key = resource_groups::key(&sub, &group_name);
    let created = !world.resource_groups.contains_key(&group_key);
    if created {
        let tags = BTreeMap::from([
            ("createdBy".to_owned(), CREATED_BY.to_owned()),
            ("imageTemplateName".to_owned(), name),
            ("imageTemplateResourceGroupName".to_owned(), template_group),
        ]);
        let group = ResourceGroup {
            id: resource_groups::group_id(&sub, &group_name),
            name: group_name.clone(),
            location: location.clone(),
            tags,
            resources: Vec::new(),
        };
        resource_groups::insert(world, &sub, group);
    }
    let group_id = world.resource_groups.get(&group_key).map_or_else(
        || resource_groups::group_id(&sub, &group_name),
        |g| g.id.clone(),
    );
    // Storage account names: 3-24 lower-case letters and digits.
    let account: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(24)
        .collect();
    world.storage.add_account(Account {
        id: format!("{group_id}/providers/Microsoft.Storage/storageAccounts/{account}"),
        name: account.clone(),
        location,
        group_key: group_key.clone(),
        owner: key.to_owned(),
    });
    let staging = Staging {
        group_key,
        group_id,
        account,
        created,
    };
    if let Some(t) = world.templates.get_mut(key) {
        t.staging = Some(staging.clone());
    }
    Some(staging)
}

/// At template deletion: a group AIB made goes with everything in it; a
/// group it was given loses what AIB put there.
pub(crate) fn release(world: &mut World, key: &str) {
    let Some(staging) = world.templates.get(key).and_then(|t| t.staging.clone()) else {
        return;
    };
    let doomed: Vec<String> = world
        .storage
        .accounts
        .values()
        .filter(|a| a.owner == key || (staging.created && a.group_key == staging.group_key))
        .map(|a| a.name.clone())
        .collect();
    for name in doomed {
        world.storage.remove_account(&name);
    }
    if staging.created {
        world.resource_groups.remove(&staging.group_key);
    }
}

/// Blob path of a run's log inside [`LOG_CONTAINER`].
pub(crate) fn log_blob(run_id: &str) -> String {
    format!("{run_id}/customization.log")
}

/// Appends to the template's current customization.log, if its run has one.
pub(crate) fn append_log(state: &State, world: &mut World, key: &str, text: &str) {
    let Some(t) = world.templates.get(key) else {
        return;
    };
    let (Some(s), Some(blob)) = (&t.staging, &t.log_blob) else {
        return;
    };
    let (account, blob) = (s.account.clone(), blob.clone());
    world
        .storage
        .append(&account, LOG_CONTAINER, &blob, text, state.now());
}
