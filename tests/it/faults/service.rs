//! The real `image-refresh run` binary against the in-process simulator, with its
//! log in a file: the harness the fault and secret suites share.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use image_refresh::model::BuildState;
use image_refresh::store::BuildRecord;

pub use crate::support::daemon::{Daemon, eventually};
pub use crate::support::setup::IMAGE;
use crate::support::setup::scenario;
pub use crate::support::world::World;

/// A client secret that appears nowhere unless leaked.
pub const SECRET: &str = "Zq8~leak-canary-5f0c9e1d7b2a4c6e";

/// Bound on any wait; generous because two cores are shared by many builds.
const PATIENCE: Duration = Duration::from_secs(90);

/// A simulator that accepts [`SECRET`], a catalog of [`IMAGE`] pointing at it
/// with that secret in a file, and the database in `data` (the world's
/// directory when `None`).
pub async fn world(data: Option<&Path>) -> World {
    let settings = format!("client_secret = \"{SECRET}\"\ntoken_lifetime_secs = 3600");
    let mut builder = World::builder()
        .scenario(scenario(&settings, 0, 1))
        .patience(PATIENCE);
    if let Some(data) = data {
        builder = builder.database(data.join("history.db"));
    }
    let world = builder.start().await;
    std::fs::write(&world.secret_file, SECRET).unwrap();
    // Checked every two seconds, so that a check failed by a fault is retried soon.
    world.write_catalog(
        "[schedule]\ncron = \"*/2 * * * * *\"\nallow_frequent = true",
        &[IMAGE],
    );
    world
}

/// What the fault suites do with a world.
pub trait FaultWorld {
    /// `image-refresh run` in the background, logging at `filter` into `name.log`.
    fn spawn_logging(&self, name: &str, filter: &str) -> Daemon;
    /// A one-shot command logging at `filter`; its output.
    fn run(&self, args: &[&str], filter: &str) -> Output;
}

impl FaultWorld for World {
    fn spawn_logging(&self, name: &str, filter: &str) -> Daemon {
        self.spawn(name, &[("RUST_LOG", filter.to_owned())])
    }

    fn run(&self, args: &[&str], filter: &str) -> Output {
        self.service()
            .args(args)
            .env("RUST_LOG", filter)
            .output()
            .unwrap()
    }
}

/// Starts the service and waits until it follows its build's run in AIB, the moment
/// the faults are made.
pub async fn running_build(world: &World, name: &str) -> Daemon {
    let daemon = world.spawn_logging(name, "image_refresh=debug");
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
