//! Deterministic jitter: the delay of a due instant is derived from a key and the instant.
//!
//! Rolling a random number at start-up would move the due instant on every restart, which
//! makes "was a check missed while we were down?" unanswerable. A hash of (key, tick) is as
//! spread out as a random draw across hosts and schedules, yet the same on every restart.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub(super) struct Jitter {
    /// Longest delay, in milliseconds; 0 disables jitter.
    max_ms: u64,
    key: String,
}

impl Jitter {
    pub(super) fn new(max: Option<StdDuration>, key: &str) -> Jitter {
        let max_ms = max.map_or(0, |max| u64::try_from(max.as_millis()).unwrap_or(u64::MAX));
        // Beyond a year the schedule means nothing anyway; the cap keeps the arithmetic
        // below within chrono's range.
        let max_ms = max_ms.min(366 * 24 * 3_600 * 1_000);
        Jitter {
            max_ms,
            key: key.to_owned(),
        }
    }

    /// The longest delay this jitter adds.
    pub(super) fn span(&self) -> Duration {
        Duration::milliseconds(i64::try_from(self.max_ms).unwrap_or(i64::MAX))
    }

    /// The delay added to `tick`, in `[0, span]`.
    pub(super) fn delay(&self, tick: DateTime<Utc>) -> Duration {
        if self.max_ms == 0 {
            return Duration::zero();
        }
        let mut hash = Sha256::new();
        hash.update(self.key.as_bytes());
        // The separator keeps ("a1", tick) and ("a", 1…) apart.
        hash.update([0]);
        hash.update(tick.timestamp().to_be_bytes());
        let digest = hash.finalize();
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        let ms = u64::from_be_bytes(head) % (self.max_ms + 1);
        Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn delay_is_bounded_stable_and_depends_on_key_and_tick() {
        let jitter = Jitter::new(Some(StdDuration::from_secs(600)), "host-a/*");
        let again = Jitter::new(Some(StdDuration::from_secs(600)), "host-a/*");
        let other_host = Jitter::new(Some(StdDuration::from_secs(600)), "host-b/*");
        let ticks: Vec<_> = (0..50)
            .map(|day| at("2026-01-01T06:00:00Z") + Duration::days(day))
            .collect();
        let delays: Vec<_> = ticks.iter().map(|t| jitter.delay(*t)).collect();
        for delay in &delays {
            assert!(*delay >= Duration::zero() && *delay <= Duration::minutes(10));
        }
        let replayed: Vec<_> = ticks.iter().map(|t| again.delay(*t)).collect();
        assert_eq!(delays, replayed, "a restart must not re-roll the jitter");
        let mut distinct = delays.clone();
        distinct.sort();
        distinct.dedup();
        assert!(
            distinct.len() > 40,
            "delays should differ per tick: {distinct:?}"
        );
        let elsewhere: Vec<_> = ticks.iter().map(|t| other_host.delay(*t)).collect();
        assert_ne!(delays, elsewhere, "another key must spread differently");
    }

    #[test]
    fn no_jitter_means_no_delay() {
        let none = Jitter::new(None, "k");
        assert_eq!(none.delay(at("2026-03-10T06:00:00Z")), Duration::zero());
        assert_eq!(none.span(), Duration::zero());
    }
}
