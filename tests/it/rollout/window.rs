//! Build windows (issue 15, part 5), with the real `image-refresh run`: a
//! stale image found while its window is closed waits, survives kill -9
//! while waiting, and is built when the window opens, not before; checks
//! keep their own schedule, and `check`, `status` and `run --once` say until
//! when it waits.

use chrono::{DateTime, Duration, SubsecRound, Timelike, Utc};
use image_refresh::model::DecisionKind;

use crate::support::daemon::eventually;
use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

/// Far enough ahead for a start-up check and three commands before it.
const LEAD: Duration = Duration::seconds(20);

/// A daily window opening at `opens` (UTC) for an hour.
fn window_at(opens: DateTime<Utc>) -> String {
    format!(
        "[defaults]\nbuild_window = {{ cron = \"{} {} {} * * *\", duration = \"1h\" }}",
        opens.second(),
        opens.minute(),
        opens.hour()
    )
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_image_outside_its_window_is_built_when_it_opens_and_not_before() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .patience(std::time::Duration::from_secs(90))
        .start()
        .await;
    let opens = Utc::now().trunc_subsecs(0) + LEAD;
    // Checked once a year: only the start-up check and the window can wake it.
    world.write_catalog(
        &format!("[schedule]\ncron = \"0 0 1 1 *\"\n{}", window_at(opens)),
        &[IMAGE],
    );
    let opens_text = opens.format("%Y-%m-%d %H:%M:%S UTC").to_string();

    let first = world.spawn("first", &[]);
    let store = world.store().await;
    eventually("the start-up check to decide", &first, || async {
        (store.last_decision(IMAGE).await.unwrap() == Some(DecisionKind::WaitingForWindow))
            .then_some(())
    })
    .await;

    // What people see meanwhile: stale (exit 3), and until when.
    let output = world.command(&["check"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains("wait")
            && text.contains(&format!(
                "never built; waiting for the build window, opens {opens_text}"
            )),
        "{text}"
    );
    let output = world.command(&["status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        status[0]["decision_now"]["kind"], "waiting_for_window",
        "{status}"
    );
    assert_eq!(
        status[0]["decision_now"]["opens_at"],
        opens.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let output = world.command(&["run", "--once"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains(&format!("its build window is closed until {opens_text}")),
        "{output:?}"
    );
    assert!(
        world.builds().await.is_empty(),
        "nothing is built outside the window"
    );

    // Killed while it waits: the decision is in the history, so a new
    // service still builds it when the window opens.
    first.kill();
    let second = world.spawn("second", &[]);
    while Utc::now() < opens - Duration::seconds(1) {
        assert!(
            world.builds().await.is_empty(),
            "built before the window opened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let build = eventually("the build when the window opens", &second, || async {
        store.history(Some(IMAGE), 10).await.unwrap().pop()
    })
    .await;
    assert!(build.created_at >= opens, "{} < {opens}", build.created_at);
    assert_eq!(build.decision, Some(DecisionKind::NeverBuilt));
    assert_eq!(build.reason, "never built");
    eventually("the build to succeed", &second, || async {
        store
            .history(Some(IMAGE), 10)
            .await
            .unwrap()
            .first()
            .filter(|b| b.state.is_success())
            .map(|_| ())
    })
    .await;
    assert!(
        second.log().contains("build windows opened"),
        "{}",
        second.log()
    );
    assert_eq!(world.builds().await.len(), 1);
    second.stop_cleanly().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_by_hand_outside_the_window_builds_and_says_so() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    let opens = Utc::now().trunc_subsecs(0) + Duration::hours(2);
    world.write_catalog(&window_at(opens), &[IMAGE]);
    let output = world.command(&["build", "--wait", IMAGE]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("outside its build window"),
        "{output:?}"
    );
    let builds = world.builds().await;
    assert_eq!(builds.len(), 1);
    assert_eq!(
        builds[0].reason,
        "never built; started outside its build window by an operator"
    );
    assert_eq!(builds[0].decision, Some(DecisionKind::NeverBuilt));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_opened_while_the_service_was_down_builds_at_start_up() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .patience(std::time::Duration::from_secs(90))
        .start()
        .await;
    let opens = Utc::now().trunc_subsecs(0) + Duration::seconds(8);
    world.write_catalog(
        &format!("[schedule]\ncron = \"0 0 1 1 *\"\n{}", window_at(opens)),
        &[IMAGE],
    );
    let first = world.spawn("first", &[]);
    let store = world.store().await;
    eventually("the start-up check to decide", &first, || async {
        (store.last_decision(IMAGE).await.unwrap() == Some(DecisionKind::WaitingForWindow))
            .then_some(())
    })
    .await;
    first.kill();
    while Utc::now() <= opens {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(world.builds().await.is_empty());

    // No scheduled check is owed (the last one is seconds old): the recorded
    // wait alone makes the new service check and build it.
    let second = world.spawn("second", &[]);
    eventually("the build", &second, || async {
        store.history(Some(IMAGE), 10).await.unwrap().pop()
    })
    .await;
    let log = second.log();
    assert!(!log.contains("checks fell due"), "{log}");
    assert!(log.contains("build windows opened"), "{log}");
    second.stop_cleanly().await;
    store.close().await;
}
