//! A check that could not finish is tried again soon, not at the next
//! scheduled time (which may be weeks away).

use azure_sim::{FaultKind, FaultRule};
use image_refresh::model::DecisionKind;

use super::{IMAGE, eventually, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_is_retried_without_waiting_for_the_schedule() {
    let world = world(0).await;
    // Once a year: only the start-up check and its retries can build.
    world.write_catalog("[schedule]\ncron = \"0 0 1 1 *\"", &[IMAGE]);
    // Azure refuses the start-up check's lookup for good (no client retry).
    world.sim.add_fault(FaultRule {
        route: "marketplace.list".into(),
        kind: FaultKind::Status { code: 400 },
        count: Some(1),
        after: None,
    });
    let daemon = world.spawn("retry", &[]);
    let store = world.store().await;
    let built = eventually("a build after the retried check", &daemon, || async {
        store.last_successful_build(IMAGE).await.unwrap()
    })
    .await;
    assert_eq!(built.source_version, "22.04.202411050");
    assert!(
        daemon.log().contains("retrying the check that failed"),
        "{}",
        daemon.log()
    );
    assert!(daemon.stop().await.success());
    let checks: i64 = sqlx::query_scalar("SELECT count(*) FROM check_cycles")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(checks >= 2, "{checks} checks");
    assert_eq!(world.sim.count("template.run"), 1);
    store.close().await;
}

/// A source Azure says does not exist is a catalog problem: asking again in a
/// minute cannot change the answer, so only the next scheduled check asks, and
/// the error is said once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_waits_for_the_schedule_and_is_said_once() {
    let world = world(0).await;
    world.write_catalog("[schedule]\ncron = \"0 0 1 1 *\"", &[IMAGE]);
    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("sku = \"22_04-lts-gen2\"", "sku = \"22_04-lts-gen9\"");
    world.write_config(&text);
    let daemon = world.spawn("missing", &[]);
    let store = world.store().await;
    let decided = eventually("the start-up check's decision", &daemon, || async {
        store
            .last_decision(IMAGE)
            .await
            .unwrap()
            .filter(|kind| *kind == DecisionKind::SourceNotFound)
    })
    .await;
    assert_eq!(decided, DecisionKind::SourceNotFound);
    // Retries of an outage come every poll interval (100 ms) here; a missing
    // source has none in ten times that.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(world.sim.count("marketplace.list"), 1);
    let log = daemon.log();
    assert!(!log.contains("retrying the check that failed"), "{log}");
    assert_eq!(
        log.matches("does not exist in Azure").count(),
        1,
        "said once:\n{log}"
    );
    assert!(
        log.contains("no marketplace image Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen9 in westeurope"),
        "{log}"
    );
    assert!(daemon.stop().await.success());
    store.close().await;
}
