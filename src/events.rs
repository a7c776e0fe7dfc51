//! What the pipeline tells its subscribers: typed events, one per thing that
//! happened (a check finished, a build started or ended, an image was disabled,
//! a version was promoted).
//!
//! The stages emit; notifications and metrics subscribe. Nothing else needs to
//! know who listens. Emitting never waits: a subscriber that falls behind
//! misses the oldest events and is told how many (tokio's broadcast `Lagged`).

use serde::Serialize;
use tokio::sync::broadcast;

use crate::model::{BuildId, BuildState, CheckId, CheckTrigger};

/// How many events a slow subscriber may fall behind before it loses the oldest.
const BACKLOG: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A check was recorded with every image's decision.
    CheckFinished {
        check_id: CheckId,
        trigger: CheckTrigger,
        images: usize,
        /// Images the check found stale, in catalog order.
        stale: Vec<String>,
        /// Images whose staleness could not be told (Azure unreadable, or the
        /// source missing), with the reason.
        unresolved: Vec<(String, String)>,
    },
    /// A check could not be recorded (its decisions are unknown).
    CheckFailed {
        trigger: CheckTrigger,
        error: String,
    },
    /// A build was recorded and is being driven (`resumed`: by a later process
    /// than the one that planned it, or after the same image's earlier job).
    BuildStarted {
        image: String,
        build_id: BuildId,
        reason: String,
        resumed: bool,
    },
    /// A build reached its final state.
    BuildFinished {
        image: String,
        build_id: BuildId,
        state: BuildState,
        artifact_ids: Vec<String>,
        error_code: Option<String>,
        error_message: Option<String>,
    },
    /// An image stopped being rebuilt automatically after failing too often.
    ImageDisabled { image: String, reason: String },
    /// A staged gallery image version became latest in one more ring.
    VersionPromoted {
        image: String,
        version: String,
        gallery_image_id: String,
        ring: u32,
        rings: u32,
        latest_in: Vec<String>,
    },
}

/// The sending side, cloned into every stage of one process.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Events {
    /// Receives every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    pub fn emit(&self, event: Event) {
        // An error only means that nobody listens, which is allowed.
        let _ = self.sender.send(event);
    }
}
