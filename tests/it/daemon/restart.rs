//! SIGTERM leaves AIB runs running in Azure; the next start resumes them.

use image_refresh::model::BuildState;

use super::{IMAGE, eventually, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_build_then_restart_resumes_with_exactly_one_run() {
    // Long enough that the first service is stopped while AIB customizes.
    let world = world(4).await;

    // A fresh database owes a check at start-up, which finds the image never built.
    let first = world.spawn("first", &[]);
    let running = eventually("the build to be running in AIB", &first, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.state == BuildState::Running)
    })
    .await;
    let status = first.stop().await;
    assert!(status.success(), "SIGTERM should be a clean exit: {status}");

    let left = world.builds().await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, running.id);
    assert!(
        !left[0].state.is_terminal(),
        "the stopped service must leave the build to be resumed, not end it: {}",
        left[0].state
    );
    assert_eq!(
        world.sim.count("template.cancel"),
        0,
        "nothing is cancelled in Azure"
    );

    let second = world.spawn("second", &[]);
    let done = eventually("the resumed build to succeed", &second, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.id == running.id && b.state.is_terminal())
    })
    .await;
    assert_eq!(
        done.state,
        BuildState::Succeeded,
        "{:?}",
        done.error_message
    );
    assert_eq!(
        world.sim.count("template.run"),
        1,
        "the restart must follow the run it found, not start another"
    );
    assert_eq!(world.builds().await.len(), 1, "no second build of {IMAGE}");
    assert!(
        second.log().contains("resuming a build"),
        "{}",
        second.log()
    );
    assert!(second.stop().await.success());
}
