//! The long-running service (`image-refresh run`): a thin loop around the same
//! check and build code the CLI runs, adding schedules, a global limit on
//! concurrent builds, resumption of in-flight builds, automatic disabling of
//! images that keep failing, signals and systemd's notification protocol.
//!
//! The stages themselves live in [`crate::pipeline`]; this module only decides
//! when to call them ([`crate::schedule`] says when each image is due).
//!
//! - [`pool`]: the builds the service follows, at most N at once.
//! - [`service`]: the loop itself, with reload and shutdown.
//! - `health`: a full or read-only disk under the history database, said once.
//! - [`notify`], [`crate::logging`]: how systemd hears from the service.

pub(crate) mod health;
pub mod notify;
pub mod pool;
pub mod service;
mod signals;

pub use notify::Notifier;
pub use service::{CHECK_RETRY_FIRST, DaemonError, ServiceConfig, serve};
