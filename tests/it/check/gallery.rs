//! Gallery and managed-image sources.

use std::sync::Arc;
use std::time::Duration;

use image_refresh::app;
use image_refresh::build::{self, BuildContext, BuildOptions};
use image_refresh::catalog::Catalog;
use image_refresh::check::{Decision, UNVERSIONED};
use image_refresh::clock::Clock;
use image_refresh::model::{BuildState, SourceKey};
use image_refresh::plan::Job;
use image_refresh::store::Store;

use super::{
    CheckWorld, LOCATION, OFFER, PUBLISHER, RG, SKU, World, entry, fast_retries, record_build,
    world,
};

const DEFINITION: &str = "/subscriptions/00000000-0000-0000-0000-00000000a2b1/resourceGroups/rg-gallery/providers/Microsoft.Compute/galleries/gal/images/base";

fn scenario() -> String {
    format!(
        r#"
[build]
provision_secs = 0
queued_secs = 0
building_secs = 0
customizing_secs = 0
validating_secs = 0
distributing_secs = 0

[[marketplace]]
location = "{LOCATION}"
publisher = "{PUBLISHER}"
offer = "{OFFER}"
sku = "{SKU}"
versions = ["22.04.202411050"]

[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "base"
location = "{LOCATION}"
versions = ["1.2.0", "1.10.0", "1.9.0"]

[[resource_groups]]
name = "{RG}"
location = "{LOCATION}"

[[identities]]
resource_group = "{RG}"
name = "id-aib"
location = "{LOCATION}"
"#
    )
}

/// `producer` builds into the gallery definition that `consumer` builds from.
fn images(exclude_from_latest: bool) -> String {
    format!(
        r#"
[[images]]
name = "producer"

[[images.steps]]
type = "shell"
inline = ["echo base"]

[images.source]
type = "marketplace"
publisher = "{PUBLISHER}"
offer = "{OFFER}"
sku = "{SKU}"
version = "latest"

[[images.distribute]]
type = "gallery"
image_id = "{DEFINITION}"
exclude_from_latest = {exclude_from_latest}

[[images]]
name = "consumer"

[[images.steps]]
type = "shell"
inline = ["echo app"]

[images.source]
type = "gallery"
image_id = "{DEFINITION}"
version = "latest"

[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-00000000a2b1/resourceGroups/{RG}/providers/Microsoft.Compute/images/consumer"
"#
    )
}

/// Builds `producer` through the real build engine, so its gallery version
/// (with its excludeFromLatest flag) is made by the simulated AIB.
async fn build_producer(world: &World, catalog: &Catalog, store: &Store) {
    let ctx = Arc::new(BuildContext {
        arm: app::arm_client(
            catalog,
            world.clock.clone(),
            image_refresh::azure::ArmClientOptions {
                lro_poll_interval: Duration::from_millis(20),
                ..fast_retries()
            },
        )
        .unwrap(),
        store: store.clone(),
        clock: world.clock.clone(),
        azure: catalog.azure.clone(),
        service: catalog.service,
        events: Default::default(),
        options: BuildOptions {
            poll_interval: Duration::from_millis(20),
            ..BuildOptions::default()
        },
        holder: "test".into(),
        progress: None,
        lookups: Default::default(),
    });
    let job = Job {
        image: catalog.image("producer").unwrap().clone(),
        source_version: "22.04.202411050".into(),
        decision: None,
        reason: "test".into(),
        check_id: None,
    };
    let built = build::run_job(&ctx, &job).await.unwrap();
    assert_eq!(
        built.state,
        BuildState::Succeeded,
        "{:?}",
        built.error_message
    );
}

#[tokio::test]
async fn gallery_latest_is_the_newest_version_not_excluded_from_latest() {
    let world = world(&scenario()).await;
    let hidden = world.catalog_with(&images(true));
    let store = world.store_for(&hidden).await;

    let plan = world.check(&hidden, &store).await;
    // Numeric order: 1.10.0 beats 1.9.0 and 1.2.0.
    assert_eq!(
        entry(&plan, "consumer").source_version.as_deref(),
        Some("1.10.0")
    );
    assert_eq!(world.sim.count("gallery.version.list"), 1);
    let resolved = store.resolved_versions(plan.check_id).await.unwrap();
    assert!(resolved.iter().any(|r| r.version == "1.10.0"
        && matches!(&r.key, SourceKey::Gallery { image_id } if image_id == DEFINITION)));
    record_build(
        &store,
        &hidden,
        "consumer",
        "1.10.0",
        BuildState::Succeeded,
        world.clock.now(),
    )
    .await;

    // A version published with excludeFromLatest does not count as latest.
    build_producer(&world, &hidden, &store).await;
    let plan = world.check(&hidden, &store).await;
    assert_eq!(entry(&plan, "consumer").decision, Decision::UpToDate);

    // One published without it does.
    let shown = world.catalog_with(&images(false));
    build_producer(&world, &shown, &store).await;
    let plan = world.check(&shown, &store).await;
    assert_eq!(
        entry(&plan, "consumer").decision,
        Decision::NewBaseVersion {
            old: "1.10.0".into(),
            new: "1.10.2".into()
        }
    );
}

#[tokio::test]
async fn managed_image_sources_are_unversioned() {
    let world = world(&scenario()).await;
    let catalog = world.catalog_with(&format!(
        r#"
[[images]]
name = "from-managed"
max_age_days = 30

[[images.steps]]
type = "shell"
inline = ["echo managed"]

[images.source]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-00000000a2b1/resourceGroups/{RG}/providers/Microsoft.Compute/images/base"

[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-00000000a2b1/resourceGroups/{RG}/providers/Microsoft.Compute/images/from-managed"
"#
    ));
    let store = world.store_for(&catalog).await;
    let plan = world.check(&catalog, &store).await;
    let image = entry(&plan, "from-managed");
    assert_eq!(image.decision, Decision::NeverBuilt);
    assert_eq!(image.source_version.as_deref(), Some(UNVERSIONED));
    assert_eq!(plan.lookups, 0);

    record_build(
        &store,
        &catalog,
        "from-managed",
        UNVERSIONED,
        BuildState::Succeeded,
        world.clock.now(),
    )
    .await;
    let plan = world.check(&catalog, &store).await;
    assert_eq!(entry(&plan, "from-managed").decision, Decision::UpToDate);
    world.clock.advance(chrono::Duration::days(31));
    let plan = world.check(&catalog, &store).await;
    assert_eq!(entry(&plan, "from-managed").decision.kind(), "too_old");
}
