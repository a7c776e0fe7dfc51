//! Resource provider registration (`Providers_Get`, resources 2025-04-01)
//! and ARM's refusal of writes to a namespace the subscription has not
//! registered.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ArmError;
use super::regions;
use super::state::State;
use super::wire;

/// A namespace and a few of its resource types with their api-versions.
pub(crate) struct Provider {
    pub namespace: &'static str,
    /// Microsoft.Resources is part of ARM itself: nobody registers it.
    pub registration_free: bool,
    pub types: &'static [(&'static str, &'static [&'static str])],
}

pub(crate) const PROVIDERS: &[Provider] = &[
    Provider {
        namespace: "Microsoft.VirtualMachineImages",
        registration_free: false,
        types: &[
            (
                "imageTemplates",
                &["2025-10-01", "2024-02-01", "2023-07-01", "2022-07-01"],
            ),
            (
                "imageTemplates/runOutputs",
                &["2025-10-01", "2024-02-01", "2023-07-01"],
            ),
            (
                "imageTemplates/triggers",
                &["2025-10-01", "2024-02-01", "2023-07-01"],
            ),
            (
                "locations/operations",
                &["2025-10-01", "2024-02-01", "2023-07-01"],
            ),
        ],
    },
    Provider {
        namespace: "Microsoft.Compute",
        registration_free: false,
        types: &[
            (
                "virtualMachines",
                &["2025-04-01", "2024-11-01", "2024-07-01"],
            ),
            ("images", &["2025-04-01", "2024-11-01", "2024-07-01"]),
            ("galleries", &["2024-03-03", "2023-07-03", "2022-08-03"]),
            (
                "galleries/images",
                &["2024-03-03", "2023-07-03", "2022-08-03"],
            ),
            (
                "galleries/images/versions",
                &["2024-03-03", "2023-07-03", "2022-08-03"],
            ),
        ],
    },
    Provider {
        namespace: "Microsoft.Storage",
        registration_free: false,
        types: &[(
            "storageAccounts",
            &["2024-01-01", "2023-05-01", "2023-01-01"],
        )],
    },
    Provider {
        namespace: "Microsoft.Network",
        registration_free: false,
        types: &[
            (
                "virtualNetworks",
                &["2024-05-01", "2024-03-01", "2023-11-01"],
            ),
            (
                "networkInterfaces",
                &["2024-05-01", "2024-03-01", "2023-11-01"],
            ),
        ],
    },
    Provider {
        namespace: "Microsoft.KeyVault",
        registration_free: false,
        types: &[("vaults", &["2024-11-01", "2023-07-01", "2022-07-01"])],
    },
    Provider {
        namespace: "Microsoft.ManagedIdentity",
        registration_free: false,
        types: &[(
            "userAssignedIdentities",
            &["2026-05-31", "2024-11-30", "2023-01-31", "2018-11-30"],
        )],
    },
    Provider {
        namespace: "Microsoft.ContainerInstance",
        registration_free: false,
        types: &[(
            "containerGroups",
            &["2024-10-01-preview", "2023-05-01", "2022-09-01"],
        )],
    },
    Provider {
        namespace: "Microsoft.Resources",
        registration_free: true,
        types: &[
            (
                "resourceGroups",
                &["2025-04-01", "2024-11-01", "2024-03-01"],
            ),
            ("subscriptions", &["2022-12-01", "2021-01-01", "2020-01-01"]),
        ],
    },
];

pub(crate) fn find(namespace: &str) -> Option<&'static Provider> {
    PROVIDERS
        .iter()
        .find(|p| p.namespace.eq_ignore_ascii_case(namespace))
}

pub(crate) fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.namespace).collect()
}

fn registered(state: &State, p: &Provider) -> bool {
    p.registration_free
        || !state
            .settings
            .unregistered_providers
            .iter()
            .any(|n| n.eq_ignore_ascii_case(p.namespace))
}

/// ARM's answer to a write into a namespace the subscription has not registered.
pub(crate) fn check_registered(state: &State, namespace: &str) -> Result<(), ArmError> {
    match find(namespace) {
        Some(p) if !registered(state, p) => Err(ArmError::new(
            StatusCode::CONFLICT,
            "MissingSubscriptionRegistration",
            format!(
                "The subscription is not registered to use namespace '{}'. See https://aka.ms/rps-not-found for how to register subscriptions.",
                p.namespace
            ),
        )),
        _ => Ok(()),
    }
}

/// `GET /subscriptions/{s}/providers/{namespace}`, shaped as GetProvider.json.
pub(crate) fn get(state: &State, subscription: &str, namespace: &str) -> Response {
    let Some(p) = find(namespace) else {
        return ArmError::new(
            StatusCode::NOT_FOUND,
            "InvalidResourceNamespace",
            format!("The resource namespace '{namespace}' is invalid."),
        )
        .into_response();
    };
    // Resource types list the regions by display name, as ARM does.
    let locations: Vec<&str> = state
        .settings
        .locations
        .iter()
        .filter_map(|l| regions::find(l))
        .map(|r| r.display)
        .collect();
    let types: Vec<Value> = p
        .types
        .iter()
        .map(|(ty, versions)| {
            json!({
                "resourceType": ty,
                // Operation endpoints are not placed in a region.
                "locations": if ty.starts_with("locations/") { Vec::new() } else { locations.clone() },
                "apiVersions": versions,
                "capabilities": "CrossResourceGroupResourceMove, CrossSubscriptionResourceMove, SupportsTags, SupportsLocation",
            })
        })
        .collect();
    let body = json!({
        "id": format!("/subscriptions/{subscription}/providers/{}", p.namespace),
        "namespace": p.namespace,
        "registrationPolicy": if p.registration_free { "RegistrationFree" } else { "RegistrationRequired" },
        "registrationState": if registered(state, p) { "Registered" } else { "NotRegistered" },
        "resourceTypes": types,
    });
    wire::json(StatusCode::OK, &body)
}
