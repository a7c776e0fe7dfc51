//! Resuming builds left half-done: the run-requested window, images that left
//! the catalog, detached builds.

use image_refresh::azure::image_templates::{self, TemplateRef};
use image_refresh::build::template::{self, TemplateInput};
use image_refresh::build::{self, BuildContext, BuildOptions};
use image_refresh::clock::Clock;
use image_refresh::model::{BuildState, Cleanup};
use image_refresh::store::{BuildRecord, BuildTransition, NewBuild};

use super::{BuildWorld, IMAGE, SOURCE_VERSION, World, events, only_build, options, states, world};

async fn planned(h: &World, ctx: &BuildContext, recipe_hash: &str) -> BuildRecord {
    ctx.store
        .insert_build(NewBuild {
            image: IMAGE.into(),
            check_id: None,
            decision: None,
            reason: "test".into(),
            recipe_hash: recipe_hash.into(),
            source_version: SOURCE_VERSION.into(),
            created_at: h.clock.now(),
        })
        .await
        .unwrap()
}

/// A build a crashed process left in `run_requested`, having sent the run
/// POST (`posted`) or not.
async fn left_in_run_requested(h: &World, ctx: &BuildContext, posted: bool) -> BuildRecord {
    let image = h.catalog.image(IMAGE).unwrap();
    let build = planned(h, ctx, image.recipe_hash.hex()).await;
    let name = template::template_name(IMAGE, &build.id.to_string());
    let body = template::render(TemplateInput {
        image,
        azure: &h.catalog.azure,
        source_version: SOURCE_VERSION,
        build_id: &build.id.to_string(),
    });
    let template = TemplateRef {
        subscription_id: h.catalog.azure.subscription_id.clone(),
        resource_group: h.catalog.azure.resource_group.clone(),
        name: name.clone(),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    image_templates::put(&ctx.arm, &template, &body, deadline)
        .await
        .unwrap();
    let mut created = BuildTransition::to(BuildState::TemplateCreated, h.clock.now(), "created");
    created.template_name = Some(name);
    ctx.store.transition(build.id, &created).await.unwrap();
    let requested = BuildTransition::to(BuildState::RunRequested, h.clock.now(), "requesting");
    let build = ctx.store.transition(build.id, &requested).await.unwrap();
    if posted {
        image_templates::run(&ctx.arm, &template).await.unwrap();
    }
    build
}

#[tokio::test]
async fn a_run_posted_before_the_crash_is_followed_not_repeated() {
    let h = world("").await;
    let ctx = h.process("crashed", options()).await;
    let build = left_in_run_requested(&h, &ctx, true).await;
    assert_eq!(h.journal("template.run").len(), 1);

    let record = build::resume(&ctx, &h.catalog, build).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(record.artifact_ids.len(), 1);
    assert_eq!(h.journal("template.run").len(), 1, "no second run POST");
    assert_eq!(record.cleanup, Cleanup::Done);
}

#[tokio::test]
async fn a_run_never_posted_is_requested_on_resume() {
    let h = world("").await;
    let ctx = h.process("crashed", options()).await;
    let build = left_in_run_requested(&h, &ctx, false).await;
    assert_eq!(h.journal("template.run").len(), 0);

    let record = build::resume(&ctx, &h.catalog, build).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(h.journal("template.run").len(), 1);
}

#[tokio::test]
async fn a_requested_build_whose_image_left_the_catalog_is_still_followed() {
    let h = world("").await;
    let ctx = h.process("crashed", options()).await;
    let build = left_in_run_requested(&h, &ctx, true).await;
    let mut without = h.catalog.clone();
    without.images.clear();

    let record = build::resume(&ctx, &without, build).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(record.cleanup, Cleanup::Done);
    assert_eq!(h.journal("template.run").len(), 1);
}

#[tokio::test]
async fn a_planned_build_whose_image_left_the_catalog_is_abandoned() {
    let h = world("").await;
    let ctx = h.process("crashed", options()).await;
    let image = h.catalog.image(IMAGE).unwrap();
    let build = planned(&h, &ctx, image.recipe_hash.hex()).await;
    let mut without = h.catalog.clone();
    without.images.clear();

    let record = build::resume(&ctx, &without, build).await.unwrap();
    assert_eq!(record.state, BuildState::Canceled);
    assert!(record.error_message.unwrap().contains("left the catalog"));
    assert_eq!(record.cleanup, Cleanup::Done);
    assert_eq!(h.journal("template.put").len(), 0);
    assert_eq!(h.journal("template.run").len(), 0);
}

#[tokio::test]
async fn a_planned_build_whose_recipe_changed_is_abandoned() {
    let h = world("").await;
    let ctx = h.process("crashed", options()).await;
    let build = planned(&h, &ctx, "0000-an-older-recipe").await;

    let record = build::resume(&ctx, &h.catalog, build).await.unwrap();
    assert_eq!(record.state, BuildState::Canceled);
    assert!(record.error_message.unwrap().contains("recipe changed"));
    assert_eq!(h.journal("template.put").len(), 0);
}

#[tokio::test]
async fn a_detached_build_is_finished_by_a_later_resume() {
    let h = world("").await;
    let detached = BuildOptions {
        detach_when_running: true,
        ..options()
    };
    let ctx = h.process("operator", detached).await;
    let started = build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(started.state, BuildState::Running);
    assert_eq!(h.store().await.lease(IMAGE).await.unwrap(), None);

    let daemon = h.process("daemon", options()).await;
    let unfinished = daemon.store.unfinished_builds().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    let record = build::resume(&daemon, &h.catalog, unfinished[0].clone())
        .await
        .unwrap();
    assert_eq!(record.id, started.id);
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(h.journal("template.run").len(), 1);

    // A second resumer that read the list before the first one finished.
    let requests = h.sim.journal().len();
    let late = h.process("late", options()).await;
    let again = build::resume(&late, &h.catalog, unfinished[0].clone())
        .await
        .unwrap();
    assert_eq!(again, record);
    assert_eq!(h.sim.journal().len(), requests, "nothing left to ask Azure");
}

#[tokio::test]
async fn a_new_job_follows_the_images_unfinished_build_instead_of_starting_another() {
    let h = world("").await;
    let detached = BuildOptions {
        detach_when_running: true,
        ..options()
    };
    let ctx = h.process("operator", detached).await;
    let started = build::run_job(&ctx, &h.job()).await.unwrap();

    let again = h.process("operator-again", options()).await;
    let record = build::run_job(&again, &h.job()).await.unwrap();
    assert_eq!(record.id, started.id);
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(only_build(&again.store).await.id, started.id);
    assert_eq!(h.journal("template.put").len(), 1);
    assert_eq!(h.journal("template.run").len(), 1);
    let log = events(&again.store, record.id).await;
    assert_eq!(states(&log).last(), Some(&BuildState::Succeeded));
}

#[tokio::test]
async fn a_crash_while_cancelling_an_overdue_run_still_cancels_it_once() {
    let h = world("[[builds]]\nmatch = \"*\"\noutcome = \"succeeded\"\nextra_secs = 3600\n").await;
    let (first, mut progress) = super::with_progress(h.process("daemon", options()).await);
    let first = std::sync::Arc::new(first);
    let task = {
        let (first, job) = (first.clone(), h.job());
        tokio::spawn(async move { build::run_job(&first, &job).await })
    };
    while let Some(p) = progress.recv().await {
        match p.state {
            BuildState::Running => h.clock.skip(chrono::Duration::hours(2)),
            // `canceling` is recorded before the cancel POST: die around it.
            BuildState::Canceling => {
                task.abort();
                break;
            }
            _ => {}
        }
    }
    assert!(task.await.unwrap_err().is_cancelled());
    super::bury(&first).await;
    let left = only_build(&h.store().await).await;
    assert_eq!(left.state, BuildState::Canceling);

    // The same daemon restarted: its holder name still owns the lease.
    let restarted = h.process("daemon", options()).await;
    let record = build::resume(&restarted, &h.catalog, left).await.unwrap();
    assert_eq!(record.state, BuildState::TimedOut);
    assert_eq!(h.journal("template.cancel").len(), 1);
    assert_eq!(h.accepted("template.cancel"), 1);
    assert_eq!(record.cleanup, Cleanup::Kept);
}
