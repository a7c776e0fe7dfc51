//! When to retry an ARM request and how long to wait first.
//!
//! Hand-written rather than `backon`: the wait must come from the response (`Retry-After`)
//! when there is one, and which failures are retryable depends on the HTTP method.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// Retry settings for ARM requests.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, including the first one.
    pub max_attempts: u32,
    /// Backoff before the second attempt (before jitter); doubles each attempt.
    pub base_delay: Duration,
    /// Upper bound of the backoff.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; longer values are shortened to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
        }
    }
}

/// Most random delay added to a server's `Retry-After`.
const MAX_RETRY_AFTER_SPREAD: Duration = Duration::from_secs(5);

impl RetryPolicy {
    /// "Full jitter" backoff: uniform in `[0, min(max_delay, base_delay * 2^(attempt-1))]`,
    /// which spreads out clients that failed together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let ceiling = exp.min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// The wait before the next attempt: the server's `Retry-After` when given, else backoff.
    ///
    /// `Retry-After` is a minimum. Requests throttled together get the same value, so up to
    /// a quarter of it (at most a few seconds) is added at random; otherwise they would all
    /// come back at the same instant and be throttled again.
    pub fn delay(&self, attempt: u32, headers: &HeaderMap, now: DateTime<Utc>) -> Duration {
        match retry_after(headers, now) {
            Some(wait) => {
                let wait = wait.min(self.max_retry_after);
                let spread = (wait / 4).min(MAX_RETRY_AFTER_SPREAD);
                let millis = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
                wait + Duration::from_millis(rand::rng().random_range(0..=millis))
            }
            None => self.backoff(attempt),
        }
    }
}

/// Whether a response status is worth another attempt for this method.
///
/// 408, 429 and 5xx are transient. A POST is not idempotent (POST .../run starts a build), so
/// it is repeated only on 429, where ARM guarantees the request was not processed.
pub fn status_is_retryable(method: &Method, status: StatusCode) -> bool {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return true;
    }
    let transient = status == StatusCode::REQUEST_TIMEOUT || status.is_server_error();
    transient && is_idempotent(method)
}

/// Whether a failure without a response is worth another attempt.
///
/// A failed connect means the request never left; anything later (reset, timeout, truncated
/// body) may have reached ARM, so only idempotent methods are repeated.
pub fn transport_error_is_retryable(method: &Method, never_sent: bool) -> bool {
    never_sent || is_idempotent(method)
}

pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// Reads `retry-after-ms`, `x-ms-retry-after-ms` (milliseconds) or `Retry-After` (seconds or
/// an HTTP date).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    // A date in the past means "now".
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now()),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
                now()
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Wed, 21 Oct 2015 07:00:00 GMT")]),
                now()
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "9"), ("retry-after-ms", "250")]),
                now()
            ),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon")]), now()),
            None
        );
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn backoff_is_jittered_within_the_exponential_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..=10 {
            let ceiling = Duration::from_secs(1 << (attempt - 1)).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.backoff(attempt) <= ceiling);
            }
        }
        // Not all equal: jitter actually spreads the waits.
        let samples: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(6)).collect();
        assert!(samples.len() > 1);
    }

    #[test]
    fn server_wait_wins_over_backoff_but_is_capped() {
        let policy = RetryPolicy::default();
        let h = headers(&[("retry-after", "3600")]);
        let capped = policy.delay(1, &h, now());
        assert!(capped >= policy.max_retry_after, "{capped:?}");
        assert!(
            capped <= policy.max_retry_after + MAX_RETRY_AFTER_SPREAD,
            "{capped:?}"
        );
        let h = headers(&[("retry-after", "4")]);
        let waits: Vec<Duration> = (0..50).map(|_| policy.delay(1, &h, now())).collect();
        // Never earlier than asked, at most a quarter later, and spread out.
        assert!(
            waits.iter().all(|w| *w >= Duration::from_secs(4)),
            "{waits:?}"
        );
        assert!(
            waits.iter().all(|w| *w <= Duration::from_secs(5)),
            "{waits:?}"
        );
        assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
    }

    #[test]
    fn post_is_retried_only_when_arm_did_not_process_it() {
        assert!(status_is_retryable(
            &Method::POST,
            StatusCode::TOO_MANY_REQUESTS
        ));
        assert!(!status_is_retryable(&Method::POST, StatusCode::BAD_GATEWAY));
        assert!(status_is_retryable(&Method::GET, StatusCode::BAD_GATEWAY));
        assert!(status_is_retryable(
            &Method::PUT,
            StatusCode::REQUEST_TIMEOUT
        ));
        assert!(!status_is_retryable(&Method::GET, StatusCode::NOT_FOUND));
        assert!(!status_is_retryable(&Method::DELETE, StatusCode::CONFLICT));
        assert!(transport_error_is_retryable(&Method::POST, true));
        assert!(!transport_error_is_retryable(&Method::POST, false));
        assert!(transport_error_is_retryable(&Method::GET, false));
    }
}
