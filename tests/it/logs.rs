//! `logs BUILD`: a failed build's customization.log, read from the staging
//! storage account the simulator models (issue 12).

use azure_sim::Outcome;

use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

async fn failed_build(settings: &str, azure_extra: &str) -> (World, String) {
    let world = World::builder()
        .scenario(setup::scenario(settings, 0, 0))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    if !azure_extra.is_empty() {
        let text = std::fs::read_to_string(&world.config).unwrap().replacen(
            "[azure]\n",
            &format!("[azure]\n{azure_extra}\n"),
            1,
        );
        world.write_config(&text);
    }
    world.sim.set_build_outcome("*", Outcome::Failed, None);
    let output = world.command(&["build", "--wait", IMAGE]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let id = world.builds().await[0].id.to_string();
    (world, id)
}

fn text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_builds_log_is_printed_and_its_address_kept() {
    let (world, id) = failed_build("", "").await;
    let build = &world.builds().await[0];
    let url = build
        .log_url
        .clone()
        .expect("the log's address has its column");
    assert!(url.ends_with("/customization.log"), "{url}");

    let short = &id[..8];
    let output = world.command(&["logs", "--url", short]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(text(&output).0.trim(), url);

    let output = world.command(&["logs", short]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
    // The log names the recipe's step and how it failed.
    assert!(stdout.contains("patch"), "{stdout}");

    // JSON history carries it too.
    let output = world.command(&["history", "--output", "json"]);
    let history: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(history[0]["log_url"], url.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_that_may_not_read_blobs_is_told_which_role_it_needs() {
    let (world, id) = failed_build("blob_read_allowed = false", "").await;
    let output = world.command(&["logs", &id]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AuthorizationPermissionMismatch"),
        "{stderr}"
    );
    assert!(stderr.contains("Storage Blob Data Reader"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_whose_template_was_deleted_is_gone() {
    let (world, id) = failed_build("", "failed_template_retention = \"0s\"").await;
    assert_eq!(world.builds().await[0].cleanup.as_str(), "done");
    let output = world.command(&["logs", &id]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("BlobNotFound"), "{stderr}");
    assert!(stderr.contains("the log is gone"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_without_a_log_says_so() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    assert!(world.command(&["build", "--wait", IMAGE]).status.success());
    let id = world.builds().await[0].id.to_string();
    let output = world.command(&["logs", &id]);
    assert_eq!(output.status.code(), Some(1));
    let (_, stderr) = text(&output);
    assert!(stderr.contains("(succeeded) has no"), "{stderr}");
    let output = world.command(&["logs", "zzzz"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains("is not a build id"));
}
