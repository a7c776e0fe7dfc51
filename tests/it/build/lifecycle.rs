//! Whole builds through the simulator: success, failure, timeout, refusals.

use azure_sim::{FaultKind, FaultRule, Outcome, Phase};
use image_refresh::build::{self, BuildError};
use image_refresh::catalog::Retention;
use image_refresh::model::{BuildState, Cleanup, RunSubState};

use super::{BuildWorld, events, only_build, options, states, with_progress, world};

#[tokio::test]
async fn a_build_succeeds_records_its_artifacts_and_deletes_its_template() {
    let h = world("").await;
    let (ctx, mut progress) = with_progress(h.process("a", options()).await);
    let record = build::run_job(&ctx, &h.job()).await.unwrap();

    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(record.cleanup, Cleanup::Done);
    assert_eq!(
        record.artifact_ids,
        [
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.Compute/images/ubuntu-golden"
        ]
    );
    assert_eq!(record.source_version, super::SOURCE_VERSION);
    let template = record.template_name.clone().unwrap();
    assert_eq!(h.accepted("template.run"), 1);
    assert_eq!(h.accepted("template.delete"), 1);
    assert_eq!(h.accepted("template.cancel"), 0);
    crate::support::role::assert_allows(&h.sim.journal());

    // What was sent is what the template renders: pinned and tagged.
    let put = &h.journal("template.put")[0];
    assert!(put.path.ends_with(&template));
    let body = put.body.as_ref().unwrap();
    assert_eq!(
        body["properties"]["source"]["version"],
        super::SOURCE_VERSION
    );
    assert_eq!(
        body["properties"]["distribute"][0]["artifactTags"]["image-refresh.build-id"],
        record.id.to_string()
    );

    let log = events(&ctx.store, record.id).await;
    assert_eq!(
        states(&log),
        [
            BuildState::Planned,
            BuildState::TemplateCreated,
            BuildState::RunRequested,
            BuildState::Running,
            BuildState::Succeeded,
        ]
    );
    let sub_states: Vec<_> = log.iter().filter_map(|e| e.run_sub_state).collect();
    assert!(
        sub_states.contains(&RunSubState::Customizing),
        "{sub_states:?}"
    );
    assert_eq!(log.last().unwrap().cleanup, Cleanup::Done);

    drop(ctx);
    let mut seen = Vec::new();
    while let Some(p) = progress.recv().await {
        assert_eq!(p.build_id, record.id);
        seen.push(p.state);
    }
    seen.dedup();
    assert_eq!(seen.first(), Some(&BuildState::Planned));
    assert_eq!(seen.last(), Some(&BuildState::Succeeded));
    // The lease is given back.
    assert_eq!(h.store().await.lease(super::IMAGE).await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_run_is_recorded_with_aibs_message_and_its_template_deleted() {
    let mut h = world("").await;
    h.catalog.azure.failed_template_retention = Retention::For(chrono::Duration::zero());
    h.sim
        .set_build_outcome("*", Outcome::Failed, Some(Phase::Customizing));
    let ctx = h.process("a", options()).await;
    let record = build::run_job(&ctx, &h.job()).await.unwrap();

    assert_eq!(record.state, BuildState::Failed);
    assert_eq!(record.error_code.as_deref(), Some("BuildFailed"));
    let message = record.error_message.as_deref().unwrap();
    let log = record.log_url.as_deref().unwrap();
    assert!(log.ends_with("/customization.log"), "{log}");
    assert!(message.contains(log), "{message}");
    assert_eq!(record.run_sub_state, Some(RunSubState::Customizing));
    assert!(record.artifact_ids.is_empty());
    assert_eq!(record.cleanup, Cleanup::Done);
    assert_eq!(h.accepted("template.delete"), 1);
    let state = ctx.store.image_state(super::IMAGE).await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 1);
}

#[tokio::test]
async fn a_failed_build_keeps_its_template_for_ever_when_configured() {
    let mut h = world("").await;
    h.catalog.azure.failed_template_retention = Retention::Forever;
    h.sim.set_build_outcome("*", Outcome::Failed, None);
    let ctx = h.process("a", options()).await;
    let record = build::run_job(&ctx, &h.job()).await.unwrap();

    assert_eq!(record.state, BuildState::Failed);
    assert_eq!(record.cleanup, Cleanup::Kept);
    assert_eq!(record.keep_until, None);
    h.clock.skip(chrono::Duration::days(365));
    assert_eq!(build::delete_expired(&ctx).await.unwrap(), 0);
    assert_eq!(h.journal("template.delete").len(), 0);
}

#[tokio::test]
async fn a_failed_builds_template_is_kept_for_its_retention_then_deleted() {
    let h = world("").await;
    assert_eq!(
        h.catalog.azure.failed_template_retention,
        Retention::FAILED_TEMPLATES
    );
    h.sim.set_build_outcome("*", Outcome::Failed, None);
    let ctx = h.process("a", options()).await;
    let record = build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(record.cleanup, Cleanup::Kept);
    let finished = record.finished_at.unwrap();
    assert_eq!(
        record.keep_until,
        Some(finished + chrono::Duration::days(7))
    );

    // The morning after, the template (and the log with it) is still there.
    h.clock.skip(chrono::Duration::hours(10));
    assert_eq!(build::delete_expired(&ctx).await.unwrap(), 0);
    assert_eq!(h.journal("template.delete").len(), 0);

    h.clock.skip(chrono::Duration::days(7));
    assert_eq!(build::delete_expired(&ctx).await.unwrap(), 1);
    assert_eq!(h.accepted("template.delete"), 1);
    let after = ctx.store.get_build(record.id).await.unwrap().unwrap();
    assert_eq!(after.cleanup, Cleanup::Done);
    assert_eq!(build::delete_expired(&ctx).await.unwrap(), 0);
}

#[tokio::test]
async fn a_build_past_its_timeout_is_cancelled() {
    // A run that would customize for an hour; buildTimeoutInMinutes is 80.
    let h = world("[[builds]]\nmatch = \"*\"\noutcome = \"succeeded\"\nextra_secs = 3600\n").await;
    let (ctx, mut progress) = with_progress(h.process("a", options()).await);
    // Once the run is under way, two hours pass for the engine.
    let time = h.clock.clone();
    tokio::spawn(async move {
        while let Some(p) = progress.recv().await {
            if p.state == BuildState::Running {
                time.skip(chrono::Duration::hours(2));
                break;
            }
        }
    });
    let record = build::run_job(&ctx, &h.job()).await.unwrap();

    assert_eq!(record.state, BuildState::TimedOut);
    assert_eq!(record.error_code.as_deref(), Some("BuildTimeout"));
    assert_eq!(h.journal("template.cancel").len(), 1);
    assert_eq!(h.accepted("template.cancel"), 1);
    crate::support::role::assert_allows(&h.sim.journal());
    // Kept for failed_template_retention, like a failed build's: its log says why.
    assert_eq!(h.accepted("template.delete"), 0);
    assert_eq!(record.cleanup, Cleanup::Kept);
    assert!(record.artifact_ids.is_empty());
    let log = events(&ctx.store, record.id).await;
    assert_eq!(
        &states(&log)[3..],
        [
            BuildState::Running,
            BuildState::Canceling,
            BuildState::TimedOut
        ]
    );
    // The timeout counts as a failure of the image.
    let state = ctx.store.image_state(super::IMAGE).await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 1);
}

#[tokio::test]
async fn a_refused_template_fails_the_build_with_arms_code_and_message() {
    let h =
        world("[[faults]]\nroute = \"template.put\"\nkind = { type = \"status\", code = 403 }\n")
            .await;
    let ctx = h.process("a", options()).await;
    let record = build::run_job(&ctx, &h.job()).await.unwrap();

    assert_eq!(record.state, BuildState::Failed);
    let put = &h.journal("template.put");
    assert_eq!(put.len(), 1, "a 4xx is not retried");
    assert!(record.error_code.is_some());
    assert!(record.error_message.is_some());
    assert_eq!(h.accepted("template.run"), 0);
    assert_eq!(record.cleanup, Cleanup::Done);
}

#[tokio::test]
async fn an_outage_leaves_the_build_resumable_not_failed() {
    let h = world("").await;
    // Every read of the template fails once the run was requested.
    h.sim.add_fault(FaultRule {
        after: Some(1),
        ..FaultRule::always("template.get", FaultKind::Status { code: 503 })
    });
    let ctx = h.process("a", options()).await;
    let error = build::run_job(&ctx, &h.job()).await.unwrap_err();
    assert!(matches!(error, BuildError::Azure(_)), "{error:?}");
    let stuck = only_build(&ctx.store).await;
    assert!(!stuck.state.is_terminal(), "{stuck:?}");
    assert_eq!(
        ctx.store.unfinished_builds().await.unwrap(),
        std::slice::from_ref(&stuck)
    );

    h.sim.clear_faults();
    let record = build::resume(&ctx, &h.catalog, stuck).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(h.accepted("template.run"), 1);
}

#[tokio::test]
async fn a_template_azure_will_not_delete_is_retried_at_the_next_resume() {
    let h = world("").await;
    h.sim.add_fault(FaultRule::always(
        "template.delete",
        FaultKind::Status { code: 500 },
    ));
    let ctx = h.process("a", options()).await;
    let record = build::run_job(&ctx, &h.job()).await.unwrap();
    // The image was built: that result stands, only the cleanup is pending.
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(record.cleanup, Cleanup::Pending);
    assert_eq!(
        ctx.store.unfinished_builds().await.unwrap(),
        std::slice::from_ref(&record)
    );

    h.sim.clear_faults();
    let record = build::resume(&ctx, &h.catalog, record).await.unwrap();
    assert_eq!(record.cleanup, Cleanup::Done);
    assert!(ctx.store.unfinished_builds().await.unwrap().is_empty());
    assert_eq!(h.accepted("template.delete"), 1);
}

#[tokio::test]
async fn a_run_post_without_an_answer_is_not_repeated_blindly() {
    let h = world("[[faults]]\nroute = \"template.run\"\nkind = { type = \"drop\" }\ncount = 1\n")
        .await;
    let ctx = h.process("a", options()).await;
    // The connection drops after the POST was sent: it may have started a run.
    let error = build::run_job(&ctx, &h.job()).await.unwrap_err();
    assert!(matches!(error, BuildError::Azure(_)), "{error:?}");
    let left = only_build(&ctx.store).await;
    assert_eq!(left.state, BuildState::RunRequested);
    assert_eq!(h.journal("template.run").len(), 1, "a POST is not retried");

    let record = build::resume(&ctx, &h.catalog, left).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(h.accepted("template.run"), 1);
}

/// A configured staging group holds one template at a time: the image's kept
/// failed template goes before its next build, instead of failing that build
/// (AIB refuses a staging group that is not empty) for the whole retention.
#[tokio::test]
async fn the_next_build_empties_the_images_staging_group_first() {
    let mut h =
        world("[[resource_groups]]\nname = \"rg-staging\"\nlocation = \"westeurope\"\n").await;
    let staging = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-staging";
    let image = h
        .catalog
        .images
        .iter_mut()
        .find(|i| i.name == super::IMAGE)
        .unwrap();
    image.staging_resource_group = Some(staging.to_owned());
    h.sim.queue_build_outcome(Outcome::Failed, None);
    let ctx = h.process("a", options()).await;
    let failed = build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(failed.state, BuildState::Failed);
    assert_eq!(failed.cleanup, Cleanup::Kept);
    assert_eq!(h.accepted("template.delete"), 0);

    let next = build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(next.state, BuildState::Succeeded, "{next:?}");
    assert_eq!(
        h.accepted("template.delete"),
        2,
        "the kept one, then the new one"
    );
    let kept = ctx.store.get_build(failed.id).await.unwrap().unwrap();
    assert_eq!(kept.cleanup, Cleanup::Done);
    let put = h.journal("template.put");
    assert_eq!(put.len(), 2);
    let body = put[1].body.as_ref().unwrap();
    assert_eq!(body["properties"]["stagingResourceGroup"], staging);
}
