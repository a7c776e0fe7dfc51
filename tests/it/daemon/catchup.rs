//! A check that fell due while the service was down runs once at start-up;
//! none runs when nothing was missed.

use image_refresh::model::CheckTrigger;

use super::{NotifySocket, eventually, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_checks_run_once_at_start_up_and_only_then() {
    let world = world(0).await;
    // Once a year: nothing falls due while the test runs.
    world.write_catalog("[schedule]\ncron = \"0 0 1 1 *\"", &[super::IMAGE]);
    let mut notify = NotifySocket::bind(world.dir.path());
    let env = [("NOTIFY_SOCKET", notify.path.display().to_string())];

    // Never checked: the first start owes a check.
    let first = world.spawn("first", &env);
    let store = world.store().await;
    let check = eventually("the start-up check", &first, || async {
        store
            .last_check()
            .await
            .unwrap()
            .filter(|c| c.finished_at.is_some())
    })
    .await;
    // The check found the image never built; its build must be on record before
    // the stop, or the next start rightly checks again (a stale decision with no
    // build after it), which under load is what a stop right after the check saw.
    eventually("the start-up check's build", &first, || async {
        store.last_build(super::IMAGE).await.unwrap()
    })
    .await;
    assert_eq!(check.trigger, CheckTrigger::Startup);
    assert!(first.stop().await.success());

    // Checked since the last due instant: a restart checks nothing. The
    // catch-up decision is made before the loop reads signals, so stopping
    // right after READY still shows it in the log.
    notify.drain();
    let seen = notify.received.len();
    let second = world.spawn("second", &env);
    notify.wait_for(&second, seen, "READY=1").await;
    assert!(second.stop().await.success());
    let log = std::fs::read_to_string(world.dir.path().join("second.log")).unwrap();
    assert!(!log.contains("checks fell due"), "{log}");
    assert_eq!(
        store.last_check().await.unwrap().map(|c| c.id),
        Some(check.id)
    );

    // Every second: a due instant passes while the service is down.
    world.write_catalog(
        "[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true",
        &[super::IMAGE],
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let third = world.spawn("third", &env);
    // With a check due every second, scheduled checks soon follow the
    // start-up one: look for it among all the checks after the first.
    let caught_up = eventually("the catch-up check", &third, || async {
        store
            .checks_after(check.id)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.trigger == CheckTrigger::Startup)
    })
    .await;
    assert_eq!(caught_up.trigger, CheckTrigger::Startup);
    assert!(third.log().contains("checks fell due"));
    assert!(third.stop().await.success());
    store.close().await;
}
