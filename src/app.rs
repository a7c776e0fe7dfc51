//! The one wiring seam: catalog, history store, ARM client and clock, opened
//! once per process and handed to the pipeline.
//!
//! Every command and the service start here, so they share one code path
//! whether they talk to Azure or to the simulator (which only differs by URL).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::azure::{self, ArmClient, ArmClientOptions, AzureError, CloudEndpoints, HttpTimeouts};
use crate::build::{BuildContext, BuildOptions, Progress};
use crate::catalog::Catalog;
use crate::clock::SharedClock;
use crate::events::Events;
use crate::pipeline::Pipeline;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("set up the Azure client")]
    Azure(#[from] AzureError),
    #[error("open the history database")]
    Store(#[from] StoreError),
    #[error(
        "use the credential file {}: its mode {mode:04o} lets others read it; chmod 600 it (or use LoadCredential=)",
        path.display()
    )]
    LooseSecret { path: std::path::PathBuf, mode: u32 },
    #[error("{POLL_INTERVAL_ENV}={0:?} is not a number of milliseconds")]
    PollInterval(String),
}

/// Polls running builds and operations at most this often (milliseconds)
/// instead of every 30 s and 10 s, and starts the backoff of a failed ARM
/// request there instead of at 1 s: for the simulator and tests, where builds
/// take seconds. ARM's `Retry-After` is still honoured.
pub const POLL_INTERVAL_ENV: &str = "IMAGE_REFRESH_POLL_INTERVAL_MS";

/// How often this process polls Azure, the same for every command.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub arm: ArmClientOptions,
    pub build: BuildOptions,
    /// [`POLL_INTERVAL_ENV`] when set.
    pub poll_interval: Option<Duration>,
}

impl Tuning {
    /// The defaults, shortened by [`POLL_INTERVAL_ENV`] when it is set.
    pub fn from_env() -> Result<Tuning, AppError> {
        let mut tuning = Tuning::default();
        if let Ok(value) = std::env::var(POLL_INTERVAL_ENV) {
            let ms: u64 = value
                .trim()
                .parse()
                .map_err(|_| AppError::PollInterval(value.clone()))?;
            tuning = tuning.polling_every(Duration::from_millis(ms.max(1)));
        }
        Ok(tuning)
    }

    /// Polls operations and running builds every `interval`, and retries no
    /// later than that at first.
    pub fn polling_every(mut self, interval: Duration) -> Tuning {
        self.arm.lro_poll_interval = interval;
        self.arm.retry.base_delay = self.arm.retry.base_delay.min(interval);
        self.build.poll_interval = interval;
        self.poll_interval = Some(interval);
        self
    }
}

/// What a command or the service works with.
pub struct App {
    pub catalog: Catalog,
    pub store: Store,
    pub arm: ArmClient,
    pub clock: SharedClock,
    pub tuning: Tuning,
}

impl App {
    /// Opens the store at `database` (recording the catalog's images) and the
    /// ARM client for the catalog's cloud and credential.
    pub async fn open(
        catalog: Catalog,
        database: &Path,
        clock: SharedClock,
        tuning: Tuning,
    ) -> Result<App, AppError> {
        let store = Store::open(database).await?;
        App::with_store(catalog, store, clock, tuning).await
    }

    /// The same, on a store that is already open: a reload keeps its store.
    pub async fn with_store(
        catalog: Catalog,
        store: Store,
        clock: SharedClock,
        tuning: Tuning,
    ) -> Result<App, AppError> {
        store
            .ensure_images(catalog.images.iter().map(|i| i.name.as_str()))
            .await?;
        let arm = arm_client(&catalog, clock.clone(), tuning.arm.clone())?;
        Ok(App {
            catalog,
            store,
            arm,
            clock,
            tuning,
        })
    }

    /// The pipeline over this catalog, with `progress` receiving every build's
    /// moves (the CLI's live lines).
    pub fn pipeline(&self, progress: Option<mpsc::UnboundedSender<Progress>>) -> Pipeline {
        self.pipeline_with(self.tuning.build.clone(), progress)
    }

    /// [`App::pipeline`] with other build options (`build` without `--wait`).
    pub fn pipeline_with(
        &self,
        options: BuildOptions,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Pipeline {
        Pipeline::new(BuildContext {
            arm: self.arm.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            azure: self.catalog.azure.clone(),
            service: self.catalog.service,
            options,
            events: Events::default(),
            holder: crate::build::name_this_process(),
            progress,
            lookups: Arc::default(),
        })
    }
}

/// The endpoints the catalog names. The catalog wins over the environment:
/// an `AZURE_AUTHORITY_HOST` that names another authority is refused, naming
/// both, since silently following it once sent a real client secret to a
/// loopback listener the environment pointed at.
pub fn endpoints(catalog: &Catalog) -> Result<CloudEndpoints, AzureError> {
    let endpoints = catalog.azure.endpoints.clone();
    match std::env::var(azure::AUTHORITY_HOST_ENV) {
        Ok(host) if !host.is_empty() => {
            let named = azure::parse_secure_url(&host)?;
            if named == endpoints.authority_host {
                Ok(endpoints)
            } else {
                Err(AzureError::InvalidEndpoint {
                    url: host,
                    reason: format!(
                        "{} names another authority than the catalog's {}; unset it, or name \
                         it in the catalog (cloud = \"custom\" with authority_host)",
                        azure::AUTHORITY_HOST_ENV,
                        endpoints.authority_host
                    ),
                })
            }
        }
        _ => Ok(endpoints),
    }
}

/// The ARM client for the catalog's cloud and credential.
pub fn arm_client(
    catalog: &Catalog,
    clock: SharedClock,
    options: ArmClientOptions,
) -> Result<ArmClient, AppError> {
    let endpoints = endpoints(catalog)?;
    let http = azure::http_client(HttpTimeouts::default())?;
    // A cache that can rebuild its credential: azure_identity keeps tokens of
    // its own, which a 401 must be able to throw away.
    let tokens = Arc::new(azure::token_cache(
        &catalog.credential,
        &endpoints,
        &http,
        clock.clone(),
    )?);
    Ok(ArmClient::new(http, &endpoints, tokens, clock, options))
}

/// Opens the history store and makes sure every catalog image has its row.
pub async fn open_store(path: &Path, catalog: Option<&Catalog>) -> Result<Store, AppError> {
    let store = Store::open(path).await?;
    if let Some(catalog) = catalog {
        store
            .ensure_images(catalog.images.iter().map(|i| i.name.as_str()))
            .await?;
    }
    Ok(store)
}
