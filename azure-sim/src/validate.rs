//! Checks of the scenario's resource tables: what Azure itself would never
//! hold (a resource group name ARM refuses, a region that does not exist, an
//! architecture outside the spec's enum) is a scenario error at start-up, not
//! a surprise in the middle of a test.

use std::collections::BTreeSet;

use super::providers;
use super::regions;
use super::scenario::Scenario;

/// The spec's `resourceGroupName` rule: 1–90 of `[-\w._()]`, not ending in a dot.
pub(crate) fn resource_group_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 90
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

/// Splits `Microsoft.Storage/storageAccounts/name` (or a nested
/// `ns/type/name/subtype/subname`) into ARM's type and name.
pub(crate) fn resource_ref(text: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() < 3 || parts.len().is_multiple_of(2) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let types: Vec<&str> = parts[1..].iter().step_by(2).copied().collect();
    let names: Vec<&str> = parts[2..].iter().step_by(2).copied().collect();
    Some((format!("{}/{}", parts[0], types.join("/")), names.join("/")))
}

fn region(location: &str, what: &str) -> Result<(), String> {
    match regions::find(location) {
        Some(_) => Ok(()),
        None => Err(format!(
            "{what}: location '{location}' is not an Azure region the simulator knows (e.g. westeurope)"
        )),
    }
}

fn one_of(value: &str, allowed: &[&str], what: &str) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{what}: '{value}' is not one of {}",
            allowed.join(", ")
        ))
    }
}

pub(crate) fn resources(s: &Scenario) -> Result<(), String> {
    if s.settings.locations.is_empty() {
        return Err("settings.locations: a subscription offers at least one region".to_owned());
    }
    for l in &s.settings.locations {
        region(l, "settings.locations")?;
    }
    for ns in &s.settings.unregistered_providers {
        if providers::find(ns).is_none() {
            return Err(format!(
                "settings.unregistered_providers: '{ns}' is not a resource provider the simulator serves ({})",
                providers::names().join(", ")
            ));
        }
    }
    let default_sub = &s.settings.subscription_id;
    let mut groups = BTreeSet::new();
    for g in &s.resource_groups {
        let what = format!("resource group '{}'", g.name);
        if !resource_group_name_ok(&g.name) {
            return Err(format!(
                "{what}: names are 1-90 letters, digits, '-', '_', '.', '(' or ')' and do not end in '.'"
            ));
        }
        region(&g.location, &what)?;
        let sub = g.subscription_id.as_deref().unwrap_or(default_sub);
        if !groups.insert(format!("{sub}/{}", g.name).to_ascii_lowercase()) {
            return Err(format!("{what} is declared twice"));
        }
        for r in &g.resources {
            if resource_ref(r).is_none() {
                return Err(format!(
                    "{what}: resource '{r}' is not '{{namespace}}/{{type}}/{{name}}'"
                ));
            }
        }
    }
    for i in &s.identities {
        let what = format!("identity '{}'", i.name);
        // UserAssignedIdentities' resourceName rule: 3-128 characters, starting alphanumeric.
        let name_ok = (3..=128).contains(&i.name.len())
            && i.name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && i.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !name_ok {
            return Err(format!(
                "{what}: names are 3-128 letters, digits, '-' or '_', starting with a letter or digit"
            ));
        }
        if !resource_group_name_ok(&i.resource_group) {
            return Err(format!(
                "{what}: resource group '{}' is not a valid name",
                i.resource_group
            ));
        }
        region(&i.location, &what)?;
    }
    for g in &s.galleries {
        let what = format!("gallery image '{}/{}'", g.gallery, g.image);
        one_of(
            &g.architecture,
            &["x64", "Arm64"],
            &format!("{what} architecture"),
        )?;
        one_of(
            &g.os_state,
            &["Generalized", "Specialized"],
            &format!("{what} os_state"),
        )?;
    }
    for m in &s.marketplace {
        let what = format!("marketplace sku '{}'", m.sku);
        one_of(
            &m.architecture,
            &["x64", "Arm64"],
            &format!("{what} architecture"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_refs_split_into_type_and_name() {
        assert_eq!(
            resource_ref("Microsoft.Storage/storageAccounts/leftover"),
            Some((
                "Microsoft.Storage/storageAccounts".to_owned(),
                "leftover".to_owned()
            ))
        );
        assert_eq!(
            resource_ref("Microsoft.Network/virtualNetworks/vnet/subnets/snet"),
            Some((
                "Microsoft.Network/virtualNetworks/subnets".to_owned(),
                "vnet/snet".to_owned()
            ))
        );
        assert_eq!(resource_ref("Microsoft.Storage/storageAccounts"), None);
        assert_eq!(resource_ref("a//b"), None);
    }

    #[test]
    fn bad_tables_are_scenario_errors() {
        for (text, needle) in [
            ("[settings]\nlocations = [\"atlantis\"]", "atlantis"),
            (
                "[settings]\nunregistered_providers = [\"Microsoft.Nope\"]",
                "Microsoft.Nope",
            ),
            (
                "[[resource_groups]]\nname = \"rg.\"\nlocation = \"westeurope\"",
                "rg.",
            ),
            (
                "[[resource_groups]]\nname = \"rg\"\nlocation = \"westeurope\"\n[[resource_groups]]\nname = \"RG\"\nlocation = \"westeurope\"",
                "twice",
            ),
            (
                "[[resource_groups]]\nname = \"rg\"\nlocation = \"westeurope\"\nresources = [\"x\"]",
                "'x'",
            ),
            (
                "[[identities]]\nresource_group = \"rg\"\nname = \"a\"\nlocation = \"westeurope\"",
                "identity 'a'",
            ),
            (
                "[[galleries]]\nresource_group = \"rg\"\ngallery = \"g\"\nimage = \"i\"\nlocation = \"westeurope\"\narchitecture = \"arm\"",
                "architecture",
            ),
        ] {
            let err = Scenario::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        assert!(
            Scenario::from_toml(
                "[[resource_groups]]\nname = \"rg-(x)_1\"\nlocation = \"West Europe\""
            )
            .is_ok()
        );
    }
}
