//! The real binary: `image-refresh check --output json` and its exit code.

use assert_cmd::Command;
use image_refresh::model::BuildState;
use serde_json::Value;

use super::{CheckWorld, SKU, World, marketplace_image, record_build, scenario_with, world};

/// Runs the binary on a blocking thread so the in-process simulator keeps serving.
async fn check(world: &World, config: &std::path::Path) -> (Option<i32>, Value, String) {
    let config = config.to_owned();
    let database = world.database.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::cargo_bin("image-refresh")
            .unwrap()
            .env_remove("IMAGE_REFRESH_CONFIG")
            .env_remove("IMAGE_REFRESH_DATABASE")
            .env_remove("AZURE_AUTHORITY_HOST")
            .env_remove("RUST_LOG")
            .arg("--config")
            .arg(&config)
            .arg("--database")
            .arg(&database)
            .args(["check", "--output", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (output.status.code(), json, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_says_whether_anything_is_stale() {
    let world = world(&scenario_with(&["22.04.202409110", "22.04.202411050"])).await;
    let images = format!(
        "{}{}",
        marketplace_image("web", SKU, "latest", ""),
        marketplace_image("db", SKU, "latest", "")
    );
    let config = world.write_catalog_with(&images);

    let (code, plan, stderr) = check(&world, &config).await;
    assert_eq!(code, Some(3), "{stderr}");
    let entries = plan["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries {
        assert_eq!(entry["stale"], true);
        assert_eq!(entry["decision"]["kind"], "never_built");
        assert_eq!(entry["source_version"], "22.04.202411050");
    }
    assert_eq!(plan["lookups"], 1);
    assert_eq!(world.sim.count("marketplace.list"), 1);
    // A check changes nothing in Azure: only reads reached the simulator.
    assert!(
        world
            .sim
            .journal()
            .iter()
            .all(|e| e.method == "GET" || e.route.starts_with("token"))
    );

    // Builds recorded through the library on the same file make it up to date.
    let catalog = world.catalog_with(&images);
    let store = world.store_for(&catalog).await;
    for image in ["web", "db"] {
        let at = chrono::Utc::now() - chrono::Duration::hours(1);
        record_build(
            &store,
            &catalog,
            image,
            "22.04.202411050",
            BuildState::Succeeded,
            at,
        )
        .await;
    }
    store.close().await;

    let (code, plan, stderr) = check(&world, &config).await;
    assert_eq!(code, Some(0), "{stderr}");
    let entries = plan["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e["decision"]["kind"] == "up_to_date")
    );

    // Both cycles are in history.
    let store = world.store_for(&catalog).await;
    let last = store.last_check().await.unwrap().unwrap();
    assert_eq!(last.id.0, plan["check_id"].as_i64().unwrap());
    assert_eq!(last.images_stale, Some(0));
    assert_eq!(store.decisions(last.id).await.unwrap().len(), 2);
}
