//! `max_concurrent_builds` bounds the builds in flight across the whole wave.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{eventually, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_beyond_the_limit_wait_for_a_slot() {
    let world = world(1).await;
    let images = ["image-a", "image-b", "image-c"];
    world.write_catalog("[service]\nmax_concurrent_builds = 1", &images);
    let daemon = world.spawn("limit", &[]);

    let most_in_flight = AtomicUsize::new(0);
    let builds = eventually("every image to be built", &daemon, || {
        let world = &world;
        let most = &most_in_flight;
        async move {
            let builds = world.builds().await;
            let in_flight = builds.iter().filter(|b| !b.state.is_terminal()).count();
            most.fetch_max(in_flight, Ordering::Relaxed);
            let done = builds.iter().filter(|b| b.state.is_success()).count();
            (done == images.len()).then_some(builds)
        }
    })
    .await;
    assert_eq!(
        most_in_flight.into_inner(),
        1,
        "the limit is one build at a time"
    );
    assert_eq!(builds.len(), 3);
    // One slot means each build was created after the previous one finished.
    let mut by_start = builds.clone();
    by_start.sort_by_key(|b| b.created_at);
    for pair in by_start.windows(2) {
        assert!(
            pair[1].created_at >= pair[0].finished_at.unwrap(),
            "{} started before {} ended",
            pair[1].image,
            pair[0].image
        );
    }
    assert!(daemon.stop().await.success());
}
