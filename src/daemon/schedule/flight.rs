//! At most one check cycle at a time, and a shutdown that waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, OwnedMutexGuard};

/// Admits one check cycle at a time; clones share the same slot.
#[derive(Debug, Clone, Default)]
pub struct SingleFlight {
    slot: Arc<Mutex<()>>,
    closed: Arc<AtomicBool>,
}

/// Proof that a cycle is running; the slot frees when it is dropped.
#[derive(Debug)]
pub struct Flight {
    _slot: OwnedMutexGuard<()>,
}

impl SingleFlight {
    pub fn new() -> SingleFlight {
        SingleFlight::default()
    }

    /// Starts a cycle unless one is running or shutdown began.
    ///
    /// A wake-up that finds a cycle running is dropped rather than queued: the running cycle
    /// records its check in the store, and the next look at the store decides what is still
    /// due.
    pub fn try_start(&self) -> Option<Flight> {
        let slot = Arc::clone(&self.slot).try_lock_owned().ok()?;
        // Checked while holding the slot so that no cycle starts after `shutdown` returned.
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        Some(Flight { _slot: slot })
    }

    pub fn is_running(&self) -> bool {
        self.slot.try_lock().is_err()
    }

    /// Refuses new cycles and waits until the one in flight, if any, has finished.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        drop(self.slot.lock().await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_flight_at_a_time_and_none_after_shutdown() {
        let flights = SingleFlight::new();
        let first = flights.try_start().expect("idle slot");
        assert!(flights.is_running());
        assert!(flights.clone().try_start().is_none(), "overlapping cycle");
        drop(first);
        assert!(!flights.is_running());
        let second = flights.try_start().expect("slot freed");
        drop(second);
        flights.shutdown().await;
        assert!(flights.try_start().is_none(), "cycle after shutdown");
    }
}
