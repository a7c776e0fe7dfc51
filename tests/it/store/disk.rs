//! A full disk under the store: writes fail and say so, nothing committed is lost,
//! and nothing is corrupted, while several writers keep trying.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use image_refresh::model::{BuildState, CheckTrigger, DecisionKind};
use image_refresh::store::{BuildTransition, DiskFault, DiskTrouble, Store, StoreError};

use super::{decision, new_build, t0};
use crate::support::disk::{Filler, Tmpfs};

/// SQLite's codes for a damaged file: CORRUPT, NOTADB, IOERR_SHORT_READ.
fn damage(error: &StoreError) -> Option<String> {
    let text = image_refresh::report::chain(error);
    ["(code: 11)", "(code: 26)", "(code: 522)"]
        .iter()
        .any(|code| text.contains(code))
        .then_some(text)
}

/// One writer: checks, builds and leases on its own image, over and over.
async fn writer(store: Store, image: String, stop: Arc<AtomicBool>) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut damaged = Vec::new();
    let mut note = |result: Result<(), StoreError>| {
        if let Err(error) = result {
            if let Some(text) = damage(&error) {
                damaged.push(text);
            } else {
                assert!(
                    error.is_disk_fault(),
                    "only the disk may fail a write: {}",
                    image_refresh::report::chain(&error)
                );
            }
        }
    };
    while !stop.load(Ordering::Relaxed) {
        note(
            async {
                let id = store.begin_check(t0(), CheckTrigger::Schedule).await?;
                store
                    .finish_check(id, t0(), &[], &[decision(&image, DecisionKind::UpToDate)])
                    .await
            }
            .await,
        );
        let built = async {
            let build = store.insert_build(new_build(&image, t0())).await?;
            store
                .transition(
                    build.id,
                    &BuildTransition::to(BuildState::Failed, t0(), "x".repeat(2000)),
                )
                .await
        }
        .await;
        match built {
            Ok(build) => kept.push(build.id.to_string()),
            Err(error) => note(Err(error)),
        }
        note(
            async {
                store
                    .try_claim(&image, "me", t0(), chrono::Duration::minutes(10))
                    .await
                    .map_err(|e| match e {
                        image_refresh::store::ClaimError::Store(s) => s,
                        other => panic!("{other}"),
                    })?;
                store.release(&image, "me").await.map(|_| ())
            }
            .await,
        );
        tokio::task::yield_now().await;
    }
    (kept, damaged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_and_damages_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(dir.path(), "32m") else {
        eprintln!("NOT CHECKED: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        return;
    };
    let path = dir.path().join("history.db");
    let store = Store::open(&path).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|n| tokio::spawn(writer(store.clone(), format!("image-{n}"), stop.clone())))
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let filler = Filler::fill(dir.path());
        tokio::time::sleep(Duration::from_millis(700)).await;
        drop(filler);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut kept = Vec::new();
    let mut damaged = Vec::new();
    for writer in writers {
        let (k, d) = writer.await.unwrap();
        kept.extend(k);
        damaged.extend(d);
    }
    assert!(
        damaged.is_empty(),
        "{} damaged reads, first: {}",
        damaged.len(),
        damaged[0]
    );
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    for id in &kept {
        let found: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM builds WHERE id = ?1 AND state = 'failed'")
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(found, 1, "build {id} was committed, then lost");
    }
    eprintln!("{} builds kept", kept.len());
}

/// Whether another process may take the database away from this one: switching it out
/// of WAL mode needs every other connection gone, so it fails while this process's
/// connections hold their locks.
fn another_process_can_take_it(path: &std::path::Path) -> bool {
    let output = std::process::Command::new("/usr/bin/sqlite3")
        .arg(path)
        .arg("PRAGMA journal_mode = DELETE;")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    output.status.success() && said.trim() == "delete"
}

#[tokio::test]
async fn diagnosing_a_fault_keeps_sqlites_locks() {
    if !std::path::Path::new("/usr/bin/sqlite3").exists() {
        println!("note: the sqlite3 shell is not installed; skipping");
        return;
    }
    let (_dir, store) = super::fresh().await;
    store.ensure_images(["web"]).await.unwrap();
    assert!(
        !another_process_can_take_it(store.path()),
        "an open store must hold the database"
    );
    // Opening and closing the file here would drop every POSIX lock this process
    // holds on it; a diagnosis must only ask.
    let trouble = DiskTrouble::diagnose(store.path(), DiskFault::Io);
    assert_eq!(trouble.os_says, None, "{trouble}");
    assert!(
        !another_process_can_take_it(store.path()),
        "diagnosing dropped this process's locks on the database"
    );
    assert_eq!(store.image_state("web").await.unwrap().unwrap().name, "web");
}
