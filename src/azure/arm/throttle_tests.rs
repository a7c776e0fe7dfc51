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

fn remaining(name: &'static str, value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(name, HeaderValue::from_static(value));
    headers
}

const READS: &str = "x-ms-ratelimit-remaining-subscription-reads";

#[tokio::test(start_paused = true)]
async fn without_headers_the_configured_bucket_paces() {
    let throttle = Throttle::new(tiny());
    let start = Instant::now();
    for _ in 0..3 {
        let ticket = throttle.acquire(&Method::GET).await;
        throttle.unanswered(ticket, &Method::GET);
    }
    assert_eq!(Instant::now(), start, "the burst needs no waiting");
    throttle.acquire(&Method::GET).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    // Writes and deletes have buckets of their own.
    throttle.acquire(&Method::PUT).await;
    throttle.acquire(&Method::DELETE).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    throttle.acquire(&Method::PUT).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn arms_count_raises_and_lowers_the_budget() {
    let throttle = Throttle::new(tiny());
    let ticket = throttle.acquire(&Method::GET).await;
    // ARM says far more is left than the configured burst: spend it.
    throttle.observe(
        ticket,
        &Method::GET,
        StatusCode::OK,
        &remaining(READS, "40"),
    );
    let start = Instant::now();
    let mut tickets = Vec::new();
    for _ in 0..40 {
        tickets.push(throttle.acquire(&Method::GET).await);
    }
    assert_eq!(Instant::now(), start);
    for ticket in tickets {
        throttle.unanswered(ticket, &Method::GET);
    }
    // Nothing left: until a rate is measured, refill at a fifth of the configured one.
    let ticket = throttle.acquire(&Method::GET).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(5));
    throttle.observe(ticket, &Method::GET, StatusCode::OK, &remaining(READS, "0"));
    let ticket = throttle.acquire(&Method::GET).await;
    assert_eq!(Instant::now() - start, Duration::from_secs(10));
    // The lower of the subscription's and the global count rules.
    let mut headers = remaining(READS, "9");
    headers.insert(
        "x-ms-ratelimit-remaining-subscription-global-reads",
        HeaderValue::from_static("0"),
    );
    throttle.observe(ticket, &Method::GET, StatusCode::OK, &headers);
    throttle.acquire(&Method::GET).await;
    assert!(Instant::now() - start >= Duration::from_secs(15));
}

#[tokio::test(start_paused = true)]
async fn the_refill_rate_is_measured_from_the_reports() {
    let throttle = Throttle::new(tiny());
    // Five requests a second while ARM refills three: its count falls by two a second.
    let mut count = 50u32;
    for _ in 0..3 {
        for _ in 0..5 {
            let ticket = throttle.acquire(&Method::GET).await;
            count -= 1;
            let mut headers = HeaderMap::new();
            headers.insert(READS, HeaderValue::from_str(&count.to_string()).unwrap());
            throttle.observe(ticket, &Method::GET, StatusCode::OK, &headers);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        count += 3;
    }
    let rate = throttle.reads.lock().measured.unwrap();
    assert!((rate - 3.0).abs() < 0.01, "{rate}");
}

#[tokio::test(start_paused = true)]
async fn a_429_empties_the_budget_and_halves_the_rate() {
    let throttle = Throttle::new(tiny());
    let mut tickets = Vec::new();
    for _ in 0..3 {
        tickets.push(throttle.acquire(&Method::GET).await);
    }
    // Three 429s answered together are one signal, not three.
    for ticket in tickets {
        throttle.observe(
            ticket,
            &Method::GET,
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
        );
    }
    let start = Instant::now();
    throttle.acquire(&Method::GET).await;
    // The configured 1/s halved: one request per two seconds.
    assert_eq!(Instant::now() - start, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn an_answer_overtaken_by_a_later_requests_answer_does_not_raise_the_budget() {
    let throttle = Throttle::new(tiny());
    let early = throttle.acquire(&Method::GET).await;
    let late = throttle.acquire(&Method::GET).await;
    throttle.observe(late, &Method::GET, StatusCode::OK, &remaining(READS, "0"));
    // The earlier request's answer arrives last, with the count before the later one.
    throttle.observe(early, &Method::GET, StatusCode::OK, &remaining(READS, "30"));
    let start = Instant::now();
    throttle.acquire(&Method::GET).await;
    assert!(Instant::now() > start, "the stale count was not spent");
}

#[test]
fn computes_policy_counts_are_read() {
    let headers = remaining(
        "x-ms-ratelimit-remaining-resource",
        "Microsoft.Compute/ListVMImagesVersionsFromLocation3Min;139,Microsoft.Compute/ListVMImagesVersionsFromLocation30Min;699",
    );
    assert_eq!(resource_remaining(&headers), Some(139));
}

#[tokio::test(start_paused = true)]
async fn answers_in_another_order_than_arm_counted_them_do_not_overdraw() {
    let throttle = Throttle::new(tiny());
    let ticket = throttle.acquire(&Method::GET).await;
    throttle.observe(ticket, &Method::GET, StatusCode::OK, &remaining(READS, "5"));
    // Five requests sent together reach ARM in another order than they were
    // let through (the last first) and are answered in yet another: the last
    // one's answer, with the count from before the other four were counted,
    // arrives after the answer of one ARM counted after all of them.
    let mut tickets = Vec::new();
    for _ in 0..5 {
        tickets.push(throttle.acquire(&Method::GET).await);
    }
    for (i, left) in [(3, "0"), (4, "4"), (1, "3"), (0, "2"), (2, "1")] {
        throttle.observe(
            tickets[i],
            &Method::GET,
            StatusCode::OK,
            &remaining(READS, left),
        );
    }
    assert!(
        throttle.reads.try_take().is_err(),
        "ARM has nothing left: a request sent now is a 429"
    );
}
