//! The database directory filling up or turning read-only while a build runs.
//!
//! Tests run as root in CI, where permission bits stop nothing, so the faults are made the
//! way root cannot ignore them: a full disk is a small tmpfs filled to the last byte, and a
//! read-only directory is `chattr +i` on the directory, the database and its WAL (the
//! memory-mapped `-shm` index is left alone: an immutable mapped file would kill the
//! process with SIGBUS, which is no longer a database fault). Where neither can be made
//! (no root, no tmpfs, a file system without the immutable flag) the test says so and
//! passes without having checked anything.

use std::path::PathBuf;

use image_refresh::store::Store;

use super::episode;
use super::service::{Daemon, World, complaints, eventually, one_good_build, running_build, world};
use crate::support::disk::{Filler, Immutable, Tmpfs};

/// During the fault the service said what was wrong in exactly one line, naming the
/// cause with one of `words`, however many checks and build steps failed meanwhile.
fn said_once(log: &str, words: &[&str]) {
    let complaints = complaints(log);
    assert_eq!(
        complaints.len(),
        1,
        "one line for the whole fault, not one per failed attempt:\n{}",
        complaints.join("\n")
    );
    let line = complaints[0];
    assert!(
        line.contains("the history database cannot be written")
            && words.iter().any(|w| line.contains(w)),
        "the line names neither the database nor the cause ({words:?}): {line}"
    );
    assert!(
        !log.contains("the history database can be written again"),
        "recovery said while the fault lasts:\n{log}"
    );
    let attempts = log
        .lines()
        .filter(|l| l.contains("still cannot be written"))
        .count();
    assert!(
        attempts > 0,
        "nothing was tried during the fault, so nothing shows that the tries were quiet:\n{log}"
    );
}

/// Once the fault is cleared: the service notices by itself and says so once, builds
/// the image exactly once, complains no more, stops cleanly, and nothing it read was
/// damaged; the file is sound.
async fn recovers(world: &World, mut daemon: Daemon) {
    const RECOVERED: &str = "the history database can be written again";
    // The build may have ended during the fault (on a full disk some writes go
    // through), so its end says nothing about recovery: wait for the line.
    eventually(
        "the service to say the database can be written again",
        &daemon,
        || async { daemon.log().contains(RECOVERED).then_some(()) },
    )
    .await;
    one_good_build(world, &daemon).await;
    daemon.assert_running();
    let log = daemon.log();
    let recovered = log.lines().filter(|l| l.contains(RECOVERED)).count();
    assert_eq!(recovered, 1, "one line says the fault is over:\n{log}");
    let complaints = complaints(&log);
    assert_eq!(
        complaints.len(),
        1,
        "complaints after recovery:\n{}",
        complaints.join("\n")
    );
    daemon.stop_cleanly().await;

    let damage = ["(code: 11)", "(code: 26)", "(code: 522)", "malformed"];
    let damaged: Vec<&str> = log
        .lines()
        .filter(|l| damage.iter().any(|d| l.contains(d)))
        .collect();
    assert!(damaged.is_empty(), "damaged reads:\n{}", damaged.join("\n"));
    let store = Store::open(&world.database).await.unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    assert_eq!(integrity, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_disk() {
    let data = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(data.path(), "16m") else {
        eprintln!("NOT CHECKED: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        return;
    };
    let world = world(Some(data.path())).await;
    let mut daemon = running_build(&world, "full").await;

    let filler = Filler::fill(data.path());
    tokio::time::sleep(episode()).await;
    daemon.assert_running();
    said_once(&daemon.log(), &["the disk is full ("]);

    drop(filler);
    recovers(&world, daemon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_directory() {
    let world = world(None).await;
    let mut daemon = running_build(&world, "readonly").await;

    let wal = PathBuf::from(format!("{}-wal", world.database.display()));
    let paths = [world.database.clone(), wal, world.dir.path().to_owned()];
    let Some(immutable) = Immutable::set(&paths) else {
        eprintln!("NOT CHECKED: chattr +i is not possible here (needs root and ext4/xfs/btrfs)");
        return;
    };
    tokio::time::sleep(episode()).await;
    daemon.assert_running();
    said_once(
        &daemon.log(),
        &["read-only (writing it: Operation not permitted"],
    );

    drop(immutable);
    recovers(&world, daemon).await;
}
