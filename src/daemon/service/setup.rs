//! What the service builds from a catalog, at start and on every reload.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tracing::info;

use super::ServiceConfig;
use crate::app::{App, AppError};
use crate::azure::{self, CredentialConfig};
use crate::catalog::Catalog;
use crate::daemon::health::DatabaseHealth;
use crate::metrics::{Metrics, Probes, Server, ServerError};
use crate::pipeline::Pipeline;
use crate::schedule::{self, CatalogSchedules, ScheduleError};
use crate::store::Store;

/// The catalog's schedules, with jitter salted by the host name so that hosts
/// sharing a catalog spread out while one host's due times survive restarts.
pub(super) fn schedules(catalog: &Catalog) -> Result<CatalogSchedules, ScheduleError> {
    let schedules = CatalogSchedules::new(catalog, &crate::host::host_name())?;
    if schedules.uses_default() {
        info!(
            cron = schedule::DEFAULT_CRON,
            "the catalog has no [schedule]; images without their own are checked daily at 06:00 UTC"
        );
    }
    Ok(schedules)
}

/// The app and pipeline for `catalog`, on the service's one store: a reload
/// gets a new ARM client (the credential may have changed) but keeps the store.
pub(super) async fn wire(
    config: &ServiceConfig,
    store: &Store,
    catalog: Catalog,
) -> Result<(App, Pipeline), AppError> {
    refuse_loose_secret(&catalog)?;
    let app = App::with_store(
        catalog,
        store.clone(),
        config.clock.clone(),
        config.tuning.clone(),
    )
    .await?;
    let pipeline = app.pipeline(None);
    Ok((app, pipeline))
}

/// Counts the history's builds into `metrics`, then serves them on `listen` when the
/// catalog names an address. A history that cannot be read leaves the counters at zero.
pub(super) async fn start_metrics(
    metrics: &Metrics,
    store: &Store,
    listen: Option<std::net::SocketAddr>,
    health: &DatabaseHealth,
) -> Result<Option<(Server, Probes)>, ServerError> {
    if let Err(error) = metrics.seed(store).await {
        tracing::warn!(error = %crate::report::chain(&error), "cannot count the builds in the history; the build counters start at zero");
    }
    let Some(addr) = listen else {
        return Ok(None);
    };
    let probes = Probes::new(health.probe());
    let server = Server::start(addr, metrics.clone(), probes.clone()).await?;
    info!(address = %server.addr(), "serving /metrics, /healthz and /readyz");
    Ok(Some((server, probes)))
}

/// The service runs unattended for weeks: a secret file others may read is refused
/// rather than warned about (a command a person runs only warns).
fn refuse_loose_secret(catalog: &Catalog) -> Result<(), AppError> {
    let source = match &catalog.credential {
        CredentialConfig::ClientSecret { secret_source, .. } => secret_source,
        CredentialConfig::ClientCertificate {
            certificate_source, ..
        } => certificate_source,
        _ => return Ok(()),
    };
    let directory = std::env::var_os(azure::CREDENTIALS_DIRECTORY_ENV).map(PathBuf::from);
    match source.loose_mode(directory.as_deref())? {
        None => Ok(()),
        Some(mode) => Err(AppError::LooseSecret {
            path: source.path(directory.as_deref())?,
            mode,
        }),
    }
}

/// Images a reload added, or whose staleness depends on something the reload changed
/// (source, recipes and steps, maximum age, enabled): they are checked at once rather
/// than at their next due time, which may be weeks away.
pub(super) fn changed_images(old: &Catalog, new: &Catalog) -> BTreeSet<String> {
    new.images
        .iter()
        .filter(|image| {
            old.image(&image.name).is_none_or(|before| {
                before.source != image.source
                    || before.recipe_hash != image.recipe_hash
                    || before.max_age != image.max_age
                    || before.enabled != image.enabled
                    // A window moved or gone may let a waiting image build now.
                    || before.build_window != image.build_window
            })
        })
        .map(|image| image.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn a_reload_checks_new_images_and_those_whose_staleness_inputs_changed() {
        let old = catalog::parse(catalog::EXAMPLE_ENTERPRISE, "old.toml").unwrap();
        assert!(changed_images(&old, &old.clone()).is_empty());

        let mut new = old.clone();
        let mut added = new.images[0].clone();
        added.name = "added".into();
        new.images.push(added);
        new.images[1].recipe_hash = catalog::parse(catalog::CLASSIC, "c.toml").unwrap().images[0]
            .recipe_hash
            .clone();
        new.images[2].vm_size = "Standard_D8s_v5".into();
        new.images[3].max_age = Some(
            old.images[3]
                .max_age
                .map_or(chrono::Duration::days(1), |age| {
                    age + chrono::Duration::days(1)
                }),
        );
        new.images[0].build_window = Some(catalog::BuildWindow {
            cron: "0 22 * * FRI".into(),
            timezone: chrono_tz::Tz::UTC,
            duration: chrono::Duration::hours(8),
        });
        let expected: BTreeSet<String> = [0, 1, 3]
            .iter()
            .map(|&i| new.images[i].name.clone())
            .chain(["added".to_owned()])
            .collect();
        assert_eq!(changed_images(&old, &new), expected);
    }
}
