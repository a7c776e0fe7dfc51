//! Faults against the real `image-refresh run` binary and the in-process simulator: ARM
//! throttling storms, 5xx bursts, dropped connections, slow answers, a failing token
//! endpoint, a full or read-only database directory; and a known client secret and every
//! token the simulator minted never appearing in output, logs or the database.
//!
//! Each fault lasts a few seconds by default; `IMAGE_REFRESH_FAULT_FULL=1 cargo test
//! --test it faults::` holds each one for a minute.

mod arm;
mod disk;
mod secrets;
mod service;

use std::time::Duration;

/// How long a fault episode lasts.
pub fn episode() -> Duration {
    if std::env::var_os("IMAGE_REFRESH_FAULT_FULL").is_some() {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(4)
    }
}
