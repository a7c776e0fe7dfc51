//! `revoke` (issue 15): a bad gallery image version leaves `latest` in every
//! region, consumers fall back to the previous good one, the history says who
//! and why, and pruning keeps both the revoked version and the one that is
//! latest now.

use serde_json::Value;

use crate::support::gallery::{self, DEFINITION, some};
use crate::support::setup::IMAGE;
use crate::support::world::World;

async fn world() -> World {
    gallery::world("").await
}

fn build(world: &World) {
    let built = world.command(&["build", "--force", "--wait", IMAGE]);
    assert!(built.status.success(), "{built:?}");
}

async fn everywhere(world: &World) -> [Option<String>; 2] {
    gallery::latest(world).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_version_leaves_latest_everywhere_and_the_history_says_who_and_why() {
    let world = world().await;
    build(&world);
    build(&world);
    assert_eq!(everywhere(&world).await, [some("1.0.2"), some("1.0.2")]);

    let revoked = world
        .binary()
        .args(["revoke", IMAGE, "1.0.2", "--reason", "kernel panic on boot"])
        .args(["--by", "alice", "--output", "json"])
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    let said: Value = serde_json::from_slice(&revoked.stdout).unwrap();
    let latest: Vec<(&str, &str)> = said["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["region"].as_str().unwrap(),
                l["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(latest, [("westeurope", "1.0.1"), ("northeurope", "1.0.1")]);
    // A consumer sees the previous good version in every region; nothing was deleted.
    assert_eq!(everywhere(&world).await, [some("1.0.1"), some("1.0.1")]);
    assert_eq!(world.accepted("gallery.version.delete"), 0);
    assert_eq!(world.accepted("gallery.version.update"), 1);

    let store = world.store().await;
    let recorded = store.revocations(Some(IMAGE)).await.unwrap();
    store.close().await;
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0].version, "1.0.2");
    assert_eq!(recorded[0].reason, "kernel panic on boot");
    assert_eq!(recorded[0].revoked_by, "alice");
    assert!(recorded[0].done_at.is_some());
    let status = world.command(&["status", "--output", "json"]);
    let lines: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(lines[0]["revoked"][0]["version"], "1.0.2", "{lines}");
    let note = lines[0]["note"].as_str().unwrap();
    assert!(
        note.ends_with("; revoked 1.0.2 by alice: kernel panic on boot"),
        "{note}"
    );
    crate::support::role::assert_allows(&world.sim.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_that_would_leave_no_latest_is_refused_unless_forced() {
    let world = world().await;
    build(&world);
    // 1.0.0 was published by hand; exclude it so that 1.0.1 is all latest has.
    let first = world
        .binary()
        .args(["revoke", IMAGE, "1.0.0", "--reason", "hand-made"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");

    let refused = world
        .binary()
        .args(["revoke", IMAGE, "1.0.1", "--reason", "bad agent"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("leaves no version for `latest` in westeurope"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(world.accepted("gallery.version.update"), 1);
    assert_eq!(everywhere(&world).await, [some("1.0.1"), some("1.0.1")]);

    let forced = world
        .binary()
        .args(["revoke", IMAGE, "1.0.1", "--reason", "bad agent", "--force"])
        .output()
        .unwrap();
    assert!(forced.status.success(), "{forced:?}");
    assert_eq!(everywhere(&world).await, [None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_the_version_that_is_latest_and_the_revoked_one() {
    let world = world().await;
    build(&world); // 1.0.1
    build(&world); // 1.0.2
    let revoked = world
        .binary()
        .args(["revoke", IMAGE, "1.0.2", "--reason", "boot loop"])
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    // New versions are staged (excluded from latest) and only two are kept:
    // 1.0.1 is latest, 1.0.2 revoked, both beyond the newest two.
    world.write_config(&gallery::catalog(
        &world,
        "exclude_from_latest = true\nversions_to_keep = 2",
    ));
    build(&world); // 1.0.3
    build(&world); // 1.0.4
    assert_eq!(everywhere(&world).await, [some("1.0.1"), some("1.0.1")]);
    let mut names: Vec<String> = gallery::versions(&world)
        .await
        .into_iter()
        .map(|v| v.name)
        .collect();
    names.sort();
    assert_eq!(names, ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"]);
    assert_eq!(world.accepted("gallery.version.delete"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_killed_after_its_record_is_finished_by_the_next_process() {
    let world = world().await;
    build(&world); // 1.0.1
    build(&world); // 1.0.2
    // What a revoke killed between its record and Azure's answer leaves.
    let store = world.store().await;
    store
        .request_revocations(&[image_refresh::store::Revocation {
            gallery_image_id: DEFINITION.to_ascii_lowercase(),
            version: "1.0.2".into(),
            image: IMAGE.into(),
            reason: "boot loop".into(),
            revoked_by: "bob".into(),
            requested_at: chrono::Utc::now(),
            done_at: None,
        }])
        .await
        .unwrap();
    store.close().await;
    assert_eq!(everywhere(&world).await, [some("1.0.2"), some("1.0.2")]);

    let next = world.command(&["run", "--once"]);
    assert!(next.status.success(), "{next:?}");
    assert_eq!(everywhere(&world).await, [some("1.0.1"), some("1.0.1")]);
    let store = world.store().await;
    let recorded = store.revocations(None).await.unwrap();
    store.close().await;
    assert!(recorded[0].done_at.is_some(), "{recorded:#?}");
    assert_eq!(recorded[0].revoked_by, "bob");
}
