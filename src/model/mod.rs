//! The domain's vocabulary: the words every stage speaks.
//!
//! Ids, build states and AIB run sub-states, clean-up states, decision kinds,
//! check triggers and source keys are defined once here; the catalog, check,
//! plan, build and store modules all import them from this module, and the
//! store writes them as the lowercase words its CHECK constraints list.

mod ids;
mod words;

use serde::Serialize;

pub use ids::{BuildId, CheckId};
pub use words::{
    BuildState, CheckTrigger, Cleanup, DecisionKind, DeliveryState, NoticeKind, RunSubState,
};

/// What a source version is resolved for: the identity of a source without its
/// version, so that images sharing a source are looked up once per check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SourceKey {
    Marketplace {
        location: String,
        publisher: String,
        offer: String,
        sku: String,
    },
    Gallery {
        /// Resource ID of the gallery image definition.
        image_id: String,
    },
}

impl SourceKey {
    /// One spelling of the key for every spelling of the source: ARM names are
    /// case-insensitive (the `source_versions` table is keyed by it).
    pub fn folded(&self) -> String {
        match self {
            SourceKey::Marketplace {
                location,
                publisher,
                offer,
                sku,
            } => format!("marketplace:{location}:{publisher}:{offer}:{sku}"),
            SourceKey::Gallery { image_id } => format!("gallery:{image_id}"),
        }
        .to_ascii_lowercase()
    }
}

/// A stored word is not one of the known values of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read {kind}: unknown value {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}
