//! A check that could not finish is tried again soon, not at the next
//! scheduled time (which may be weeks away).

use azure_sim::{FaultKind, FaultRule};

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
