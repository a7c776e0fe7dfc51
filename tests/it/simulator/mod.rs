//! The Azure simulator driven over real loopback HTTP with plain reqwest,
//! checked against the official spec examples in azure-sim/specs. The scenario and
//! the request helpers every topic shares are here.

mod faults;
mod marketplace;
mod runs;
mod templates;
mod tokens;

use std::sync::Arc;

use azure_sim::{FaultKind, FaultRule, Outcome, Phase, SimHandle};
use chrono::{DateTime, Utc};
use image_refresh::clock::{ManualClock, SharedClock};
use serde_json::{Value, json};

use crate::support::env::alone;
use crate::support::setup::simulator;

const ARM: &str = "https://management.azure.com";
const COMPUTE_API: &str = "2025-04-01";
const GALLERY_API: &str = "2024-03-03";
const AIB_API: &str = "2025-10-01";

const SCENARIO: &str = r#"
[settings]
subscription_id = "sub-1"

[build]
provision_secs = 2
queued_secs = 10
building_secs = 20
customizing_secs = 30
validating_secs = 20
distributing_secs = 10

[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
versions = ["22.04.202409110", "22.04.202410020", "22.04.202408010"]

[[galleries]]
subscription_id = "sub-1"
resource_group = "rg"
gallery = "gal"
image = "ubuntu"
location = "westeurope"
versions = ["1.0.0"]

[[resource_groups]]
subscription_id = "sub-1"
name = "rg"
location = "westeurope"

[[identities]]
subscription_id = "sub-1"
resource_group = "rg"
name = "aib"
location = "westeurope"

# The source of the official CreateImageTemplateLinux example: AIB refuses a
# template whose source image does not exist.
[[managed_images]]
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg1"
name = "source_image"
location = "westus"

[[builds]]
match = "fail-*"
outcome = "failed"
fail_in = "customizing"
"#;

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-10T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn start() -> (SimHandle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let sim = simulator(clock.clone(), SCENARIO).await;
    (sim, clock)
}

fn http() -> reqwest::Client {
    image_refresh::azure::http_client(Default::default()).unwrap()
}

async fn msi_token(sim: &SimHandle, resource: &str) -> String {
    let resp = http()
        .get(sim.identity_endpoint())
        .query(&[("api-version", "2019-08-01"), ("resource", resource)])
        .header("X-IDENTITY-HEADER", sim.identity_header())
        .header("metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn url(sim: &SimHandle, path: &str, api: &str) -> String {
    format!("{}{path}?api-version={api}", sim.base_url())
}

fn market_path(sku: &str) -> String {
    format!(
        "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/publishers/Canonical/artifacttypes/vmimage/offers/0001-com-ubuntu-server-jammy/skus/{sku}/versions"
    )
}

async fn get(sim: &SimHandle, token: &str, path: &str, api: &str) -> reqwest::Response {
    http()
        .get(url(sim, path, api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn fixture(rel: &str) -> Value {
    let path = format!("{}/azure-sim/specs/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
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
/// item), except the listed extra keys that the spec allows but the example
/// omits; and every key of the example named in `required` is present.
fn assert_shape(actual: &Value, example: &Value, extra: &[&str], at: &str) {
    assert_eq!(kind(actual), kind(example), "type differs at {at}");
    match (actual, example) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, v) in a {
                let here = format!("{at}/{k}");
                match e.get(k) {
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

fn assert_has(actual: &Value, pointers: &[&str]) {
    for p in pointers {
        assert!(actual.pointer(p).is_some(), "missing {p} in {actual}");
    }
}

fn template_path(name: &str) -> String {
    format!(
        "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"
    )
}

/// The official CreateImageTemplateLinux request, resource ids adapted.
fn linux_example() -> Value {
    let example = fixture("imagebuilder/2025-10-01/examples/CreateImageTemplateLinux.json");
    let text = example["parameters"]["parameters"]
        .to_string()
        .replace("{subscription-id}", "sub-1");
    serde_json::from_str(&text).unwrap()
}

/// A gallery build from a marketplace image, the shape image-refresh sends.
fn gallery_template() -> Value {
    json!({
        "location": "westeurope",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {
            "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aib": {}}},
        "properties": {
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"},
            "customize": [{"type": "Shell", "name": "patch", "inline": ["sudo apt-get -y upgrade"]}],
            "distribute": [{
                "type": "SharedImage", "runOutputName": "ubuntu-gallery",
                "galleryImageId": "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/ubuntu",
                "targetRegions": [{"name": "westeurope", "replicaCount": 2}, {"name": "northeurope"}],
                "excludeFromLatest": true,
                "artifactTags": {"team": "platform"}
            }, {
                "type": "ManagedImage", "runOutputName": "ubuntu-managed", "location": "westeurope",
                "imageId": "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/images/ubuntu-img"
            }],
            "buildTimeoutInMinutes": 90
        }
    })
}

async fn put_template(sim: &SimHandle, token: &str, name: &str, body: &Value) -> reqwest::Response {
    http()
        .put(url(sim, &template_path(name), AIB_API))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post(sim: &SimHandle, token: &str, path: &str) -> reqwest::Response {
    http()
        .post(url(sim, path, AIB_API))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn json_at(_sim: &SimHandle, token: &str, full_url: &str) -> Value {
    http()
        .get(full_url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Creates a template and waits (simulated time) for provisioning to succeed.
async fn provisioned(sim: &SimHandle, token: &str, name: &str, body: &Value) {
    let resp = put_template(sim, token, name, body).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let t: Value = get(sim, token, &template_path(name), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["properties"]["provisioningState"], "Succeeded");
}
