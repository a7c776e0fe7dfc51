//! The integration tests, as one binary: one module per suite, and the
//! support they share in [`support`] (above all [`support::world::World`]:
//! a simulator, a clock, a temporary directory, a catalog, a database and the
//! real `image-refresh` binary on them).
//!
//! `cargo test --test it` runs them all; a module path selects a suite, e.g.
//! `cargo test --test it daemon::` (names match anywhere in a test's path).

mod azure_client;
mod build;
mod catalog;
mod check;
mod cli;
mod crash;
mod daemon;
mod exit_codes;
mod faults;
mod fuzz;
mod import;
mod logs;
mod notify;
mod package;
mod preflight;
mod promotion;
mod reconcile;
mod revoke;
mod rollout;
mod schedule;
mod security;
mod simulator;
mod soak;
mod status;
mod store;
mod support;
// Issue 16: JSON reports, rough edges, `simulate` steered over HTTP.
mod cli_json;
mod rough_edges;
mod simulate_control;
mod template;
