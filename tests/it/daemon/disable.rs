//! Failed builds in a row disable an image until `image-refresh enable`.

use azure_sim::{Outcome, Phase};

use super::{IMAGE, eventually, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_image_is_disabled_after_the_limit_and_enable_resumes_it() {
    let world = world(0).await;
    world.write_catalog(
        "[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true\n\n[service]\ndisable_after_failures = 2\nmax_concurrent_builds = 1",
        &[IMAGE],
    );
    world
        .sim
        .set_build_outcome("*", Outcome::Failed, Some(Phase::Customizing));
    let daemon = world.spawn("disable", &[]);

    let store = world.store().await;
    let state = eventually("the image to be disabled", &daemon, || async {
        store
            .image_state(IMAGE)
            .await
            .unwrap()
            .filter(|state| !state.enabled)
    })
    .await;
    let reason = state.disabled_reason.unwrap();
    assert!(
        reason.starts_with("2 consecutive failed builds; last: "),
        "{reason}"
    );
    let disabled_at = chrono::Utc::now();

    // Later checks see the image disabled and build nothing.
    eventually("a check after disabling", &daemon, || async {
        let last = store.last_check().await.unwrap()?;
        (last.started_at > disabled_at && last.finished_at.is_some()).then_some(())
    })
    .await;
    assert_eq!(world.builds().await.len(), 2, "no third build");
    assert_eq!(world.sim.count("template.run"), 2);
    assert!(daemon.stop().await.success());

    let status = world.command(&["status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let row = status
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["name"] == IMAGE))
        .unwrap_or_else(|| panic!("no {IMAGE} in {status}"));
    assert_eq!(row["enabled"], false, "{row}");
    assert_eq!(row["disabled_reason"], reason.as_str(), "status shows why");

    let enabled = world.command(&["enable", IMAGE]);
    assert!(enabled.status.success());
    let said = String::from_utf8(enabled.stdout).unwrap();
    assert!(
        said.contains("enabled (was disabled: 2 consecutive"),
        "{said}"
    );
    let state = store.image_state(IMAGE).await.unwrap().unwrap();
    assert!(state.enabled);
    assert_eq!(state.disabled_reason, None);
    assert_eq!(state.consecutive_failures, 0);

    let unknown = world.command(&["enable", "no-such-image"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown image no-such-image"));

    // An operator can disable by hand, with a reason `status` shows.
    let disabled = world.command(&["disable", IMAGE, "--reason", "base image recalled"]);
    assert!(disabled.status.success());
    let state = store.image_state(IMAGE).await.unwrap().unwrap();
    assert!(!state.enabled);
    assert_eq!(
        state.disabled_reason.as_deref(),
        Some("base image recalled")
    );
    store.close().await;
}
