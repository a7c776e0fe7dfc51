//! Check cycles never overlap, however often the schedule fires and however
//! slowly Azure answers.

use azure_sim::{FaultKind, FaultRule};

use super::{eventually, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_check_is_never_joined_by_the_next_one() {
    let world = world(0).await;
    // Due every second, while each check takes over two seconds.
    world.write_catalog(
        "[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true",
        &[super::IMAGE],
    );
    world.sim.add_fault(FaultRule {
        route: "marketplace.list".into(),
        kind: FaultKind::Latency { ms: 2_200 },
        count: None,
        after: None,
    });
    let daemon = world.spawn("overlap", &[]);
    let store = world.store().await;
    eventually("three finished checks", &daemon, || async {
        let finished: i64 =
            sqlx::query_scalar("SELECT count(*) FROM check_cycles WHERE finished_at IS NOT NULL")
                .fetch_one(store.pool())
                .await
                .unwrap();
        (finished >= 3).then_some(())
    })
    .await;
    assert!(daemon.stop().await.success());

    let cycles: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT started_at, finished_at FROM check_cycles ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    for pair in cycles.windows(2) {
        let (previous_end, next_start) = (&pair[0].1, &pair[1].0);
        let previous_end = previous_end
            .as_ref()
            .expect("only the last check may be cut short");
        assert!(
            next_start >= previous_end,
            "a check started at {next_start} before the one before it ended at {previous_end}"
        );
    }
    // One lookup per check: the daemon never had two checks asking at once.
    let lists = world.sim.count("marketplace.list");
    assert!(
        lists as usize <= cycles.len(),
        "{lists} lookups for {} checks",
        cycles.len()
    );
    store.close().await;
}
