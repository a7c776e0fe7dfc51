//! Retries, throttling and ARM error bodies, against the simulator's fault injection.

use std::time::Duration;

use azure_sim::{FaultKind, FaultRule};
use image_refresh::azure::image_templates::{self, TemplateRef};
use image_refresh::azure::marketplace::{self, MarketplaceSku};
use image_refresh::azure::{AzureError, CloudEndpoints};

use super::{client_with_secret, fast_retries, sku, start_sim, statuses};

#[tokio::test]
async fn latest_marketplace_version_is_chosen_numerically() {
    let sim = start_sim().await;
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    let versions = marketplace::list_versions(&client.arm, &sku(&sim))
        .await
        .unwrap();
    assert_eq!(versions.len(), 4);
    let latest = marketplace::resolve_latest(&client.arm, &sku(&sim))
        .await
        .unwrap();
    assert_eq!(latest.version.as_str(), "24.04.202501150");
    assert!(latest.ignored.is_empty());

    // The client secret went to the Entra endpoint of the configured authority, once.
    assert_eq!(sim.count("token.entra"), 1);
    let list = sim
        .journal()
        .into_iter()
        .find(|e| e.route == "marketplace.list")
        .unwrap();
    assert_eq!(list.query, "api-version=2025-04-01");
}

#[tokio::test]
async fn throttled_request_waits_for_retry_after_then_succeeds() {
    let sim = start_sim().await;
    sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Throttle {
            retry_after_secs: 1,
        },
        1,
    ));
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    let started = tokio::time::Instant::now();
    let versions = marketplace::list_versions(&client.arm, &sku(&sim))
        .await
        .unwrap();
    assert_eq!(versions.len(), 4);
    assert_eq!(statuses(&sim, "marketplace.list"), vec![429, 200]);
    // Backoff alone is at most 5 ms here; only honouring Retry-After explains a 1 s wait.
    // (A lower bound: it cannot fail on a slow machine.)
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let sim = start_sim().await;
    sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Status { code: 503 },
        2,
    ));
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    marketplace::list_versions(&client.arm, &sku(&sim))
        .await
        .unwrap();
    assert_eq!(statuses(&sim, "marketplace.list"), vec![503, 503, 200]);
}

#[tokio::test]
async fn retries_stop_after_max_attempts_with_the_last_arm_error() {
    let sim = start_sim().await;
    sim.add_fault(FaultRule::always(
        "marketplace.list",
        FaultKind::Status { code: 503 },
    ));
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    let err = marketplace::list_versions(&client.arm, &sku(&sim))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AzureError::Arm { status: 503, ref code, .. } if code == "ServiceUnavailable"),
        "{err:?}"
    );
    assert_eq!(statuses(&sim, "marketplace.list"), vec![503; 4]);
}

#[tokio::test]
async fn dropped_connection_is_retried() {
    let sim = start_sim().await;
    sim.add_fault(FaultRule::times("marketplace.list", FaultKind::Drop, 1));
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    let versions = marketplace::list_versions(&client.arm, &sku(&sim))
        .await
        .unwrap();
    assert_eq!(versions.len(), 4);
    // The journal records a dropped request with status 0.
    assert_eq!(statuses(&sim, "marketplace.list"), vec![0, 200]);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_show_code_and_message() {
    let sim = start_sim().await;
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());
    let missing = MarketplaceSku {
        sku: "no-such-sku".into(),
        ..sku(&sim)
    };

    let err = marketplace::list_versions(&client.arm, &missing)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("NotFound"), "{shown}");
    assert!(
        shown.contains("Artifact: VMImage was not found."),
        "{shown}"
    );
    assert_eq!(statuses(&sim, "marketplace.list"), vec![404]);
}

#[tokio::test]
async fn post_is_not_repeated_after_a_server_error() {
    let sim = start_sim().await;
    sim.add_fault(FaultRule::always(
        "template.run",
        FaultKind::Status { code: 500 },
    ));
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());
    let template = TemplateRef {
        subscription_id: sim.subscription_id().to_owned(),
        resource_group: "rg-images".into(),
        name: "ubuntu-golden".into(),
    };

    // A 500 on POST .../run may mean a build started: repeating it could start a second one.
    let err = image_templates::run(&client.arm, &template)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AzureError::Arm { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(statuses(&sim, "template.run"), vec![500]);
}

#[test]
fn plain_http_is_refused_for_non_loopback_endpoints() {
    let err = CloudEndpoints::custom(
        "http://management.example.com",
        "https://login.example.com",
        None,
    )
    .unwrap_err();
    assert!(matches!(err, AzureError::InvalidEndpoint { .. }), "{err:?}");
    assert!(
        CloudEndpoints::public()
            .with_authority_host("http://login.example.com")
            .is_err()
    );
}
