//! The operator's handle on a running simulator: what [`crate::SimHandle`] does for the
//! tests and the demo, over HTTP for `image-refresh simulate` started on its own.
//!
//! These routes live under `/_simulator/`, outside every ARM path, and take no token:
//! they are not Azure's API but the hand that plays Azure's part (a publisher releasing
//! an image, a build that breaks), so a client of the simulated ARM can never reach them
//! by following Azure's contracts, and they never show in the request journal the role
//! checks read. The simulator listens on loopback only (`Simulator::start` refuses any
//! other address), so only processes on this machine can use them.

use std::sync::Arc;

use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::scenario::{BuildRule, Outcome, Phase};
use crate::state::State;

/// The control routes, merged into the simulator's router ahead of its ARM fallback.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route(
            "/_simulator/marketplace/{publisher}/{offer}/{sku}/versions",
            post(publish_version),
        )
        .route("/_simulator/builds/next-failure", post(next_failure))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVersion {
    location: String,
    version: String,
}

/// Publishes a marketplace version now, as `[[publish]]` in a scenario does on a timer.
async fn publish_version(
    Extract(state): Extract<Arc<State>>,
    Path((publisher, offer, sku)): Path<(String, String, String)>,
    Json(body): Json<NewVersion>,
) -> Response {
    // Marketplace versions are Major.Minor.Patch numbers; the client orders them so.
    let numeric = body.version.split('.').count() == 3
        && body
            .version
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    if !numeric {
        return refuse(format!(
            "version `{}` is not Major.Minor.Patch numbers, e.g. 22.04.202412010",
            body.version
        ));
    }
    crate::marketplace::publish(
        &state,
        &body.location,
        &publisher,
        &offer,
        &sku,
        &body.version,
    );
    let published = json!({
        "location": body.location, "publisher": publisher, "offer": offer,
        "sku": sku, "version": body.version,
    });
    (StatusCode::CREATED, Json(published)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextFailure {
    /// Where the run stops (AIB's message names it); customizing when absent.
    phase: Option<Phase>,
}

/// The next run of any template fails, as `SimHandle::queue_build_outcome` makes it.
async fn next_failure(
    Extract(state): Extract<Arc<State>>,
    body: Option<Json<NextFailure>>,
) -> Response {
    let phase = body
        .and_then(|Json(b)| b.phase)
        .unwrap_or(Phase::Customizing);
    let queued = queue_outcome(&state, Outcome::Failed, Some(phase));
    let body = json!({ "outcome": "failed", "phase": phase.wire_name(), "queued": queued });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// Queues the outcome of the next run of any template; how many are queued now.
pub(crate) fn queue_outcome(state: &State, outcome: Outcome, fail_in: Option<Phase>) -> usize {
    let mut world = state.world();
    world.queued_outcomes.push_back(BuildRule {
        pattern: "*".to_owned(),
        outcome,
        fail_in,
        extra_secs: 0,
    });
    world.queued_outcomes.len()
}

fn refuse(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use crate::Scenario;

    /// Every table README.md documents, with its example, makes one scenario that loads.
    #[test]
    fn the_readme_s_scenario_examples_load() {
        let readme = include_str!("../README.md");
        let examples: String = readme
            .split("```toml\n")
            .skip(1)
            .filter_map(|block| block.split_once("```").map(|(toml, _)| toml))
            .collect();
        for table in [
            "[settings]",
            "[throttle]",
            "[build]",
            "[[marketplace]]",
            "[[publish]]",
            "[[galleries]]",
            "[[resource_groups]]",
            "[[identities]]",
            "[[builds]]",
            "[[faults]]",
        ] {
            assert!(
                examples.contains(table),
                "README.md has no example of {table}"
            );
        }
        let scenario = Scenario::from_toml(&examples).unwrap();
        assert_eq!(scenario.faults.len(), 4);
        assert_eq!(scenario.builds[0].pattern, "ir-windows-*");
    }
}
