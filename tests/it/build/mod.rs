//! The build engine against the loopback Azure simulator and real SQLite files.
//!
//! Time is real but short: simulated AIB phases take zero or one second and
//! polls happen every few milliseconds. (tokio's paused clock does not mix
//! with SQLite: sqlx's pool timeouts fire whenever the runtime idles while the
//! database thread works.) The engine's wall clock is a [`TestClock`] that a
//! test can move forward, to reach build timeouts and lease expiry.

mod crash;
mod lease;
mod lifecycle;
mod pipeline;
mod prune;
mod recovery;
mod refusals;
mod template;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use image_refresh::app;
use image_refresh::azure::ArmClientOptions;
use image_refresh::azure::arm::RetryPolicy;
use image_refresh::build::{BuildContext, BuildOptions, Progress};
use image_refresh::clock::Clock;
use image_refresh::model::{BuildId, BuildState};
use image_refresh::plan::Job;
use image_refresh::store::{BuildRecord, EventRecord, Store};
use tokio::sync::mpsc;

use crate::support::setup::{self, IMAGE};

/// Wall time that runs from a fixed start at real speed, plus whatever the
/// test skipped ahead.
struct TestClock {
    wall: DateTime<Utc>,
    start: std::time::Instant,
    skipped: Mutex<chrono::Duration>,
}

impl TestClock {
    fn skip(&self, by: chrono::Duration) {
        *self.skipped.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let skipped = *self.skipped.lock().unwrap();
        self.wall + chrono::Duration::from_std(self.start.elapsed()).unwrap() + skipped
    }
}

const SOURCE_VERSION: &str = "22.04.202411050";

/// The build suites' world: the classic catalog (`World::catalog`) pointed at
/// the simulator, and a [`TestClock`].
type World = crate::support::world::World<TestClock>;

/// A fresh simulator whose builds take about a second; `extra` is appended
/// to the scenario (build rules, faults).
async fn world(extra: &str) -> World {
    world_with_scenario(&format!("{}{extra}", setup::scenario("", 0, 1))).await
}

/// Runs finish as soon as they start.
async fn instant_world() -> World {
    world_with_scenario(&setup::scenario("", 0, 0)).await
}

async fn world_with_scenario(scenario: &str) -> World {
    crate::support::world::World::builder()
        .clock(Arc::new(TestClock {
            wall: "2026-11-25T09:00:00Z".parse().unwrap(),
            start: std::time::Instant::now(),
            skipped: Mutex::new(chrono::Duration::zero()),
        }))
        .scenario(scenario)
        .start()
        .await
}

/// What the build suites do with a world.
trait BuildWorld {
    /// What one process builds with: its own ARM client and store.
    async fn process(&self, holder: &str, options: BuildOptions) -> BuildContext;
    fn job(&self) -> Job;
}

impl BuildWorld for World {
    async fn process(&self, holder: &str, options: BuildOptions) -> BuildContext {
        let arm = app::arm_client(&self.catalog, self.shared_clock(), arm_options()).unwrap();
        BuildContext {
            arm,
            store: self.store().await,
            clock: self.shared_clock(),
            azure: self.catalog.azure.clone(),
            service: self.catalog.service,
            options,
            events: Default::default(),
            holder: holder.to_owned(),
            progress: None,
            lookups: Default::default(),
        }
    }

    fn job(&self) -> Job {
        Job {
            image: self.catalog.image(IMAGE).unwrap().clone(),
            source_version: SOURCE_VERSION.into(),
            decision: None,
            reason: "test".into(),
            check_id: None,
        }
    }
}

fn arm_options() -> ArmClientOptions {
    ArmClientOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_millis(50),
        },
        lro_poll_interval: Duration::from_millis(20),
        ..ArmClientOptions::default()
    }
}

fn options() -> BuildOptions {
    BuildOptions {
        poll_interval: Duration::from_millis(20),
        lease_ttl: chrono::Duration::minutes(10),
        arm_operation_timeout: Duration::from_secs(30),
        timeout_grace: chrono::Duration::minutes(5),
        detach_when_running: false,
    }
}

fn with_progress(mut ctx: BuildContext) -> (BuildContext, mpsc::UnboundedReceiver<Progress>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    ctx.progress = Some(sender);
    (ctx, receiver)
}

/// The rest of kill -9 after the task running a build was aborted: the dead
/// process's connections close, which rolls back what it left open (a task
/// aborted inside `BEGIN` leaves its pooled connection in the transaction).
async fn bury(dead: &BuildContext) {
    dead.store.close().await;
}

async fn events(store: &Store, id: BuildId) -> Vec<EventRecord> {
    store.build_events(id).await.unwrap()
}

fn states(events: &[EventRecord]) -> Vec<BuildState> {
    let mut states: Vec<BuildState> = events.iter().map(|e| e.state).collect();
    states.dedup();
    states
}

/// The only build of the image, as stored.
async fn only_build(store: &Store) -> BuildRecord {
    let builds = store.history(Some(IMAGE), 10).await.unwrap();
    assert_eq!(builds.len(), 1, "{builds:#?}");
    builds.into_iter().next().unwrap()
}
