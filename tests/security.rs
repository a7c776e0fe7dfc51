//! Security findings of the review of `8d4b31e` (issue 17), each reproduced
//! against the real binary, the simulator and a real SQLite file.

#[path = "security/authority.rs"]
mod authority;
#[path = "security/proxy.rs"]
mod proxy;
#[path = "support/world.rs"]
mod setup;
