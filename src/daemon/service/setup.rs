//! What the service builds from a catalog, at start and on every reload.

use std::sync::Arc;

use tracing::info;

use super::ServiceConfig;
use crate::app::{self, AppError};
use crate::build::BuildContext;
use crate::catalog::Catalog;
use crate::daemon::schedule::{self, CatalogSchedules, ScheduleError};
use crate::store::Store;

/// The catalog's schedules, with jitter salted by the host name so that hosts
/// sharing a catalog spread out while one host's due times survive restarts.
pub(super) fn schedules(catalog: &Catalog) -> Result<CatalogSchedules, ScheduleError> {
    let schedules = CatalogSchedules::new(catalog, &app::host_name())?;
    if schedules.uses_default() {
        info!(
            cron = schedule::DEFAULT_CRON,
            "the catalog has no [schedule]; images without their own are checked daily at 06:00 UTC"
        );
    }
    Ok(schedules)
}

pub(super) fn build_context(
    config: &ServiceConfig,
    store: &Store,
    catalog: &Catalog,
) -> Result<Arc<BuildContext>, AppError> {
    let arm = app::arm_client(catalog, config.clock.clone(), config.arm_options.clone())?;
    Ok(Arc::new(BuildContext {
        arm,
        store: store.clone(),
        clock: config.clock.clone(),
        azure: catalog.azure.clone(),
        options: config.build_options.clone(),
        holder: app::lease_holder(),
        progress: None,
    }))
}
