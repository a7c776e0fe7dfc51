//! Transient ARM failures during a check are retried; the cycle completes
//! with the right versions and the journal shows every attempt.

use std::time::Duration;

use azure_sim::{FaultKind, FaultRule};
use image_refresh::check::{CheckOptions, Decision};

use super::{CheckWorld, LOCATION, OFFER, PUBLISHER, RG, World, entry, marketplace_image, world};

fn scenario() -> String {
    (0..4)
        .map(|i| {
            format!(
                r#"
[[marketplace]]
location = "{LOCATION}"
publisher = "{PUBLISHER}"
offer = "{OFFER}"
sku = "sku-{i}"
versions = ["2.0.{i}", "10.0.{i}"]
"#
            )
        })
        .chain(std::iter::once(format!(
            r#"
[[resource_groups]]
name = "{RG}"
location = "{LOCATION}"

[[identities]]
resource_group = "{RG}"
name = "id-aib"
location = "{LOCATION}"
"#
        )))
        .collect()
}

fn images() -> String {
    (0..8)
        .map(|n| marketplace_image(&format!("img-{n}"), &format!("sku-{}", n % 4), "latest", ""))
        .collect()
}

/// Every one of the eight images was looked up and found never built.
fn all_never_built(plan: &image_refresh::plan::Plan) {
    for n in 0..8 {
        let image = entry(plan, &format!("img-{n}"));
        assert_eq!(
            image.decision,
            Decision::NeverBuilt,
            "img-{n}: {}",
            image.reason
        );
    }
}

async fn check_under(fault: FaultKind, count: u32) -> (World, image_refresh::plan::Plan) {
    let world = world(&scenario()).await;
    world
        .sim
        .add_fault(FaultRule::times("marketplace.list", fault, count));
    let catalog = world.catalog_with(&images());
    let store = world.store_for(&catalog).await;
    let plan = world
        .check_with(&catalog, &store, CheckOptions { concurrency: 2 })
        .await;
    all_never_built(&plan);
    for n in 0..8 {
        let image = entry(&plan, &format!("img-{n}"));
        assert_eq!(image.source_version, Some(format!("10.0.{}", n % 4)));
    }
    let record = store.last_check().await.unwrap().unwrap();
    assert_eq!(record.images_stale, Some(8));
    assert_eq!(
        store.resolved_versions(plan.check_id).await.unwrap().len(),
        4
    );
    (world, plan)
}

/// Statuses on the list route: `failed` answers of `status`, then one 200 per sku.
fn assert_retried(world: &World, status: u16, failed: usize) {
    let statuses = world.statuses("marketplace.list");
    assert_eq!(statuses.len(), 4 + failed, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == status).count(),
        failed,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn throttled_lookups_wait_for_retry_after() {
    let started = tokio::time::Instant::now();
    let (world, _) = check_under(
        FaultKind::Throttle {
            retry_after_secs: 1,
        },
        3,
    )
    .await;
    assert_retried(&world, 429, 3);
    // Backoff here is at most 20 ms; only honouring Retry-After explains a
    // one-second wait (a lower bound: it cannot fail on a slow machine).
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn server_errors_are_retried() {
    let (world, _) = check_under(FaultKind::Status { code: 503 }, 3).await;
    assert_retried(&world, 503, 3);
    let (world, _) = check_under(FaultKind::Status { code: 500 }, 2).await;
    assert_retried(&world, 500, 2);
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let (world, _) = check_under(FaultKind::Drop, 3).await;
    // The simulator journals a dropped request with status 0.
    assert_retried(&world, 0, 3);
}

#[tokio::test]
async fn a_lookup_that_keeps_failing_makes_its_images_unavailable_not_the_check() {
    let world = world(&scenario()).await;
    let catalog = world.catalog_with(&images());
    let store = world.store_for(&catalog).await;
    world.sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Status { code: 503 },
        6,
    ));
    let plan = world
        .check_with(&catalog, &store, CheckOptions { concurrency: 1 })
        .await;
    // With one lookup at a time, the first sku asked takes all six failures
    // (the retry policy's six attempts) and gives up; the rest succeed.
    let unavailable: Vec<_> = plan
        .entries
        .iter()
        .filter(|e| e.decision.kind() == "source_unavailable")
        .map(|e| e.image.clone())
        .collect();
    assert_eq!(unavailable.len(), 2, "{unavailable:?}");
    assert!(plan.entries.iter().filter(|e| e.stale).count() == 6);
    let statuses = world.statuses("marketplace.list");
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 6);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3);
    let record = store.last_check().await.unwrap().unwrap();
    assert!(record.finished_at.is_some());
    assert_eq!(record.error, None);
}

/// A token revoked before its announced expiry: ARM answers 401, the client
/// fetches a new token once and repeats the request; the check completes.
#[tokio::test]
async fn a_token_revoked_mid_life_is_replaced_and_the_check_completes() {
    let world = world(&scenario()).await;
    let catalog = world.catalog_with(&images());
    let store = world.store_for(&catalog).await;
    world.sim.add_fault(FaultRule {
        after: Some(1),
        ..FaultRule::times("marketplace.list", FaultKind::RevokeTokens, 1)
    });
    let plan = world
        .check_with(&catalog, &store, CheckOptions { concurrency: 1 })
        .await;
    all_never_built(&plan);
    let statuses = world.statuses("marketplace.list");
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    // One token before the revocation, one after it.
    let tokens = world.accepted("token.entra") + world.accepted("token.msi");
    assert_eq!(tokens, 2, "{:?}", world.sim.counters());
}
