//! Which gallery image version `latest` means, where. `revoke` takes a bad
//! version out of `latest` in every region so that consumers fall back to the
//! previous good one; it is recorded before Azure is asked, and a revoke that
//! was interrupted is finished by the next process (see [`finish_pending`]).

mod revoke;

pub use revoke::{Latest, RevokeError, RevokeRequest, Revoked, finish_pending, revoke};
