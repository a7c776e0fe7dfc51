//! SIGHUP reads the catalog again; one that does not validate changes nothing.

use image_refresh::model::{BuildState, CheckTrigger};

use super::{IMAGE, NotifySocket, eventually, world};

/// Checks every second, so a reload's effect on scheduling shows quickly.
const EVERY_SECOND: &str = "[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_broken_catalog_keeps_the_old_one() {
    let world = world(0).await;
    world.write_catalog(EVERY_SECOND, &[IMAGE]);
    let mut notify = NotifySocket::bind(world.dir.path());
    let mut daemon = world.spawn(
        "reload",
        &[("NOTIFY_SOCKET", notify.path.display().to_string())],
    );
    let ready = notify.wait_for(&daemon, 0, "READY=1").await;

    // A typo: the key is misspelt.
    let broken = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("subscription_id", "subscripton_id");
    std::fs::write(&world.config, broken).unwrap();
    daemon.signal("HUP");
    let reloading = notify.wait_for(&daemon, ready + 1, "RELOADING=1").await;
    let ready_again = notify.wait_for(&daemon, reloading, "READY=1").await;
    assert!(ready_again > reloading);
    let log = daemon.log();
    assert!(
        log.contains("the catalog does not validate; keeping the old one"),
        "{log}"
    );
    assert!(log.contains("subscripton_id"), "the log says why: {log}");
    assert!(
        daemon.is_running(),
        "a bad catalog must not stop the service"
    );

    // Still scheduling with the old catalog: checks keep coming.
    let store = world.store().await;
    let before = store.last_check().await.unwrap().map(|c| c.id);
    eventually("a check after the failed reload", &daemon, || async {
        let last = store.last_check().await.unwrap().map(|c| c.id);
        (last.is_some() && last != before).then_some(())
    })
    .await;

    // A valid catalog is taken: its new image gets its row.
    world.write_catalog(EVERY_SECOND, &[IMAGE, "ubuntu-second"]);
    daemon.signal("HUP");
    let second = eventually("the reloaded catalog's new image", &daemon, || async {
        store.image_state("ubuntu-second").await.unwrap()
    })
    .await;
    assert!(second.enabled);
    // The row is written while the new catalog is installed; the line comes
    // once the install (schedules, notifications, metrics) is done.
    eventually("the reload's log line", &daemon, || async {
        daemon.log().contains("catalog reloaded").then_some(())
    })
    .await;
    store.close().await;
    assert!(daemon.stop().await.success());
}

/// A reload that adds an image checks and builds it at once, not at its next due time,
/// and leaves the images it did not change to their schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_checks_an_added_image_at_once() {
    // Due once a year: only the start-up catch-up and the reload can check anything.
    const YEARLY: &str = "[schedule]\ncron = \"0 0 6 1 1 *\"";
    let world = world(0).await;
    world.write_catalog(YEARLY, &[IMAGE]);
    let daemon = world.spawn("reload-added", &[]);
    eventually("the first image's build", &daemon, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.image == IMAGE && b.state == BuildState::Succeeded)
    })
    .await;

    world.write_catalog(YEARLY, &[IMAGE, "ubuntu-second"]);
    daemon.signal("HUP");
    let built = eventually("the added image's build", &daemon, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.image == "ubuntu-second" && b.state == BuildState::Succeeded)
    })
    .await;
    let store = world.store().await;
    let check = store.last_check().await.unwrap().unwrap();
    assert_eq!(check.trigger, CheckTrigger::Reload);
    assert_eq!(built.check_id, Some(check.id));
    let decided: Vec<String> = store
        .decisions(check.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.image)
        .collect();
    assert_eq!(
        decided,
        ["ubuntu-second"],
        "the unchanged image keeps its schedule"
    );
    store.close().await;
    assert!(daemon.stop().await.success());
}
