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
pub mod server;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;

use crate::catalog::Catalog;
use crate::events::Event;
use crate::model::BuildId;
use crate::pipeline::Pipeline;
use crate::report::chain;
use crate::store::{ImageStatus, Store, StoreError};

pub use arm::operation;
pub use server::{Probes, Server, ServerError};

/// Build durations: AIB builds take from ten minutes to a few hours.
const BUILD_BUCKETS: [f64; 11] = [
    300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0, 10800.0, 14400.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImageLabel {
    image: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    image: String,
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    image: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    image: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabel {
    sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

type Histograms = Family<ResultLabel, Histogram, fn() -> Histogram>;

fn build_histogram() -> Histogram {
    Histogram::new(BUILD_BUCKETS)
}

/// The catalog's view of an image, which the history does not hold.
#[derive(Debug, Clone, Copy)]
struct CatalogImage {
    enabled: bool,
    max_age_secs: Option<i64>,
}

/// The label values last exported per image, so that a change removes the old series.
#[derive(Debug, Default)]
struct Exported {
    decision: Option<String>,
    version: Option<String>,
}

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
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let image_stale = Family::default();
        registry.register(
            "image_refresh_image_stale",
            "1 when the image's last decision rebuilds it (now or when its build window opens), else 0",
            image_stale.clone(),
        );
        let image_decision = Family::default();
        registry.register(
            "image_refresh_image_decision",
            "1 for the image's current decision (one series per image)",
            image_decision.clone(),
        );
        let image_enabled = Family::default();
        registry.register(
            "image_refresh_image_enabled",
            "1 when the image is rebuilt automatically; 0 when disabled in the catalog, by hand or after failing too often",
            image_enabled.clone(),
        );
        let image_failures = Family::default();
        registry.register(
            "image_refresh_image_consecutive_failures",
            "Failed builds in a row since the image's last good build",
            image_failures.clone(),
        );
        let image_last_success = Family::default();
        registry.register(
            "image_refresh_image_last_success_timestamp_seconds",
            "When the image's last good build finished (absent before the first)",
            image_last_success.clone(),
        );
        let image_max_age = Family::default();
        registry.register(
            "image_refresh_image_max_age_seconds",
            "The image's max_age_days in seconds (absent when it has none)",
            image_max_age.clone(),
        );
        let image_version = Family::default();
        registry.register(
            "image_refresh_image_source_version_info",
            "The source version of the image's last good build (always 1)",
            image_version.clone(),
        );
        let builds = Family::default();
        registry.register(
            "image_refresh_builds",
            "Builds that reached their final state, by result (counted from the history at start)",
            builds.clone(),
        );
        let build_duration = Histograms::new_with_constructor(build_histogram);
        registry.register(
            "image_refresh_build_duration_seconds",
            "From a build's record to its final state, by result",
            build_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "image_refresh_builds_in_flight",
            "Builds not yet in their final state",
            in_flight.clone(),
        );
        let check_last_success = Gauge::default();
        registry.register(
            "image_refresh_check_last_success_timestamp_seconds",
            "When the last check that recorded its decisions finished (0 before the first)",
            check_last_success.clone(),
        );
        let check_duration = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "image_refresh_check_duration_seconds",
            "How long the last good check took (whole seconds, as the history keeps them)",
            check_duration.clone(),
        );
        let next_check = Gauge::default();
        registry.register(
            "image_refresh_next_check_timestamp_seconds",
            "When the next scheduled check falls due (0 when none is scheduled)",
            next_check.clone(),
        );
        let notifications_pending = Gauge::default();
        registry.register(
            "image_refresh_notifications_pending",
            "Notices a [[notify]] sink still owes a delivery of",
            notifications_pending.clone(),
        );
        let notifications_failed = Family::default();
        registry.register(
            "image_refresh_notifications_failed",
            "Delivery attempts a sink did not take, by sink (counted from the history at start)",
            notifications_failed.clone(),
        );
        let arm = arm::ArmRequests::register(&mut registry);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                image_stale,
                image_decision,
                image_enabled,
                image_failures,
                image_last_success,
                image_max_age,
                image_version,
                builds,
                build_duration,
                in_flight,
                check_last_success,
                check_duration,
                next_check,
                notifications_pending,
                notifications_failed,
                arm,
                catalog: Mutex::default(),
                exported: Mutex::default(),
                refreshing: tokio::sync::Mutex::new(()),
            }),
        }
    }

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

    fn images(&self, status: &[ImageStatus]) {
        let inner = &self.inner;
        let catalog = lock(&inner.catalog).clone();
        let mut exported = lock(&inner.exported);
        for image in status {
            let name = &image.state.name;
            let Some(listed) = catalog.get(name) else {
                continue;
            };
            let label = ImageLabel {
                image: name.clone(),
            };
            // A good build since the decision ends the staleness it reported.
            let built_since = match (&image.last_success, image.state.last_check_at) {
                (Some(good), Some(checked)) => good.created_at >= checked,
                _ => false,
            };
            let stale = image.last_decision.is_some_and(|d| d.is_outdated()) && !built_since;
            inner
                .image_stale
                .get_or_create(&label)
                .set(i64::from(stale));
            let enabled = listed.enabled && image.state.enabled;
            inner
                .image_enabled
                .get_or_create(&label)
                .set(i64::from(enabled));
            inner
                .image_failures
                .get_or_create(&label)
                .set(i64::from(image.state.consecutive_failures));
            match image.state.last_success_at {
                Some(at) => {
                    inner
                        .image_last_success
                        .get_or_create(&label)
                        .set(at.timestamp());
                }
                None => {
                    inner.image_last_success.remove(&label);
                }
            }
            match listed.max_age_secs {
                Some(secs) => {
                    inner.image_max_age.get_or_create(&label).set(secs);
                }
                None => {
                    inner.image_max_age.remove(&label);
                }
            }
            let was = exported.entry(name.clone()).or_default();
            let decision = image.last_decision.map(|d| d.as_str().to_owned());
            one_series(
                &inner.image_decision,
                &mut was.decision,
                decision,
                |decision| DecisionLabels {
                    image: name.clone(),
                    decision,
                },
            );
            let version = image
                .last_success
                .as_ref()
                .map(|b| b.source_version.clone());
            one_series(&inner.image_version, &mut was.version, version, |version| {
                VersionLabels {
                    image: name.clone(),
                    version,
                }
            });
        }
        let gone: Vec<String> = exported
            .keys()
            .filter(|name| !catalog.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            let was = exported.remove(&name).unwrap_or_default();
            self.drop_image(&name, was);
        }
    }

    /// Removes every series of an image that left the catalog.
    fn drop_image(&self, name: &str, was: Exported) {
        let inner = &self.inner;
        let label = ImageLabel {
            image: name.to_owned(),
        };
        for family in [
            &inner.image_stale,
            &inner.image_enabled,
            &inner.image_failures,
            &inner.image_last_success,
            &inner.image_max_age,
        ] {
            family.remove(&label);
        }
        if let Some(decision) = was.decision {
            inner.image_decision.remove(&DecisionLabels {
                image: name.to_owned(),
                decision,
            });
        }
        if let Some(version) = was.version {
            inner.image_version.remove(&VersionLabels {
                image: name.to_owned(),
                version,
            });
        }
        for result in crate::model::BuildState::ALL {
            inner.builds.remove(&BuildLabels {
                image: name.to_owned(),
                result: result.as_str().to_owned(),
            });
        }
    }
}

/// A panic while a metrics lock was held leaves plain values, still sound to read.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps one series of an info-style family (a label whose value changes) for an
/// image: the one for `now`, once the one for what `was` exported is removed.
fn one_series<L: Clone + std::hash::Hash + Eq>(
    family: &Family<L, Gauge>,
    was: &mut Option<String>,
    now: Option<String>,
    label: impl Fn(String) -> L,
) {
    if *was != now {
        if let Some(old) = was.take() {
            family.remove(&label(old));
        }
        *was = now;
    }
    if let Some(value) = was {
        family.get_or_create(&label(value.clone())).set(1);
    }
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
mod tests {
    use super::*;

    #[test]
    fn every_family_is_listed_once_it_has_a_series() {
        let m = Metrics::new();
        m.count_build("x", "failed", 10);
        let label = ImageLabel { image: "x".into() };
        let inner = &m.inner;
        for family in [
            &inner.image_stale,
            &inner.image_enabled,
            &inner.image_failures,
            &inner.image_last_success,
            &inner.image_max_age,
        ] {
            family.get_or_create(&label).set(1);
        }
        inner
            .image_decision
            .get_or_create(&DecisionLabels {
                image: "x".into(),
                decision: "up_to_date".into(),
            })
            .set(1);
        inner
            .image_version
            .get_or_create(&VersionLabels {
                image: "x".into(),
                version: "1".into(),
            })
            .set(1);
        inner
            .builds
            .get_or_create(&BuildLabels {
                image: "x".into(),
                result: "failed".into(),
            })
            .inc();
        m.notification_failed("ops");
        use crate::azure::RequestObserver;
        inner.arm.observe(
            &reqwest::Method::GET,
            "/x",
            crate::azure::Answer::Status(429),
        );
        let text = m.encode().unwrap();
        let typed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        assert_eq!(typed, FAMILIES, "{text}");
        assert!(
            text.contains("image_refresh_arm_throttled_total 1"),
            "{text}"
        );
    }
}
