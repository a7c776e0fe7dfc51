//! What the daemon tells Prometheus: per-image state, builds, checks and ARM
//! requests in the Prometheus text format, plus `/healthz` and `/readyz`
//! ([`server`]).
//!
//! Values come from SQLite, never from zero: [`Metrics::seed`] counts the
//! builds table once at start, and every pipeline event makes the per-image
//! gauges be read again from [`Store::status`]. The events only say *when* to
//! read; the history says *what*. Per-image series exist for the catalog's
//! images only, so the catalog bounds the cardinality.

mod arm;
mod families;
mod images;
pub mod server;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;

use crate::catalog::Catalog;
use crate::events::Event;
use crate::model::BuildId;
use crate::pipeline::Pipeline;
use crate::report::chain;
use crate::store::{Store, StoreError};

use families::{
    BuildLabels, DecisionLabels, Histograms, ImageLabel, ResultLabel, SinkLabel, VersionLabels,
};
use images::{CatalogImage, Exported};

pub use arm::operation;
pub use server::{Probes, Server, ServerError};

/// The process's metrics. Cheap to clone; clones share the registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    image_stale: Family<ImageLabel, Gauge>,
    image_decision: Family<DecisionLabels, Gauge>,
    image_enabled: Family<ImageLabel, Gauge>,
    image_failures: Family<ImageLabel, Gauge>,
    image_last_success: Family<ImageLabel, Gauge>,
    image_max_age: Family<ImageLabel, Gauge>,
    image_version: Family<VersionLabels, Gauge>,
    builds: Family<BuildLabels, Counter>,
    build_duration: Histograms,
    in_flight: Gauge,
    check_last_success: Gauge,
    check_duration: Gauge<f64, AtomicU64>,
    next_check: Gauge,
    notifications_pending: Gauge,
    notifications_failed: Family<SinkLabel, Counter>,
    arm: arm::ArmRequests,
    catalog: Mutex<BTreeMap<String, CatalogImage>>,
    exported: Mutex<BTreeMap<String, Exported>>,
    /// One refresh at a time: two interleaved ones could export a mix.
    refreshing: tokio::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.inner.registry)?;
        Ok(text)
    }

    /// Counts every ARM request the client it is given sends.
    pub fn arm_observer(&self) -> Arc<dyn crate::azure::RequestObserver> {
        Arc::new(self.inner.arm.clone())
    }

    /// Exports per-image series for `catalog`'s images only from now on; the
    /// next refresh drops the others.
    pub fn set_catalog(&self, catalog: &Catalog) {
        let images = catalog
            .images
            .iter()
            .map(|image| {
                let view = CatalogImage {
                    enabled: image.enabled,
                    max_age_secs: image.max_age.map(|age| age.num_seconds()),
                };
                (image.name.clone(), view)
            })
            .collect();
        *lock(&self.inner.catalog) = images;
    }

    /// When the next scheduled check falls due.
    pub fn set_next_check(&self, at: Option<DateTime<Utc>>) {
        self.inner.next_check.set(at.map_or(0, |at| at.timestamp()));
    }

    /// Counts the builds the history holds, once at start, before any event.
    pub async fn seed(&self, store: &Store) -> Result<(), StoreError> {
        for build in store.finished_builds().await? {
            self.count_build(&build.image, build.state.as_str(), build.duration_secs);
        }
        for (sink, failed) in store.failed_deliveries().await? {
            self.inner
                .notifications_failed
                .get_or_create(&SinkLabel { sink })
                .inc_by(failed);
        }
        Ok(())
    }

    /// How many notices the sinks still owe, after a round of the sender.
    pub fn set_notifications_pending(&self, pending: i64) {
        self.inner.notifications_pending.set(pending);
    }

    /// One delivery attempt `sink` did not take.
    pub fn notification_failed(&self, sink: &str) {
        self.inner
            .notifications_failed
            .get_or_create(&SinkLabel {
                sink: sink.to_owned(),
            })
            .inc();
    }

    fn count_build(&self, image: &str, result: &str, duration_secs: i64) {
        let inner = &self.inner;
        // Durations count for every build; the per-image counter only for the catalog's.
        inner
            .build_duration
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .observe(duration_secs as f64);
        if lock(&inner.catalog).contains_key(image) {
            inner
                .builds
                .get_or_create(&BuildLabels {
                    image: image.to_owned(),
                    result: result.to_owned(),
                })
                .inc();
        }
    }

    /// Follows `pipeline`'s events until its last clone is gone (a reload
    /// replaces it; builds already running keep theirs), reading the history
    /// again after each. Refreshes once at once, for `catalog`.
    pub fn watch(&self, catalog: &Catalog, pipeline: &Pipeline) {
        self.set_catalog(catalog);
        let metrics = self.clone();
        let store = pipeline.store().clone();
        let mut events = pipeline.events().subscribe();
        tokio::spawn(async move {
            metrics.refresh_quietly(&store).await;
            loop {
                match events.recv().await {
                    Ok(Event::BuildFinished { build_id, .. }) => {
                        metrics.finished(&store, build_id).await;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                metrics.refresh_quietly(&store).await;
            }
        });
    }

    async fn finished(&self, store: &Store, build_id: BuildId) {
        match store.get_build(build_id).await {
            Ok(Some(build)) => {
                let end = build.finished_at.unwrap_or(build.updated_at);
                let duration = (end - build.created_at).num_seconds().max(0);
                self.count_build(&build.image, build.state.as_str(), duration);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(error = %chain(&error), "could not read a finished build for the metrics")
            }
        }
    }

    /// A failed read leaves the last values; the database's health says why.
    async fn refresh_quietly(&self, store: &Store) {
        if let Err(error) = self.refresh(store).await {
            tracing::debug!(error = %chain(&error), "could not refresh the metrics");
        }
    }

    /// Reads every gauge again from the history.
    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let _one = self.inner.refreshing.lock().await;
        let status = store.status().await?;
        let in_flight = store.builds_in_flight().await?;
        let check = store.last_good_check().await?;
        self.inner.in_flight.set(in_flight);

        if let Some(check) = check {
            self.inner
                .check_last_success
                .set(check.finished_at.timestamp());
            let took = (check.finished_at - check.started_at).num_seconds().max(0);
            self.inner.check_duration.set(took as f64);
        }
        self.images(&status);
        Ok(())
    }
}

/// A panic while a metrics lock was held leaves plain values, still sound to read.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every family the daemon exports, as a scrape names them (a histogram by its
/// base name); the README documents each, the dashboard test holds it to them.
pub const FAMILIES: &[&str] = &[
    "image_refresh_image_stale",
    "image_refresh_image_decision",
    "image_refresh_image_enabled",
    "image_refresh_image_consecutive_failures",
    "image_refresh_image_last_success_timestamp_seconds",
    "image_refresh_image_max_age_seconds",
    "image_refresh_image_source_version_info",
    "image_refresh_builds_total",
    "image_refresh_build_duration_seconds",
    "image_refresh_builds_in_flight",
    "image_refresh_check_last_success_timestamp_seconds",
    "image_refresh_check_duration_seconds",
    "image_refresh_next_check_timestamp_seconds",
    "image_refresh_notifications_pending",
    "image_refresh_notifications_failed_total",
    "image_refresh_arm_requests_total",
    "image_refresh_arm_throttled_total",
];

#[cfg(test)]
mod tests;
