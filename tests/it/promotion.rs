//! Staged promotion (issue 15): a new gallery version is published excluded
//! from `latest` and becomes latest ring by ring, or by hand with `promote`;
//! a consumer's `latest` changes region by region; a promotion killed half-way
//! is finished without asking Azure twice; a revoked version never moves.

use std::time::Duration;

use azure_sim::{FaultKind, FaultRule};
use image_refresh::azure::gallery::GalleryImageRef;
use image_refresh::azure::gallery_latest::{self, LatestIn};
use image_refresh::store::Promotion;
use serde_json::Value;

use crate::support::daemon::{Daemon, eventually};
use crate::support::gallery::{DEFINITION, consumer, latest, some, world};
use crate::support::setup::IMAGE;
use crate::support::world::World;
const PATCH: &str = "gallery.version.update";

/// Ring 1 westeurope at once, ring 2 northeurope `after` later.
fn rings(after: &str) -> String {
    format!(
        "\n[[images.distribute.rings]]\nregions = [\"westeurope\"]\n\
         [[images.distribute.rings]]\nregions = [\"northeurope\"]\nafter = \"{after}\"\n"
    )
}

async fn promotions(world: &World) -> Vec<Promotion> {
    let store = world.store().await;
    let all = store.promotions(None).await.unwrap();
    store.close().await;
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_promotes_ring_by_ring_and_latest_changes_region_by_region() {
    let world = world(&rings("6s")).await;
    let service = world.spawn("service", &[]);
    // The start-up check builds 1.0.1; ring 1 moves as soon as it is staged.
    let ring_one = eventually("ring 1 promoted", &service, || async {
        let all = promotions(&world).await;
        all.first()
            .and_then(|p| p.rings[0].done_at)
            .filter(|_| all[0].rings[1].done_at.is_none())
    })
    .await;
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.0")]);
    assert_eq!(world.accepted(PATCH), 1);
    let status = world.command(&["status", "--output", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let shown = &status[0]["promotions"][0];
    assert_eq!(shown["version"], "1.0.1", "{status}");
    assert_eq!(shown["latest_in"], serde_json::json!(["westeurope"]));
    assert_eq!(shown["staged_in"], serde_json::json!(["northeurope"]));
    assert_eq!(shown["next_ring"], 2);
    let next_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(shown["next_ring_at"].clone()).unwrap();
    assert_eq!(next_at, ring_one + chrono::Duration::seconds(6));

    // The service wakes for ring 2 on its own.
    let ring_two = eventually("ring 2 promoted", &service, || async {
        promotions(&world).await[0].rings[1].done_at
    })
    .await;
    assert!(ring_two >= next_at, "{ring_two} before {next_at}");
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.1")]);
    assert_eq!(world.accepted(PATCH), 2, "one PATCH per ring");
    service.stop_cleanly().await;

    let history = world.command(&["history", "--output", "json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        history[0]["promotions"][0]["staged_in"],
        serde_json::json!([])
    );
    let events = world.builds().await;
    assert_eq!(events.len(), 1);
    crate::support::role::assert_allows(&world.sim.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_moves_a_ring_only_once_its_delay_passed() {
    let world = world(&rings("4s")).await;
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ring 1 of 2, latest in westeurope"), "{text}");
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.0")]);

    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        latest(&world).await,
        [some("1.0.1"), some("1.0.0")],
        "{text}"
    );
    assert_eq!(world.accepted(PATCH), 1);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("latest everywhere"), "{text}");
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.1")]);
    assert_eq!(world.accepted(PATCH), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_target_waits_for_promote_and_pruning_keeps_what_is_staged() {
    let world = world("promotion = \"manual\"\nversions_to_keep = 1").await;
    for _ in 0..2 {
        let (code, text) = world.said(&["build", "--force", "--wait", IMAGE]);
        assert_eq!(code, Some(0), "{text}");
    }
    // Two staged versions beyond versions_to_keep = 1, and 1.0.0 is what latest
    // means: nothing may go.
    assert_eq!(latest(&world).await, [some("1.0.0"), some("1.0.0")]);
    assert_eq!(world.accepted("gallery.version.delete"), 0);
    let status = world.command(&["status", "--output", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let note = status[0]["note"].as_str().unwrap();
    assert!(
        note.ends_with(
            "; 1.0.2 staged in westeurope, northeurope (ring 1 waits for `image-refresh promote`)"
        ),
        "{note}"
    );

    let (code, text) = world.said(&["promote", IMAGE, "--by", "carol"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("1.0.2 (ubuntu-golden): latest everywhere"),
        "{text}"
    );
    assert_eq!(latest(&world).await, [some("1.0.2"), some("1.0.2")]);
    let promoted = promotions(&world).await;
    let newest = promoted.iter().find(|p| p.version == "1.0.2").unwrap();
    assert_eq!(newest.rings[0].requested_by.as_deref(), Some("carol"));

    // 1.0.1 is still staged; naming a version that is not is a clear error.
    let (code, text) = world.said(&["promote", IMAGE, "--version", "1.0.2"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("1.0.2 of image ubuntu-golden is not staged"),
        "{text}"
    );
    assert_eq!(world.accepted(PATCH), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_version_is_never_promoted() {
    let world = world(&rings("3s")).await;
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.0")]);
    let (code, text) = world.said(&["revoke", IMAGE, "1.0.1", "--reason", "boot loop"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(latest(&world).await, [some("1.0.0"), some("1.0.0")]);
    let patches = world.accepted(PATCH);

    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(latest(&world).await, [some("1.0.0"), some("1.0.0")]);
    let (code, text) = world.said(&["promote", IMAGE, "--version", "1.0.1"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("revoked"), "{text}");
    assert_eq!(
        world.accepted(PATCH),
        patches,
        "no PATCH for a revoked version"
    );
    let stopped = &promotions(&world).await[0];
    assert!(
        stopped
            .stopped_reason
            .as_deref()
            .is_some_and(|r| r.contains("boot loop")),
        "{stopped:#?}"
    );
    assert!(stopped.rings[1].done_at.is_none());
}

/// Waits until ring `ring` (1-based) has been asked for, and kills the service
/// while its PATCH hangs ([`hang_next_patch`]).
async fn kill_during_ring(world: &World, service: Daemon, ring: usize) {
    eventually(&format!("ring {ring} asked for"), &service, || async {
        promotions(world)
            .await
            .first()
            .and_then(|p| p.rings[ring - 1].requested_at)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.kill();
}

/// Makes the next gallery PATCH hang far beyond the test's length: the
/// simulator holds it before anything changes, as if it never arrived.
fn hang_next_patch(world: &World) {
    world.sim.add_fault(FaultRule::times(
        PATCH,
        FaultKind::Latency { ms: 120_000 },
        1,
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_during_each_ring_finishes_it_with_one_patch() {
    let world = world(&rings("3s")).await;
    hang_next_patch(&world);
    kill_during_ring(&world, world.spawn("first", &[]), 1).await;
    assert_eq!(world.accepted(PATCH), 0);
    assert_eq!(latest(&world).await, [some("1.0.0"), some("1.0.0")]);

    // Restarted, it finishes ring 1; killed again during ring 2's PATCH.
    let service = world.spawn("second", &[]);
    eventually("ring 1 promoted", &service, || async {
        promotions(&world).await[0].rings[0].done_at
    })
    .await;
    hang_next_patch(&world);
    kill_during_ring(&world, service, 2).await;
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.0")]);
    assert_eq!(world.accepted(PATCH), 1);

    let service = world.spawn("third", &[]);
    eventually("both rings promoted", &service, || async {
        promotions(&world).await[0].rings[1].done_at
    })
    .await;
    service.stop_cleanly().await;
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.1")]);
    let rings = &promotions(&world).await[0].rings;
    assert!(rings[1].done_at >= rings[0].done_at.map(|d| d + chrono::Duration::seconds(3)));
    assert_eq!(world.accepted(PATCH), 2, "one PATCH per ring reached Azure");
    assert_eq!(world.builds().await.len(), 1, "nothing was built twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_azure_applied_before_the_process_died_is_recorded_without_a_patch() {
    let world = world("promotion = \"manual\"").await;
    let (code, text) = world.said(&["build", "--force", "--wait", IMAGE]);
    assert_eq!(code, Some(0), "{text}");
    // What a `promote` killed after Azure's answer and before its record leaves.
    let store = world.store().await;
    store
        .request_rings(DEFINITION, "1.0.1", 1, "dave", chrono::Utc::now())
        .await
        .unwrap();
    store.close().await;
    let app = consumer(&world).await;
    let definition = GalleryImageRef::from_id(DEFINITION).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    gallery_latest::set_latest(
        &app.arm,
        &definition,
        "1.0.1",
        LatestIn::Everywhere,
        deadline,
    )
    .await
    .unwrap();
    app.store.close().await;
    assert_eq!(world.accepted(PATCH), 1);

    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    let done = &promotions(&world).await[0];
    assert!(done.rings[0].done_at.is_some(), "{done:#?}");
    assert_eq!(done.rings[0].requested_by.as_deref(), Some("dave"));
    assert_eq!(world.accepted(PATCH), 1, "Azure had it: nothing sent again");
    assert_eq!(latest(&world).await, [some("1.0.1"), some("1.0.1")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_version_deleted_by_hand_stops_its_promotion() {
    let world = world("promotion = \"manual\"").await;
    let (code, text) = world.said(&["build", "--force", "--wait", IMAGE]);
    assert_eq!(code, Some(0), "{text}");
    let app = consumer(&world).await;
    let definition = GalleryImageRef::from_id(DEFINITION).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    image_refresh::azure::gallery::delete_version(&app.arm, &definition, "1.0.1", deadline)
        .await
        .unwrap();
    app.store.close().await;

    let (code, text) = world.said(&["promote", IMAGE]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("promote 1.0.1"), "{text}");
    let stopped = &promotions(&world).await[0];
    assert_eq!(
        stopped.stopped_reason.as_deref(),
        Some("the version no longer exists in Azure")
    );
    // Nothing is asked of Azure for it again.
    let (code, text) = world.said(&["promote", IMAGE]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("has no staged gallery image version"),
        "{text}"
    );
    assert_eq!(world.accepted(PATCH), 0);
}
