//! Unique lookups run concurrently, never more than the limit at once.
//!
//! ARM here is a loopback stub that holds every request at a barrier until
//! `LIMIT` of them are in flight together: a client that kept fewer in flight
//! would stall there (and fail on the 5 s deadline), one that sent more would show
//! a higher peak (the request completing a wave lingers so an extra one would
//! be seen). Tokens still come from the simulator.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use image_refresh::check::CheckOptions;
use serde_json::json;
use tokio::sync::Barrier;

use super::{CheckWorld, marketplace_image, scenario_with, world};

const LIMIT: usize = 3;
const SKUS: usize = 3 * LIMIT;

#[derive(Default)]
struct Gauge {
    in_flight: usize,
    peak: usize,
    served: usize,
}

struct Stub {
    gauge: Mutex<Gauge>,
    barrier: Barrier,
}

async fn versions(State(stub): State<Arc<Stub>>) -> axum::response::Response {
    let completes_a_wave = {
        let mut g = stub.gauge.lock().unwrap();
        g.in_flight += 1;
        g.peak = g.peak.max(g.in_flight);
        g.in_flight >= LIMIT
    };
    if completes_a_wave {
        // Leaves room for a request beyond the limit to show up in the peak.
        // Never a cause of failure for a client that keeps the limit.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let released = tokio::time::timeout(Duration::from_secs(5), stub.barrier.wait()).await;
    let mut g = stub.gauge.lock().unwrap();
    g.in_flight -= 1;
    g.served += 1;
    match released {
        Ok(_) => Json(json!([{ "name": "1.2.3", "location": "westeurope" }])).into_response(),
        // Not retryable, so a stalled client fails the test quickly.
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_run_concurrently_up_to_the_limit() {
    let world = world(&scenario_with(&["1.0.0"])).await;
    let stub = Arc::new(Stub {
        gauge: Mutex::default(),
        barrier: Barrier::new(LIMIT),
    });
    let app = axum::Router::new()
        .fallback(versions)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let arm_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let images: String = (0..SKUS)
        .map(|i| marketplace_image(&format!("img-{i}"), &format!("sku-{i}"), "latest", ""))
        .collect();
    let text = format!("{}\n{images}", world.header_with_arm(&arm_url));
    let catalog = image_refresh::catalog::parse(&text, "catalog.toml").unwrap();
    let store = world.store_for(&catalog).await;
    let plan = world
        .check_with(&catalog, &store, CheckOptions { concurrency: LIMIT })
        .await;

    let gauge = stub.gauge.lock().unwrap();
    assert_eq!(gauge.served, SKUS, "one request per sku, none retried");
    assert_eq!(gauge.peak, LIMIT);
    assert!(
        plan.entries
            .iter()
            .all(|e| e.source_version.as_deref() == Some("1.2.3")),
        "{:?}",
        plan.entries
    );
}
