//! The real `image-refresh run` binary against the in-process simulator, with its
//! log in a file: the harness the fault and secret suites share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use azure_sim::SimHandle;
use image_refresh::clock;
use image_refresh::store::{BuildRecord, BuildState, Store};
use tempfile::TempDir;

use super::setup;
pub use super::setup::IMAGE;

/// A client secret that appears nowhere unless leaked.
pub const SECRET: &str = "Zq8~leak-canary-5f0c9e1d7b2a4c6e";

/// Bound on any wait; generous because two cores are shared by many builds.
const PATIENCE: Duration = Duration::from_secs(90);

/// A simulator, a catalog pointing at it, and a database directory.
pub struct World {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub catalog: PathBuf,
    pub database: PathBuf,
    pub secret_file: PathBuf,
}

impl World {
    /// `data` is the database directory (inside `dir` when `None`).
    pub async fn start(data: Option<&Path>) -> World {
        let settings = format!("client_secret = \"{SECRET}\"\ntoken_lifetime_secs = 3600");
        let sim = setup::simulator(clock::system(), &setup::scenario(&settings, 0, 1)).await;
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("client-secret");
        std::fs::write(&secret_file, SECRET).unwrap();
        let database = data.unwrap_or(dir.path()).join("history.db");
        let world = World {
            catalog: dir.path().join("image-refresh.toml"),
            database,
            secret_file,
            sim,
            dir,
        };
        // Checked every two seconds, so that a check failed by a fault is retried soon.
        world.write_catalog("[schedule]\ncron = \"*/2 * * * * *\"");
        world
    }

    pub fn write_catalog(&self, extra: &str) {
        let text = setup::catalog(&self.sim, &self.secret_file, extra, &[IMAGE]);
        std::fs::write(&self.catalog, text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = setup::service(&self.catalog, &self.database, 100);
        command.args(args);
        command
    }

    /// `image-refresh run` in the background, logging at `filter` into `name.log`.
    pub fn spawn(&self, name: &str, filter: &str) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let child = self
            .command(&["run"])
            .env("RUST_LOG", filter)
            .stdout(std::fs::File::create(self.dir.path().join(format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon::new(child, log, PATIENCE)
    }

    /// A one-shot command; its output.
    pub fn run(&self, args: &[&str], filter: &str) -> std::process::Output {
        self.command(args).env("RUST_LOG", filter).output().unwrap()
    }

    pub async fn builds(&self) -> Vec<BuildRecord> {
        let store = Store::open(&self.database).await.unwrap();
        let builds = store.history(None, 100).await.unwrap();
        store.close().await;
        builds
    }

    /// Requests the simulator answered with `status`.
    pub fn answered(&self, status: u16) -> usize {
        self.sim
            .journal()
            .iter()
            .filter(|e| e.status == status)
            .count()
    }
}

pub use super::support::{Daemon, eventually};

/// Starts the service and waits until it follows its build's run in AIB, the moment
/// the faults are made.
pub async fn running_build(world: &World, name: &str) -> Daemon {
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

/// Waits for the image's build to succeed, then asserts the history has exactly that one
/// build, from one AIB run: nothing lost, nothing duplicated.
pub async fn one_good_build(world: &World, daemon: &Daemon) -> BuildRecord {
    let build = eventually("a succeeded build", daemon, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.state == BuildState::Succeeded)
    })
    .await;
    let builds = world.builds().await;
    assert_eq!(
        builds.len(),
        1,
        "one build, no failed or duplicate ones: {:#?}\n{}",
        builds
            .iter()
            .map(|b| (&b.state, &b.error_message))
            .collect::<Vec<_>>(),
        daemon.log()
    );
    assert_eq!(world.sim.count("template.run"), 1, "exactly one run POST");
    build
}

/// Log lines at WARN or ERROR.
pub fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}
