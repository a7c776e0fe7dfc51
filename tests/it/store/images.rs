//! Per-image state and the status view.

use image_refresh::model::{BuildState, CheckTrigger, DecisionKind};
use image_refresh::store::BuildTransition;

use super::{at, decision, fresh, new_build, t0};

#[tokio::test]
async fn consecutive_failures_count_up_and_reset_on_success() {
    let (_dir, store) = fresh().await;
    store.ensure_images(["web", "api"]).await.unwrap();
    let fresh_state = store.image_state("web").await.unwrap().unwrap();
    assert!(fresh_state.enabled);
    assert_eq!(fresh_state.consecutive_failures, 0);

    assert_eq!(
        store.record_build_result("web", false, t0()).await.unwrap(),
        1
    );
    let second = at("2026-11-25T10:00:00Z");
    assert_eq!(
        store
            .record_build_result("web", false, second)
            .await
            .unwrap(),
        2
    );
    let state = store.image_state("web").await.unwrap().unwrap();
    assert_eq!(state.last_failure_at, Some(second));
    assert_eq!(state.last_success_at, None);

    let success = at("2026-11-25T11:00:00Z");
    assert_eq!(
        store
            .record_build_result("web", true, success)
            .await
            .unwrap(),
        0
    );
    let state = store.image_state("web").await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_success_at, Some(success));
    assert_eq!(state.last_failure_at, Some(second), "kept for people");

    // Other images are untouched; unknown ones get a row.
    assert_eq!(
        store
            .image_state("api")
            .await
            .unwrap()
            .unwrap()
            .consecutive_failures,
        0
    );
    assert_eq!(
        store.record_build_result("new", false, t0()).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn disabling_keeps_a_reason_and_enabling_starts_over() {
    let (_dir, store) = fresh().await;
    store.record_build_result("web", false, t0()).await.unwrap();
    store.record_build_result("web", false, t0()).await.unwrap();
    store
        .set_enabled("web", false, Some("3 builds failed in a row"))
        .await
        .unwrap();
    let state = store.image_state("web").await.unwrap().unwrap();
    assert!(!state.enabled);
    assert_eq!(
        state.disabled_reason.as_deref(),
        Some("3 builds failed in a row")
    );
    assert_eq!(state.consecutive_failures, 2);

    store
        .set_enabled("web", true, Some("ignored"))
        .await
        .unwrap();
    let state = store.image_state("web").await.unwrap().unwrap();
    assert!(state.enabled);
    assert_eq!(state.disabled_reason, None);
    assert_eq!(state.consecutive_failures, 0);

    // ensure_images leaves existing rows alone.
    store.set_enabled("web", false, None).await.unwrap();
    store.ensure_images(["web"]).await.unwrap();
    assert!(!store.image_state("web").await.unwrap().unwrap().enabled);
    assert_eq!(store.image_state("nope").await.unwrap(), None);
}

#[tokio::test]
async fn status_shows_each_image_with_its_last_builds_and_decision() {
    let (_dir, store) = fresh().await;
    store.ensure_images(["idle", "web"]).await.unwrap();
    let good = store.insert_build(new_build("web", t0())).await.unwrap();
    let done_at = at("2026-11-25T10:00:00Z");
    store
        .transition(
            good.id,
            &BuildTransition::to(BuildState::Succeeded, done_at, "ok"),
        )
        .await
        .unwrap();
    let later = at("2026-11-26T09:00:00Z");
    let mut failing = new_build("web", later);
    failing.source_version = "22.04.202411300".into();
    let failing = store.insert_build(failing).await.unwrap();
    store
        .transition(
            failing.id,
            &BuildTransition::to(BuildState::Failed, later, "boom"),
        )
        .await
        .unwrap();
    // Finishing a build counted it: no separate record_build_result call.
    for (day, kind) in [
        ("2026-11-26", DecisionKind::UpToDate),
        ("2026-11-27", DecisionKind::RetryAfterFailure),
    ] {
        let start = at(&format!("{day}T09:00:00Z"));
        let check = store
            .begin_check(start, CheckTrigger::Schedule)
            .await
            .unwrap();
        store
            .finish_check(check, start, &[], &[decision("web", kind)])
            .await
            .unwrap();
    }

    let status = store.status().await.unwrap();
    let names: Vec<_> = status.iter().map(|s| s.state.name.as_str()).collect();
    assert_eq!(names, ["idle", "web"]);

    let idle = &status[0];
    assert_eq!(idle.last_build, None);
    assert_eq!(idle.last_success, None);
    assert_eq!(idle.last_decision, None);

    let web = &status[1];
    let last = web.last_build.as_ref().unwrap();
    assert_eq!((last.id, last.state), (failing.id, BuildState::Failed));
    assert_eq!(last.source_version, "22.04.202411300");
    assert_eq!(last.finished_at, Some(later));
    let success = web.last_success.as_ref().unwrap();
    assert_eq!((success.id, success.finished_at), (good.id, Some(done_at)));
    assert_eq!(success.source_version, "22.04.202411200");
    assert_eq!(web.last_decision, Some(DecisionKind::RetryAfterFailure));
    assert_eq!(
        web.last_reason.as_deref(),
        Some("retry_after_failure because")
    );
    assert_eq!(web.state.consecutive_failures, 1);
    assert_eq!(web.state.last_success_at, Some(done_at));
    assert_eq!(web.state.last_check_at, Some(at("2026-11-27T09:00:00Z")));
}
