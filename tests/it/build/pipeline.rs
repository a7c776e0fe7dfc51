//! The one pipeline: what a cycle tells its subscribers, the failure limit applied
//! with the build's final state, and the build limit honoured by every caller.

use azure_sim::{Outcome, Phase};
use image_refresh::events::Event;
use image_refresh::model::{BuildState, CheckTrigger};
use image_refresh::pipeline::Pipeline;
use image_refresh::plan::Selection;

use super::{BuildWorld, options, world};
use crate::support::setup::IMAGE;

/// Every event emitted so far, in order.
fn drain(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

#[tokio::test]
async fn a_cycle_tells_subscribers_what_it_checked_started_and_finished() {
    let h = world("").await;
    let pipeline = Pipeline::new(h.process("a", options()).await);
    let mut events = pipeline.events().subscribe();

    let report = pipeline
        .run_cycle(&h.catalog, CheckTrigger::Schedule, |_| {})
        .await
        .unwrap();
    let built = report.results[0].as_ref().unwrap();
    assert_eq!(built.state, BuildState::Succeeded);

    let seen = drain(&mut events);
    let [
        Event::CheckFinished {
            check_id,
            trigger,
            images,
            stale,
            unresolved,
        },
        Event::BuildStarted {
            image: started,
            build_id: started_id,
            resumed,
            ..
        },
        Event::BuildFinished {
            image: finished,
            build_id: finished_id,
            state,
            artifact_ids,
            ..
        },
    ] = seen.as_slice()
    else {
        panic!("expected check, start and end of one build: {seen:#?}");
    };
    assert_eq!(*check_id, report.plan.check_id);
    assert_eq!(*trigger, CheckTrigger::Schedule);
    assert_eq!(*images, 1);
    assert_eq!(stale, &[IMAGE.to_owned()]);
    assert!(unresolved.is_empty());
    assert_eq!(
        (started.as_str(), *started_id, *resumed),
        (IMAGE, built.id, false)
    );
    assert_eq!((finished.as_str(), *finished_id), (IMAGE, built.id));
    assert_eq!(*state, BuildState::Succeeded);
    assert_eq!(artifact_ids, &built.artifact_ids);

    // Nothing is stale now: the next cycle checks and builds nothing.
    pipeline
        .run_cycle(&h.catalog, CheckTrigger::Schedule, |_| {})
        .await
        .unwrap();
    let seen = drain(&mut events);
    assert!(
        matches!(seen.as_slice(), [Event::CheckFinished { stale, .. }] if stale.is_empty()),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn the_failure_that_completes_the_limit_disables_the_image_with_its_final_state() {
    let h = world("").await;
    let mut catalog = h.catalog.clone();
    catalog.service.disable_after_failures = 2;
    h.sim
        .set_build_outcome("*", Outcome::Failed, Some(Phase::Customizing));
    let mut ctx = h.process("a", options()).await;
    ctx.service = catalog.service;
    let pipeline = Pipeline::new(ctx);
    let mut events = pipeline.events().subscribe();

    let first = pipeline
        .run_cycle(&catalog, CheckTrigger::Schedule, |_| {})
        .await
        .unwrap();
    assert!(first.disabled.is_empty());
    assert!(
        !drain(&mut events)
            .iter()
            .any(|e| matches!(e, Event::ImageDisabled { .. }))
    );

    let second = pipeline
        .run_cycle(&catalog, CheckTrigger::Schedule, |_| {})
        .await
        .unwrap();
    let failed = second.results[0].as_ref().unwrap();
    assert_eq!(failed.state, BuildState::Failed);
    let [(image, reason)] = second.disabled.as_slice() else {
        panic!("expected one disabled image: {:?}", second.disabled);
    };
    assert_eq!(image, IMAGE);
    assert!(
        reason.starts_with("2 consecutive failed builds; last: "),
        "{reason}"
    );
    let seen = drain(&mut events);
    let disabled: Vec<_> = seen
        .iter()
        .filter(|e| matches!(e, Event::ImageDisabled { .. }))
        .collect();
    assert_eq!(disabled.len(), 1, "{seen:#?}");

    // Written with the build's final state: the store says so at once.
    let state = pipeline.store().image_state(IMAGE).await.unwrap().unwrap();
    assert!(!state.enabled);
    assert_eq!(state.disabled_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(state.consecutive_failures, 2);
}

#[tokio::test]
async fn build_all_keeps_to_the_catalogs_build_limit() {
    let h = world("").await;
    let mut catalog = h.catalog.clone();
    let mut second = catalog.images[0].clone();
    second.name = "ubuntu-second".into();
    catalog.images.push(second);
    catalog.service.max_concurrent_builds = 1;
    let mut ctx = h.process("a", options()).await;
    ctx.service = catalog.service;
    let pipeline = Pipeline::new(ctx);
    pipeline
        .store()
        .ensure_images(catalog.images.iter().map(|i| i.name.as_str()))
        .await
        .unwrap();

    let plan = pipeline.check(&catalog, CheckTrigger::Cli).await.unwrap();
    let jobs = plan.jobs(&catalog, Selection::Stale);
    assert_eq!(jobs.len(), 2);
    let results = pipeline.build_all(jobs).await;
    let mut runs: Vec<_> = results
        .iter()
        .map(|r| {
            let b = r.as_ref().unwrap();
            (b.run_started_at.unwrap(), b.finished_at.unwrap())
        })
        .collect();
    runs.sort();
    // One at a time: the second run starts only after the first ended.
    assert!(runs[1].0 >= runs[0].1, "{runs:?}");
}
