//! What every Azure-facing command opens: catalog, history store, ARM client.

use std::path::Path;
use std::sync::Arc;

use miette::{IntoDiagnostic, WrapErr};
use tokio::sync::mpsc;

use super::{GlobalArgs, database_path, load_catalog};
use crate::app;
use crate::azure::{ArmClient, ArmClientOptions};
use crate::build::{BuildContext, BuildOptions, Progress};
use crate::catalog::Catalog;
use crate::check::{CheckOptions, Plan, run_check};
use crate::clock::{self, SharedClock};
use crate::store::{CheckTrigger, Store};

pub struct Session {
    pub catalog: Catalog,
    pub store: Store,
    pub arm: ArmClient,
    pub clock: SharedClock,
}

impl Session {
    pub async fn open(global: &GlobalArgs) -> miette::Result<Session> {
        let catalog = load_catalog(global)?;
        let database = database_path(global)?;
        Session::with_catalog(
            catalog,
            &database,
            clock::system(),
            ArmClientOptions::default(),
        )
        .await
    }

    pub async fn with_catalog(
        catalog: Catalog,
        database: &Path,
        clock: SharedClock,
        arm_options: ArmClientOptions,
    ) -> miette::Result<Session> {
        let store = app::open_store(database, Some(&catalog))
            .await
            .into_diagnostic()
            .wrap_err_with(|| format!("failed to open {}", database.display()))?;
        let arm = app::arm_client(&catalog, clock.clone(), arm_options)
            .into_diagnostic()
            .wrap_err("failed to set up the Azure client")?;
        Ok(Session {
            catalog,
            store,
            arm,
            clock,
        })
    }

    /// Runs a check over `catalog` (the session's, or a subset of it).
    pub async fn check(&self, catalog: &Catalog, trigger: CheckTrigger) -> miette::Result<Plan> {
        run_check(
            &self.arm,
            &self.store,
            catalog,
            self.clock.now(),
            trigger,
            CheckOptions::default(),
        )
        .await
        .into_diagnostic()
        .wrap_err("check failed")
    }

    pub fn build_context(
        &self,
        options: BuildOptions,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Arc<BuildContext> {
        Arc::new(BuildContext {
            arm: self.arm.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            azure: self.catalog.azure.clone(),
            options,
            holder: app::lease_holder(),
            progress,
        })
    }
}
