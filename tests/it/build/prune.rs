//! Pruning old gallery image versions after a successful build (`versions_to_keep`).

use std::time::Duration;

use azure_sim::{FaultKind, FaultRule};
use image_refresh::azure::gallery::{self, GalleryImageRef};
use image_refresh::build;
use image_refresh::catalog::{Distribute, GalleryTarget, StorageAccountType, TargetRegion};
use image_refresh::model::{BuildState, Cleanup};

use super::{BuildWorld, IMAGE, World, events, options, world, world_with_scenario};
use crate::support::setup;

const DEFINITION: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-gallery/providers/Microsoft.Compute/galleries/gal_corp/images/ubuntu-golden";

/// Two versions someone published by hand, before image-refresh built anything.
const GALLERY: &str = r#"
[[galleries]]
resource_group = "rg-image-gallery"
gallery = "gal_corp"
image = "ubuntu-golden"
location = "westeurope"
versions = ["1.0.0", "1.0.1"]
"#;

/// The classic catalog's image, distributed to the gallery and keeping `keep` versions.
async fn gallery_world(keep: u32) -> World {
    let mut h = world(GALLERY).await;
    distribute_to_gallery(&mut h, keep, None);
    h
}

fn distribute_to_gallery(h: &mut World, keep: u32, end_of_life_after: Option<Duration>) {
    let image = h
        .catalog
        .images
        .iter_mut()
        .find(|image| image.name == IMAGE)
        .unwrap();
    image.distribute = vec![Distribute::Gallery(GalleryTarget {
        image_id: DEFINITION.into(),
        regions: vec![TargetRegion {
            name: "westeurope".into(),
            replicas: 1,
        }],
        storage_account_type: StorageAccountType::StandardLrs,
        exclude_from_latest: false,
        versions_to_keep: Some(keep),
        end_of_life_after,
        promotion: image_refresh::catalog::Promotion::Immediate,
    })];
}

/// ARM pages the version list; what pruning decides must rest on every page.
#[tokio::test]
async fn pruning_sees_versions_on_every_page() {
    let scenario = format!("{}{GALLERY}", setup::scenario("page_size = 2", 0, 1));
    let mut h = world_with_scenario(&scenario).await;
    distribute_to_gallery(&mut h, 2, None);
    let ctx = h.process("a", options()).await;
    for _ in 0..5 {
        let record = build::run_job(&ctx, &h.job()).await.unwrap();
        assert_eq!(record.state, BuildState::Succeeded);
    }
    // Built 1.0.2 to 1.0.6; seven versions at most are four pages of two,
    // the hand-made 1.0.0 and 1.0.1 first.
    assert_eq!(deleted(&h), ["1.0.2", "1.0.3", "1.0.4"]);
    assert_eq!(
        version_names(&h).await,
        ["1.0.0", "1.0.1", "1.0.5", "1.0.6"]
    );
    let followed = h
        .journal("gallery.version.list")
        .iter()
        .filter(|e| e.query.contains("$skiptoken="))
        .count();
    assert!(followed >= 3, "pages after the first were read: {followed}");
}

async fn version_names(h: &World) -> Vec<String> {
    let ctx = h.process("reader", options()).await;
    let definition = GalleryImageRef::from_id(DEFINITION).unwrap();
    let mut names: Vec<String> = gallery::list_versions(&ctx.arm, &definition)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    names.sort();
    names
}

/// Versions Azure deleted, by name.
fn deleted(h: &World) -> Vec<String> {
    h.journal("gallery.version.delete")
        .into_iter()
        .filter(|e| (200..300).contains(&e.status))
        .map(|e| e.path.rsplit('/').next().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn only_versions_it_made_beyond_the_limit_are_deleted() {
    let h = gallery_world(2).await;
    let ctx = h.process("a", options()).await;
    let mut builds = Vec::new();
    for _ in 0..3 {
        let record = build::run_job(&ctx, &h.job()).await.unwrap();
        assert_eq!(record.state, BuildState::Succeeded);
        assert_eq!(record.cleanup, Cleanup::Done);
        builds.push(record);
    }
    // Pruning included, the daemon's role allows every request of these builds.
    crate::support::role::assert_allows(&h.sim.journal());
    // Built 1.0.2, 1.0.3 and 1.0.4. The newest two are kept; of the older ones only
    // 1.0.2 was image-refresh's to delete, and only the third build found it beyond.
    assert_eq!(deleted(&h), ["1.0.2"]);
    assert_eq!(
        version_names(&h).await,
        ["1.0.0", "1.0.1", "1.0.3", "1.0.4"]
    );
    for early in &builds[..2] {
        let log = events(&ctx.store, early.id).await;
        assert!(
            !log.iter()
                .any(|e| e.detail.contains("deleted gallery image")),
            "{log:#?}"
        );
    }
    let log = events(&ctx.store, builds[2].id).await;
    let noted: Vec<&str> = log
        .iter()
        .filter(|e| e.detail.contains("deleted gallery image"))
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(
        noted,
        ["deleted gallery image version ubuntu-golden/1.0.2 (versions_to_keep = 2)"]
    );
    assert_eq!(
        log.last().unwrap().cleanup,
        Cleanup::Done,
        "the clean-up stays the build's last record"
    );
}

#[tokio::test]
async fn a_version_azure_will_not_delete_is_tried_again_after_the_next_build() {
    let h = gallery_world(1).await;
    let ctx = h.process("a", options()).await;
    build::run_job(&ctx, &h.job()).await.unwrap();
    h.sim.add_fault(FaultRule::always(
        "gallery.version.delete",
        FaultKind::Status { code: 409 },
    ));
    let refused = build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(
        refused.state,
        BuildState::Succeeded,
        "pruning never fails a build"
    );
    assert_eq!(refused.cleanup, Cleanup::Done);
    assert!(deleted(&h).is_empty());
    assert!(version_names(&h).await.contains(&"1.0.2".to_owned()));

    h.sim.clear_faults();
    build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(deleted(&h), ["1.0.2", "1.0.3"]);
    assert_eq!(version_names(&h).await, ["1.0.0", "1.0.1", "1.0.4"]);
}

/// A gallery whose safety profile blocks deletion before a version's end of
/// life, and a target that gives each new version 30 days and keeps one.
async fn guarded_world() -> World {
    let mut h = world(&format!(
        "{GALLERY}block_deletion_before_end_of_life = true\n"
    ))
    .await;
    distribute_to_gallery(&mut h, 1, Some(Duration::from_secs(30 * 86_400)));
    h
}

#[tokio::test]
async fn new_versions_get_an_end_of_life_and_are_not_deleted_before_it() {
    let h = guarded_world().await;
    let ctx = h.process("a", options()).await;
    let definition = GalleryImageRef::from_id(DEFINITION).unwrap();
    let mut builds = Vec::new();
    for _ in 0..3 {
        let record = build::run_job(&ctx, &h.job()).await.unwrap();
        assert_eq!(record.state, BuildState::Succeeded);
        builds.push(record);
    }
    for (record, name) in builds.iter().zip(["1.0.2", "1.0.3", "1.0.4"]) {
        let version = gallery::get_version(&ctx.arm, &definition, name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            version.end_of_life,
            Some(record.finished_at.unwrap() + chrono::Duration::days(30)),
            "{name}"
        );
        assert!(version.deletion_blocked_before_end_of_life);
    }
    // Beyond the one to keep, but Azure would refuse: never asked.
    assert!(h.journal("gallery.version.delete").is_empty());
    let log = events(&ctx.store, builds[2].id).await;
    assert!(
        log.iter().any(|e| e.detail.starts_with(
            "kept gallery image version ubuntu-golden/1.0.3: its safety profile blocks deletion until its end of life, "
        )),
        "{log:#?}"
    );
    crate::support::role::assert_allows(&h.sim.journal());

    // Past their end of life they go with the next build.
    h.clock.skip(chrono::Duration::days(31));
    build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(deleted(&h), ["1.0.2", "1.0.3", "1.0.4"]);
    assert_eq!(version_names(&h).await, ["1.0.0", "1.0.1", "1.0.5"]);
}
