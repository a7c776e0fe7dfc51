//! image-refresh keeps golden VM images patched.
//!
//! The modules follow the data flow:
//! catalog → check → plan → build → history (store), run as one
//! [`pipeline`] wired up by [`app`]; [`preflight`] asks Azure what would make a
//! build fail before it starts; [`model`] holds the words they share and
//! [`daemon`] is the service loop that runs the pipeline on [`schedule`].

// No unwrap outside tests and proven invariants (which say so with an expect).
#![deny(clippy::unwrap_used)]

pub mod app;
pub mod azure;
pub mod build;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod events;
pub mod host;
pub mod import;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod plan;
pub mod preflight;
pub mod promote;
pub mod reconcile;
pub mod report;
pub mod schedule;
pub mod store;
