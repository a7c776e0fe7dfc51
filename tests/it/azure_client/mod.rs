//! The Azure client against the loopback ARM simulator: credentials, retries, throttling,
//! error bodies and typed operations. The client is configured exactly as for Azure, only
//! with the simulator's URLs as custom cloud endpoints.

mod credentials;
mod operations;
mod retries;
mod simulated_aib;
pub(crate) mod stub;

use std::sync::Arc;
use std::time::Duration;

use azure_sim::SimHandle;
use image_refresh::azure::arm::RetryPolicy;
use image_refresh::azure::marketplace::MarketplaceSku;
use image_refresh::azure::{
    ArmClient, ArmClientOptions, CloudEndpoints, CredentialConfig, HttpTimeouts, SecretSource,
    TokenCache, credential, http_client,
};
use image_refresh::clock;
use tempfile::TempDir;

use crate::support::setup;

const SCENARIO: &str = r#"
[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "ubuntu-24_04-lts"
sku = "server"
versions = ["24.04.202409100", "24.04.202501150", "24.04.99", "24.04.202412310"]

[[resource_groups]]
name = "rg-images"
location = "westeurope"

[[identities]]
resource_group = "rg-images"
name = "aib"
location = "westeurope"
"#;

async fn start_sim() -> SimHandle {
    setup::simulator(clock::system(), SCENARIO).await
}

fn endpoints(sim: &SimHandle) -> CloudEndpoints {
    CloudEndpoints::custom(
        sim.base_url(),
        sim.authority_host(),
        Some(sim.arm_audience()),
    )
    .expect("loopback endpoints are accepted")
}

/// Retries without noticeable backoff, so any long wait must come from `Retry-After`.
fn fast_retries() -> ArmClientOptions {
    ArmClientOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        lro_poll_interval: Duration::from_millis(50),
        ..ArmClientOptions::default()
    }
}

struct Client {
    arm: ArmClient,
    _secret_dir: TempDir,
}

/// A client authenticating as the simulator's service principal with `secret`.
fn client_with_secret(sim: &SimHandle, secret: &str, options: ArmClientOptions) -> Client {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("client-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let config = CredentialConfig::ClientSecret {
        tenant_id: sim.tenant_id().to_owned(),
        client_id: sim.client_id().to_owned(),
        secret_source: SecretSource::File(secret_file),
    };
    Client {
        arm: build(sim, &config, options),
        _secret_dir: dir,
    }
}

fn build(sim: &SimHandle, config: &CredentialConfig, options: ArmClientOptions) -> ArmClient {
    let endpoints = endpoints(sim);
    let http = http_client(HttpTimeouts::default()).unwrap();
    let credential =
        credential(config, &endpoints, &http, clock::system()).expect("credential builds");
    let tokens = Arc::new(TokenCache::new(credential, clock::system()));
    ArmClient::new(http, &endpoints, tokens, clock::system(), options)
}

fn sku(sim: &SimHandle) -> MarketplaceSku {
    MarketplaceSku {
        subscription_id: sim.subscription_id().to_owned(),
        location: "westeurope".into(),
        publisher: "Canonical".into(),
        offer: "ubuntu-24_04-lts".into(),
        sku: "server".into(),
    }
}

fn statuses(sim: &SimHandle, route: &str) -> Vec<u16> {
    sim.journal()
        .into_iter()
        .filter(|e| e.route == route)
        .map(|e| e.status)
        .collect()
}

fn deadline(secs: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(secs)
}
