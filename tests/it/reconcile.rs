//! Azure is the second source of truth (issue 14): a lost history database is
//! rebuilt from the tags on what the builds made, before the first check, so
//! a restart neither rebuilds what Azure has nor runs a build twice.

use std::path::Path;

use image_refresh::model::{BuildState, Cleanup};
use serde_json::Value;

use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

const SECOND: &str = "ubuntu-second";

/// Two images: one distributed to a gallery, one to a managed image.
fn catalog(world: &World) -> String {
    let mut text = setup::catalog(&world.sim, &world.secret_file, "", &[SECOND]);
    let target = format!(
        "type = \"gallery\"\nimage_id = \"{}\"",
        setup::GALLERY_IMAGE
    );
    text.push_str(&setup::image_block(IMAGE, &target));
    text
}

async fn world(customizing_secs: u64) -> World {
    let scenario = setup::scenario("", 0, customizing_secs) + &setup::gallery_scenario(&["1.0.0"]);
    let world = World::builder().scenario(scenario).start().await;
    world.write_config(&catalog(&world));
    world
}

/// The database and its WAL files, as an operator who lost the disk would.
fn lose_history(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", database.display());
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove {path}: {e}"),
        }
    }
}

fn decisions(world: &World) -> Vec<(String, String)> {
    let output = world.command(&["check", "--output", "json"]);
    let plan: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"));
    let mut found: Vec<(String, String)> = plan["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .iter()
        .map(|e| {
            (
                e["image"].as_str().unwrap().to_owned(),
                e["decision"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_history_is_rebuilt_from_the_tags_and_nothing_is_built_again() {
    let world = world(0).await;
    let first = world.command(&["run", "--once"]);
    assert!(first.status.success(), "{first:?}");
    let built = world.builds().await;
    assert_eq!(built.len(), 2, "{built:#?}");
    assert_eq!(world.accepted("template.put"), 2);

    lose_history(&world.database);
    // `check` alone already knows: both up to date, exit 0.
    assert_eq!(
        decisions(&world),
        [
            (IMAGE.to_owned(), "up_to_date".to_owned()),
            (SECOND.to_owned(), "up_to_date".to_owned()),
        ]
    );
    assert_eq!(world.command(&["check"]).status.code(), Some(0));
    let again = world.command(&["run", "--once"]);
    assert!(again.status.success(), "{again:?}");

    // No second build of either image: Azure's tags said both are current.
    assert_eq!(world.accepted("template.put"), 2, "a build was made again");
    assert_eq!(world.accepted("template.run"), 2);
    let recorded = world.builds().await;
    assert_eq!(recorded.len(), 2, "{recorded:#?}");
    for build in &recorded {
        let original = built.iter().find(|b| b.id == build.id).unwrap_or_else(|| {
            panic!(
                "recorded {} under an id no build had: {recorded:#?}",
                build.image
            )
        });
        assert_eq!(build.image, original.image);
        assert_eq!(build.state, BuildState::Succeeded);
        assert_eq!(build.cleanup, Cleanup::Done);
        assert_eq!(build.recipe_hash, original.recipe_hash);
        assert_eq!(build.source_version, original.source_version);
        assert_eq!(build.artifact_ids, original.artifact_ids);
        assert!(
            build.reason.starts_with("recorded from Azure: "),
            "{}",
            build.reason
        );
    }
    assert_eq!(
        decisions(&world),
        [
            (IMAGE.to_owned(), "up_to_date".to_owned()),
            (SECOND.to_owned(), "up_to_date".to_owned()),
        ]
    );
    crate::support::role::assert_allows(&world.sim.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_running_when_the_history_was_lost_are_followed_not_run_again() {
    // Long enough to be running when the history goes.
    let world = world(3).await;
    let started = world.command(&["build", IMAGE, SECOND]);
    assert!(started.status.success(), "{started:?}");
    let running = world.builds().await;
    assert!(
        running.iter().all(|b| b.state == BuildState::Running),
        "{running:#?}"
    );

    lose_history(&world.database);
    let resumed = world.command(&["run", "--once"]);
    assert!(resumed.status.success(), "{resumed:?}");

    // Exactly one run per build, and no template beyond the two.
    assert_eq!(world.accepted("template.put"), 2);
    assert_eq!(world.accepted("template.run"), 2);
    let finished = world.builds().await;
    assert_eq!(finished.len(), 2, "{finished:#?}");
    for build in &finished {
        assert!(running.iter().any(|b| b.id == build.id), "{finished:#?}");
        assert_eq!(build.state, BuildState::Succeeded, "{build:#?}");
        assert_eq!(build.cleanup, Cleanup::Done, "{build:#?}");
        assert!(!build.artifact_ids.is_empty(), "{build:#?}");
        assert!(
            build.reason.starts_with("adopted from Azure: "),
            "{}",
            build.reason
        );
    }
    // Their templates were deleted with the clean-up.
    assert_eq!(world.accepted("template.delete"), 2);
    assert_eq!(
        decisions(&world),
        [
            (IMAGE.to_owned(), "up_to_date".to_owned()),
            (SECOND.to_owned(), "up_to_date".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_adopts_running_builds_before_its_first_check() {
    let world = world(3).await;
    let started = world.command(&["build", IMAGE, SECOND]);
    assert!(started.status.success(), "{started:?}");
    let running: Vec<_> = world.builds().await.into_iter().map(|b| b.id).collect();

    lose_history(&world.database);
    let service = world.spawn("service", &[]);
    let store = world.store().await;
    let finished =
        crate::support::daemon::eventually("the adopted builds to finish", &service, || async {
            let builds = store.history(None, 10).await.unwrap();
            let checked = store
                .last_check()
                .await
                .unwrap()
                .is_some_and(|c| c.finished_at.is_some());
            (checked
                && builds.len() == 2
                && builds
                    .iter()
                    .all(|b| b.state.is_terminal() && b.cleanup == Cleanup::Done))
            .then_some(builds)
        })
        .await;
    assert!(service.stop().await.success());
    for build in &finished {
        assert!(running.contains(&build.id), "{finished:#?}");
        assert_eq!(build.state, BuildState::Succeeded, "{build:#?}");
    }
    assert_eq!(world.accepted("template.put"), 2);
    assert_eq!(world.accepted("template.run"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_azure_will_not_say_what_it_has_nothing_is_built_and_the_command_says_why() {
    let world = world(0).await;
    world.sim.add_fault(azure_sim::FaultRule::always(
        "template.list",
        azure_sim::FaultKind::Status { code: 403 },
    ));
    let run = world.command(&["run", "--once"]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("list the image templates in resource group rg-image-builder"),
        "{stderr}"
    );
    assert!(stderr.contains("403"), "{stderr}");
    assert_eq!(world.accepted("template.put"), 0);
    assert!(world.builds().await.is_empty());
}
