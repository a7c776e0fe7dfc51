//! The service's messages to systemd, read from a test `NOTIFY_SOCKET`.

use super::{NotifySocket, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_status_watchdog_then_stopping_in_order() {
    let world = world(1).await;
    let mut notify = NotifySocket::bind(world.dir.path());
    let daemon = world.spawn(
        "notify",
        &[
            ("NOTIFY_SOCKET", notify.path.display().to_string()),
            ("WATCHDOG_USEC", "200000".into()),
        ],
    );

    let ready = notify.wait_for(&daemon, 0, "READY=1").await;
    assert_eq!(ready, 0, "READY=1 comes first: {:?}", notify.received);
    assert!(
        notify.received[0].contains("STATUS=next check"),
        "READY carries the next check time: {:?}",
        notify.received[0]
    );
    // The start-up check finds the image never built and starts its build.
    let building = notify.wait_for(&daemon, ready, "STATUS=").await;
    let building = {
        let mut at = building;
        while !notify.received[at].contains("building: ubuntu-golden") {
            at = notify.wait_for(&daemon, at + 1, "STATUS=").await;
        }
        at
    };
    let watchdog = notify.wait_for(&daemon, ready, "WATCHDOG=1").await;
    assert!(watchdog > ready);

    let seen = notify.received.len();
    assert!(daemon.stop().await.success());
    let stopping = notify.find_after_exit(seen, "STOPPING=1");
    assert!(stopping > building);
    assert!(
        notify.received[stopping + 1..]
            .iter()
            .all(|m| !m.starts_with("READY=1")),
        "nothing claims readiness after STOPPING: {:?}",
        notify.received
    );
}
