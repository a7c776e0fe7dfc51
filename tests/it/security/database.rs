//! The history database (security finding, low): no symlink followed, owner-only
//! from the start, and nothing left in `-wal` after a command.

use std::os::unix::fs::PermissionsExt;

use image_refresh::store::Store;

use crate::support::setup::IMAGE;
use crate::support::world::World;

#[tokio::test]
async fn a_symlink_in_the_databases_place_is_refused_and_its_target_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.db");
    let link = dir.path().join("history.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let error = Store::open(&link).await.unwrap_err();
    assert!(
        format!("{error} {:?}", std::error::Error::source(&error)).contains("symbolic link"),
        "{error}"
    );
    assert!(!target.exists(), "the dangling link's target was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_leaves_an_owner_only_database_and_an_empty_wal() {
    let world = World::builder().database("fresh/history.db").start().await;
    world.write_catalog("", &[IMAGE]);
    // The umask an operator's shell usually has.
    let output = world
        .binary()
        .arg("check")
        .env_remove("RUST_LOG")
        .pre_exec_umask(0o022)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = std::fs::metadata(&world.database)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    let wal = world.database.with_extension("db-wal");
    let left = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(left, 0, "{} bytes left in {}", left, wal.display());
}

/// Sets the child's umask, as a login shell would have it.
trait Umask {
    fn pre_exec_umask(&mut self, mask: u32) -> &mut Self;
}

impl Umask for std::process::Command {
    fn pre_exec_umask(&mut self, mask: u32) -> &mut Self {
        // `sh -c 'umask …; exec …'` keeps this free of unsafe pre_exec hooks.
        let program = self.get_program().to_owned();
        let args: Vec<_> = self.get_args().map(|a| a.to_owned()).collect();
        let mut wrapped = std::process::Command::new("sh");
        wrapped
            .arg("-c")
            .arg(format!("umask {mask:03o}; exec \"$0\" \"$@\""))
            .arg(program)
            .args(args);
        for (key, value) in self.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        *self = wrapped;
        self
    }
}
