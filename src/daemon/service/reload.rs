//! SIGHUP: the catalog is read again off the loop, and a catalog that
//! validates replaces the old one; builds already started keep theirs.

use tokio::task::JoinError;
use tracing::{error, info};

use crate::report::chain;

use super::setup::{changed_images, schedules, wire};
use super::{DaemonError, Service, notify_every};
use crate::catalog::{self, Catalog};
use crate::model::CheckTrigger;

impl Service {
    /// Reads the catalog again; a catalog that does not validate changes
    /// nothing, and the log says why.
    pub(super) fn reload(&mut self) {
        if self.reloading.is_some() {
            info!("a reload is already under way; it reads the file as it is now");
            return;
        }
        self.notifier.reloading();
        info!(catalog = %self.config.catalog_path.display(), "reloading the catalog");
        let path = self.config.catalog_path.clone();
        self.reloading = Some(tokio::task::spawn_blocking(move || catalog::load(&path)));
    }

    pub(super) async fn reloaded(
        &mut self,
        loaded: Result<Result<Catalog, catalog::CatalogError>, JoinError>,
    ) {
        self.reloading = None;
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                error!(%error, "reading the catalog ended abnormally; keeping the old one");
                self.notifier.ready(&self.status_line());
                return;
            }
        };
        match loaded {
            Ok(catalog) => {
                let changed = changed_images(&self.app.catalog, &catalog);
                match self.install(catalog).await {
                    Ok(()) => {
                        info!(
                            images = self.app.catalog.images.len(),
                            changed = changed.len(),
                            "catalog reloaded"
                        );
                        if !changed.is_empty() {
                            self.request_check(changed, CheckTrigger::Reload);
                        }
                    }
                    Err(error) => {
                        error!(error = %chain(&error), "cannot use the new catalog; keeping the old one")
                    }
                }
            }
            Err(error) => error!("the catalog does not validate; keeping the old one:\n{error}"),
        }
        self.notifier.ready(&self.status_line());
    }

    pub(super) async fn install(&mut self, catalog: Catalog) -> Result<(), DaemonError> {
        let schedules = schedules(&catalog)?;
        let limit = catalog.service.max_concurrent_builds;
        let (app, pipeline) = wire(&self.config, &self.store, catalog).await?;
        let sender = crate::notify::sender(&app)?.with_metrics(self.metrics.clone());
        if let Some(old) = self.notifications.take() {
            old.abort();
        }
        self.notifications = sender.spawn(notify_every(&self.config));
        self.metrics.watch(&app.catalog, &pipeline);
        // Builds already started keep the pipeline (and catalog) they began with.
        self.pool.set_limit(limit);
        self.schedules = schedules;
        self.due.replace(None);
        self.pipeline = pipeline;
        self.app = app;
        Ok(())
    }
}
