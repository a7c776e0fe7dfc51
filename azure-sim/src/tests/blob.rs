//! The customization log in the staging storage account, and how Storage
//! refuses to hand it out.

use std::time::Duration;

use serde_json::Value;

use super::staging::{SCENARIO, provision, run_to_end, send, template, template_path};
use super::{ARM, STORAGE, SUB, start, start_with_clock, token};
use crate::SimHandle;

const VERSION: &str = "2025-01-05";

async fn blob_get(url: &str, token: Option<&str>, version: Option<&str>) -> reqwest::Response {
    let mut req = super::client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(v) = version {
        req = req.header("x-ms-version", v);
    }
    req.send().await.unwrap()
}

/// Storage's XML error: status, `<Code>` (also in `x-ms-error-code`) and the body.
async fn storage_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["x-ms-error-code"], code);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    if status == 401 {
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains("resource_id=https://storage.azure.com"),
            "{challenge}"
        );
    }
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<Code>{code}</Code><Message>")),
        "{body}"
    );
    body
}

/// Builds `fail-golden`, which fails in its last customizer, and returns its log URL.
async fn failed_build(sim: &SimHandle, arm: &str) -> String {
    provision(sim, arm, "fail-golden", &template("rg-images", None)).await;
    let t = run_to_end(sim, arm, "fail-golden").await;
    let message = t["properties"]["lastRunStatus"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("Failed while waiting for packerizer"),
        "{message}"
    );
    let url = message
        .split_whitespace()
        .find(|w| w.contains("customization.log"))
        .unwrap()
        .trim_end_matches('.')
        .to_owned();
    assert!(
        message.contains(&format!("Image Build log location: {url}. OperationId: ")),
        "{message}"
    );
    url
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_names_its_log_and_storage_serves_it() {
    let (sim, clock) = start_with_clock(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let url = failed_build(&sim, &arm).await;

    // {base_url}/blob/{account}/packerlogs/{runId}/customization.log, account in the staging group.
    let rest = url
        .strip_prefix(&format!("{}/", sim.blob_endpoint()))
        .unwrap();
    let parts: Vec<&str> = rest.split('/').collect();
    assert_eq!(parts.len(), 4, "{url}");
    let (account, run_id) = (parts[0], parts[2]);
    assert_eq!((parts[1], parts[3]), ("packerlogs", "customization.log"));
    assert!(uuid::Uuid::parse_str(run_id).is_ok(), "{url}");
    let group = sim
        .staging_resource_group(SUB, "rg-images", "fail-golden")
        .unwrap();
    let listed: Value = super::client()
        .get(format!(
            "{}{group}/resources?api-version=2025-04-01",
            sim.base_url()
        ))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][0]["name"], account);
    assert_eq!(
        sim.last_log_url(SUB, "rg-images", "fail-golden").as_deref(),
        Some(url.as_str())
    );

    let storage = token(&sim, STORAGE).await;
    let resp = blob_get(&url, Some(&storage), Some(VERSION)).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/plain");
    assert_eq!(h["x-ms-version"], VERSION);
    assert_eq!(h["x-ms-blob-type"], "BlockBlob");
    assert!(
        h["etag"].to_str().unwrap().starts_with("\"0x8D"),
        "{:?}",
        h["etag"]
    );
    assert!(h["last-modified"].to_str().unwrap().ends_with(" GMT"));
    let log = resp.text().await.unwrap();
    assert!(log.contains("Running customizer 'update' ..."), "{log}");
    assert!(log.contains("Running customizer 'harden' ..."), "{log}");
    assert!(
        log.contains("Step failed: customizer 'harden' (Shell)"),
        "{log}"
    );
    assert!(
        log.contains("Script exited with non-zero exit status: 1"),
        "{log}"
    );
    assert!(log.contains(run_id), "{log}");

    // Refusals, as Storage words them.
    let arm_token = blob_get(&url, Some(&arm), Some(VERSION)).await;
    let body = storage_error(arm_token, 401, "InvalidAuthenticationInfo").await;
    assert!(body.contains("Audience validation failed"), "{body}");
    storage_error(
        blob_get(&url, None, Some(VERSION)).await,
        401,
        "NoAuthenticationInformation",
    )
    .await;
    let old = storage_error(
        blob_get(&url, Some(&storage), None).await,
        403,
        "AuthenticationFailed",
    )
    .await;
    assert!(
        old.contains("Authentication scheme Bearer is not supported in this version."),
        "{old}"
    );
    storage_error(
        blob_get(&url, Some(&storage), Some("2015-04-05")).await,
        403,
        "AuthenticationFailed",
    )
    .await;
    storage_error(
        blob_get(&url, Some(&storage), Some("yesterday")).await,
        400,
        "InvalidHeaderValue",
    )
    .await;
    storage_error(
        blob_get(&url, Some("made-up"), Some(VERSION)).await,
        401,
        "InvalidAuthenticationInfo",
    )
    .await;
    let other_blob = url.replace("customization.log", "other.log");
    storage_error(
        blob_get(&other_blob, Some(&storage), Some(VERSION)).await,
        404,
        "BlobNotFound",
    )
    .await;
    let other_container = url.replace("/packerlogs/", "/vhds/");
    storage_error(
        blob_get(&other_container, Some(&storage), Some(VERSION)).await,
        404,
        "ContainerNotFound",
    )
    .await;
    let no_account = url.replace(account, "nosuchaccount");
    storage_error(
        blob_get(&no_account, Some(&storage), Some(VERSION)).await,
        404,
        "ResourceNotFound",
    )
    .await;

    // Deleting the template deletes its staging group, its account and the log.
    let del = send(
        &sim,
        &arm,
        reqwest::Method::DELETE,
        &template_path("fail-golden"),
    )
    .await;
    assert_eq!(del.status(), 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    storage_error(
        blob_get(&url, Some(&storage), Some(VERSION)).await,
        404,
        "BlobNotFound",
    )
    .await;

    clock.advance(chrono::Duration::hours(2));
    let expired = storage_error(
        blob_get(&url, Some(&storage), Some(VERSION)).await,
        401,
        "InvalidAuthenticationInfo",
    )
    .await;
    assert!(expired.contains("Lifetime validation failed"), "{expired}");
    assert_eq!(sim.count("blob.get"), 12);
    let put = super::client()
        .put(&url)
        .bearer_auth(&storage)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
}

#[tokio::test(start_paused = true)]
async fn every_run_writes_a_log_and_entra_mints_storage_tokens() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    provision(&sim, &arm, "golden", &template("rg-images", None)).await;
    let t = run_to_end(&sim, &arm, "golden").await;
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Succeeded");
    let first = sim.last_log_url(SUB, "rg-images", "golden").unwrap();
    run_to_end(&sim, &arm, "golden").await;
    let second = sim.last_log_url(SUB, "rg-images", "golden").unwrap();
    assert_ne!(first, second, "each run has a folder of its own");

    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=https%3A%2F%2Fstorage.azure.com%2F.default",
        sim.client_id(),
        sim.client_secret()
    );
    let answer: Value = super::client()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.authority_host(),
            sim.tenant_id()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entra = answer["access_token"].as_str().unwrap();
    for url in [&first, &second] {
        let resp = blob_get(url, Some(entra), Some(VERSION)).await;
        assert_eq!(resp.status(), 200, "{url}");
        let log = resp.text().await.unwrap();
        assert!(log.contains("Running customizer 'harden' ..."), "{log}");
        assert!(
            log.contains("Builds finished. The artifacts of successful builds are:"),
            "{log}"
        );
    }
    assert_eq!(sim.storage_audience(), STORAGE);
}

#[tokio::test(start_paused = true)]
async fn a_caller_without_a_data_role_is_refused() {
    let sim = start(&format!("blob_read_allowed = false\n{SCENARIO}")).await;
    let arm = token(&sim, ARM).await;
    let url = failed_build(&sim, &arm).await;
    let storage = token(&sim, STORAGE).await;
    let body = storage_error(
        blob_get(&url, Some(&storage), Some(VERSION)).await,
        403,
        "AuthorizationPermissionMismatch",
    )
    .await;
    assert!(
        body.contains(
            "This request is not authorized to perform this operation using this permission."
        ),
        "{body}"
    );
}

#[tokio::test(start_paused = true)]
async fn scripted_faults_on_the_blob_route_speak_storage() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let url = failed_build(&sim, &arm).await;
    let storage = token(&sim, STORAGE).await;
    sim.add_fault(crate::FaultRule::times(
        "blob.get",
        crate::FaultKind::Throttle {
            retry_after_secs: 1,
        },
        1,
    ));
    sim.add_fault(crate::FaultRule {
        after: Some(1),
        ..crate::FaultRule::times("blob.get", crate::FaultKind::Status { code: 500 }, 1)
    });
    storage_error(
        blob_get(&url, Some(&storage), Some(VERSION)).await,
        503,
        "ServerBusy",
    )
    .await;
    storage_error(
        blob_get(&url, Some(&storage), Some(VERSION)).await,
        500,
        "InternalError",
    )
    .await;
    assert_eq!(
        blob_get(&url, Some(&storage), Some(VERSION)).await.status(),
        200
    );
}
