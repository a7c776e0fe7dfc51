//! What the suites share.

pub mod daemon;
pub mod disk;
pub mod env;
pub mod gallery;
pub mod role;
pub mod setup;
pub mod world;
