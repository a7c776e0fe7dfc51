//! People read the database with the sqlite3 shell.

use std::path::Path;
use std::process::Command;

use image_refresh::model::BuildState;
use image_refresh::store::BuildTransition;

use super::{at, fresh, new_build, t0};

const SHELL: &str = "/usr/bin/sqlite3";

#[tokio::test]
async fn the_sqlite3_shell_reads_builds_as_plain_words() {
    if !Path::new(SHELL).exists() {
        println!("note: {SHELL} is not installed; skipping the shell check");
        return;
    }
    let (_dir, store) = fresh().await;
    let build = store.insert_build(new_build("web", t0())).await.unwrap();
    store
        .transition(
            build.id,
            &BuildTransition {
                artifact_ids: Some(vec!["/sig/web/1.0.1".into()]),
                ..BuildTransition::to(BuildState::Succeeded, at("2026-11-25T10:00:00Z"), "ok")
            },
        )
        .await
        .unwrap();
    // The shell is another process reading while this pool is open, as an
    // operator would.
    let output = Command::new(SHELL)
        .arg(store.path())
        .arg(
            "select image, state, finished_at, json_extract(artifact_ids, '$[0]') from builds; \
             select count(*) from build_events;",
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "web|succeeded|2026-11-25T10:00:00Z|/sig/web/1.0.1\n2\n"
    );
}
