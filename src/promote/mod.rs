//! Which gallery image version `latest` means, where. A staged version is
//! published excluded from `latest` and promoted ring by ring (`rings`);
//! `revoke` takes a bad version out of `latest` in every region so that
//! consumers fall back to the previous good one. Both are recorded before
//! Azure is asked and finished by the next process when one is interrupted.

mod revoke;
mod rings;
mod stage;
mod view;

pub use revoke::{Latest, RevokeError, RevokeRequest, Revoked, finish_pending, latest, revoke};
pub use rings::{Moved, PromoteError, promote_by_hand, promote_due};
pub use stage::record as record_staged;
pub use view::PromotionView;
