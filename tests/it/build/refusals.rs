//! Templates AIB refuses while it provisions them: the build fails with the
//! spec's `provisioningErrorCode` and AIB's message in history.

use std::time::Duration;

use image_refresh::build;
use image_refresh::model::{BuildState, CheckTrigger};
use image_refresh::pipeline::Pipeline;

use super::{BuildWorld, SOURCE_VERSION, only_build, options, world_with_scenario};
use crate::support::setup;

/// Provisioning takes long enough for the world to change under it.
async fn slow_provisioning_world(extra: &str) -> super::World {
    let scenario = setup::scenario("", 0, 1).replace("provision_secs = 0", "provision_secs = 2");
    world_with_scenario(&format!("{scenario}{extra}")).await
}

#[tokio::test]
async fn a_pinned_version_withdrawn_between_check_and_build_fails_with_aibs_code() {
    let h = slow_provisioning_world("").await;
    let pipeline = Pipeline::new(h.process("a", options()).await);
    // The publisher withdraws the version the check found once AIB has the template.
    let withdraw = async {
        while h.sim.count("template.put") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        h.sim.withdraw_version(
            "westeurope",
            "Canonical",
            "0001-com-ubuntu-server-jammy",
            "22_04-lts-gen2",
            SOURCE_VERSION,
        );
    };
    let (report, ()) = tokio::join!(
        pipeline.run_cycle(&h.catalog, CheckTrigger::Schedule, |_| {}),
        withdraw
    );
    let report = report.unwrap();
    assert_eq!(report.results.len(), 1);

    let build = only_build(&h.store().await).await;
    assert_eq!(build.source_version, SOURCE_VERSION, "the check pinned it");
    assert_eq!(build.state, BuildState::Failed);
    assert_eq!(build.error_code.as_deref(), Some("BadPIRSource"));
    let message = build.error_message.unwrap();
    assert!(message.contains(SOURCE_VERSION), "{message}");
    assert_eq!(h.accepted("template.run"), 0, "nothing ran");
}

#[tokio::test]
async fn an_injected_provisioning_failure_is_recorded_with_its_code_and_message() {
    let h = slow_provisioning_world(
        "[[provisioning]]\nmatch = \"*\"\ncode = \"ServerError\"\nmessage = \"AIB could not process the template.\"\n",
    )
    .await;
    let ctx = h.process("a", options()).await;
    let record = build::run_job(&ctx, &h.job()).await.unwrap();
    assert_eq!(record.state, BuildState::Failed);
    assert_eq!(record.error_code.as_deref(), Some("ServerError"));
    assert_eq!(
        record.error_message.as_deref(),
        Some("AIB could not process the template.")
    );
}
