//! The per-image series: set from the history and the catalog on each refresh,
//! one series per info-style label, and every series removed when an image
//! leaves the catalog.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::families::{BuildLabels, DecisionLabels, ImageLabel, VersionLabels};
use super::{Metrics, lock};
use crate::store::ImageStatus;

/// The catalog's view of an image, which the history does not hold.
#[derive(Debug, Clone, Copy)]
pub(super) struct CatalogImage {
    pub(super) enabled: bool,
    pub(super) max_age_secs: Option<i64>,
}

/// The label values last exported per image, so that a change removes the old series.
#[derive(Debug, Default)]
pub(super) struct Exported {
    pub(super) decision: Option<String>,
    pub(super) version: Option<String>,
}

impl Metrics {
    pub(super) fn images(&self, status: &[ImageStatus]) {
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
