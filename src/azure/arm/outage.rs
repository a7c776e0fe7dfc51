//! Says once that Azure is failing, not with every retry: in a 429 storm or a 5xx burst
//! each attempt of each request fails, and a warning apiece buries the one line that
//! matters. The first retryable failure warns; later ones are debug lines until a request
//! succeeds again, which is said once too.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub(super) struct Outage(AtomicBool);

impl Outage {
    /// Records a retryable failure; true when it starts an outage.
    pub fn failed(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }

    /// Records a success; true when it ends an outage.
    pub fn answered(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_reported() {
        let outage = Outage::default();
        assert!(!outage.answered());
        assert!(outage.failed());
        assert!(!outage.failed());
        assert!(outage.answered());
        assert!(!outage.answered());
        assert!(outage.failed());
    }
}
