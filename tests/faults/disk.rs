//! The database directory filling up or turning read-only while a build runs.
//!
//! Tests run as root in CI, where permission bits stop nothing, so the faults are made the
//! way root cannot ignore them: a full disk is a small tmpfs filled to the last byte, and a
//! read-only directory is `chattr +i` on the directory, the database and its WAL (the
//! memory-mapped `-shm` index is left alone: an immutable mapped file would kill the
//! process with SIGBUS, which is no longer a database fault). Where neither can be made
//! (no root, no tmpfs, a file system without the immutable flag) the test says so and
//! passes without having checked anything.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use image_refresh::store::BuildState;

use super::episode;
use super::world::{World, complaints, eventually, one_good_build};

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmpfs mounted on a directory for the length of a test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        let at_str = at.to_str()?;
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                at_str,
            ],
        )
        .then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        run("umount", &["-l", &self.0.display().to_string()]);
    }
}

/// Files made immutable for the length of a test.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[PathBuf]) -> Option<Immutable> {
        let mut set = Immutable(Vec::new());
        for path in paths {
            if !run("chattr", &["+i", &path.display().to_string()]) {
                return None;
            }
            set.0.push(path.clone());
        }
        Some(set)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            run("chattr", &["-i", &path.display().to_string()]);
        }
    }
}

/// Starts the service and waits for its build to run in AIB.
async fn running_build(world: &World, name: &str) -> super::world::Daemon {
    let daemon = world.spawn(name, "image_refresh=debug");
    eventually("the build to run in AIB", &daemon, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.state == BuildState::Running)
    })
    .await;
    daemon
}

/// The service said what was wrong at least once, and only as attempts that gave up.
fn says(log: &str, words: &[&str]) {
    let complaints = complaints(log);
    eprintln!(
        "{} complaint lines:\n{}",
        complaints.len(),
        complaints.join("\n")
    );
    assert!(
        complaints
            .iter()
            .any(|l| words.iter().any(|w| l.contains(w))),
        "no warning names the problem ({words:?}):\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_disk() {
    let data = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(data.path(), "16m") else {
        eprintln!("NOT CHECKED: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        return;
    };
    let world = World::start(Some(data.path())).await;
    let mut daemon = running_build(&world, "full").await;

    let filler_path = data.path().join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.write_all(&[0u8; 512]);
    let _ = filler.sync_all();
    tokio::time::sleep(episode()).await;
    daemon.assert_running();
    says(&daemon.log(), &["full"]);

    drop(filler);
    std::fs::remove_file(&filler_path).unwrap();
    one_good_build(&world, &daemon).await;
    daemon.assert_running();
    daemon.stop_cleanly().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_directory() {
    let world = World::start(None).await;
    let mut daemon = running_build(&world, "readonly").await;

    let wal = PathBuf::from(format!("{}-wal", world.database.display()));
    let paths = [world.database.clone(), wal, world.dir.path().to_owned()];
    let Some(immutable) = Immutable::set(&paths) else {
        eprintln!("NOT CHECKED: chattr +i is not possible here (needs root and ext4/xfs/btrfs)");
        return;
    };
    tokio::time::sleep(episode()).await;
    daemon.assert_running();
    says(
        &daemon.log(),
        &["readonly", "read-only", "not permitted", "disk I/O error"],
    );

    drop(immutable);
    one_good_build(&world, &daemon).await;
    daemon.assert_running();
    daemon.stop_cleanly().await;
}
