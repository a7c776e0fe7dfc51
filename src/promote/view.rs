//! A promotion as `status` and `history` show it: where the version is
//! latest, where it is still staged, and when the next ring moves.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Promotion, PromotionRing};

#[derive(Debug, Clone, Serialize)]
pub struct PromotionView {
    pub gallery_image_id: String,
    pub version: String,
    /// Regions of the rings promoted so far.
    pub latest_in: Vec<String>,
    /// Regions of the rings still to come (empty once stopped).
    pub staged_in: Vec<String>,
    pub next_ring: Option<u32>,
    /// When the next ring moves on its own; `None` for a ring that waits for
    /// `image-refresh promote` (or none left).
    pub next_ring_at: Option<DateTime<Utc>>,
    pub stopped_reason: Option<String>,
    pub rings: Vec<PromotionRing>,
}

impl PromotionView {
    pub fn of(p: &Promotion) -> PromotionView {
        let next = p.next_ring();
        PromotionView {
            gallery_image_id: p.gallery_image_id.clone(),
            version: p.version.clone(),
            latest_in: p.regions(true),
            staged_in: if p.stopped_reason.is_some() {
                Vec::new()
            } else {
                p.regions(false)
            },
            next_ring: next.map(|r| r.ring),
            next_ring_at: next.and_then(|r| r.due_at),
            stopped_reason: p.stopped_reason.clone(),
            rings: p.rings.clone(),
        }
    }

    /// Still moving: a ring is left and it was not stopped.
    pub fn is_open(&self) -> bool {
        self.next_ring.is_some()
    }

    /// "1.0.2 latest in westeurope, staged in northeurope (ring 2 moves 2026-12-03 10:00 UTC)".
    pub fn describe(&self) -> String {
        if let Some(why) = &self.stopped_reason {
            return format!("{} promotion stopped ({why})", self.version);
        }
        if self.staged_in.is_empty() {
            return format!("{} promoted everywhere", self.version);
        }
        let mut text = self.version.clone();
        if !self.latest_in.is_empty() {
            text.push_str(&format!(" latest in {},", self.latest_in.join(", ")));
        }
        text.push_str(&format!(" staged in {}", self.staged_in.join(", ")));
        if let Some(ring) = self.next_ring {
            match self.next_ring_at {
                Some(at) => text.push_str(&format!(
                    " (ring {ring} moves {})",
                    at.format("%Y-%m-%d %H:%M UTC")
                )),
                None => text.push_str(&format!(" (ring {ring} waits for `image-refresh promote`)")),
            }
        }
        text
    }
}
