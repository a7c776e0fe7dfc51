//! `template`: the dry run is the body the build PUTs, with the version the
//! build would pin, and says no when it cannot tell that version.

use std::process::Output;

use image_refresh::build::template::TAG_BUILD_ID;
use image_refresh::catalog;
use serde_json::Value;

use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

/// The classic catalog on a simulator offering two jammy versions.
async fn world() -> World {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    let endpoints = format!(
        "{}\n[defaults]",
        setup::endpoints(&world.sim, &world.secret_file)
    );
    world.write_config(&catalog::CLASSIC.replacen("[defaults]", &endpoints, 1));
    world
}

/// The binary, awaited: the simulator answers on this test's runtime.
async fn run(world: &World, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::from(world.service());
    command
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
}

fn body(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every `image-refresh.build-id` tag set to `id`.
fn with_build_id(mut body: Value, id: &str) -> Value {
    body["tags"][TAG_BUILD_ID] = Value::from(id);
    for target in body["properties"]["distribute"].as_array_mut().unwrap() {
        target["artifactTags"][TAG_BUILD_ID] = Value::from(id);
    }
    body
}

#[tokio::test]
async fn the_dry_run_is_the_body_the_next_build_puts() {
    let world = world().await;
    let dry = body(&run(&world, &["template", IMAGE]).await);
    assert_eq!(dry["properties"]["source"]["version"], "22.04.202411050");
    assert_eq!(
        world.accepted("template.put"),
        0,
        "a dry run changes nothing"
    );

    let build = run(&world, &["build", IMAGE, "--wait"]).await;
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let puts = world.journal("template.put");
    let put = puts
        .first()
        .and_then(|p| p.body.clone())
        .expect("the build's PUT");
    let build_id = put["tags"][TAG_BUILD_ID].as_str().unwrap().to_owned();
    assert_eq!(with_build_id(dry, &build_id), put);
}

#[tokio::test]
async fn a_given_source_version_needs_no_azure_and_prints_the_same_text_twice() {
    let world = world().await;
    let args = ["template", IMAGE, "--source-version", "22.04.202410020"];
    let first = run(&world, &args).await;
    let second = run(&world, &args).await;
    assert_eq!(first.stdout, second.stdout, "the dry run diffs cleanly");
    assert!(world.sim.journal().is_empty(), "{:?}", world.sim.journal());
    let text = String::from_utf8(first.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("a build puts its own id"), "{stderr}");
    // The catalog's subscription and the simulator's URL are fixed, so the text is too.
    insta::assert_snapshot!(text);
    assert_eq!(
        body(&first)["properties"]["source"]["version"],
        "22.04.202410020"
    );
}

#[tokio::test]
async fn an_unknown_image_is_refused_with_the_known_ones() {
    let world = world().await;
    let output = run(&world, &["template", "ubuntu-golen"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown image ubuntu-golen"), "{stderr}");
    assert!(stderr.contains(IMAGE), "{stderr}");
}

#[tokio::test]
async fn latest_is_not_a_version_a_build_sends() {
    let world = world().await;
    let output = run(&world, &["template", IMAGE, "--source-version", "latest"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn an_azure_that_does_not_answer_is_an_error_not_a_guessed_version() {
    let world = world().await;
    // The token comes from the simulator; ARM is a port nobody listens on.
    let endpoints = format!(
        "{}\n[defaults]",
        setup::endpoints_with_arm(&world.sim, "http://127.0.0.1:9", &world.secret_file)
    );
    world.write_config(&catalog::CLASSIC.replacen("[defaults]", &endpoints, 1));
    let output = run(&world, &["template", IMAGE]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot tell the source version"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_missing_source_is_said_as_such() {
    let world = world().await;
    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("22_04-lts-gen2", "22_04-lts-gen9");
    world.write_config(&text);
    let output = run(&world, &["template", IMAGE]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no marketplace image"), "{stderr}");
}
