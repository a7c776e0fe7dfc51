//! Soak (issue 15): a new base version is built only once it has been known for
//! `min_base_age`; `build --skip-soak` is the way around it for an urgent fix.

use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

fn publish(world: &World, version: &str) {
    world.sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        version,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_base_version_waits_its_soak_unless_skipped() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    world.write_catalog("[defaults]\nmin_base_age = \"2d\"", &[IMAGE]);
    // A first build does not wait: there is nothing older to keep using.
    let (code, text) = world.said(&["build", "--wait", IMAGE]);
    assert_eq!(code, Some(0), "{text}");

    publish(&world, "22.04.202412010");
    let (code, text) = world.said(&["check"]);
    assert_eq!(code, Some(0), "known and not stale: {text}");
    assert!(text.contains("eligible from"), "{text}");
    let (code, text) = world.said(&["build", IMAGE]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("soaking") && text.contains("--skip-soak"),
        "{text}"
    );
    assert_eq!(world.builds().await.len(), 1, "no build while it soaks");
    let status = world.command(&["status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["decision_now"]["kind"], "soaking");

    // Two days later (the first sighting moved back), it is stale.
    let store = world.store().await;
    sqlx::query(
        "UPDATE source_versions SET first_seen_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-3 days')
         WHERE version = '22.04.202412010'",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let (code, text) = world.said(&["check"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("new base version 22.04.202411050 → 22.04.202412010"),
        "{text}"
    );

    // An urgent fix skips the soak, and history says so.
    publish(&world, "22.04.202412020");
    let (code, text) = world.said(&["build", "--skip-soak", "--wait", IMAGE]);
    assert_eq!(code, Some(0), "{text}");
    let builds = world.builds().await;
    let urgent = builds
        .iter()
        .find(|b| b.source_version == "22.04.202412020")
        .unwrap();
    assert!(
        urgent.reason.ends_with("soak skipped by an operator"),
        "{}",
        urgent.reason
    );
    assert_eq!(
        urgent.decision.map(|d| d.as_str()),
        Some("new_base_version")
    );
}
