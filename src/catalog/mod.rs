//! The image catalog: one TOML file describing where images are built and what goes into them.
//!
//! ```toml
//! [azure]                 # subscription, template resource group, location, AIB identity, cloud
//! [azure.credential]      # how the service authenticates (managed identity when absent)
//! [store]                 # database = "/var/lib/image-refresh/history.db" (optional)
//! [schedule]              # cron, timezone, jitter (optional)
//! [defaults]              # vm_size, os_disk_size_gb, build_timeout_minutes, max_age_days, tags,
//!                         # min_base_age, build_window = { cron, duration, timezone }
//! [service]               # max_concurrent_builds, disable_after_failures (optional)
//! [recipes.<name>]        # description and [[recipes.<name>.steps]]: reusable step lists;
//!                         # [[recipes.<name>.validate]]: in-VM validators
//! [[images]]              # name, enabled, recipes = [...], [[images.steps]], [images.source],
//!                         # [[images.distribute]] (promotion, [[images.distribute.rings]]),
//!                         # [images.schedule], [[images.validate]],
//!                         # continue_distribute_on_failure, source_validation_only,
//!                         # overrides of the defaults
//! ```
//!
//! `config/image-refresh.toml` is the smallest useful catalog and `config/examples/` a commented
//! enterprise one; they are the reference for every key.
//!
//! Checking happens in two passes. Serde checks the shape (syntax, unknown keys, value types)
//! and toml stops at the first such error. The meaning (references, IDs, checksums, versions,
//! cron expressions, required fields, fields that do not fit a step's type, …) is checked
//! afterwards and *every* problem is reported at once, each with line, column and a hint.
//! Semantic problems point at the offending value, or at the table a required key is missing
//! from.
//!
//! Each image gets a [`RecipeHash`]; see [`hash`] for what it covers and why.

mod azure;
mod check_azure;
mod check_credential;
mod check_images;
mod check_notify;
mod check_promotion;
mod check_service;
mod check_settings;
mod check_steps;
mod check_targets;
mod check_validation;
mod check_window;
mod distribute;
mod error;
pub mod hash;
mod locate;
mod model;
mod raw;
mod source;
mod step;
mod type_hints;
mod validate;
mod values;

use std::path::Path;

pub use azure::{AzureSettings, BuildNetwork, Cloud, Retention};
pub use check_notify::{NotifySink, SinkKind};
pub use distribute::{
    Distribute, GalleryTarget, ManagedImageTarget, Promotion, Ring, StorageAccountType,
    TargetRegion,
};
pub use error::{CatalogError, InvalidCatalog, Problem};
pub use hash::RecipeHash;
pub use locate::{Finding, Key, KeyPath, locate};
pub use model::{BuildWindow, Validation};
pub use model::{
    Catalog, Defaults, Image, Recipe, ScheduleSettings, ServiceSettings, StoreSettings,
};
pub use source::{
    GallerySource, ManagedImageSource, MarketplaceSource, PurchasePlan, Source, VersionSpec,
};
pub use step::{
    FileStep, PowerShellStep, Script, ShellStep, Step, WindowsRestartStep, WindowsUpdateStep,
};

/// The shipped minimal catalog (`config/image-refresh.toml`).
pub const CLASSIC: &str = include_str!("../../config/image-refresh.toml");

/// The shipped enterprise example (`config/examples/enterprise.toml`).
pub const EXAMPLE_ENTERPRISE: &str = include_str!("../../config/examples/enterprise.toml");

/// Reads and checks a catalog file.
pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
    let source = std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&source, &path.display().to_string())
}

/// Checks catalog text; `file_name` is only used in messages.
pub fn parse(source: &str, file_name: &str) -> Result<Catalog, CatalogError> {
    validate::parse(source, file_name)
}
