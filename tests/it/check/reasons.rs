//! Every reason a check gives, produced end to end from the catalog, the
//! simulator and the history file.

use chrono::Duration;
use image_refresh::check::Decision;
use image_refresh::clock::Clock;
use image_refresh::model::{BuildState, DecisionKind};

use super::{
    CheckWorld, LOCATION, OFFER, PUBLISHER, SKU, entry, marketplace_image, record_build,
    scenario_with, world,
};

const VERSIONS: &[&str] = &["22.04.202409110", "22.04.202411050", "22.04.202410020"];
const LATEST: &str = "22.04.202411050";

#[tokio::test]
async fn never_built_then_up_to_date_then_new_base_version() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&marketplace_image("web", SKU, "latest", ""));
    let store = world.store_for(&catalog).await;

    let plan = world.check(&catalog, &store).await;
    let web = entry(&plan, "web");
    assert_eq!(web.decision, Decision::NeverBuilt);
    assert_eq!(web.source_version.as_deref(), Some(LATEST));
    assert_eq!(
        web.recipe_hash,
        catalog.image("web").unwrap().recipe_hash.hex()
    );

    record_build(
        &store,
        &catalog,
        "web",
        LATEST,
        BuildState::Succeeded,
        world.clock.now(),
    )
    .await;
    world.clock.advance(Duration::hours(1));
    let plan = world.check(&catalog, &store).await;
    assert_eq!(entry(&plan, "web").decision, Decision::UpToDate);
    assert!(!entry(&plan, "web").stale);
    assert_eq!(plan.stale().count(), 0);
    let record = store.last_check().await.unwrap().unwrap();
    assert_eq!(
        (record.images_total, record.images_stale),
        (Some(1), Some(0))
    );

    world
        .sim
        .publish_version(LOCATION, PUBLISHER, OFFER, SKU, "22.04.202412040");
    let plan = world.check(&catalog, &store).await;
    let web = entry(&plan, "web");
    assert_eq!(
        web.decision,
        Decision::NewBaseVersion {
            old: LATEST.into(),
            new: "22.04.202412040".into()
        }
    );
    assert_eq!(
        web.reason,
        format!("new base version {LATEST} → 22.04.202412040")
    );
    assert_eq!(web.source_version.as_deref(), Some("22.04.202412040"));
    let decisions = store.decisions(plan.check_id).await.unwrap();
    assert_eq!(decisions[0].kind, DecisionKind::NewBaseVersion);
    assert_eq!(decisions[0].reason, web.reason);
    assert_eq!(
        decisions[0].source_version.as_deref(),
        Some("22.04.202412040")
    );
}

#[tokio::test]
async fn changing_a_step_changes_the_recipe() {
    let world = world(&scenario_with(VERSIONS)).await;
    let before = world.catalog_with(&marketplace_image("web", SKU, "latest", ""));
    let store = world.store_for(&before).await;
    record_build(
        &store,
        &before,
        "web",
        LATEST,
        BuildState::Succeeded,
        world.clock.now(),
    )
    .await;

    let edited = marketplace_image("web", SKU, "latest", "").replace(
        r#"inline = ["echo web"]"#,
        r#"inline = ["echo web", "echo hardened"]"#,
    );
    let after = world.catalog_with(&edited);
    let old = before.image("web").unwrap().recipe_hash.hex().to_owned();
    let new = after.image("web").unwrap().recipe_hash.hex().to_owned();
    assert_ne!(old, new);

    let plan = world.check(&after, &store).await;
    let web = entry(&plan, "web");
    let Decision::RecipeChanged {
        old: shown_old,
        new: shown_new,
    } = &web.decision
    else {
        panic!("expected recipe_changed, got {:?}", web.decision);
    };
    // Shown short, but they are the two real hashes.
    let digits = |h: &str| h.trim_start_matches("sha256:").to_owned();
    assert!(digits(&old).starts_with(&digits(shown_old)));
    assert!(digits(&new).starts_with(&digits(shown_new)));
    assert!(web.stale);
    assert_eq!(web.recipe_hash, new);
    // The unchanged catalog is still up to date against the same build.
    let plan = world.check(&before, &store).await;
    assert_eq!(entry(&plan, "web").decision, Decision::UpToDate);
}

#[tokio::test]
async fn an_image_older_than_its_maximum_age_is_rebuilt() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&marketplace_image("web", SKU, "latest", "max_age_days = 7"));
    let store = world.store_for(&catalog).await;
    record_build(
        &store,
        &catalog,
        "web",
        LATEST,
        BuildState::Succeeded,
        world.clock.now(),
    )
    .await;

    world.clock.advance(Duration::days(7));
    let plan = world.check(&catalog, &store).await;
    assert_eq!(
        entry(&plan, "web").decision,
        Decision::UpToDate,
        "exactly at the limit"
    );

    world.clock.advance(Duration::days(3));
    let plan = world.check(&catalog, &store).await;
    assert_eq!(
        entry(&plan, "web").decision,
        Decision::TooOld {
            age_days: 10,
            max_age_days: 7
        }
    );
    assert_eq!(
        entry(&plan, "web").reason,
        "image is 10 days old (maximum 7)"
    );
    let record = store.last_check().await.unwrap().unwrap();
    assert_eq!(record.started_at, world.clock.now());
}

#[tokio::test]
async fn a_failed_build_is_retried_and_a_running_one_is_not_doubled() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&format!(
        "{}{}",
        marketplace_image("failed", SKU, "latest", ""),
        marketplace_image("running", SKU, "latest", "")
    ));
    let store = world.store_for(&catalog).await;
    let now = world.clock.now();
    record_build(
        &store,
        &catalog,
        "failed",
        LATEST,
        BuildState::Succeeded,
        now,
    )
    .await;
    let failure = record_build(&store, &catalog, "failed", LATEST, BuildState::Failed, now).await;
    let running = record_build(
        &store,
        &catalog,
        "running",
        LATEST,
        BuildState::Planned,
        now,
    )
    .await;

    let plan = world.check(&catalog, &store).await;
    let failed = entry(&plan, "failed");
    assert_eq!(
        failed.decision,
        Decision::RetryAfterFailure {
            failed_build: failure.id.to_string()
        }
    );
    assert!(failed.stale);
    assert!(failed.reason.contains(&failure.id.to_string()[..8]));
    let in_progress = entry(&plan, "running");
    assert_eq!(
        in_progress.decision,
        Decision::InProgress {
            build: running.id.to_string()
        }
    );
    assert!(!in_progress.stale);
}

#[tokio::test]
async fn disabled_in_the_catalog_or_by_the_store_is_never_stale() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&format!(
        "{}{}{}",
        marketplace_image("off", "unknown-sku", "latest", "enabled = false"),
        marketplace_image("parked", SKU, "latest", ""),
        marketplace_image("on", SKU, "latest", "")
    ));
    let store = world.store_for(&catalog).await;
    store
        .set_enabled("parked", false, Some("3 failed builds in a row"))
        .await
        .unwrap();

    let plan = world.check(&catalog, &store).await;
    let off = entry(&plan, "off");
    assert_eq!(off.decision.kind(), "disabled");
    assert_eq!(off.reason, "disabled: enabled = false in the catalog");
    assert!(!off.stale);
    let parked = entry(&plan, "parked");
    assert_eq!(
        parked.decision,
        Decision::Disabled {
            why: "3 failed builds in a row".into()
        }
    );
    assert_eq!(entry(&plan, "on").decision, Decision::NeverBuilt);
    // A catalog-disabled image costs no lookup, even of a source that does not exist.
    assert_eq!(world.sim.count("marketplace.list"), 1);

    store.set_enabled("parked", true, None).await.unwrap();
    let plan = world.check(&catalog, &store).await;
    assert_eq!(entry(&plan, "parked").decision, Decision::NeverBuilt);
}

#[tokio::test]
async fn a_pinned_version_needs_no_lookup() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&marketplace_image("pinned", SKU, "22.04.202409110", ""));
    let store = world.store_for(&catalog).await;

    let plan = world.check(&catalog, &store).await;
    let pinned = entry(&plan, "pinned");
    assert_eq!(pinned.decision, Decision::NeverBuilt);
    assert_eq!(pinned.source_version.as_deref(), Some("22.04.202409110"));
    assert_eq!(plan.lookups, 0);
    assert_eq!(world.sim.count("marketplace.list"), 0);

    // Azure publishing something newer does not move a pinned image.
    record_build(
        &store,
        &catalog,
        "pinned",
        "22.04.202409110",
        BuildState::Succeeded,
        world.clock.now(),
    )
    .await;
    world
        .sim
        .publish_version(LOCATION, PUBLISHER, OFFER, SKU, "22.04.202412040");
    let plan = world.check(&catalog, &store).await;
    assert_eq!(entry(&plan, "pinned").decision, Decision::UpToDate);
    assert!(
        store
            .resolved_versions(plan.check_id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_sku_is_not_found_for_its_images_only() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&format!(
        "{}{}{}",
        marketplace_image("lost-1", "no-such-sku", "latest", ""),
        marketplace_image("fine", SKU, "latest", ""),
        marketplace_image("lost-2", "no-such-sku", "latest", "")
    ));
    let store = world.store_for(&catalog).await;

    let plan = world.check(&catalog, &store).await;
    assert_eq!(
        world
            .statuses("marketplace.list")
            .iter()
            .filter(|s| **s == 404)
            .count(),
        1
    );
    for name in ["lost-1", "lost-2"] {
        let lost = entry(&plan, name);
        assert_eq!(lost.decision.kind(), "source_not_found");
        assert!(!lost.stale);
        assert_eq!(lost.source_version, None);
        assert!(
            lost.reason.starts_with(&format!(
                "no marketplace image {PUBLISHER}:{OFFER}:no-such-sku in {LOCATION} (Azure: "
            )),
            "{}",
            lost.reason
        );
    }
    assert_eq!(entry(&plan, "fine").decision, Decision::NeverBuilt);
    assert_eq!(entry(&plan, "fine").source_version.as_deref(), Some(LATEST));

    let resolved = store.resolved_versions(plan.check_id).await.unwrap();
    assert_eq!(resolved.len(), 1, "only what was resolved is recorded");
    let decisions = store.decisions(plan.check_id).await.unwrap();
    let kinds: Vec<_> = decisions
        .iter()
        .map(|d| (d.image.as_str(), d.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("fine", DecisionKind::NeverBuilt),
            ("lost-1", DecisionKind::SourceNotFound),
            ("lost-2", DecisionKind::SourceNotFound),
        ]
    );
    let record = store.last_check().await.unwrap().unwrap();
    assert_eq!(
        (record.images_total, record.images_stale),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn a_check_that_cannot_record_its_results_is_recorded_as_failed() {
    let world = world(&scenario_with(VERSIONS)).await;
    let catalog = world.catalog_with(&marketplace_image("web", SKU, "latest", ""));
    let store = world.store_for(&catalog).await;
    // The disk "fills up" just as the decisions are written.
    sqlx::query(
        "CREATE TRIGGER full_disk BEFORE INSERT ON check_decisions
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
    .execute(store.pool())
    .await
    .unwrap();

    let error = image_refresh::check::run_check(
        &world.arm(&catalog),
        &store,
        &catalog,
        world.clock.now(),
        image_refresh::model::CheckTrigger::Cli,
        Default::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, image_refresh::check::CheckError::Store(_)));

    let record = store.last_check().await.unwrap().unwrap();
    assert!(record.finished_at.is_some(), "not left running forever");
    let message = record.error.unwrap();
    assert!(message.contains("database or disk is full"), "{message}");
    // Nothing half-written: no versions, no decisions.
    assert!(store.resolved_versions(record.id).await.unwrap().is_empty());
    assert!(store.decisions(record.id).await.unwrap().is_empty());
}
