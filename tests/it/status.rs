//! `status` tells the truth about now (issue 12): the last build's result and
//! what a check would decide now, and whether anyone follows a running build.

use serde_json::Value;

use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

fn status(world: &World) -> Value {
    let output = world.command(&["status", "--output", "json"]);
    assert!(output.status.success(), "{output:?}");
    let lines: Value = serde_json::from_slice(&output.stdout).unwrap();
    lines[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_after_a_build_status_says_it_and_that_the_image_is_up_to_date() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    // The check that asked for the build said "never built".
    let built = world.command(&["build", "--wait", IMAGE]);
    assert!(built.status.success(), "{built:?}");

    let line = status(&world);
    assert_eq!(line["last_decision"], "never_built", "{line}");
    assert_eq!(line["decision_now"]["kind"], "up_to_date", "{line}");
    assert_eq!(line["followed"], Value::Null);
    let note = line["note"].as_str().unwrap();
    assert!(note.starts_with("last build succeeded "), "{note}");
    assert!(note.ends_with("; now: up to date"), "{note}");

    // A newer base version makes the same question's answer change.
    world.sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202412010",
    );
    assert_eq!(world.command(&["check"]).status.code(), Some(3));
    let note = status(&world)["note"].as_str().unwrap().to_owned();
    assert!(
        note.ends_with("now: new base version 22.04.202411050 → 22.04.202412010"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_build_that_no_process_follows_says_so() {
    // Long enough to still run when status looks.
    let world = World::builder()
        .scenario(setup::scenario("", 0, 600))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    let started = world.command(&["build", IMAGE]);
    assert!(started.status.success(), "{started:?}");

    let line = status(&world);
    assert_eq!(line["last_build"]["state"], "running", "{line}");
    assert_eq!(line["followed"], false, "{line}");
    let note = line["note"].as_str().unwrap();
    assert!(note.contains("running for "), "{note}");
    assert!(note.contains("followed by no process"), "{note}");
    assert!(note.contains("now: build "), "{note}");

    // A live holder on this host (this test process) follows it.
    let store = world.store().await;
    let holder = image_refresh::build::name_this_process();
    let now = chrono::Utc::now();
    store
        .try_claim(IMAGE, &holder, now, chrono::Duration::minutes(10))
        .await
        .unwrap();
    store.close().await;
    let line = status(&world);
    assert_eq!(line["followed"], true, "{line}");
    assert!(
        !line["note"]
            .as_str()
            .unwrap()
            .contains("followed by no process"),
        "{line}"
    );
}
