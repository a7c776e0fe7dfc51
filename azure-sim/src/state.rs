//! Shared state of one running simulator.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::auth::Tokens;
use super::blob::Storage;
use super::clock::SharedClock;
use super::faults::{Faults, Throttle};
use super::gallery::{GalleryImage, GalleryVersion, ManagedImage};
use super::identities::Identity;
use super::in_vm_validation::ValidationRule;
use super::journal::Journal;
use super::marketplace::MarketSku;
use super::operations::Operation;
use super::resource_groups::ResourceGroup;
use super::scenario::{BuildRule, BuildTimings, Settings};
use super::templates::Template;

pub(crate) struct State {
    pub settings: Settings,
    pub clock: SharedClock,
    pub base_url: String,
    /// The secret a managed-identity caller must echo in `X-IDENTITY-HEADER`.
    pub identity_header: String,
    pub world: Mutex<World>,
    pub journal: Mutex<Journal>,
    pub faults: Mutex<Faults>,
    pub throttle: Mutex<Throttle>,
    pub tokens: Mutex<Tokens>,
    /// Timers (publications, runs) to stop at shutdown.
    pub background: Mutex<Vec<tokio::task::AbortHandle>>,
}

/// The simulated Azure resources. Keys are lower-cased resource ids: ARM
/// treats names case-insensitively.
#[derive(Default)]
pub(crate) struct World {
    /// Subscriptions that exist: the scenario's and those its resources name.
    pub subscriptions: BTreeSet<String>,
    pub resource_groups: BTreeMap<String, ResourceGroup>,
    pub identities: BTreeMap<String, Identity>,
    /// Storage accounts (AIB's staging accounts) and their blobs.
    pub storage: Storage,
    pub marketplace: BTreeMap<String, MarketSku>,
    pub gallery_images: BTreeMap<String, GalleryImage>,
    pub gallery_versions: BTreeMap<String, GalleryVersion>,
    pub managed_images: BTreeMap<String, ManagedImage>,
    pub templates: BTreeMap<String, Template>,
    pub operations: HashMap<String, Operation>,
    pub timings: BuildTimings,
    pub build_rules: Vec<BuildRule>,
    /// Outcomes queued by control calls; consumed by the next runs first.
    pub queued_outcomes: VecDeque<BuildRule>,
    /// Validators that fail, by template name.
    pub validation_rules: Vec<ValidationRule>,
}

/// Locks a simulator mutex. A poisoned lock only means a request handler
/// panicked; the simulated world is still the best answer we have.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
