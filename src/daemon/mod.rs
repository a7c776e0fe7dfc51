//! The long-running service (`image-refresh run`): a thin loop around the same
//! check and build code the CLI runs, adding schedules, a global limit on
//! concurrent builds, resumption of in-flight builds, automatic disabling of
//! images that keep failing, signals and systemd's notification protocol.
//!
//! - [`schedule`]: when each image is due, in its timezone, and what was missed.
//! - [`cycle`]: resume → check → build → failure limit; `run --once` is one cycle.
//! - [`pool`]: the builds the service follows, at most N at once.
//! - [`service`]: the loop itself, with reload and shutdown.
//! - [`health`]: a full or read-only disk under the history database, said once.
//! - [`notify`], [`logging`]: how systemd hears from the service.

pub mod cycle;
mod health;
pub mod logging;
pub mod notify;
pub mod pool;
pub mod schedule;
pub mod service;
mod signals;

pub use cycle::{CycleError, CycleReport, run_cycle};
pub use notify::Notifier;
pub use service::{CHECK_RETRY_FIRST, DaemonError, ServiceConfig, serve};
