//! Check cycles: round trips and all-or-nothing results.

use image_refresh::model::{CheckTrigger, DecisionKind, SourceKey};
use image_refresh::store::{ResolvedVersionRecord, StoreError};

use super::{at, count, decision, fresh, marketplace, t0};

#[tokio::test]
async fn a_finished_check_reads_back_with_its_versions_and_decisions() {
    let (_dir, store) = fresh().await;
    let id = store
        .begin_check(t0(), CheckTrigger::Schedule)
        .await
        .unwrap();
    let running = store.last_check().await.unwrap().unwrap();
    assert_eq!(running.id, id);
    assert_eq!(running.finished_at, None);
    assert_eq!(running.trigger, CheckTrigger::Schedule);

    let gallery = ResolvedVersionRecord {
        key: SourceKey::Gallery {
            image_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/base".into(),
        },
        version: "1.2.3".into(),
        resolved_at: at("2026-11-25T09:00:02Z"),
    };
    let resolved = vec![marketplace("22.04.202411200"), gallery];
    let mut web = decision("web", DecisionKind::NewBaseVersion);
    web.source_version = None;
    let decisions = vec![
        web,
        decision("api", DecisionKind::UpToDate),
        decision("batch", DecisionKind::NeverBuilt),
    ];
    let finished = at("2026-11-25T09:00:05Z");
    store
        .finish_check(id, finished, &resolved, &decisions)
        .await
        .unwrap();

    let check = store.last_check().await.unwrap().unwrap();
    assert_eq!(check.finished_at, Some(finished));
    assert_eq!(check.images_total, Some(3));
    assert_eq!(check.images_stale, Some(2));
    assert_eq!(check.error, None);
    assert_eq!(store.resolved_versions(id).await.unwrap(), resolved);
    let mut by_name = decisions.clone();
    by_name.sort_by(|a, b| a.image.cmp(&b.image));
    assert_eq!(store.decisions(id).await.unwrap(), by_name);
    let web_state = store.image_state("web").await.unwrap().unwrap();
    assert_eq!(web_state.last_check_at, Some(finished));

    let err = store
        .finish_check(id, finished, &[], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CheckNotRunning(other) if other == id));
}

#[tokio::test]
async fn the_stale_column_agrees_with_every_decision_kind() {
    let (_dir, store) = fresh().await;
    let id = store.begin_check(t0(), CheckTrigger::Cli).await.unwrap();
    let decisions: Vec<_> = DecisionKind::ALL
        .iter()
        .map(|kind| decision(&format!("image-{kind}"), *kind))
        .collect();
    store.finish_check(id, t0(), &[], &decisions).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT decision, stale FROM check_decisions WHERE check_id = ?1")
            .bind(id.0)
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), DecisionKind::ALL.len());
    for (word, stale) in rows {
        let kind: DecisionKind = word.parse().unwrap();
        assert_eq!(stale == 1, kind.is_stale(), "{kind}");
    }
}

#[tokio::test]
async fn a_check_whose_results_break_a_constraint_records_nothing() {
    let (_dir, store) = fresh().await;
    let id = store
        .begin_check(t0(), CheckTrigger::Startup)
        .await
        .unwrap();
    let decisions = vec![
        decision("web", DecisionKind::UpToDate),
        // An empty image name violates a CHECK constraint, after rows for
        // "web" and the resolved version were already written.
        decision("", DecisionKind::NeverBuilt),
    ];
    let err = store
        .finish_check(id, t0(), &[marketplace("1.0.0")], &decisions)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");

    let check = store.last_check().await.unwrap().unwrap();
    assert_eq!(check.finished_at, None);
    assert_eq!(check.images_total, None);
    assert_eq!(
        count(&store, "SELECT count(*) FROM resolved_versions").await,
        0
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM check_decisions").await,
        0
    );
    assert_eq!(count(&store, "SELECT count(*) FROM images").await, 0);

    // The same check can still be finished properly.
    store
        .finish_check(id, t0(), &[], &decisions[..1])
        .await
        .unwrap();
    assert_eq!(
        store.last_check().await.unwrap().unwrap().images_total,
        Some(1)
    );
}

#[tokio::test]
async fn a_duplicate_decision_for_one_image_is_refused_whole() {
    let (_dir, store) = fresh().await;
    let id = store.begin_check(t0(), CheckTrigger::Reload).await.unwrap();
    let decisions = vec![
        decision("web", DecisionKind::UpToDate),
        decision("web", DecisionKind::TooOld),
    ];
    store
        .finish_check(id, t0(), &[], &decisions)
        .await
        .unwrap_err();
    assert_eq!(
        count(&store, "SELECT count(*) FROM check_decisions").await,
        0
    );
    assert_eq!(store.last_check().await.unwrap().unwrap().finished_at, None);
}

#[tokio::test]
async fn a_failed_check_keeps_its_error() {
    let (_dir, store) = fresh().await;
    assert_eq!(store.last_check().await.unwrap(), None);
    let first = store
        .begin_check(t0(), CheckTrigger::Schedule)
        .await
        .unwrap();
    store.finish_check(first, t0(), &[], &[]).await.unwrap();
    let second = store
        .begin_check(at("2026-11-26T09:00:00Z"), CheckTrigger::Schedule)
        .await
        .unwrap();
    store
        .fail_check(second, at("2026-11-26T09:01:00Z"), "Azure said 503")
        .await
        .unwrap();
    let check = store.last_check().await.unwrap().unwrap();
    assert_eq!(check.id, second);
    assert_eq!(check.error.as_deref(), Some("Azure said 503"));
    assert_eq!(check.finished_at, Some(at("2026-11-26T09:01:00Z")));
    assert_eq!(check.images_total, None);
    let again = store.fail_check(second, t0(), "again").await.unwrap_err();
    assert!(matches!(again, StoreError::CheckNotRunning(_)));
}

#[tokio::test]
async fn every_trigger_is_accepted_and_read_back() {
    let (_dir, store) = fresh().await;
    for trigger in CheckTrigger::ALL {
        let id = store.begin_check(t0(), *trigger).await.unwrap();
        let check = store.last_check().await.unwrap().unwrap();
        assert_eq!((check.id, check.trigger), (id, *trigger));
    }
}

/// Retention (security finding 4): old checks go with their decisions and
/// versions, but not one a build refers to, nor an image's latest decision.
#[tokio::test]
async fn old_checks_are_pruned_but_not_those_still_needed() {
    use image_refresh::store::NewBuild;
    let (_dir, store) = fresh().await;
    let check_at = |day: i64| t0() + chrono::Duration::days(day);
    let mut ids = Vec::new();
    for day in 0..4 {
        let id = store
            .begin_check(check_at(day), CheckTrigger::Schedule)
            .await
            .unwrap();
        // "rare" is only decided in the first check, "web" in every one.
        let mut decisions = vec![decision("web", DecisionKind::UpToDate)];
        if day == 0 {
            decisions.push(decision("rare", DecisionKind::UpToDate));
        }
        store
            .finish_check(id, check_at(day), &[marketplace("22.04.1")], &decisions)
            .await
            .unwrap();
        ids.push(id);
    }
    // A build asked for by the second check.
    store
        .insert_build(NewBuild {
            image: "web".into(),
            check_id: Some(ids[1]),
            decision: Some(DecisionKind::NewBaseVersion),
            reason: "r".into(),
            recipe_hash: "h".into(),
            source_version: "22.04.1".into(),
            created_at: check_at(1),
        })
        .await
        .unwrap();

    let gone = store.prune_checks(check_at(3)).await.unwrap();
    // Check 0 holds rare's latest decision, check 1 a build's, check 3 is new:
    // only check 2 goes.
    assert_eq!(gone, 1);
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM check_cycles ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left, [ids[0].0, ids[1].0, ids[3].0]);
    assert!(store.decisions(ids[2]).await.unwrap().is_empty());
    assert!(store.resolved_versions(ids[2]).await.unwrap().is_empty());
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(broken.is_empty());
    // Nothing more to do the second time.
    assert_eq!(store.prune_checks(check_at(3)).await.unwrap(), 0);
}

#[tokio::test]
async fn old_notices_go_with_old_checks_unless_a_sink_still_owes_them() {
    use image_refresh::model::{DeliveryState, NoticeKind};
    let (_dir, store) = fresh().await;
    let data = serde_json::json!({ "k": "v" });
    let old = t0() - chrono::Duration::days(500);
    let delivered = store
        .enqueue_notice(NoticeKind::NotifyTest, None, old, &data)
        .await
        .unwrap();
    let owed = store
        .enqueue_notice(NoticeKind::NotifyTest, None, old, &data)
        .await
        .unwrap();
    let young = store
        .enqueue_notice(NoticeKind::NotifyTest, None, t0(), &data)
        .await
        .unwrap();
    store
        .settle_notice(&delivered, "ops", DeliveryState::Delivered, 1, old, None)
        .await
        .unwrap();
    store
        .settle_notice(&owed, "ops", DeliveryState::Pending, 1, t0(), Some("503"))
        .await
        .unwrap();
    store
        .prune_checks(t0() - chrono::Duration::days(400))
        .await
        .unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mut expected = vec![owed.clone(), young];
    expected.sort();
    assert_eq!(left, expected);
    assert!(store.deliveries_of(&delivered).await.unwrap().is_empty());
    assert_eq!(store.deliveries_of(&owed).await.unwrap().len(), 1);
}
