//! The crash suite's world: the shared one with latency on every Azure call of
//! a build, and a catalog that grows by a round of never-built images at a
//! time.

use std::time::Duration;

use azure_sim::{FaultKind, FaultRule};

use crate::support::setup::scenario;
use crate::support::world::World;

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

/// How long a SIGTERM'd service may take to stop.
const STOP_PATIENCE: Duration = Duration::from_secs(30);

/// The simulator with [`LATENCY`]; services poll their builds every 20 ms.
pub async fn world() -> World {
    let world = World::builder()
        .scenario(scenario(SETTINGS, 0, 1))
        .poll_ms(20)
        .patience(STOP_PATIENCE)
        .start()
        .await;
    for (route, ms) in LATENCY {
        world
            .sim
            .add_fault(FaultRule::always(route, FaultKind::Latency { ms: *ms }));
    }
    world
}

/// Every image ever put in the catalog, in order.
#[derive(Default)]
pub struct Rounds {
    pub images: Vec<String>,
}

impl Rounds {
    /// The images of the latest round.
    pub fn round(&self) -> &[String] {
        &self.images[self.images.len().saturating_sub(ROUND_SIZE)..]
    }

    /// Adds a round of never-built (so stale) images to the world's catalog.
    pub fn add_round(&mut self, world: &World) {
        let round = self.images.len() / ROUND_SIZE;
        for k in 0..ROUND_SIZE {
            self.images.push(format!("golden-{round}-{k}"));
        }
        // Yearly, so that every check the service makes is its start-up
        // catch-up of images it never checked.
        let extra = format!(
            "[schedule]\ncron = \"0 0 1 1 *\"\n\n[service]\nmax_concurrent_builds = {ROUND_SIZE}"
        );
        world.write_catalog(&extra, &self.images);
    }
}
