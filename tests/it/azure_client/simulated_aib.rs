//! Image Builder templates, managed images and galleries through the simulator.

use std::time::Duration;

use azure_sim::{Outcome, Phase, SimHandle};
use image_refresh::azure::gallery::{self, GalleryImageRef};
use image_refresh::azure::image_templates::{self, TemplateRef};
use image_refresh::azure::managed_images::{self, ManagedImageRef};
use image_refresh::azure::{ArmClientOptions, AzureError};
use image_refresh::clock;
use serde_json::json;

use crate::support::setup;

use super::{SCENARIO, client_with_secret, deadline, fast_retries};

const FAST_BUILDS: &str = r#"
[build]
provision_secs = 1
queued_secs = 0
building_secs = 0
customizing_secs = 1
validating_secs = 0
distributing_secs = 0
"#;

/// The simulator asks for 5 s between polls; cap that so the test runs in about two seconds.
fn short_polls() -> ArmClientOptions {
    let mut options = fast_retries();
    options.retry.max_retry_after = Duration::from_millis(100);
    options
}

fn template_body(sim: &SimHandle) -> serde_json::Value {
    let sub = sim.subscription_id();
    json!({
        "location": "westeurope",
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                format!("/subscriptions/{sub}/resourceGroups/rg-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib"): {}
            }
        },
        "properties": {
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
            "customize": [{"type": "Shell", "name": "patch", "inline": ["sudo apt-get update"]}],
            "distribute": [{
                "type": "ManagedImage",
                "imageId": format!("/subscriptions/{sub}/resourceGroups/rg-images/providers/Microsoft.Compute/images/ubuntu-golden-1"),
                "location": "westeurope",
                "runOutputName": "ubuntu-golden-managed"
            }]
        }
    })
}

async fn start_sim_with_fast_builds() -> SimHandle {
    setup::simulator(clock::system(), &format!("{SCENARIO}{FAST_BUILDS}")).await
}

fn sim_template(sim: &SimHandle) -> TemplateRef {
    TemplateRef {
        subscription_id: sim.subscription_id().to_owned(),
        resource_group: "rg-images".into(),
        name: "ubuntu-golden".into(),
    }
}

#[tokio::test]
async fn template_is_created_run_and_its_outputs_listed() {
    let sim = start_sim_with_fast_builds().await;
    let client = client_with_secret(&sim, sim.client_secret(), short_polls());
    let template = sim_template(&sim);

    assert_eq!(
        image_templates::get(&client.arm, &template).await.unwrap(),
        None
    );
    let created = image_templates::put(&client.arm, &template, &template_body(&sim), deadline(60))
        .await
        .unwrap();
    assert_eq!(
        created.provisioning_state,
        Some(image_templates::ProvisioningState::Succeeded)
    );
    assert!(
        sim.count("operation.get") >= 1,
        "the PUT was followed to the end"
    );

    let poller = image_templates::run(&client.arm, &template)
        .await
        .unwrap()
        .expect("AIB answers a run with 202 and a poll URL");
    poller.wait(deadline(60)).await.unwrap();
    let status = image_templates::get(&client.arm, &template)
        .await
        .unwrap()
        .unwrap();
    let run = status.last_run_status.unwrap();
    assert_eq!(run.run_state, image_templates::RunState::Succeeded);
    assert!(run.end_time.is_some());

    let outputs = image_templates::run_outputs(&client.arm, &template)
        .await
        .unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].name, "ubuntu-golden-managed");
    assert!(
        outputs[0]
            .artifact_id
            .as_deref()
            .unwrap()
            .ends_with("/images/ubuntu-golden-1")
    );
    assert_eq!(sim.count("template.run"), 1);

    // The run's managed image exists and can be cleaned up.
    let image = ManagedImageRef {
        subscription_id: sim.subscription_id().to_owned(),
        resource_group: "rg-images".into(),
        name: "ubuntu-golden-1".into(),
    };
    let found = managed_images::get(&client.arm, &image)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.provisioning_state.as_deref(), Some("Succeeded"));
    managed_images::delete(&client.arm, &image, deadline(60))
        .await
        .unwrap();
    assert_eq!(
        managed_images::get(&client.arm, &image).await.unwrap(),
        None
    );

    image_templates::delete(&client.arm, &template, deadline(60))
        .await
        .unwrap();
    assert_eq!(
        image_templates::get(&client.arm, &template).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn failed_build_surfaces_through_the_run_operation() {
    let sim = start_sim_with_fast_builds().await;
    sim.set_build_outcome("*", Outcome::Failed, Some(Phase::Customizing));
    let client = client_with_secret(&sim, sim.client_secret(), short_polls());
    let template = sim_template(&sim);

    image_templates::put(&client.arm, &template, &template_body(&sim), deadline(60))
        .await
        .unwrap();
    let poller = image_templates::run(&client.arm, &template)
        .await
        .unwrap()
        .unwrap();
    let err = poller.wait(deadline(60)).await.unwrap_err();
    assert!(
        matches!(err, AzureError::Lro { ref status, .. } if &**status == "Failed"),
        "{err:?}"
    );
    let status = image_templates::get(&client.arm, &template)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.last_run_status.unwrap().run_state,
        image_templates::RunState::Failed
    );
}

const GALLERY: &str = r#"
[[galleries]]
resource_group = "rg-gallery"
gallery = "golden"
image = "ubuntu"
location = "westeurope"
versions = ["1.2.0", "1.10.0", "1.9.0"]
"#;

async fn gallery_sim() -> (SimHandle, GalleryImageRef) {
    let sim = setup::simulator(clock::system(), GALLERY).await;
    let image = GalleryImageRef {
        subscription_id: sim.subscription_id().to_owned(),
        resource_group: "rg-gallery".into(),
        gallery: "golden".into(),
        image: "ubuntu".into(),
    };
    (sim, image)
}

#[tokio::test]
async fn gallery_latest_is_the_numerically_highest_version() {
    let (sim, image) = gallery_sim().await;
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    let versions = gallery::list_versions(&client.arm, &image).await.unwrap();
    assert_eq!(versions.len(), 3);
    let latest = gallery::newest_for_latest(&versions, Some("West Europe")).unwrap();
    assert_eq!(latest.name, "1.10.0");

    let found = gallery::get_version(&client.arm, &image, "1.9.0")
        .await
        .unwrap();
    assert_eq!(
        found.unwrap().provisioning_state.as_deref(),
        Some("Succeeded")
    );
    let missing = gallery::get_version(&client.arm, &image, "7.7.7")
        .await
        .unwrap();
    assert_eq!(missing, None);
}

#[tokio::test]
async fn gallery_version_delete_is_followed_and_changes_latest() {
    let (sim, image) = gallery_sim().await;
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());

    gallery::delete_version(&client.arm, &image, "1.10.0", deadline(30))
        .await
        .unwrap();
    let versions = gallery::list_versions(&client.arm, &image).await.unwrap();
    let latest = gallery::newest_for_latest(&versions, None).unwrap();
    assert_eq!(latest.name, "1.9.0");
    // Deleting what is already gone is not an error.
    gallery::delete_version(&client.arm, &image, "1.10.0", deadline(30))
        .await
        .unwrap();
}
