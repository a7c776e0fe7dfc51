//! Credentials: client secret, managed identity, certificate and workload identity.

use std::sync::Arc;

use image_refresh::azure::image_templates;
use image_refresh::azure::marketplace;
use image_refresh::azure::{
    ArmClient, AzureError, CloudEndpoints, CredentialConfig, HttpTimeouts, SecretSource,
    TokenCache, credential, http_client, token_cache,
};
use image_refresh::clock::{self, ManualClock};
use serde_json::json;

use crate::support::env::alone;
use crate::support::setup;

use super::stub::{Seen, Stub, TEMPLATE_PATH, answer, golden};
use super::{
    SCENARIO, build, client_with_secret, endpoints, fast_retries, sku, start_sim, statuses,
};

#[tokio::test]
async fn wrong_client_secret_is_an_auth_error_without_the_secret() {
    let sim = start_sim().await;
    let client = client_with_secret(&sim, "not-the-right-secret", fast_retries());

    let err = marketplace::list_versions(&client.arm, &sku(&sim))
        .await
        .unwrap_err();
    assert!(matches!(err, AzureError::Auth(_)), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("not-the-right-secret"), "{shown}");
    assert_eq!(
        sim.count("marketplace.list"),
        0,
        "no ARM call without a token"
    );
}

#[tokio::test]
async fn token_is_fetched_once_for_many_requests() {
    let sim = start_sim().await;
    let client = client_with_secret(&sim, sim.client_secret(), fast_retries());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let arm = client.arm.clone();
            let sku = sku(&sim);
            tokio::spawn(async move { marketplace::list_versions(&arm, &sku).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(sim.count("marketplace.list"), 8);
    assert_eq!(sim.count("token.entra"), 1);
}

#[tokio::test]
#[allow(unsafe_code)]
async fn managed_identity_uses_identity_endpoint_and_header() {
    if !alone(
        module_path!(),
        "managed_identity_uses_identity_endpoint_and_header",
    ) {
        return;
    }
    let sim = start_sim().await;
    // SAFETY: this test runs alone in its own process (see `alone`), so no other
    // thread reads the environment while it changes.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", sim.identity_endpoint());
        std::env::set_var("IDENTITY_HEADER", sim.identity_header());
    }
    let arm = build(
        &sim,
        &CredentialConfig::ManagedIdentity { client_id: None },
        fast_retries(),
    );
    let result = marketplace::list_versions(&arm, &sku(&sim)).await;
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("IDENTITY_ENDPOINT");
        std::env::remove_var("IDENTITY_HEADER");
    }
    assert_eq!(result.unwrap().len(), 4);
    assert_eq!(sim.count("token.msi"), 1);
    assert_eq!(sim.count("token.entra"), 0);
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            // Assertions and the grant type only need %3A and %2F undone here.
            v.replace("%3A", ":").replace("%2F", "/")
        })
    })
}

fn jwt_part(jwt: &str, index: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn assertion_flow(
    config_for: impl FnOnce(&std::path::Path) -> CredentialConfig,
) -> Vec<Seen> {
    let stub = Stub::start().await;
    stub.script(
        "POST",
        "/tenant-x/oauth2/v2.0/token",
        vec![answer(
            200,
            vec![],
            Some(json!({"access_token": "assertion-token", "expires_in": 3600, "token_type": "Bearer"})),
        )],
    );
    stub.script(
        "GET",
        TEMPLATE_PATH,
        vec![answer(
            200,
            vec![],
            Some(json!({"properties": {"provisioningState": "Succeeded"}})),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    let endpoints =
        CloudEndpoints::custom(&stub.base, &stub.base, Some("https://management.azure.com"))
            .unwrap();
    let http = http_client(HttpTimeouts::default()).unwrap();
    let credential = credential(&config, &endpoints, &http, clock::system()).unwrap();
    let tokens = Arc::new(TokenCache::new(credential, clock::system()));
    let arm = ArmClient::new(http, &endpoints, tokens, clock::system(), fast_retries());

    let status = image_templates::get(&arm, &golden())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.provisioning_state,
        Some(image_templates::ProvisioningState::Succeeded)
    );
    let seen = stub.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[1].authorization.as_deref(),
        Some("Bearer assertion-token")
    );
    assert_eq!(
        form_value(&seen[0].body, "client_assertion_type").as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    seen
}

#[tokio::test]
async fn client_certificate_signs_an_assertion_for_the_configured_authority() {
    let seen = assertion_flow(|dir| {
        let pem = dir.join("sp.pem");
        std::fs::write(
            &pem,
            include_str!("../../../src/azure/testdata/client-certificate.pem"),
        )
        .unwrap();
        CredentialConfig::ClientCertificate {
            tenant_id: "tenant-x".into(),
            client_id: "app-123".into(),
            certificate_source: SecretSource::File(pem),
        }
    })
    .await;
    let token_request = &seen[0];
    assert_eq!(
        form_value(&token_request.body, "client_id").as_deref(),
        Some("app-123")
    );
    let jwt = form_value(&token_request.body, "client_assertion").unwrap();
    assert_eq!(jwt_part(&jwt, 0)["alg"], "RS256");
    let claims = jwt_part(&jwt, 1);
    assert_eq!(claims["iss"], "app-123");
    assert!(
        claims["aud"]
            .as_str()
            .unwrap()
            .ends_with("/tenant-x/oauth2/v2.0/token"),
        "{claims}"
    );
    assert!(!token_request.body.contains("PRIVATE"));
}

#[tokio::test]
async fn workload_identity_posts_the_federated_token_file() {
    let seen = assertion_flow(|dir| {
        let token_file = dir.join("azure-identity-token");
        std::fs::write(&token_file, "federated-k8s-token").unwrap();
        CredentialConfig::WorkloadIdentity {
            tenant_id: Some("tenant-x".into()),
            client_id: Some("app-456".into()),
            token_file: Some(token_file),
        }
    })
    .await;
    assert_eq!(
        form_value(&seen[0].body, "client_assertion").as_deref(),
        Some("federated-k8s-token")
    );
    assert_eq!(
        form_value(&seen[0].body, "client_id").as_deref(),
        Some("app-456")
    );
}

#[tokio::test]
async fn token_rejected_after_simulated_hours_is_replaced_once() {
    // Far from the wall clock on purpose: azure_identity dates Entra tokens by the system
    // clock, the simulator expires them by this one.
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(start));
    let sim = setup::simulator(clock.clone(), SCENARIO).await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, sim.client_secret()).unwrap();
    let config = CredentialConfig::ClientSecret {
        tenant_id: sim.tenant_id().to_owned(),
        client_id: sim.client_id().to_owned(),
        secret_source: SecretSource::File(secret_file),
    };
    let endpoints = endpoints(&sim);
    let http = http_client(HttpTimeouts::default()).unwrap();
    let tokens = token_cache(&config, &endpoints, &http, clock.clone()).unwrap();
    let arm = ArmClient::new(
        http,
        &endpoints,
        Arc::new(tokens),
        clock.clone(),
        fast_retries(),
    );

    marketplace::list_versions(&arm, &sku(&sim)).await.unwrap();
    clock.advance(chrono::Duration::hours(2));
    marketplace::list_versions(&arm, &sku(&sim)).await.unwrap();

    assert_eq!(statuses(&sim, "marketplace.list"), vec![200, 401, 200]);
    assert_eq!(sim.count("token.entra"), 2);
}
