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
mod distribution;
mod error;
mod faults;
mod gallery;
mod gallery_update;
mod identities;
mod in_vm_validation;
mod journal;
mod marketplace;
mod operations;
mod providers;
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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::{Clock, SharedClock, SystemClock};
pub use error::SimError;
pub use faults::{FaultKind, FaultRule};
pub use journal::JournalEntry;
pub use scenario::{Outcome, Phase, Scenario};

use scenario::BuildRule;
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

/// The world key of an image template.
fn template_key(subscription: &str, resource_group: &str, name: &str) -> String {
    templates::key(&routes::ResourcePath {
        subscription: subscription.to_owned(),
        resource_group: resource_group.to_owned(),
        name: name.to_owned(),
    })
}

/// A running simulator. Dropping it stops serving new connections.
pub struct SimHandle {
    state: Arc<State>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one base URL for ARM, Entra and managed identity, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// Value for `AZURE_AUTHORITY_HOST`: the Entra endpoint lives on the base URL.
    pub fn authority_host(&self) -> &str {
        &self.state.base_url
    }

    /// Value for `IDENTITY_ENDPOINT` (App Service managed-identity protocol).
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.state.base_url)
    }

    /// Value for `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.state.identity_header
    }

    pub fn tenant_id(&self) -> &str {
        &self.state.settings.tenant_id
    }

    pub fn subscription_id(&self) -> &str {
        &self.state.settings.subscription_id
    }

    /// The service principal the Entra endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.state.settings.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.state.settings.client_secret
    }

    /// The audience ARM accepts, e.g. `https://management.azure.com`.
    pub fn arm_audience(&self) -> &str {
        &self.state.settings.arm_audience
    }

    /// The audience the blob endpoint accepts: `https://storage.azure.com`.
    pub fn storage_audience(&self) -> &str {
        blob::STORAGE_AUDIENCE
    }

    /// Where blobs are served, path-style: `{base_url}/blob/{account}/{container}/{blob}`.
    pub fn blob_endpoint(&self) -> String {
        format!("{}/blob", self.state.base_url)
    }

    /// Whether the resource group exists now (declared, implied by a
    /// resource in it, or made by AIB as a staging group).
    pub fn resource_group_exists(&self, subscription: &str, name: &str) -> bool {
        resource_groups::exists(&self.state.world(), subscription, name)
    }

    /// The resource id of the staging group a template's builds use
    /// (`exactStagingResourceGroup`), once its first run made or chose it.
    pub fn staging_resource_group(
        &self,
        subscription: &str,
        resource_group: &str,
        template: &str,
    ) -> Option<String> {
        let world = self.state.world();
        let t = world
            .templates
            .get(&template_key(subscription, resource_group, template))?;
        t.staging.as_ref().map(|s| s.group_id.clone())
    }

    /// The URL of the customization.log of a template's last run (every run
    /// writes one; a failed run's message names it too).
    pub fn last_log_url(
        &self,
        subscription: &str,
        resource_group: &str,
        template: &str,
    ) -> Option<String> {
        let world = self.state.world();
        let t = world
            .templates
            .get(&template_key(subscription, resource_group, template))?;
        let (s, blob) = (t.staging.as_ref()?, t.log_blob.as_ref()?);
        Some(blob::url(
            &self.state,
            &s.account,
            blob::LOG_CONTAINER,
            blob,
        ))
    }

    /// The ids of every managed image and gallery image version that exists,
    /// seeded or built: what a run distributed, for tests to count.
    pub fn artifact_ids(&self) -> Vec<String> {
        let world = self.state.world();
        let images = world.managed_images.values().map(|i| i.id.clone());
        let versions = world.gallery_versions.values().map(|v| v.id.clone());
        images.chain(versions).collect()
    }

    /// The environment a daemon's managed-identity credential reads (as on
    /// App Service), plus the authority host every Azure SDK honours.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_AUTHORITY_HOST", self.authority_host().to_owned()),
            ("IDENTITY_ENDPOINT", self.identity_endpoint()),
            ("IDENTITY_HEADER", self.identity_header().to_owned()),
        ]
    }

    /// Every request so far, oldest first (never tokens or secrets).
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.state.journal).entries()
    }

    /// Requests seen on `route` (e.g. "template.put").
    pub fn count(&self, route: &str) -> u64 {
        lock(&self.state.journal).count(route)
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.state.journal).counters()
    }

    /// Publishes a marketplace version now (creating the sku if new).
    pub fn publish_version(
        &self,
        location: &str,
        publisher: &str,
        offer: &str,
        sku: &str,
        version: &str,
    ) {
        marketplace::publish(&self.state, location, publisher, offer, sku, version);
    }

    /// Runs of templates matching `pattern` end with `outcome` from now on.
    pub fn set_build_outcome(&self, pattern: &str, outcome: Outcome, fail_in: Option<Phase>) {
        self.state.world().build_rules.insert(
            0,
            BuildRule {
                pattern: pattern.to_owned(),
                outcome,
                fail_in,
                extra_secs: 0,
            },
        );
    }

    /// From now on, runs of templates matching `pattern` fail the validator
    /// matching `validator` (`*` for the first), which prints `message`.
    pub fn fail_validation(&self, pattern: &str, validator: &str, message: &str) {
        self.state.world().validation_rules.insert(
            0,
            scenario::ValidationRule {
                pattern: pattern.to_owned(),
                validator: validator.to_owned(),
                message: message.to_owned(),
            },
        );
    }

    /// The next run of any template ends with `outcome` (queued, first in first out).
    pub fn queue_build_outcome(&self, outcome: Outcome, fail_in: Option<Phase>) {
        self.state.world().queued_outcomes.push_back(BuildRule {
            pattern: "*".to_owned(),
            outcome,
            fail_in,
            extra_secs: 0,
        });
    }

    /// Every access token handed out so far: tests assert none of them leaks.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state.tokens).all()
    }

    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.state.faults).add(rule);
    }

    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Stops serving and waits for the server to finish.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        self.stop_background();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            // A join error means the task panicked or was aborted: nothing is left to finish.
            if let Ok(result) = server.await {
                result.map_err(SimError::Serve)?;
            }
        }
        Ok(())
    }

    fn stop_background(&self) {
        for task in lock(&self.state.background).drain(..) {
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_background();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
