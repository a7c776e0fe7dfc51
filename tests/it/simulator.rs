//! The Azure simulator driven over real loopback HTTP with plain reqwest,
//! checked against the official spec examples in azure-sim/specs.

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

#[tokio::test]
async fn marketplace_list_and_get_have_the_official_shape() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;

    let resp = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .contains_key("x-ms-ratelimit-remaining-subscription-reads")
    );
    let list: Value = resp.json().await.unwrap();
    let example = fixture(
        "compute/ComputeRP-2025-04-01/virtualMachineImageExamples/VirtualMachineImage_List_MaximumSet_Gen.json",
    );
    assert_shape(&list, &example["responses"]["200"]["body"], &[], "");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["22.04.202408010", "22.04.202409110", "22.04.202410020"]
    );

    let top = http()
        .get(url(&sim, &market_path("22_04-lts-gen2"), COMPUTE_API))
        .query(&[("$orderby", "name desc"), ("$top", "1")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let top: Value = top.json().await.unwrap();
    assert_eq!(top[0]["name"], "22.04.202410020");

    let one = get(
        &sim,
        &token,
        &format!("{}/22.04.202410020", market_path("22_04-lts-gen2")),
        COMPUTE_API,
    )
    .await;
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    let example = fixture(
        "compute/ComputeRP-2025-04-01/virtualMachineImageExamples/VirtualMachineImage_Get_MaximumSet_Gen.json",
    );
    assert_shape(
        &one,
        &example["responses"]["200"]["body"],
        &["architecture", "replicaType", "sizeInGb"],
        "",
    );
    assert_has(
        &one,
        &[
            "/properties/osDiskImage/operatingSystem",
            "/properties/hyperVGeneration",
            "/name",
            "/id",
        ],
    );

    for path in [
        market_path("no-such-sku"),
        format!("{}/1.2.3", market_path("22_04-lts-gen2")),
    ] {
        let resp = get(&sim, &token, &path, COMPUTE_API).await;
        assert_eq!(resp.status(), 404);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "NotFound");
    }
}

#[tokio::test]
async fn publishing_a_version_shows_up_in_the_list() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202411050",
    );
    let list: Value = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.as_array().unwrap().last().unwrap()["name"],
        "22.04.202411050"
    );
}

#[tokio::test(start_paused = true)]
async fn scenario_publications_appear_at_their_simulated_time() {
    let scenario = format!(
        "{SCENARIO}\n[[publish]]\nat_secs = 3600\nlocation = \"westeurope\"\npublisher = \"Canonical\"\noffer = \"0001-com-ubuntu-server-jammy\"\nsku = \"22_04-lts-gen2\"\nversion = \"22.04.202412010\"\n"
    );
    let clock: SharedClock = Arc::new(ManualClock::new(start_time()));
    let sim = simulator(clock, &scenario).await;
    let token = msi_token(&sim, ARM).await;
    let latest = |v: Value| {
        v.as_array().unwrap().last().unwrap()["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest(before), "22.04.202410020");
    tokio::time::sleep(std::time::Duration::from_secs(3601)).await;
    let after = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest(after), "22.04.202412010");
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn tokens_expire_with_the_simulated_clock() {
    let (sim, clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    assert_eq!(
        get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
            .await
            .status(),
        200
    );

    clock.advance(chrono::Duration::hours(2));
    let resp = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API).await;
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer authorization_uri="),
        "{challenge}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");

    let fresh = msi_token(&sim, &format!("{ARM}/")).await;
    assert_eq!(
        get(&sim, &fresh, &market_path("22_04-lts-gen2"), COMPUTE_API)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn tokens_for_another_audience_or_none_are_refused() {
    let (sim, _clock) = start().await;
    let vault = msi_token(&sim, "https://vault.azure.net").await;
    let resp = get(&sim, &vault, &market_path("22_04-lts-gen2"), COMPUTE_API).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationTokenAudience");

    let resp = http()
        .get(url(&sim, &market_path("22_04-lts-gen2"), COMPUTE_API))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let resp = get(&sim, "made-up", &market_path("22_04-lts-gen2"), COMPUTE_API).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    let resp = http()
        .get(sim.identity_endpoint())
        .query(&[("api-version", "2019-08-01"), ("resource", ARM)])
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn entra_client_credentials_issue_arm_tokens() {
    let (sim, _clock) = start().await;
    let token_url = format!(
        "{}/{}/oauth2/v2.0/token",
        sim.authority_host(),
        sim.tenant_id()
    );
    let post = |secret: &str| {
        let encode = |v: &str| v.replace(':', "%3A").replace('/', "%2F");
        let body = format!(
            "client_id={}&client_secret={}&grant_type=client_credentials&scope={}",
            sim.client_id(),
            encode(secret),
            encode(&format!("{ARM}/.default"))
        );
        http()
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let resp = post(sim.client_secret()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        get(&sim, token, &market_path("22_04-lts-gen2"), COMPUTE_API)
            .await
            .status(),
        200
    );

    let resp = post("wrong").await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);

    // The journal keeps what was sent, but never secrets or tokens.
    let journal = format!("{:?}", sim.journal());
    assert!(!journal.contains(sim.client_secret()));
    assert!(!journal.contains(token));
    assert_eq!(sim.count("token.entra"), 2);
}

#[tokio::test]
#[allow(unsafe_code)]
async fn azure_identity_managed_identity_credential_speaks_to_the_simulator() {
    if !alone(
        module_path!(),
        "azure_identity_managed_identity_credential_speaks_to_the_simulator",
    ) {
        return;
    }
    let (sim, _clock) = start().await;
    // SAFETY: this test runs alone in its own process (see `alone`), so no other
    // thread reads the environment while it changes.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", sim.identity_endpoint());
        std::env::set_var("IDENTITY_HEADER", sim.identity_header());
    }
    // azure_identity's ManagedIdentityCredential, on the daemon's HTTP client: azure_core
    // is built without a client of its own.
    let http = image_refresh::azure::http_client(Default::default()).unwrap();
    let credential = image_refresh::azure::credential(
        &image_refresh::azure::CredentialConfig::ManagedIdentity { client_id: None },
        &image_refresh::azure::CloudEndpoints::public(),
        &http,
        image_refresh::clock::system(),
    )
    .unwrap();
    let token = credential
        .get_token(&[&format!("{ARM}/.default")], None)
        .await
        .unwrap();
    let secret = token.token.secret().to_owned();
    assert_eq!(
        get(&sim, &secret, &market_path("22_04-lts-gen2"), COMPUTE_API)
            .await
            .status(),
        200
    );
    let msi = sim
        .journal()
        .into_iter()
        .find(|e| e.route == "token.msi")
        .unwrap();
    assert!(
        msi.query.contains("api-version=2019-08-01"),
        "{}",
        msi.query
    );
}

// ---------------------------------------------------------------- ARM front door

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

// ---------------------------------------------------------------- image templates

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

#[tokio::test(start_paused = true)]
async fn official_example_bodies_are_accepted_with_the_official_response_shape() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    let resp = put_template(&sim, &token, "myImageTemplate", &linux_example()).await;
    assert_eq!(resp.status(), 201);
    let op_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        op_url.starts_with(sim.base_url()) && op_url.contains("api-version=2025-10-01"),
        "{op_url}"
    );
    let created: Value = resp.json().await.unwrap();
    let example = fixture("imagebuilder/2025-10-01/examples/CreateImageTemplateLinux.json");
    // systemData: an image template is a TrackedResource (common-types v3).
    let extra = ["provisioningState", "tags", "systemData"];
    assert_shape(&created, &example["responses"]["201"]["body"], &extra, "");
    assert_eq!(json_at(&sim, &token, &op_url).await["status"], "InProgress");

    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let op = json_at(&sim, &token, &op_url).await;
    assert_eq!(op["status"], "Succeeded");
    let got: Value = get(&sim, &token, &template_path("myImageTemplate"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    let example = fixture("imagebuilder/2025-10-01/examples/GetImageTemplate.json");
    assert_shape(
        &got,
        &example["responses"]["200"]["body"],
        &["provisioningState", "tags", "vnetConfig", "systemData"],
        "",
    );
    assert_has(
        &got,
        &[
            "/identity/userAssignedIdentities",
            "/properties/provisioningState",
            "/properties/source/type",
        ],
    );

    // The second template of the official list example: PlatformImage source, two distributors.
    let list = fixture("imagebuilder/2025-10-01/examples/ListImageTemplatesByRg.json");
    let mut second = list["responses"]["200"]["body"]["value"][1].clone();
    for read_only in ["id", "name", "type"] {
        second.as_object_mut().unwrap().remove(read_only);
    }
    let resp = put_template(&sim, &token, "fromList", &second).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
}

#[tokio::test]
async fn invalid_template_bodies_are_rejected_as_the_service_does() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "/properties/distribute",
            Box::new(|b| {
                b["properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("distribute");
            }),
        ),
        (
            "/properties/Source",
            Box::new(|b| {
                let s = b["properties"]["source"].take();
                b["properties"]["Source"] = s;
            }),
        ),
        (
            "/properties/bogus",
            Box::new(|b| {
                b["properties"]["bogus"] = json!(1);
            }),
        ),
        (
            "/properties/source/type",
            Box::new(|b| {
                b["properties"]["source"]["type"] = json!("platformimage");
            }),
        ),
        (
            "/properties/buildTimeoutInMinutes",
            Box::new(|b| {
                b["properties"]["buildTimeoutInMinutes"] = json!(961);
            }),
        ),
        (
            "/properties/distribute/0/runOutputName",
            Box::new(|b| {
                b["properties"]["distribute"][0]["runOutputName"] = json!("has space");
            }),
        ),
        (
            "/properties/distribute/1/location",
            Box::new(|b| {
                b["properties"]["distribute"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("location");
            }),
        ),
        (
            "/identity",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("identity");
            }),
        ),
        (
            "/location",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("location");
            }),
        ),
    ];
    for (pointer, mutate) in cases {
        let mut body = gallery_template();
        mutate(&mut body);
        let resp = put_template(&sim, &token, "bad", &body).await;
        assert_eq!(resp.status(), 400, "{pointer}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "InvalidParameter");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(pointer),
            "{pointer}: {err}"
        );
    }
    let mut no_uami = gallery_template();
    no_uami["identity"] = json!({"type": "None"});
    let resp = put_template(&sim, &token, "bad", &no_uami).await;
    assert_eq!(resp.status(), 400);
    assert!(azure_sim::schema::validate_image_template(&gallery_template()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn templates_are_immutable() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    let same = put_template(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    assert_eq!(same.status(), 200);
    let mut changed = gallery_template();
    changed["properties"]["buildTimeoutInMinutes"] = json!(120);
    let resp = put_template(&sim, &token, "ubuntu-2204", &changed).await;
    assert_eq!(resp.status(), 409);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "Conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Update/Upgrade of image templates is currently not supported")
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_moves_through_the_sub_states_and_leaves_its_artifacts() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;

    let resp = post(
        &sim,
        &token,
        &format!("{}/run", template_path("ubuntu-2204")),
    )
    .await;
    assert_eq!(resp.status(), 202);
    for h in ["azure-asyncoperation", "location", "retry-after"] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
    let op_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut seen: Vec<String> = Vec::new();
    let final_run = loop {
        let t: Value = get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
            .await
            .json()
            .await
            .unwrap();
        let run = t["properties"]["lastRunStatus"].clone();
        let sub = run["runSubState"].as_str().unwrap().to_owned();
        if seen.last() != Some(&sub) {
            seen.push(sub);
        }
        if run["runState"] != "Running" {
            assert_eq!(t["properties"]["source"]["exactVersion"], "22.04.202410020");
            break run;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    assert_eq!(
        seen,
        [
            "Queued",
            "Building",
            "Customizing",
            "Validating",
            "Distributing"
        ]
    );
    assert_eq!(final_run["runState"], "Succeeded");
    assert_eq!(final_run["startTime"], "2026-11-10T06:00:00.000000Z");
    assert!(final_run["endTime"].is_string());
    assert_eq!(json_at(&sim, &token, &op_url).await["status"], "Succeeded");

    let outputs: Value = get(
        &sim,
        &token,
        &format!("{}/runOutputs", template_path("ubuntu-2204")),
        AIB_API,
    )
    .await
    .json()
    .await
    .unwrap();
    let example = fixture("imagebuilder/2025-10-01/examples/ListRunOutputs.json");
    assert_shape(&outputs, &example["responses"]["200"]["body"], &[], "");
    let one: Value = get(
        &sim,
        &token,
        &format!("{}/runOutputs/ubuntu-gallery", template_path("ubuntu-2204")),
        AIB_API,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_shape(
        &one,
        &fixture("imagebuilder/2025-10-01/examples/GetRunOutput.json")["responses"]["200"]["body"],
        &[],
        "",
    );

    // The gallery version exists with the publishing profile the template asked for; the seed had 1.0.0.
    let version_id = one["properties"]["artifactId"].as_str().unwrap();
    assert!(
        version_id.ends_with("/galleries/gal/images/ubuntu/versions/1.0.1"),
        "{version_id}"
    );
    let version: Value = get(&sim, &token, version_id, GALLERY_API)
        .await
        .json()
        .await
        .unwrap();
    let example =
        fixture("compute/GalleryRP-2024-03-03/galleryExamples/GalleryImageVersion_Get.json");
    // A gallery image version is a tracked resource: `tags` is in the spec, not the example.
    assert_shape(
        &version,
        &example["responses"]["200"]["body"],
        &["type", "excludeFromLatest", "tags", "systemData"],
        "",
    );
    assert_eq!(
        version["tags"]["team"], "platform",
        "AIB tags what it makes with the distributor's artifactTags"
    );
    assert_eq!(
        version["properties"]["publishingProfile"]["excludeFromLatest"],
        true
    );
    assert_eq!(
        version["properties"]["publishingProfile"]["targetRegions"][0]["regionalReplicaCount"],
        2
    );
    let gallery_images = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/ubuntu";
    let listed: Value = get(
        &sim,
        &token,
        &format!("{gallery_images}/versions"),
        GALLERY_API,
    )
    .await
    .json()
    .await
    .unwrap();
    let example = fixture(
        "compute/GalleryRP-2024-03-03/galleryExamples/GalleryImageVersion_ListByGalleryImage.json",
    );
    assert_shape(
        &listed,
        &example["responses"]["200"]["body"],
        &["type", "excludeFromLatest", "tags", "systemData"],
        "",
    );
    assert_eq!(listed["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&sim, &token, gallery_images, GALLERY_API)
            .await
            .status(),
        200
    );

    let managed = outputs["value"][1]["properties"]["artifactId"]
        .as_str()
        .unwrap()
        .to_owned();
    let image: Value = get(&sim, &token, &managed, COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    let example = fixture("compute/ComputeRP-2025-04-01/imageExamples/Image_Get.json");
    // The spec's ImageProperties has sourceVirtualMachine; the example does not show it.
    assert_shape(
        &image,
        &example["responses"]["200"]["body"],
        &["hyperVGeneration", "sourceVirtualMachine", "tags"],
        "",
    );

    // Deleting artifacts: 202 then gone.
    let del = http()
        .delete(url(&sim, version_id, GALLERY_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    assert_eq!(
        get(&sim, &token, version_id, GALLERY_API).await.status(),
        404
    );
    let del = http()
        .delete(url(&sim, &managed, COMPUTE_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    assert_eq!(get(&sim, &token, &managed, COMPUTE_API).await.status(), 404);

    // Deleting the template is a long-running operation followed through Location.
    let del = http()
        .delete(url(&sim, &template_path("ubuntu-2204"), AIB_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    let location = del.headers()["location"].to_str().unwrap().to_owned();
    let poll = http()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 202);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let poll = http()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 204);
    assert_eq!(
        get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
            .await
            .status(),
        404
    );
}

#[tokio::test(start_paused = true)]
async fn failed_builds_point_at_customization_log() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "fail-ubuntu", &gallery_template()).await;
    let resp = post(
        &sim,
        &token,
        &format!("{}/run", template_path("fail-ubuntu")),
    )
    .await;
    let op_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let t: Value = get(&sim, &token, &template_path("fail-ubuntu"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    let run = &t["properties"]["lastRunStatus"];
    assert_eq!(run["runState"], "Failed");
    assert_eq!(run["runSubState"], "Customizing");
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .contains("customization.log")
    );
    let op = json_at(&sim, &token, &op_url).await;
    assert_eq!(op["status"], "Failed");
    assert!(op["error"]["code"].is_string() && op["error"]["message"].is_string());
    let outputs: Value = get(
        &sim,
        &token,
        &format!("{}/runOutputs", template_path("fail-ubuntu")),
        AIB_API,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(outputs["value"], json!([]));

    // A control call overrides the scenario for the next run.
    sim.queue_build_outcome(Outcome::PartiallySucceeded, None);
    post(
        &sim,
        &token,
        &format!("{}/run", template_path("fail-ubuntu")),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let t: Value = get(&sim, &token, &template_path("fail-ubuntu"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["properties"]["lastRunStatus"]["runState"],
        "PartiallySucceeded"
    );
    sim.set_build_outcome("fail-*", Outcome::Failed, Some(Phase::Validating));
    post(
        &sim,
        &token,
        &format!("{}/run", template_path("fail-ubuntu")),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let t: Value = get(&sim, &token, &template_path("fail-ubuntu"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["properties"]["lastRunStatus"]["runSubState"],
        "Validating"
    );
}

#[tokio::test(start_paused = true)]
async fn a_running_build_can_be_canceled() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    let run = post(
        &sim,
        &token,
        &format!("{}/run", template_path("ubuntu-2204")),
    )
    .await;
    let run_op = run.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        post(
            &sim,
            &token,
            &format!("{}/run", template_path("ubuntu-2204"))
        )
        .await
        .status(),
        409
    );
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    let cancel = post(
        &sim,
        &token,
        &format!("{}/cancel", template_path("ubuntu-2204")),
    )
    .await;
    assert_eq!(cancel.status(), 202);
    let cancel_op = cancel.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let t: Value = get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Canceling");
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    let t: Value = get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Canceled");
    assert_eq!(json_at(&sim, &token, &run_op).await["status"], "Canceled");
    assert_eq!(
        json_at(&sim, &token, &cancel_op).await["status"],
        "Succeeded"
    );
    assert_eq!(
        post(
            &sim,
            &token,
            &format!("{}/cancel", template_path("ubuntu-2204"))
        )
        .await
        .status(),
        409
    );
}

#[tokio::test(start_paused = true)]
async fn the_journal_records_what_was_sent_without_tokens() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    let puts: Vec<_> = sim
        .journal()
        .into_iter()
        .filter(|e| e.route == "template.put")
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].method, "PUT");
    assert_eq!(puts[0].query, "api-version=2025-10-01");
    assert_eq!(puts[0].body.as_ref().unwrap(), &gallery_template());
    assert_eq!(puts[0].status, 201);
    assert!(!format!("{:?}", sim.journal()).contains(&token));
    assert_eq!(sim.counters()["template.get"], 1);
    sim.shutdown().await.unwrap();
}
