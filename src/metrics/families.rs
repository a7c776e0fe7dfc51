//! The families the registry holds: their label sets, the build-duration
//! buckets, and [`Metrics::new`], which registers each under its name and help.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{Inner, Metrics, arm};

/// Build durations: AIB builds take from ten minutes to a few hours.
const BUILD_BUCKETS: [f64; 11] = [
    300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0, 10800.0, 14400.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ImageLabel {
    pub(super) image: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DecisionLabels {
    pub(super) image: String,
    pub(super) decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct VersionLabels {
    pub(super) image: String,
    pub(super) version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BuildLabels {
    pub(super) image: String,
    pub(super) result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SinkLabel {
    pub(super) sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ResultLabel {
    pub(super) result: String,
}

pub(super) type Histograms = Family<ResultLabel, Histogram, fn() -> Histogram>;

pub(super) fn build_histogram() -> Histogram {
    Histogram::new(BUILD_BUCKETS)
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
}
