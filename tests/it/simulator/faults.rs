//! What ARM refuses or answers slowly: missing or unknown API versions, scripted
//! faults per route, and the subscription's throttling bucket.

use super::*;

#[tokio::test]
async fn api_version_is_required_and_checked() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    let full = format!("{}{}", sim.base_url(), market_path("22_04-lts-gen2"));
    let resp = http().get(&full).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "MissingApiVersionParameter"
    );
    for (version, code) in [
        ("bogus", "InvalidApiVersionParameter"),
        ("2019-01-01", "NoRegisteredProviderFound"),
    ] {
        let resp = get(&sim, &token, &market_path("22_04-lts-gen2"), version).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], code);
    }
}

#[tokio::test(start_paused = true)]
async fn every_fault_kind_can_be_scripted_per_route() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    let list = market_path("22_04-lts-gen2");

    sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Throttle {
            retry_after_secs: 7,
        },
        1,
    ));
    let resp = get(&sim, &token, &list, COMPUTE_API).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(
        resp.headers()["x-ms-ratelimit-remaining-subscription-reads"],
        "0"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "SubscriptionRequestsThrottled"
    );
    assert_eq!(get(&sim, &token, &list, COMPUTE_API).await.status(), 200);

    sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Status { code: 503 },
        1,
    ));
    let resp = get(&sim, &token, &list, COMPUTE_API).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "ServiceUnavailable"
    );

    sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Status { code: 500 },
        1,
    ));
    assert_eq!(get(&sim, &token, &list, COMPUTE_API).await.status(), 500);

    sim.add_fault(FaultRule::times("marketplace.list", FaultKind::Drop, 1));
    let err = http()
        .get(url(&sim, &list, COMPUTE_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_status(),
        "a dropped connection has no status: {err}"
    );

    sim.add_fault(FaultRule::times(
        "marketplace.list",
        FaultKind::Latency { ms: 30_000 },
        1,
    ));
    let before = tokio::time::Instant::now();
    assert_eq!(get(&sim, &token, &list, COMPUTE_API).await.status(), 200);
    assert!(before.elapsed() >= std::time::Duration::from_secs(30));

    // Other routes were never affected, and `after` skips the first requests.
    sim.clear_faults();
    sim.add_fault(FaultRule {
        after: Some(1),
        ..FaultRule::times("marketplace.get", FaultKind::Status { code: 503 }, 1)
    });
    let one = format!("{list}/22.04.202410020");
    assert_eq!(get(&sim, &token, &one, COMPUTE_API).await.status(), 200);
    assert_eq!(get(&sim, &token, &one, COMPUTE_API).await.status(), 503);
    assert_eq!(get(&sim, &token, &one, COMPUTE_API).await.status(), 200);
    let statuses: Vec<u16> = sim
        .journal()
        .iter()
        .filter(|e| e.route == "marketplace.list")
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [429, 200, 503, 500, 0, 200]);
}

#[tokio::test(start_paused = true)]
async fn the_subscription_bucket_throttles_and_refills() {
    let scenario = format!(
        "{SCENARIO}\n[throttle]\nreads = 3\nreads_per_sec = 1\nwrites = 2\nwrites_per_sec = 1\n"
    );
    let clock: SharedClock = Arc::new(ManualClock::new(start_time()));
    let sim = simulator(clock, &scenario).await;
    let token = msi_token(&sim, ARM).await;
    let list = market_path("22_04-lts-gen2");
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let resp = get(&sim, &token, &list, COMPUTE_API).await;
        assert_eq!(resp.status(), 200);
        remaining.push(
            resp.headers()["x-ms-ratelimit-remaining-subscription-reads"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let resp = get(&sim, &token, &list, COMPUTE_API).await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // Tokens are not consumed by the tokens endpoint, and writes have their own bucket.
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    assert_eq!(get(&sim, &token, &list, COMPUTE_API).await.status(), 200);
}
