//! Where the simulator reads "now": timestamps in bodies, token expiry and
//! the progress of simulated builds.
//!
//! Anything that tells the time can drive it: [`SystemClock`], or a closure,
//! so a caller with its own clock (a test's manual clock, say) passes
//! `move || its_clock.now()` and simulated time follows its time.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The clock a running simulator shares between its handlers.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> DateTime<Utc> + Send + Sync + 'static,
{
    fn now(&self) -> DateTime<Utc> {
        self()
    }
}
