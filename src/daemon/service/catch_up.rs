//! At start-up, checks at once what fell due while the service was down.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::Service;
use crate::model::{CheckTrigger, DecisionKind};
use crate::report::chain;
use crate::store::ImageStatus;

impl Service {
    /// Checks at once the images whose check fell due while nothing ran (all
    /// of them on a fresh install), once however many checks were missed.
    pub(super) async fn catch_up(&mut self) {
        let now = self.config.clock.now();
        let last_checks: BTreeMap<String, Option<DateTime<Utc>>> = match self.store.status().await {
            Ok(status) => {
                self.windows.restore(&self.app.catalog, &status, now);
                status
                    .into_iter()
                    .map(|image| (image.state.name.clone(), last_check_for_catch_up(&image)))
                    .collect()
            }
            Err(error) => {
                if self.failed("read when images were last checked", &error) {
                    warn!(error = %chain(&error), "cannot read when images were last checked; checking everything now");
                }
                BTreeMap::new()
            }
        };
        let missed = self
            .schedules
            .due_images(|image| last_checks.get(image).copied().flatten(), now);
        if !missed.is_empty() {
            info!(
                images = missed.len(),
                "checks fell due while the service was down; checking now"
            );
            self.request_check(missed, CheckTrigger::Startup);
        }
    }
}

/// When an image was last checked, as far as catching up goes. The check is
/// recorded before the builds it asks for, so a process that died in between
/// leaves a stale decision with no build after it: that check does not count,
/// and the image is checked (and built) now rather than at its next due time.
fn last_check_for_catch_up(image: &ImageStatus) -> Option<DateTime<Utc>> {
    let checked = image.state.last_check_at?;
    let stale = image.last_decision.is_some_and(DecisionKind::is_stale);
    let built_since = image
        .last_build
        .as_ref()
        .is_some_and(|build| build.created_at >= checked);
    if stale && !built_since {
        None
    } else {
        Some(checked)
    }
}
