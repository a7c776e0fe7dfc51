//! Images waiting for their build window. A check that finds an image stale
//! while its window is closed records `waiting_for_window`; the service then
//! checks it again the moment the window opens, not only at its next
//! scheduled check, and that check builds it. Nothing here is the truth: the
//! recorded decision is, so a service killed while an image waits finds it
//! again at start-up (and checks it at once if the window opened meanwhile).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::check::Decision;
use crate::model::DecisionKind;
use crate::plan::Plan;
use crate::schedule::closed_until;
use crate::store::ImageStatus;

#[derive(Debug, Default)]
pub(super) struct WindowWaits {
    /// Image and when its window opens.
    opens: BTreeMap<String, DateTime<Utc>>,
}

impl WindowWaits {
    /// What a check decided: its waiting images are remembered, every other
    /// image it covered is not waiting any more.
    pub fn checked(&mut self, plan: &Plan) {
        for entry in &plan.entries {
            match &entry.decision {
                Decision::WaitingForWindow { opens_at, .. } => {
                    self.opens.insert(entry.image.clone(), *opens_at);
                }
                _ => {
                    self.opens.remove(&entry.image);
                }
            }
        }
    }

    /// At start-up: the images whose last recorded decision waits, due when
    /// their window (as the catalog says now) opens; at once if it is open.
    pub fn restore(&mut self, catalog: &Catalog, statuses: &[ImageStatus], now: DateTime<Utc>) {
        for status in statuses {
            if status.last_decision != Some(DecisionKind::WaitingForWindow) {
                continue;
            }
            let Some(image) = catalog.image(&status.state.name).filter(|i| i.enabled) else {
                continue;
            };
            let opens = closed_until(image.build_window.as_ref(), now).unwrap_or(now);
            self.opens.insert(image.name.clone(), opens);
        }
    }

    /// The first opening the service must wake for.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.opens.values().min().copied()
    }

    /// The images whose window has opened by `now`; no longer waited for
    /// (their check says again if they must).
    pub fn take_due(&mut self, now: DateTime<Utc>) -> BTreeSet<String> {
        let due: BTreeSet<String> = self
            .opens
            .iter()
            .filter(|(_, opens)| **opens <= now)
            .map(|(image, _)| image.clone())
            .collect();
        self.opens.retain(|image, _| !due.contains(image));
        due
    }

    pub fn len(&self) -> usize {
        self.opens.len()
    }
}
