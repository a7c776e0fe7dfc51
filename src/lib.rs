//! image-refresh keeps golden VM images patched.
//!
//! The modules follow the data flow:
//! catalog → check → plan → build → history (store).

pub mod app;
pub mod azure;
pub mod build;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod host;
pub mod report;
pub mod simulator;
pub mod store;
