//! The subscription itself (`Subscriptions_Get`) and the regions it offers
//! (`Subscriptions_ListLocations`), subscriptions 2022-12-01.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::regions;
use super::state::State;
use super::wire;

/// `GET /subscriptions/{s}`, shaped as GetSubscription.json; the scope check
/// has proven the subscription.
pub(crate) fn get(state: &State, subscription: &str) -> Response {
    let body = json!({
        "id": format!("/subscriptions/{subscription}"),
        "subscriptionId": subscription,
        "displayName": "image-refresh simulated subscription",
        "state": "Enabled",
        "tenantId": state.settings.tenant_id,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        },
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
    });
    wire::json(StatusCode::OK, &body)
}

/// `GET /subscriptions/{s}/locations`: the scenario's regions, in its order.
pub(crate) fn locations(
    state: &State,
    subscription: &str,
    path: &str,
    query: &[(String, String)],
) -> Response {
    let value: Vec<Value> = state
        .settings
        .locations
        .iter()
        .filter_map(|l| regions::find(l))
        .map(|r| regions::location_body(subscription, r))
        .collect();
    super::paging::answer(state, path, query, value)
}
