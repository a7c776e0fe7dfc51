//! An in-process, loopback-only emulator of the Azure Resource Manager
//! surface image-refresh uses: tokens (managed identity and Entra client
//! credentials), the subscription, its regions, resource groups and resource
//! providers, user-assigned identities, marketplace image versions, Compute
//! Gallery and managed images, Azure VM Image Builder templates with
//! simulated builds and their staging groups, and the build logs in the
//! staging storage account (Azure Storage's blob endpoint, path-style).
//!
//! It speaks the documented wire protocol (paths, `api-version`, JSON shapes,
//! status codes, headers, ARM error bodies) so the real client cannot tell it
//! from Azure. Start it with [`Simulator::start`]; the [`SimHandle`] it
//! returns says where it listens and which credentials it accepts, and steers
//! it (faults, build outcomes, new marketplace versions).
//!
//! It knows nothing of its clients: time comes from a [`Clock`] the caller
//! passes, request bodies are checked against the Image Builder spec in
//! `specs/` (see `specs/SOURCES.md`).

// No unwrap outside tests and proven invariants (which say so with an expect).
#![deny(clippy::unwrap_used)]

mod auth;
mod blob;
mod buildlog;
mod clock;
mod control;
mod distribution;
mod error;
mod faults;
mod gallery;
mod gallery_update;
mod handle;
mod identities;
mod images;
mod in_vm_validation;
mod journal;
mod marketplace;
mod operations;
mod paging;
mod providers;
mod provisioning;
mod regions;
mod resource_groups;
mod routes;
mod run_outputs;
mod runs;
pub mod scenario;
pub mod schema;
mod server;
mod staging;
mod state;
mod subscriptions;
mod templates;
mod validate;
mod wire;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use clock::{Clock, SharedClock, SystemClock};
pub use error::SimError;
pub use faults::{FaultKind, FaultRule};
pub use handle::SimHandle;
pub use journal::JournalEntry;
pub use scenario::{Outcome, Phase, Scenario};

use state::{State, World, lock};

/// How to start a simulator.
#[derive(Clone)]
pub struct SimConfig {
    /// Loopback address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Source of timestamps in bodies and of token expiry.
    pub clock: SharedClock,
    pub scenario: Scenario,
}

impl SimConfig {
    /// Port 0 on 127.0.0.1. `clock` is any [`Clock`], e.g. [`SystemClock`]
    /// or a closure `move || other_clock.now()`.
    pub fn new(clock: impl Clock, scenario: Scenario) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: Arc::new(clock),
            scenario,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::new(SystemClock, Scenario::default())
    }
}

pub struct Simulator;

impl Simulator {
    /// Binds, seeds the scenario and serves in the background.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        if !config.listen.ip().is_loopback() {
            return Err(SimError::NotLoopback(config.listen));
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let scenario = config.scenario;
        let state = Arc::new(State {
            settings: scenario.settings.clone(),
            clock: config.clock,
            base_url: format!("http://{addr}"),
            identity_header: uuid::Uuid::new_v4().simple().to_string(),
            world: Mutex::new(World {
                timings: scenario.build.clone(),
                build_rules: scenario.builds.clone(),
                validation_rules: scenario.validations.clone(),
                provisioning_rules: scenario.provisioning.clone(),
                ..World::default()
            }),
            journal: Mutex::default(),
            faults: Mutex::default(),
            throttle: Mutex::new(faults::Throttle::new(scenario.throttle.clone())),
            tokens: Mutex::default(),
            background: Mutex::default(),
        });
        seed(&state, &scenario);

        let (tx, rx) = oneshot::channel::<()>();
        let app =
            server::router(state.clone()).into_make_service_with_connect_info::<server::Severed>();
        let server = tokio::spawn(async move {
            axum::serve(server::SimListener(listener), app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(SimHandle {
            state,
            addr,
            shutdown: Some(tx),
            server: Some(server),
        })
    }
}

fn seed(state: &Arc<State>, scenario: &Scenario) {
    {
        let mut world = state.world();
        for sku in &scenario.marketplace {
            world.marketplace.insert(
                marketplace::key(&sku.location, &sku.publisher, &sku.offer, &sku.sku),
                marketplace::MarketSku::from(sku),
            );
        }
        for def in &scenario.galleries {
            gallery::seed(state, &mut world, def);
        }
        for def in &scenario.managed_images {
            images::seed(state, &mut world, def);
        }
        for def in &scenario.identities {
            identities::seed(state, &mut world, def);
        }
        resource_groups::seed(state, &mut world, scenario);
    }
    {
        let mut faults = lock(&state.faults);
        for rule in &scenario.faults {
            faults.add(rule.clone());
        }
    }
    for p in scenario.publish.clone() {
        let st = state.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(p.at_secs)).await;
            marketplace::publish(&st, &p.location, &p.publisher, &p.offer, &p.sku, &p.version);
        });
        lock(&state.background).push(task.abort_handle());
    }
}
