//! The validated catalog: what the rest of the service works from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::Duration;
use chrono_tz::Tz;

use super::azure::AzureSettings;
use super::check_notify::NotifySink;
use super::distribute::Distribute;
use super::hash::RecipeHash;
use super::source::Source;
use super::step::Step;
use crate::azure::CredentialConfig;

#[derive(Debug, Clone)]
pub struct Catalog {
    pub azure: AzureSettings,
    /// How the service signs in; only references to secrets, never values.
    pub credential: CredentialConfig,
    pub store: StoreSettings,
    /// When the daemon checks all images; images may carry their own.
    pub schedule: Option<ScheduleSettings>,
    pub defaults: Defaults,
    /// How the daemon runs builds.
    pub service: ServiceSettings,
    pub recipes: BTreeMap<String, Recipe>,
    /// In file order.
    pub images: Vec<Image>,
    /// Where notifications go; none when empty.
    pub notify: Vec<NotifySink>,
}

impl Catalog {
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|image| image.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// SQLite database path; the service picks its default location when absent.
    pub database: Option<PathBuf>,
    /// Check records older than this are deleted, except those a build refers to
    /// and each image's latest: a frequent schedule cannot grow the file forever.
    pub keep_checks: Duration,
}

impl StoreSettings {
    /// A year and a bit: enough to compare with the same month last year.
    pub const KEEP_CHECKS: Duration = Duration::days(400);
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            database: None,
            keep_checks: StoreSettings::KEEP_CHECKS,
        }
    }
}

/// The `[service]` table: limits of the long-running service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSettings {
    /// Builds running at once, across all images; more wait for a slot.
    pub max_concurrent_builds: usize,
    /// Failed builds in a row after which an image is no longer rebuilt
    /// automatically, until `image-refresh enable` (0 never disables).
    pub disable_after_failures: u32,
    /// Where the daemon serves `/metrics`, `/healthz` and `/readyz`; off when `None`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl ServiceSettings {
    pub const MAX_CONCURRENT_BUILDS: usize = 4;
    pub const DISABLE_AFTER_FAILURES: u32 = 3;
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            max_concurrent_builds: ServiceSettings::MAX_CONCURRENT_BUILDS,
            disable_after_failures: ServiceSettings::DISABLE_AFTER_FAILURES,
            metrics_listen: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// A croner-valid expression with 5 fields, or 6 with leading seconds, as written.
    pub cron: String,
    /// UTC when not given.
    pub timezone: Tz,
    /// Random delay added to each firing so that many hosts do not hit ARM at once.
    pub jitter: Option<StdDuration>,
}

impl ScheduleSettings {
    /// The expression with an explicit seconds field, as tokio-cron-scheduler requires.
    pub fn cron_with_seconds(&self) -> String {
        if self.cron.split_whitespace().count() == 5 {
            format!("0 {}", self.cron.trim())
        } else {
            self.cron.trim().to_owned()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub vm_size: String,
    /// 0 keeps the source image's disk size.
    pub os_disk_size_gb: u32,
    pub build_timeout_minutes: u32,
    pub max_age: Option<Duration>,
    /// How long a new base version must have been known before it is built.
    pub min_base_age: Option<Duration>,
    pub tags: BTreeMap<String, String>,
    /// When builds may start; any time when `None`.
    pub build_window: Option<BuildWindow>,
}

impl Defaults {
    pub const VM_SIZE: &'static str = "Standard_D2s_v3";
    /// AIB's own default (its `0` means four hours); spelled out so that plans show it.
    pub const BUILD_TIMEOUT_MINUTES: u32 = 240;
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            vm_size: Defaults::VM_SIZE.to_owned(),
            os_disk_size_gb: 0,
            build_timeout_minutes: Defaults::BUILD_TIMEOUT_MINUTES,
            max_age: None,
            min_base_age: None,
            tags: BTreeMap::new(),
            build_window: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub description: Option<String>,
    pub steps: Vec<Step>,
    /// In-VM validators (shell, powershell and file steps only).
    pub validators: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub enabled: bool,
    pub source: Source,
    /// Where the image is built (the AIB template's region): a marketplace
    /// source's `location`, else `azure.location`.
    pub location: String,
    /// Recipe names in the order their steps run.
    pub recipes: Vec<String>,
    /// Fully expanded: the recipes' steps in order, then the image's own steps.
    pub steps: Vec<Step>,
    /// Never empty.
    pub distribute: Vec<Distribute>,
    /// The image's own schedule; `None` means the catalog's schedule applies.
    pub schedule: Option<ScheduleSettings>,
    /// Rebuild when the newest build is older than this, even if the source did not change.
    pub max_age: Option<Duration>,
    /// A new base version is built only once it has been known this long (soak).
    pub min_base_age: Option<Duration>,
    pub vm_size: String,
    /// 0 keeps the source image's disk size.
    pub os_disk_size_gb: u32,
    pub build_timeout_minutes: u32,
    /// Resource ID of the empty group AIB builds this image in: the image's own
    /// `staging_resource_group`, else `[azure]`'s; AIB makes one per build when
    /// absent. Never shared with another image (AIB needs it empty).
    pub staging_resource_group: Option<String>,
    /// Catalog default tags overlaid with the image's own.
    pub tags: BTreeMap<String, String>,
    pub recipe_hash: RecipeHash,
    /// AIB's in-VM validation of the built image.
    pub validation: Validation,
    /// When builds may start (the image's own, else `[defaults]`'); any time when `None`.
    pub build_window: Option<BuildWindow>,
}

/// The template's `validate` section: validators run in a VM booted from the
/// built image (or from the source alone, with `source_validation_only`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// The recipes' validators in order, then the image's own; only shell,
    /// powershell and file steps.
    pub validators: Vec<Step>,
    /// Distribute the image even when a validator fails (the build still fails).
    pub continue_distribute_on_failure: bool,
    /// Validate the source image as it is: nothing is customized.
    pub source_validation_only: bool,
}

/// When builds may start: from each cron match for `duration`. Checks keep
/// their own schedule; a stale image found outside a window waits for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWindow {
    /// A croner-valid expression, 5 fields or 6 with leading seconds, as written.
    pub cron: String,
    /// UTC when not given.
    pub timezone: Tz,
    pub duration: Duration,
}
