//! Builds: round trips, the event log, and history order.

use image_refresh::model::{BuildId, BuildState, CheckTrigger, Cleanup, DecisionKind, RunSubState};
use image_refresh::store::{BuildTransition, StoreError};

use super::{at, fresh, new_build, t0};

#[tokio::test]
async fn a_build_reads_back_as_inserted() {
    let (_dir, store) = fresh().await;
    let check = store.begin_check(t0(), CheckTrigger::Cli).await.unwrap();
    let mut new = new_build("web", t0());
    new.check_id = Some(check);
    let build = store.insert_build(new.clone()).await.unwrap();
    assert_eq!(build.image, "web");
    assert_eq!(build.check_id, Some(check));
    assert_eq!(build.decision, Some(DecisionKind::NewBaseVersion));
    assert_eq!(build.reason, new.reason);
    assert_eq!(build.recipe_hash, "sha256:aaaa");
    assert_eq!(build.source_version, "22.04.202411200");
    assert_eq!(build.state, BuildState::Planned);
    assert_eq!(build.cleanup, Cleanup::Pending);
    assert_eq!((build.created_at, build.updated_at), (t0(), t0()));
    assert!(build.artifact_ids.is_empty());
    assert_eq!(
        store.get_build(build.id).await.unwrap(),
        Some(build.clone())
    );
    assert!(store.image_state("web").await.unwrap().is_some());

    let id_text = build.id.to_string();
    assert_eq!(id_text.parse::<BuildId>().unwrap(), build.id);
    assert_eq!(build.id.as_uuid().get_version_num(), 4);
}

#[tokio::test]
async fn transitions_update_the_row_and_log_every_step_in_order() {
    let (_dir, store) = fresh().await;
    let build = store.insert_build(new_build("web", t0())).await.unwrap();
    let id = build.id;
    let steps = [
        BuildTransition {
            template_name: Some("ir-web-1".into()),
            ..BuildTransition::to(
                BuildState::TemplateCreated,
                at("2026-11-25T09:01:00Z"),
                "PUT template",
            )
        },
        BuildTransition::to(
            BuildState::RunRequested,
            at("2026-11-25T09:02:00Z"),
            "POST run",
        ),
        BuildTransition {
            run_sub_state: Some(RunSubState::Queued),
            ..BuildTransition::to(
                BuildState::Running,
                at("2026-11-25T09:03:00Z"),
                "run accepted",
            )
        },
        BuildTransition {
            run_sub_state: Some(RunSubState::Customizing),
            ..BuildTransition::to(
                BuildState::Running,
                at("2026-11-25T09:30:00Z"),
                "customizing",
            )
        },
        BuildTransition {
            artifact_ids: Some(vec![
                "/subscriptions/s/images/web-1".into(),
                "/sig/web/1.0.1".into(),
            ]),
            ..BuildTransition::to(BuildState::Succeeded, at("2026-11-25T10:00:00Z"), "done")
        },
    ];
    for step in &steps {
        store.transition(id, step).await.unwrap();
    }
    let done = store.get_build(id).await.unwrap().unwrap();
    assert_eq!(done.state, BuildState::Succeeded);
    assert_eq!(done.run_sub_state, None);
    assert_eq!(
        done.template_name.as_deref(),
        Some("ir-web-1"),
        "kept from the first step"
    );
    assert_eq!(
        done.run_started_at,
        Some(at("2026-11-25T09:03:00Z")),
        "first time running"
    );
    assert_eq!(done.finished_at, Some(at("2026-11-25T10:00:00Z")));
    assert_eq!(done.updated_at, at("2026-11-25T10:00:00Z"));
    assert_eq!(
        done.artifact_ids,
        ["/subscriptions/s/images/web-1", "/sig/web/1.0.1"]
    );

    let events = store.build_events(id).await.unwrap();
    let logged: Vec<_> = events
        .iter()
        .map(|e| (e.at, e.state, e.run_sub_state, e.detail.as_str()))
        .collect();
    let mut expected = vec![(t0(), BuildState::Planned, None, build.reason.as_str())];
    expected.extend(
        steps
            .iter()
            .map(|s| (s.at, s.state, s.run_sub_state, s.detail.as_str())),
    );
    assert_eq!(logged, expected);
    assert!(events.iter().all(|e| e.build_id == id));

    let after_end = BuildTransition::to(BuildState::Failed, at("2026-11-25T11:00:00Z"), "late");
    let err = store.transition(id, &after_end).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::BuildFinished {
            state: BuildState::Succeeded,
            ..
        }
    ));
    assert_eq!(store.build_events(id).await.unwrap().len(), expected.len());
}

#[tokio::test]
async fn a_failure_keeps_its_error_and_unknown_builds_are_reported() {
    let (_dir, store) = fresh().await;
    let build = store.insert_build(new_build("web", t0())).await.unwrap();
    let failed = store
        .transition(
            build.id,
            &BuildTransition {
                error_code: Some("ProvisioningFailed".into()),
                error_message: Some("customizer exited 1".into()),
                ..BuildTransition::to(BuildState::Failed, at("2026-11-25T09:10:00Z"), "run failed")
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.error_code.as_deref(), Some("ProvisioningFailed"));
    assert_eq!(failed.error_message.as_deref(), Some("customizer exited 1"));
    assert_eq!(failed.run_started_at, None);

    let unknown: BuildId = "00000000-0000-4000-8000-000000000000".parse().unwrap();
    let step = BuildTransition::to(BuildState::Running, t0(), "x");
    assert!(matches!(
        store.transition(unknown, &step).await.unwrap_err(),
        StoreError::BuildNotFound(id) if id == unknown
    ));
    assert!(matches!(
        store
            .set_cleanup(unknown, Cleanup::Done, t0())
            .await
            .unwrap_err(),
        StoreError::BuildNotFound(_)
    ));
    assert_eq!(store.get_build(unknown).await.unwrap(), None);
}

#[tokio::test]
async fn unfinished_builds_are_those_not_ended_or_not_cleaned_up() {
    let (_dir, store) = fresh().await;
    let mut expected_unfinished = Vec::new();
    for (n, state) in BuildState::ALL.iter().enumerate() {
        let created = t0() + chrono::Duration::minutes(n as i64);
        let build = store.insert_build(new_build("web", created)).await.unwrap();
        if *state != BuildState::Planned {
            store
                .transition(build.id, &BuildTransition::to(*state, created, "moved"))
                .await
                .unwrap();
        }
        // Terminal builds whose template is gone are finished; the rest are not.
        if state.is_terminal() {
            store
                .set_cleanup(build.id, Cleanup::Done, created)
                .await
                .unwrap();
        } else {
            expected_unfinished.push(build.id);
        }
    }
    let unfinished: Vec<_> = store
        .unfinished_builds()
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(unfinished, expected_unfinished);

    let ended = store.insert_build(new_build("api", t0())).await.unwrap();
    store
        .transition(
            ended.id,
            &BuildTransition::to(BuildState::Canceled, t0(), "canceled"),
        )
        .await
        .unwrap();
    assert!(
        store
            .unfinished_builds()
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == ended.id)
    );
    let kept = store
        .set_cleanup(ended.id, Cleanup::Kept, t0())
        .await
        .unwrap();
    assert_eq!(kept.cleanup, Cleanup::Kept);
    assert!(
        !store
            .unfinished_builds()
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == ended.id)
    );
    let last_event = store.build_events(ended.id).await.unwrap().pop().unwrap();
    assert_eq!(last_event.cleanup, Cleanup::Kept);
    assert_eq!(last_event.state, BuildState::Canceled);
}

#[tokio::test]
async fn history_is_newest_first_and_limited() {
    let (_dir, store) = fresh().await;
    let mut ids = Vec::new();
    for (image, minute) in [("web", 0), ("api", 1), ("web", 2), ("web", 2), ("api", 3)] {
        let created = t0() + chrono::Duration::minutes(minute);
        ids.push(
            store
                .insert_build(new_build(image, created))
                .await
                .unwrap()
                .id,
        );
    }
    let all: Vec<_> = store
        .history(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    let newest_first: Vec<_> = ids.iter().rev().copied().collect();
    assert_eq!(
        all, newest_first,
        "same-second builds in insertion order, reversed"
    );

    let limited: Vec<_> = store
        .history(None, 2)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(limited, newest_first[..2]);

    let web: Vec<_> = store
        .history(Some("web"), 10)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(web, [ids[3], ids[2], ids[0]]);
    assert!(store.history(Some("nope"), 10).await.unwrap().is_empty());

    assert_eq!(store.last_build("web").await.unwrap().unwrap().id, ids[3]);
    assert_eq!(store.last_successful_build("web").await.unwrap(), None);
    for (id, state) in [
        (ids[0], BuildState::Succeeded),
        (ids[2], BuildState::PartiallySucceeded),
        (ids[3], BuildState::Failed),
    ] {
        store
            .transition(
                id,
                &BuildTransition::to(state, t0() + chrono::Duration::hours(1), "end"),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .last_successful_build("web")
            .await
            .unwrap()
            .unwrap()
            .id,
        ids[2]
    );
    assert_eq!(
        store.last_build("web").await.unwrap().unwrap().state,
        BuildState::Failed
    );
}

#[tokio::test]
async fn every_run_sub_state_is_accepted_and_read_back() {
    let (_dir, store) = fresh().await;
    let build = store.insert_build(new_build("web", t0())).await.unwrap();
    for sub in RunSubState::ALL {
        let step = BuildTransition {
            run_sub_state: Some(*sub),
            ..BuildTransition::to(BuildState::Running, t0(), sub.as_str())
        };
        let record = store.transition(build.id, &step).await.unwrap();
        assert_eq!(record.run_sub_state, Some(*sub));
    }
    let logged: Vec<_> = store
        .build_events(build.id)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| e.run_sub_state)
        .collect();
    assert_eq!(logged, RunSubState::ALL);
}

#[tokio::test]
async fn finishing_a_build_counts_failures_in_a_row_in_the_same_write() {
    let (_dir, store) = fresh().await;
    for (i, state) in [
        BuildState::Failed,
        BuildState::TimedOut,
        BuildState::Canceled,
    ]
    .into_iter()
    .enumerate()
    {
        let build = store.insert_build(new_build("web", t0())).await.unwrap();
        store
            .transition(build.id, &BuildTransition::to(state, t0(), "end"))
            .await
            .unwrap();
        let failures = store
            .image_state("web")
            .await
            .unwrap()
            .unwrap()
            .consecutive_failures;
        // A person's cancel is not the recipe's fault: it does not count.
        assert_eq!(failures, [1, 2, 2][i], "after {state}");
    }
    let build = store.insert_build(new_build("web", t0())).await.unwrap();
    store
        .transition(
            build.id,
            &BuildTransition::to(BuildState::Succeeded, t0(), "ok"),
        )
        .await
        .unwrap();
    let state = store.image_state("web").await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_success_at, Some(t0()));
}
