//! Client-side rate limiting that keeps the daemon inside ARM's request budget.
//!
//! ARM throttles per subscription and principal with token buckets (documented at the time of
//! writing: reads 250 burst refilled at 25/s, writes and deletes 200 burst at 10/s). Our
//! defaults stay below that so a daemon sharing a subscription with people and pipelines does
//! not eat the whole budget. ARM reports what is left in `x-ms-ratelimit-remaining-*`; when
//! that is lower than what our bucket holds we lower the bucket to match, so we slow down
//! before ARM answers 429.
//!
//! Hand-written rather than `governor`: waits must use tokio's clock (tests pause it) and the
//! bucket must accept the server's "remaining" as an input.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Size and refill rate of one bucket.
#[derive(Debug, Clone, Copy)]
pub struct BucketConfig {
    pub burst: u32,
    pub per_second: f64,
}

/// Budgets for reads (GET/HEAD) and writes (PUT/POST/PATCH/DELETE).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub reads: BucketConfig,
    pub writes: BucketConfig,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            reads: BucketConfig {
                burst: 200,
                per_second: 20.0,
            },
            writes: BucketConfig {
                burst: 150,
                per_second: 8.0,
            },
        }
    }
}

#[derive(Debug)]
struct Bucket {
    config: BucketConfig,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    refilled_at: Instant,
}

impl Bucket {
    fn new(config: BucketConfig) -> Self {
        Self {
            config,
            state: Mutex::new(BucketState {
                tokens: f64::from(config.burst),
                refilled_at: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        // The state is two numbers that are always consistent; a panic elsewhere cannot
        // leave them half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one token, or says how long until one is available.
    fn try_take(&self) -> Result<(), Duration> {
        let mut state = self.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(state.refilled_at).as_secs_f64();
        state.tokens =
            (state.tokens + elapsed * self.config.per_second).min(f64::from(self.config.burst));
        state.refilled_at = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            Ok(())
        } else {
            let rate = self.config.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(
                ((1.0 - state.tokens) / rate).min(3600.0),
            ))
        }
    }

    async fn acquire(&self) {
        while let Err(wait) = self.try_take() {
            tokio::time::sleep(wait).await;
        }
    }

    fn clamp_to(&self, remaining: u32) {
        let mut state = self.lock();
        state.tokens = state.tokens.min(f64::from(remaining));
    }
}

/// The read and write buckets of one ARM client.
#[derive(Debug)]
pub struct Throttle {
    reads: Bucket,
    writes: Bucket,
}

impl Throttle {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            reads: Bucket::new(limits.reads),
            writes: Bucket::new(limits.writes),
        }
    }

    /// Waits until the budget allows one more request of this method.
    pub async fn acquire(&self, method: &Method) {
        self.bucket(method).acquire().await;
    }

    /// Lowers our budget to what ARM says is left.
    pub fn observe(&self, method: &Method, headers: &HeaderMap) {
        let remaining = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        let names: &[&str] = if is_read(method) {
            &["x-ms-ratelimit-remaining-subscription-reads"]
        } else {
            &[
                "x-ms-ratelimit-remaining-subscription-writes",
                "x-ms-ratelimit-remaining-subscription-deletes",
            ]
        };
        if let Some(min) = names.iter().filter_map(|n| remaining(n)).min() {
            self.bucket(method).clamp_to(min);
        }
    }

    fn bucket(&self, method: &Method) -> &Bucket {
        if is_read(method) {
            &self.reads
        } else {
            &self.writes
        }
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn tiny() -> RateLimits {
        RateLimits {
            reads: BucketConfig {
                burst: 3,
                per_second: 1.0,
            },
            writes: BucketConfig {
                burst: 1,
                per_second: 0.5,
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill_rate() {
        let throttle = Throttle::new(tiny());
        let start = Instant::now();
        for _ in 0..3 {
            throttle.acquire(&Method::GET).await;
        }
        assert_eq!(Instant::now(), start, "the burst needs no waiting");
        throttle.acquire(&Method::GET).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
        // Writes have their own bucket.
        throttle.acquire(&Method::PUT).await;
        throttle.acquire(&Method::DELETE).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_budget_slows_us_down() {
        let throttle = Throttle::new(tiny());
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-ratelimit-remaining-subscription-reads",
            HeaderValue::from_static("0"),
        );
        throttle.observe(&Method::GET, &headers);
        let start = Instant::now();
        throttle.acquire(&Method::GET).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
        // A write header does not touch the read bucket.
        let mut writes = HeaderMap::new();
        writes.insert(
            "x-ms-ratelimit-remaining-subscription-writes",
            HeaderValue::from_static("0"),
        );
        throttle.observe(&Method::GET, &writes);
        throttle.acquire(&Method::PUT).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }
}
