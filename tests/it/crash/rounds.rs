//! The simulator, a catalog that grows by a round of never-built images at a
//! time, and the real `image-refresh run` binary, started and SIGKILLed.

use std::path::PathBuf;
use std::process::Stdio;

use azure_sim::{FaultKind, FaultRule, SimHandle};
use image_refresh::clock;
use tempfile::TempDir;

use super::setup;

/// Images that become stale together: each round adds this many to the catalog.
pub const ROUND_SIZE: usize = 3;

/// With one-second AIB runs and no `Retry-After` wait, a round of builds
/// takes a couple of seconds.
const SETTINGS: &str = "operation_retry_after_secs = 0";

/// Latency that holds each Azure call of a build open long enough for a kill
/// to land while it is in flight.
const LATENCY: &[(&str, u64)] = &[
    ("*", 2),
    ("template.put", 40),
    ("template.run", 40),
    ("template.runOutputs", 40),
    ("template.delete", 40),
];

pub struct World {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub catalog: PathBuf,
    pub database: PathBuf,
    /// Every image ever put in the catalog, in order.
    pub images: Vec<String>,
    secret_file: PathBuf,
    spawned: usize,
}

impl World {
    pub async fn start() -> World {
        let sim = setup::simulator(clock::system(), &setup::scenario(SETTINGS, 0, 1)).await;
        for (route, ms) in LATENCY {
            sim.add_fault(FaultRule::always(route, FaultKind::Latency { ms: *ms }));
        }
        let dir = tempfile::tempdir().unwrap();
        World {
            secret_file: setup::secret_file(&sim, dir.path()),
            catalog: dir.path().join("image-refresh.toml"),
            database: dir.path().join("history.db"),
            sim,
            dir,
            images: Vec::new(),
            spawned: 0,
        }
    }

    /// The images of the latest round.
    pub fn round(&self) -> &[String] {
        &self.images[self.images.len().saturating_sub(ROUND_SIZE)..]
    }

    /// Adds a round of never-built (so stale) images to the catalog.
    pub fn add_round(&mut self) {
        let round = self.images.len() / ROUND_SIZE;
        for k in 0..ROUND_SIZE {
            self.images.push(format!("golden-{round}-{k}"));
        }
        self.write_catalog();
    }

    fn write_catalog(&self) {
        // Yearly, so that every check the service makes is its start-up
        // catch-up of images it never checked.
        let extra = format!(
            "[schedule]\ncron = \"0 0 1 1 *\"\n\n[service]\nmax_concurrent_builds = {ROUND_SIZE}"
        );
        let text = setup::catalog(&self.sim, &self.secret_file, &extra, &self.images);
        std::fs::write(&self.catalog, text).unwrap();
    }

    /// `image-refresh run` in the background, logging to `daemon-N.log`.
    pub fn spawn(&mut self) -> Daemon {
        self.spawned += 1;
        let log = self.dir.path().join(format!("daemon-{}.log", self.spawned));
        let child = setup::service(&self.catalog, &self.database, 20)
            .arg("run")
            .env("RUST_LOG", "image_refresh=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon::new(child, log, STOP_PATIENCE)
    }
}

pub use super::support::Daemon;

/// How long a SIGTERM'd service may take to stop.
const STOP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
