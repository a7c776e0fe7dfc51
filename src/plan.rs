//! Plan: what a check decided for each image, and the builds that follows.
//!
//! `check` prints a plan; every caller (the service, `run --once`, `build`,
//! `demo`) turns it into jobs here, the same way.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{debug, warn};

use crate::catalog::{Catalog, Image};
use crate::check::Decision;
use crate::model::{CheckId, DecisionKind};

/// One image's line in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    pub image: String,
    pub decision: Decision,
    pub stale: bool,
    pub reason: String,
    /// The exact version a build would use.
    pub source_version: Option<String>,
    pub recipe_hash: String,
}

/// What a check decided, in catalog order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub check_id: CheckId,
    pub checked_at: DateTime<Utc>,
    /// How many distinct sources were looked up in Azure.
    pub lookups: usize,
    pub entries: Vec<PlanEntry>,
}

/// Which entries of a plan become jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The stale ones: what the service and `run --once` build.
    Stale,
    /// The stale ones and those waiting for their build window: `build IMAGE`,
    /// a person's choice of moment.
    Named,
    /// As `Named`, and those soaking: `build --skip-soak`, for an urgent fix.
    SkipSoak,
    /// Every entry whose source version is known: `build --force`.
    Forced,
}

impl PlanEntry {
    /// Whether `selection` builds this entry (given a known source version).
    pub fn selected(&self, selection: Selection) -> bool {
        match selection {
            Selection::Stale => self.stale,
            Selection::Named => self.stale || self.waiting_for_window(),
            Selection::SkipSoak => {
                self.stale
                    || self.waiting_for_window()
                    || self.decision.kind() == DecisionKind::Soaking
            }
            Selection::Forced => true,
        }
    }

    fn waiting_for_window(&self) -> bool {
        self.decision.kind() == DecisionKind::WaitingForWindow
    }
}

/// One build to start.
#[derive(Debug, Clone)]
pub struct Job {
    pub image: Image,
    /// The exact version to build from.
    pub source_version: String,
    pub decision: Option<DecisionKind>,
    pub reason: String,
    pub check_id: Option<CheckId>,
}

impl Plan {
    pub fn stale(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries.iter().filter(|e| e.stale)
    }

    /// The stale ones and those waiting for their build window: what `check`
    /// calls stale (exit 3), since both are out of date.
    pub fn outdated(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries
            .iter()
            .filter(|e| e.decision.kind().is_outdated())
    }

    /// Entries whose source Azure could not tell.
    pub fn unresolved(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries.iter().filter(|e| {
            matches!(
                e.decision,
                Decision::SourceUnavailable { .. } | Decision::SourceNotFound { .. }
            )
        })
    }

    /// The entries an outage left undecided: worth asking again before the next
    /// scheduled check. A missing source is not: Azure already answered.
    pub fn retryable(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.decision, Decision::SourceUnavailable { .. }))
    }

    /// The jobs the selected entries ask for, in plan order. Entries that cannot
    /// be built (no known source version) are left out and said in the log.
    pub fn jobs(&self, catalog: &Catalog, selection: Selection) -> Vec<Job> {
        self.warn_unresolved();
        self.entries
            .iter()
            .filter(|entry| entry.selected(selection))
            .filter_map(|entry| {
                let image = catalog.image(&entry.image)?;
                let Some(source_version) = entry.source_version.clone() else {
                    warn!(image = %entry.image, reason = %entry.reason, "cannot build the image");
                    return None;
                };
                let soaking = entry.decision.kind() == DecisionKind::Soaking;
                let reason = match &entry.decision {
                    _ if entry.stale => entry.reason.clone(),
                    Decision::WaitingForWindow { stale, .. } => format!(
                        "{}; started outside its build window by an operator",
                        stale.reason()
                    ),
                    _ if soaking && selection == Selection::SkipSoak => {
                        format!("{}; soak skipped by an operator", entry.reason)
                    }
                    _ => format!("forced by an operator ({})", entry.reason),
                };
                // A build is of a new base version, whether it waited or not;
                // one that waited for its window is of what made it stale.
                let decision = match &entry.decision {
                    _ if soaking => DecisionKind::NewBaseVersion,
                    Decision::WaitingForWindow { stale, .. } => stale.kind(),
                    other => other.kind(),
                };
                Some(Job {
                    image: image.clone(),
                    source_version,
                    decision: Some(decision),
                    reason,
                    check_id: Some(self.check_id),
                })
            })
            .collect()
    }

    /// Otherwise an Azure outage (say, a failing token endpoint) leaves a check that
    /// "found nothing stale" and not a word in the log. One line per check, not per
    /// image: in an outage a catalog of a thousand images would bury everything else.
    fn warn_unresolved(&self) {
        let mut unresolved = self
            .entries
            .iter()
            .filter_map(|entry| match &entry.decision {
                Decision::SourceUnavailable { error } => Some((&entry.image, error)),
                _ => None,
            });
        let Some((first_image, first_error)) = unresolved.next() else {
            return;
        };
        let mut images = 1;
        let mut errors = BTreeSet::from([first_error]);
        for (image, error) in unresolved {
            debug!(image = %image, %error, "cannot tell whether the image is stale");
            images += 1;
            errors.insert(error);
        }
        warn!(
            images,
            first = %first_image,
            error = %first_error,
            distinct_errors = errors.len(),
            "cannot tell whether {images} image(s) are stale; the next check tries again"
        );
    }
}
