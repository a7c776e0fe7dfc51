//! One lookup per unique source, however many images share it.

use image_refresh::check::CheckOptions;
use image_refresh::model::{DecisionKind, SourceKey};

use super::{CheckWorld, LOCATION, OFFER, PUBLISHER, RG, marketplace_image, world};

const SKUS: usize = 50;
const IMAGES: usize = 1000;

/// Every sku lists a version that string order would wrongly call the newest.
fn scenario() -> String {
    (0..SKUS)
        .map(|i| {
            format!(
                r#"
[[marketplace]]
location = "{LOCATION}"
publisher = "{PUBLISHER}"
offer = "{OFFER}"
sku = "sku-{i:02}"
versions = ["1.9.{i}", "1.10.{i}", "1.2.{i}"]
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
    (0..IMAGES)
        .map(|n| {
            marketplace_image(
                &format!("img-{n:04}"),
                &format!("sku-{:02}", n % SKUS),
                "latest",
                "",
            )
        })
        .collect()
}

#[tokio::test]
async fn thousand_images_over_fifty_skus_make_fifty_list_calls() {
    let world = world(&scenario()).await;
    let catalog = world.catalog_with(&images());
    assert_eq!(catalog.images.len(), IMAGES);
    let store = world.store_for(&catalog).await;

    let plan = world
        .check_with(&catalog, &store, CheckOptions { concurrency: 8 })
        .await;

    assert_eq!(world.sim.count("marketplace.list"), SKUS as u64);
    assert_eq!(plan.lookups, SKUS);
    // Each sku was asked exactly once (not one sku fifty times).
    let mut paths: Vec<String> = world
        .sim
        .journal()
        .into_iter()
        .filter(|e| e.route == "marketplace.list")
        .map(|e| e.path.to_ascii_lowercase())
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), SKUS);

    assert_eq!(plan.entries.len(), IMAGES);
    for (n, entry) in plan.entries.iter().enumerate() {
        assert_eq!(
            entry.image,
            format!("img-{n:04}"),
            "plan is in catalog order"
        );
        assert_eq!(entry.decision.kind(), "never_built");
        assert!(entry.stale);
        assert_eq!(
            entry.source_version.as_deref(),
            Some(format!("1.10.{}", n % SKUS).as_str())
        );
    }

    // The whole cycle is in history.
    let record = store.last_check().await.unwrap().unwrap();
    assert_eq!(record.id, plan.check_id);
    assert!(record.finished_at.is_some());
    assert_eq!(record.images_total, Some(IMAGES as u32));
    assert_eq!(record.images_stale, Some(IMAGES as u32));
    assert_eq!(record.error, None);

    let resolved = store.resolved_versions(plan.check_id).await.unwrap();
    assert_eq!(resolved.len(), SKUS);
    for r in &resolved {
        let SourceKey::Marketplace { sku, location, .. } = &r.key else {
            panic!("unexpected key {:?}", r.key);
        };
        assert_eq!(location, LOCATION);
        let i: usize = sku.trim_start_matches("sku-").parse().unwrap();
        assert_eq!(r.version, format!("1.10.{i}"));
    }

    let decisions = store.decisions(plan.check_id).await.unwrap();
    assert_eq!(decisions.len(), IMAGES);
    assert!(decisions.iter().all(|d| d.kind == DecisionKind::NeverBuilt));
    assert!(decisions.iter().all(|d| d.source_version.is_some()));
}

#[tokio::test]
async fn a_second_cycle_asks_again_and_finds_nothing_changed_upstream() {
    let world = world(&scenario()).await;
    let catalog = world.catalog_with(&images());
    let store = world.store_for(&catalog).await;
    let first = world.check(&catalog, &store).await;
    let second = world.check(&catalog, &store).await;
    assert_ne!(first.check_id, second.check_id);
    // No caching across cycles: each cycle asks Azure what is current now.
    assert_eq!(world.sim.count("marketplace.list"), 2 * SKUS as u64);
    let versions = |plan: &image_refresh::plan::Plan| -> Vec<Option<String>> {
        plan.entries
            .iter()
            .map(|e| e.source_version.clone())
            .collect()
    };
    assert_eq!(versions(&first), versions(&second));
}

#[tokio::test]
async fn spellings_that_differ_only_in_case_are_one_lookup() {
    let world = world(&super::scenario_with(&["1.0.0", "1.1.0"])).await;
    let shouting = marketplace_image("b", super::SKU, "latest", "").replace(
        &format!("publisher = \"{PUBLISHER}\""),
        "publisher = \"CANONICAL\"",
    );
    let catalog = world.catalog_with(&format!(
        "{}{shouting}",
        marketplace_image("a", super::SKU, "latest", "")
    ));
    let store = world.store_for(&catalog).await;
    let plan = world.check(&catalog, &store).await;
    assert_eq!(world.sim.count("marketplace.list"), 1);
    assert_eq!(plan.lookups, 1);
    for name in ["a", "b"] {
        assert_eq!(
            super::entry(&plan, name).source_version.as_deref(),
            Some("1.1.0")
        );
    }
    // Recorded as first spelled in the catalog.
    let resolved = store.resolved_versions(plan.check_id).await.unwrap();
    assert_eq!(resolved.len(), 1);
    assert!(
        matches!(&resolved[0].key, SourceKey::Marketplace { publisher, .. } if publisher == PUBLISHER)
    );
}
