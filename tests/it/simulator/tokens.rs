//! Tokens: managed identity and Entra client credentials, their audience and their
//! expiry on the simulated clock.

use super::*;

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
