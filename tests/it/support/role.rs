//! The daemon's least-privilege role (`config/azure/image-refresh-daemon.role.json`)
//! against what the client really sent: every ARM request in a simulator
//! journal becomes the RBAC action ARM checks for it, and the role must allow
//! each one. Suites that drive the client call [`assert_allows`] on their
//! journal, so a new call the role lacks fails the suite that makes it.

use std::collections::BTreeSet;

use azure_sim::JournalEntry;
use serde_json::Value;

const ROLE: &str = include_str!("../../../config/azure/image-refresh-daemon.role.json");

/// The role's `Actions`, after checking it is a role definition `az role
/// definition create` takes.
pub fn actions() -> Vec<String> {
    let role: Value = serde_json::from_str(ROLE).expect("the role definition is JSON");
    for key in ["Name", "Description"] {
        assert!(role[key].is_string(), "the role has no {key}");
    }
    assert_eq!(role["IsCustom"], Value::Bool(true));
    let scopes = role["AssignableScopes"]
        .as_array()
        .expect("AssignableScopes");
    assert!(
        !scopes.is_empty(),
        "a custom role needs an assignable scope"
    );
    role["Actions"]
        .as_array()
        .expect("Actions")
        .iter()
        .map(|action| action.as_str().expect("actions are strings").to_owned())
        .collect()
}

/// The RBAC action ARM checks for `method` on `path`; `None` for what is no
/// ARM resource (tokens, blobs). The resource type is the provider namespace
/// followed by every other segment after it (`Microsoft.Compute/galleries/
/// {g}/images/{i}/versions` is `Microsoft.Compute/galleries/images/versions`);
/// paths without a provider are Microsoft.Resources' (`subscriptions/{s}/
/// resourceGroups/{g}` is `Microsoft.Resources/subscriptions/resourceGroups`).
pub fn action(method: &str, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if !segments[0].eq_ignore_ascii_case("subscriptions") {
        return None;
    }
    // The last `providers/{namespace}` with a resource type after it; a bare
    // `subscriptions/{s}/providers/{namespace}` is the provider itself.
    let provider = (0..segments.len().saturating_sub(2))
        .rev()
        .find(|&i| segments[i].eq_ignore_ascii_case("providers"));
    let (namespace, rest) = match provider {
        Some(i) => (segments[i + 1], &segments[i + 2..]),
        None => ("Microsoft.Resources", &segments[..]),
    };
    let mut types: Vec<&str> = rest.iter().step_by(2).copied().collect();
    let verb = match method {
        "GET" | "HEAD" => "read",
        "PUT" | "PATCH" => "write",
        "DELETE" => "delete",
        // `…/imageTemplates/{t}/run`: the last segment names the action.
        "POST" => {
            assert!(rest.len() % 2 == 1, "a POST to a resource itself: {path}");
            types.pop();
            return Some(format!(
                "{namespace}/{}/{}/action",
                types.join("/"),
                rest[rest.len() - 1]
            ));
        }
        other => panic!("no RBAC verb for {other} {path}"),
    };
    Some(format!("{namespace}/{}/{verb}", types.join("/")))
}

/// Every action the journal's requests need: one per ARM request, and
/// `assign/action` on each user-assigned identity a PUT body names (ARM asks
/// it of whoever attaches an identity to a resource, such as a template).
pub fn required(journal: &[JournalEntry]) -> BTreeSet<String> {
    let mut needed = BTreeSet::new();
    for entry in journal {
        let Some(action) = action(&entry.method, &entry.path) else {
            continue;
        };
        needed.insert(action);
        if entry.method == "PUT"
            && entry.body.as_ref().is_some_and(|body| {
                body.to_string()
                    .to_ascii_lowercase()
                    .contains("/providers/microsoft.managedidentity/userassignedidentities/")
            })
        {
            needed.insert("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action".into());
        }
    }
    needed
}

/// Whether `granted` (an action, `*` matching any run of characters) covers
/// `needed`; ARM compares actions without regard to case.
fn covers(granted: &str, needed: &str) -> bool {
    let granted = granted.to_ascii_lowercase();
    let needed = needed.to_ascii_lowercase();
    let mut parts = granted.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = needed.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    if parts.is_empty() {
        return rest.is_empty();
    }
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The actions of `journal` the role does not grant.
pub fn missing(journal: &[JournalEntry]) -> Vec<String> {
    let granted = actions();
    required(journal)
        .into_iter()
        .filter(|needed| !granted.iter().any(|g| covers(g, needed)))
        .collect()
}

/// Fails when the daemon's role lacks an action the journal's requests need.
pub fn assert_allows(journal: &[JournalEntry]) {
    let missing = missing(journal);
    assert!(
        missing.is_empty(),
        "config/azure/image-refresh-daemon.role.json lacks {missing:?}, which the client needed for:\n{}",
        journal
            .iter()
            .filter(|e| action(&e.method, &e.path).is_some_and(|a| missing.contains(&a)))
            .map(|e| format!("  {} {}", e.method, e.path))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
