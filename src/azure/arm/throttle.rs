//! Pacing by what ARM says is left of the subscription's request budget.
//!
//! ARM throttles per subscription and principal with token buckets (documented
//! at the time of writing: reads 250 burst refilled at 25/s, writes and
//! deletes 200 burst at 10/s) and reports on every answer what is left in
//! `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}` (and the
//! `-global-` variants; Compute adds its own per-policy counts in
//! `x-ms-ratelimit-remaining-resource`). The budget is shared with whoever
//! else uses the subscription, so the client trusts those numbers, not a
//! fixed bucket of its own:
//!
//! - every answer sets what we may still send to what ARM reports, less the
//!   requests ARM may have counted after it: those still in flight and those
//!   answered since its request was sent. ARM counts requests in the order
//!   they reach it, not the order they were sent (requests sent together on
//!   different connections arrive in any order), so a request sent after
//!   another may carry the older, higher count; an answer to a request sent
//!   before the one whose count was last taken in is not taken in;
//! - between answers the budget refills at the rate the reports showed (the
//!   rise of the reported count over at least a second, plus the requests
//!   ARM surely counted in between), and only at a fifth of the documented
//!   rate until one was measured: refilling too slowly costs nothing, as the
//!   next answer reports what accumulated, while refilling too fast costs
//!   429s, so the measurement errs low;
//! - a 429 empties the budget and halves the rate, so the retries after its
//!   `Retry-After` are paced one by one instead of coming back together.
//!
//! An ARM that sends no headers (a proxy stripping them) leaves the
//! configured bucket in charge, as before.
//!
//! Hand-written rather than `governor`: waits must use tokio's clock (tests
//! pause it), and no rate limiter crate takes the server's count and refill
//! as inputs.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

/// Size and refill rate of one bucket: what the client assumes of ARM until
/// ARM's headers say otherwise.
#[derive(Debug, Clone, Copy)]
pub struct BucketConfig {
    pub burst: u32,
    pub per_second: f64,
}

/// Budgets for reads (GET/HEAD) and writes (PUT/POST/PATCH; DELETE has a
/// bucket of its own of the same size, as in ARM).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub reads: BucketConfig,
    pub writes: BucketConfig,
}

impl Default for RateLimits {
    /// ARM's documented buckets.
    fn default() -> Self {
        Self {
            reads: BucketConfig {
                burst: 250,
                per_second: 25.0,
            },
            writes: BucketConfig {
                burst: 200,
                per_second: 10.0,
            },
        }
    }
}

/// The shortest span a refill rate is measured over: ARM reports whole
/// requests, so shorter spans are mostly rounding.
const MEASURE_OVER: Duration = Duration::from_secs(1);
/// Until a rate is measured, refill at this share of the documented one.
const PROBE_SHARE: f64 = 0.2;
/// Spend under the measured rate: the reports are rounded down, and what
/// is left unspent comes back in the next report.
const MEASURED_SHARE: f64 = 0.8;
/// A herd of 429s answered together is one signal: the rate is halved at
/// most once in this span.
const CUT_ONCE_IN: Duration = Duration::from_secs(1);
/// The slowest refill assumed, as a share of the documented rate, so a
/// burst of bad news cannot stall the client for minutes.
const FLOOR_SHARE: f64 = 0.02;

#[derive(Debug)]
struct Bucket {
    config: BucketConfig,
    state: Mutex<BucketState>,
}

/// Where a refill measurement starts: a report taken in, with when its
/// request was sent (ARM counted it no earlier), ARM's count, and
/// `BucketState::answers` and the requests in flight when it arrived.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    sent: Instant,
    count: f64,
    answers: u64,
    in_flight: u32,
}

#[derive(Debug)]
struct BucketState {
    /// What we may send now.
    tokens: f64,
    refilled_at: Instant,
    /// Sent and not answered yet.
    in_flight: u32,
    /// ARM has reported on this bucket: its numbers rule.
    reported: bool,
    /// The refill rate ARM's reports showed, per second.
    measured: Option<f64>,
    /// The largest count ARM reported: above it the bucket does not refill.
    ceiling: f64,
    /// Start of the current measurement.
    anchor: Option<Anchor>,
    /// When a 429 last halved the rate.
    cut_at: Option<Instant>,
    /// Numbers the requests in the order they were let through.
    issued: u64,
    /// The latest request whose report was taken in.
    newest_report: u64,
    /// Requests answered (or lost) that ARM may have counted: all but 429s.
    answers: u64,
}

impl Bucket {
    fn new(config: BucketConfig) -> Self {
        Self {
            config,
            state: Mutex::new(BucketState {
                tokens: f64::from(config.burst),
                refilled_at: Instant::now(),
                in_flight: 0,
                reported: false,
                measured: None,
                ceiling: f64::from(config.burst),
                anchor: None,
                cut_at: None,
                issued: 0,
                newest_report: 0,
                answers: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        // The state is a few numbers that are always consistent; a panic
        // elsewhere cannot leave them half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rate(&self, state: &BucketState) -> f64 {
        let rate = match (state.reported, state.measured) {
            (false, _) => self.config.per_second,
            (true, Some(measured)) => measured * MEASURED_SHARE,
            (true, None) => self.config.per_second * PROBE_SHARE,
        };
        rate.max(self.config.per_second * FLOOR_SHARE).max(0.01)
    }

    /// Takes one request's worth, or says how long until there is one.
    fn try_take(&self) -> Result<Ticket, Duration> {
        let mut state = self.lock();
        let now = Instant::now();
        let rate = self.rate(&state);
        let elapsed = now.duration_since(state.refilled_at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(state.ceiling);
        state.refilled_at = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            state.in_flight += 1;
            state.issued += 1;
            Ok(Ticket {
                number: state.issued,
                sent: now,
                answers: state.answers,
            })
        } else {
            Err(Duration::from_secs_f64(
                ((1.0 - state.tokens) / rate).min(3600.0),
            ))
        }
    }

    async fn acquire(&self) -> Ticket {
        loop {
            match self.try_take() {
                Ok(ticket) => return ticket,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// One answer (or none: `remaining` and `throttled` unset) to the
    /// request of `ticket`.
    fn answered(&self, ticket: Ticket, remaining: Option<u32>, throttled: bool) {
        let mut state = self.lock();
        let now = Instant::now();
        state.in_flight = state.in_flight.saturating_sub(1);
        if ticket.number < state.newest_report {
            if !throttled {
                state.answers += 1;
            }
            return;
        }
        if throttled {
            // A 429 took nothing from ARM's bucket.
            if state
                .cut_at
                .is_none_or(|at| now.duration_since(at) >= CUT_ONCE_IN)
            {
                let rate = self.rate(&state) / MEASURED_SHARE;
                state.measured = Some(rate / 2.0);
                state.cut_at = Some(now);
            }
            state.reported = true;
            state.tokens = 0.0;
            state.refilled_at = now;
            state.anchor = None;
            return;
        }
        let overtaken = state.answers - ticket.answers;
        state.answers += 1;
        let Some(remaining) = remaining.map(f64::from) else {
            return;
        };
        state.newest_report = ticket.number;
        state.reported = true;
        state.ceiling = state.ceiling.max(remaining + 1.0);
        let pending = f64::from(state.in_flight) + overtaken as f64;
        state.tokens = (remaining - pending).max(0.0);
        state.refilled_at = now;
        let restart = Anchor {
            sent: ticket.sent,
            count: remaining,
            answers: state.answers,
            in_flight: state.in_flight,
        };
        match state.anchor {
            Some(a) if now.duration_since(a.sent) >= MEASURE_OVER => {
                // A full bucket does not refill: such a span says nothing.
                if remaining + 1.0 < state.ceiling && a.count + 1.0 < state.ceiling {
                    // Surely counted in between, if this request was sent
                    // after the anchor's answer: itself, and those answered
                    // after the anchor and before it was sent, less the ones
                    // in flight at the anchor (perhaps counted before it).
                    let between = ticket
                        .answers
                        .checked_sub(a.answers)
                        .map_or(0, |n| n.saturating_sub(a.in_flight.into()) + 1);
                    let refilled = remaining - a.count + between as f64;
                    let sample = refilled.max(0.0) / now.duration_since(a.sent).as_secs_f64();
                    state.measured = Some(match state.measured {
                        Some(old) => (old + sample) / 2.0,
                        None => sample,
                    });
                }
                state.anchor = Some(restart);
            }
            Some(_) => {}
            None => state.anchor = Some(restart),
        }
    }
}

/// One request let through: its number in its bucket, when, and how many
/// answers the bucket had then.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    number: u64,
    sent: Instant,
    answers: u64,
}

/// The read, write and delete budgets of one ARM client.
#[derive(Debug)]
pub struct Throttle {
    reads: Bucket,
    writes: Bucket,
    deletes: Bucket,
}

impl Throttle {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            reads: Bucket::new(limits.reads),
            writes: Bucket::new(limits.writes),
            deletes: Bucket::new(limits.writes),
        }
    }

    /// Waits until the budget allows one more request of this method. The
    /// ticket goes back with the answer to [`Throttle::observe`], or to
    /// [`Throttle::unanswered`].
    pub async fn acquire(&self, method: &Method) -> Ticket {
        self.bucket(method).acquire().await
    }

    /// Takes in what ARM's answer says is left.
    pub fn observe(
        &self,
        ticket: Ticket,
        method: &Method,
        status: StatusCode,
        headers: &HeaderMap,
    ) {
        let word = kind(method);
        let names = [
            format!("x-ms-ratelimit-remaining-subscription-{word}"),
            format!("x-ms-ratelimit-remaining-subscription-global-{word}"),
        ];
        let counts = names.iter().filter_map(|name| count(headers.get(name)?));
        let remaining = counts.chain(resource_remaining(headers)).min();
        self.bucket(method)
            .answered(ticket, remaining, status == StatusCode::TOO_MANY_REQUESTS);
    }

    /// The request got no answer.
    pub fn unanswered(&self, ticket: Ticket, method: &Method) {
        self.bucket(method).answered(ticket, None, false);
    }

    fn bucket(&self, method: &Method) -> &Bucket {
        match kind(method) {
            "reads" => &self.reads,
            "deletes" => &self.deletes,
            _ => &self.writes,
        }
    }
}

fn count(value: &reqwest::header::HeaderValue) -> Option<u32> {
    value.to_str().ok()?.trim().parse().ok()
}

/// The smallest count of Compute's `Policy3Min;139,Policy30Min;699` list.
fn resource_remaining(headers: &HeaderMap) -> Option<u32> {
    let text = headers
        .get("x-ms-ratelimit-remaining-resource")?
        .to_str()
        .ok()?;
    text.split(',')
        .filter_map(|policy| policy.rsplit_once(';')?.1.trim().parse().ok())
        .min()
}

/// ARM's word for the method's bucket.
fn kind(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "reads",
        Method::DELETE => "deletes",
        _ => "writes",
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
