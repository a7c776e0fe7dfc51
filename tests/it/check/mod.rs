//! The check cycle end to end: a catalog parsed from TOML text, the real ARM
//! client against the loopback simulator, and a real SQLite history file.

mod cli;
mod concurrency;
mod dedup;
mod faults;
mod gallery;
mod reasons;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use image_refresh::app;
use image_refresh::azure::ArmClient;
use image_refresh::azure::ArmClientOptions;
use image_refresh::azure::arm::RetryPolicy;
use image_refresh::catalog::{self, Catalog};
use image_refresh::check::{CheckOptions, run_check};
use image_refresh::clock::{Clock, ManualClock};
use image_refresh::model::{BuildState, CheckTrigger, DecisionKind};
use image_refresh::plan::{Plan, PlanEntry};
use image_refresh::store::{BuildRecord, BuildTransition, NewBuild, Store};

use crate::support::setup;

pub const PUBLISHER: &str = "Canonical";
pub const OFFER: &str = "0001-com-ubuntu-server-jammy";
pub const SKU: &str = "22_04-lts-gen2";
pub const LOCATION: &str = "westeurope";
pub const RG: &str = "rg-images";

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn t0() -> DateTime<Utc> {
    at("2026-11-25T06:00:00Z")
}

/// The check suites' world: its clock only moves when a test moves it.
pub type World = crate::support::world::World<ManualClock>;

/// A simulator and a temporary directory holding the client secret and the
/// history database, with a manual clock both sides share, at [`t0`].
pub async fn world(scenario: &str) -> World {
    crate::support::world::World::builder()
        .clock(Arc::new(ManualClock::new(t0())))
        .scenario(scenario)
        .start()
        .await
}

/// The check suites' catalogs and check cycles.
pub trait CheckWorld {
    /// The catalog's `[azure]` tables, pointed at the simulator through a
    /// custom cloud and a client secret kept in a file, as in production.
    fn header(&self) -> String;
    /// The header with ARM at `arm_url` while Entra stays on the simulator.
    fn header_with_arm(&self, arm_url: &str) -> String;
    /// Parses the header followed by `images` through the real catalog parser.
    fn catalog_with(&self, images: &str) -> Catalog;
    /// The same text as a file, for the binary.
    fn write_catalog_with(&self, images: &str) -> PathBuf;
    fn arm(&self, catalog: &Catalog) -> ArmClient;
    async fn store_for(&self, catalog: &Catalog) -> Store;
    /// One check cycle at the clock's current time.
    async fn check(&self, catalog: &Catalog, store: &Store) -> Plan;
    async fn check_with(&self, catalog: &Catalog, store: &Store, options: CheckOptions) -> Plan;
}

impl CheckWorld for World {
    fn header(&self) -> String {
        self.header_with_arm(self.sim.base_url())
    }

    fn header_with_arm(&self, arm_url: &str) -> String {
        let sub = self.sim.subscription_id();
        format!(
            r#"
[azure]
subscription_id = "{sub}"
resource_group = "{RG}"
location = "{LOCATION}"
identity = "/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
{endpoints}"#,
            endpoints = setup::endpoints_with_arm(&self.sim, arm_url, &self.secret_file),
        )
    }

    fn catalog_with(&self, images: &str) -> Catalog {
        let text = format!("{}\n{images}", self.header());
        catalog::parse(&text, "catalog.toml").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn write_catalog_with(&self, images: &str) -> PathBuf {
        let path = self.dir.path().join("catalog.toml");
        std::fs::write(&path, format!("{}\n{images}", self.header())).unwrap();
        path
    }

    fn arm(&self, catalog: &Catalog) -> ArmClient {
        app::arm_client(catalog, self.shared_clock(), fast_retries()).unwrap()
    }

    async fn store_for(&self, catalog: &Catalog) -> Store {
        app::open_store(&self.database, Some(catalog))
            .await
            .unwrap()
    }

    async fn check(&self, catalog: &Catalog, store: &Store) -> Plan {
        self.check_with(catalog, store, CheckOptions::default())
            .await
    }

    async fn check_with(&self, catalog: &Catalog, store: &Store, options: CheckOptions) -> Plan {
        run_check(
            &self.arm(catalog),
            store,
            catalog,
            self.clock.now(),
            CheckTrigger::Cli,
            options,
        )
        .await
        .unwrap()
    }
}

/// Retries as in production but with millisecond backoff; `Retry-After` is
/// still honoured as the server sends it.
pub fn fast_retries() -> ArmClientOptions {
    ArmClientOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..ArmClientOptions::default()
    }
}

/// A scenario with one marketplace sku holding `versions`.
pub fn scenario_with(versions: &[&str]) -> String {
    format!(
        r#"
[[marketplace]]
location = "{LOCATION}"
publisher = "{PUBLISHER}"
offer = "{OFFER}"
sku = "{SKU}"
versions = {versions:?}

[[resource_groups]]
name = "{RG}"
location = "{LOCATION}"

[[identities]]
resource_group = "{RG}"
name = "id-aib"
location = "{LOCATION}"
"#
    )
}

/// An `[[images]]` entry with a marketplace source; `extra` lands in the
/// image's table (e.g. `max_age_days = 7`).
pub fn marketplace_image(name: &str, sku: &str, version: &str, extra: &str) -> String {
    format!(
        r#"
[[images]]
name = "{name}"
{extra}

[[images.steps]]
type = "shell"
inline = ["echo {name}"]

[images.source]
type = "marketplace"
publisher = "{PUBLISHER}"
offer = "{OFFER}"
sku = "{sku}"
version = "{version}"

[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-00000000a2b1/resourceGroups/{RG}/providers/Microsoft.Compute/images/{name}"
"#
    )
}

pub fn entry<'a>(plan: &'a Plan, image: &str) -> &'a PlanEntry {
    plan.entries
        .iter()
        .find(|e| e.image == image)
        .unwrap_or_else(|| panic!("{image} is not in the plan"))
}

/// Records a build of `image` at `version` that ended in `state` at `at`, as
/// the build engine would (insert, then a transition).
pub async fn record_build(
    store: &Store,
    catalog: &Catalog,
    image: &str,
    version: &str,
    state: BuildState,
    at: DateTime<Utc>,
) -> BuildRecord {
    let image = catalog.image(image).unwrap();
    let build = store
        .insert_build(NewBuild {
            image: image.name.clone(),
            check_id: None,
            decision: Some(DecisionKind::NeverBuilt),
            reason: "never built".into(),
            recipe_hash: image.recipe_hash.hex().to_owned(),
            source_version: version.into(),
            created_at: at,
        })
        .await
        .unwrap();
    if state == BuildState::Planned {
        return build;
    }
    store
        .transition(
            build.id,
            &BuildTransition::to(state, at, "recorded by the test"),
        )
        .await
        .unwrap()
}
