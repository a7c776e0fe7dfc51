//! The handle of a running simulator: where it listens, the credentials it
//! accepts, what it holds, and the steering tests use (faults, build outcomes,
//! marketplace versions).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::scenario::{self, BuildRule};
use crate::state::{State, lock};
use crate::{FaultRule, JournalEntry, Outcome, Phase, SimError};
use crate::{blob, control, marketplace, resource_groups, routes, templates};

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
    pub(crate) state: Arc<State>,
    pub(crate) addr: SocketAddr,
    pub(crate) shutdown: Option<oneshot::Sender<()>>,
    pub(crate) server: Option<JoinHandle<std::io::Result<()>>>,
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

    /// Withdraws a marketplace version now, as a publisher does: lists and
    /// GETs stop showing it and templates pinned to it fail to provision.
    pub fn withdraw_version(
        &self,
        location: &str,
        publisher: &str,
        offer: &str,
        sku: &str,
        version: &str,
    ) {
        marketplace::withdraw(&self.state, location, publisher, offer, sku, version);
    }

    /// Templates matching `pattern` submitted from now on fail to provision
    /// with `code` (one of the spec's `ProvisioningErrorCode` values).
    pub fn fail_provisioning(&self, pattern: &str, code: &str, message: Option<&str>) {
        self.state.world().provisioning_rules.insert(
            0,
            scenario::ProvisioningRule {
                pattern: pattern.to_owned(),
                code: code.to_owned(),
                message: message.map(str::to_owned),
            },
        );
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
        control::queue_outcome(&self.state, outcome, fail_in);
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
