//! The simulator driven over real loopback HTTP, as its clients drive it, and
//! checked against the official examples copied into `specs/`.

mod api_versions;
mod blob;
mod gallery_features;
mod gallery_update;
mod identities;
mod paging;
mod provisioning;
mod resources;
mod staging;
mod validation;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{Scenario, SimConfig, SimHandle, Simulator};

pub(crate) const ARM: &str = "https://management.azure.com";
pub(crate) const STORAGE: &str = "https://storage.azure.com";
pub(crate) const SUB: &str = "00000000-0000-0000-0000-0000000000aa";

/// A clock the test moves by hand.
#[derive(Clone)]
pub(crate) struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = crate::state::lock(&self.0);
        *now += by;
    }
}

pub(crate) async fn start(scenario: &str) -> SimHandle {
    start_with_clock(scenario).await.0
}

pub(crate) async fn start_with_clock(scenario: &str) -> (SimHandle, TestClock) {
    let text = format!("[settings]\nsubscription_id = \"{SUB}\"\n{scenario}");
    let scenario = Scenario::from_toml(&text).unwrap();
    let t0 = DateTime::parse_from_rfc3339("2026-11-10T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock = TestClock(Arc::new(Mutex::new(t0)));
    let c = clock.clone();
    let sim = Simulator::start(SimConfig::new(move || *crate::state::lock(&c.0), scenario))
        .await
        .unwrap();
    (sim, clock)
}

/// A plain HTTP client. Its rustls wants a crypto provider installed first, even for http
/// URLs (reqwest is built with `rustls-no-provider`, as the daemon's is).
pub(crate) fn client() -> reqwest::Client {
    // Err means an earlier test installed it already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A token from the managed-identity endpoint for `audience`.
pub(crate) async fn token(sim: &SimHandle, audience: &str) -> String {
    let resp = client()
        .get(sim.identity_endpoint())
        .query(&[("api-version", "2019-08-01"), ("resource", audience)])
        .header("X-IDENTITY-HEADER", sim.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

pub(crate) async fn get(sim: &SimHandle, token: &str, path: &str, api: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}?api-version={api}", sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// GET that must answer `status`; returns the JSON body.
pub(crate) async fn get_json(
    sim: &SimHandle,
    token: &str,
    path: &str,
    api: &str,
    status: u16,
) -> Value {
    let resp = get(sim, token, path, api).await;
    assert_eq!(resp.status(), status, "GET {path}");
    resp.json().await.unwrap()
}

/// An ARM error answer: `(code, message)`.
pub(crate) async fn arm_error(
    sim: &SimHandle,
    token: &str,
    path: &str,
    api: &str,
    status: u16,
) -> (String, String) {
    let body = get_json(sim, token, path, api, status).await;
    let code = body["error"]["code"].as_str().unwrap().to_owned();
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    (code, message)
}

pub(crate) fn fixture(rel: &str) -> Value {
    let path = format!("{}/specs/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The 200 body of an example.
pub(crate) fn example(rel: &str) -> Value {
    fixture(rel)["responses"]["200"]["body"].clone()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key the simulator returns exists in the official example with the
/// same JSON type (recursively; array items against the example's first
/// item), except `extra` keys the spec allows but the example omits. `tags`
/// is a free-form map: only its type is compared.
pub(crate) fn assert_shape(actual: &Value, example: &Value, extra: &[&str], at: &str) {
    assert_eq!(kind(actual), kind(example), "type differs at {at}");
    match (actual, example) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, v) in a {
                let here = format!("{at}/{k}");
                match e.get(k) {
                    Some(ev) if k == "tags" => {
                        assert_eq!(kind(v), kind(ev), "type differs at {here}")
                    }
                    Some(ev) => assert_shape(v, ev, extra, &here),
                    None => assert!(extra.contains(&k.as_str()), "key {here} not in the example"),
                }
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let Some(first) = e.first() {
                for (i, v) in a.iter().enumerate() {
                    assert_shape(v, first, extra, &format!("{at}/{i}"));
                }
            }
        }
        _ => {}
    }
}

/// Every key of the example's top level (and of `properties`) is present too.
pub(crate) fn assert_has_example_keys(actual: &Value, example: &Value, except: &[&str]) {
    for scope in ["", "/properties"] {
        let (Some(a), Some(e)) = (
            actual.pointer(scope).and_then(Value::as_object),
            example.pointer(scope).and_then(Value::as_object),
        ) else {
            continue;
        };
        for k in e.keys().filter(|k| !except.contains(&k.as_str())) {
            assert!(a.contains_key(k), "missing {scope}/{k} in {actual}");
        }
    }
}
