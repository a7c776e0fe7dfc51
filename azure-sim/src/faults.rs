//! Scripted faults per route and ARM's per-subscription throttle model.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Deserialize;
use tokio::time::Instant;

use super::error::ArmError;

/// A fault injected into requests on one route (or `*` for every route).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub route: String,
    pub kind: FaultKind,
    /// Apply to this many matching requests; every one when absent.
    #[serde(default)]
    pub count: Option<u32>,
    /// Let this many matching requests through untouched first.
    #[serde(default)]
    pub after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// 429 with `Retry-After`, as ARM answers when a subscription is throttled.
    Throttle { retry_after_secs: u64 },
    /// A bare status code with an ARM error body (e.g. 500, 503).
    Status { code: u16 },
    /// Close the TCP connection without answering.
    Drop,
    /// Delay the answer by this many (tokio) milliseconds.
    Latency { ms: u64 },
    /// Revoke every access token issued so far, before their announced
    /// expiry (a password reset, a disabled principal, continuous access
    /// evaluation): this request and every later one with such a token
    /// gets ARM's 401. Tokens issued afterwards are good.
    RevokeTokens,
}

impl FaultRule {
    pub fn always(route: &str, kind: FaultKind) -> Self {
        Self {
            route: route.to_owned(),
            kind,
            count: None,
            after: None,
        }
    }

    pub fn times(route: &str, kind: FaultKind, count: u32) -> Self {
        Self {
            count: Some(count),
            ..Self::always(route, kind)
        }
    }
}

/// What the fault rules decided for one request.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    pub latency: Duration,
    pub action: Option<FaultKind>,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<(FaultRule, u32)>,
}

impl Faults {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn plan(&mut self, route: &str) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for (rule, seen) in &mut self.rules {
            if rule.route != "*" && rule.route != route {
                continue;
            }
            let n = *seen;
            *seen += 1;
            let after = rule.after.unwrap_or(0);
            let active = n >= after && rule.count.is_none_or(|c| n < after + c);
            if !active {
                continue;
            }
            match &rule.kind {
                FaultKind::Latency { ms } => plan.latency += Duration::from_millis(*ms),
                other if plan.action.is_none() => plan.action = Some(other.clone()),
                _ => {}
            }
        }
        plan
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    Read,
    Write,
    Delete,
}

impl Access {
    pub fn header(self) -> &'static str {
        match self {
            Access::Read => "x-ms-ratelimit-remaining-subscription-reads",
            Access::Write => "x-ms-ratelimit-remaining-subscription-writes",
            Access::Delete => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// The count across ARM's instances; the simulator is one, so it is the same.
    pub fn global_header(self) -> &'static str {
        match self {
            Access::Read => "x-ms-ratelimit-remaining-subscription-global-reads",
            Access::Write => "x-ms-ratelimit-remaining-subscription-global-writes",
            Access::Delete => "x-ms-ratelimit-remaining-subscription-global-deletes",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Delete => "delete",
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per (subscription, access), refilled continuously, and
/// Compute's fixed-window counts per (subscription, policy).
#[derive(Debug)]
pub(crate) struct Throttle {
    settings: super::scenario::ThrottleSettings,
    buckets: HashMap<(String, Access), Bucket>,
    policies: HashMap<(String, &'static str), [(Instant, u32); 2]>,
}

/// Compute's policy windows: three and thirty minutes.
const POLICY_WINDOWS: [Duration; 2] = [Duration::from_secs(180), Duration::from_secs(1800)];

/// A throttled request: when to retry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttled {
    pub retry_after_secs: u64,
}

impl Throttle {
    pub fn new(settings: super::scenario::ThrottleSettings) -> Self {
        Self {
            settings,
            buckets: HashMap::new(),
            policies: HashMap::new(),
        }
    }

    fn limits(&self, access: Access) -> (f64, f64) {
        let s = &self.settings;
        match access {
            Access::Read => (f64::from(s.reads), f64::from(s.reads_per_sec)),
            Access::Write => (f64::from(s.writes), f64::from(s.writes_per_sec)),
            Access::Delete => (f64::from(s.deletes), f64::from(s.deletes_per_sec)),
        }
    }

    /// Takes one token; returns the tokens left or how long to wait.
    pub fn take(&mut self, subscription: &str, access: Access) -> Result<u32, Throttled> {
        let (capacity, rate) = self.limits(access);
        let now = Instant::now();
        let bucket = self
            .buckets
            .entry((subscription.to_ascii_lowercase(), access))
            .or_insert(Bucket {
                tokens: capacity,
                last: now,
            });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            // Truncation is the point: ARM reports whole requests left.
            Ok(bucket.tokens.floor() as u32)
        } else {
            let wait = if rate > 0.0 {
                ((1.0 - bucket.tokens) / rate).ceil().max(1.0)
            } else {
                60.0
            };
            Err(Throttled {
                retry_after_secs: wait as u64,
            })
        }
    }
}

impl Throttle {
    /// Counts one request against a Compute policy; the header value of
    /// what is left in each window, e.g.
    /// `Microsoft.Compute/GetVMImageFromLocation3Min;15999,Microsoft.Compute/GetVMImageFromLocation30Min;63999`.
    /// The simulator reports these budgets and does not enforce them.
    pub fn count_policy(&mut self, subscription: &str, policy: (&'static str, u32, u32)) -> String {
        let (name, short, long) = policy;
        let now = Instant::now();
        let windows = self
            .policies
            .entry((subscription.to_ascii_lowercase(), name))
            .or_insert([(now, 0), (now, 0)]);
        let mut parts = Vec::new();
        for ((window, limit), (label, (start, used))) in POLICY_WINDOWS
            .iter()
            .zip([short, long])
            .zip(["3Min", "30Min"].iter().zip(windows.iter_mut()))
        {
            if now.duration_since(*start) >= *window {
                *start = now;
                *used = 0;
            }
            *used += 1;
            parts.push(format!(
                "Microsoft.Compute/{name}{label};{}",
                limit.saturating_sub(*used)
            ));
        }
        parts.join(",")
    }
}

/// ARM's 429 answer body.
pub(crate) fn throttled_error(subscription: &str, access: Access, retry_after: u64) -> ArmError {
    ArmError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "SubscriptionRequestsThrottled",
        format!(
            "Number of '{}' requests for subscription '{subscription}' actor 'image-refresh' exceeded. Please try again after '{retry_after}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
            access.word()
        ),
    )
}

/// The body for an injected bare status code.
pub(crate) fn status_error(code: u16) -> ArmError {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, message) = match status {
        StatusCode::SERVICE_UNAVAILABLE => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please try again later.",
        ),
        StatusCode::GATEWAY_TIMEOUT => (
            "GatewayTimeout",
            "The gateway did not receive a response from the service within the specified time period.",
        ),
        StatusCode::BAD_GATEWAY => (
            "BadGateway",
            "The gateway did not receive a valid response from the service.",
        ),
        _ => (
            "InternalServerError",
            "Encountered internal server error. Diagnostic information: timestamp '', subscription id '', tracking id '', request correlation id ''.",
        ),
    };
    ArmError::new(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_and_after_select_the_window() {
        let mut faults = Faults::default();
        faults.add(FaultRule {
            after: Some(1),
            ..FaultRule::times("r", FaultKind::Status { code: 503 }, 2)
        });
        let hits: Vec<bool> = (0..5).map(|_| faults.plan("r").action.is_some()).collect();
        assert_eq!(hits, [false, true, true, false, false]);
        assert!(faults.plan("other").action.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_refills_over_time() {
        let mut t = Throttle::new(super::super::scenario::ThrottleSettings {
            reads: 2,
            reads_per_sec: 1,
            writes: 1,
            writes_per_sec: 1,
            deletes: 1,
            deletes_per_sec: 1,
        });
        assert_eq!(t.take("s", Access::Read).unwrap(), 1);
        assert_eq!(t.take("s", Access::Read).unwrap(), 0);
        assert_eq!(t.take("s", Access::Read).unwrap_err().retry_after_secs, 1);
        assert!(t.take("other", Access::Read).is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(t.take("s", Access::Read).is_ok());
    }
}
