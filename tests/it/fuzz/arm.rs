//! The parsers of Azure's answers, through the real client calls: a loopback stub answers
//! every request with the fuzzed status and body. Template status, run outputs, gallery
//! versions, marketplace lists, managed images, operation status and ARM error bodies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::{Duration as TimeDuration, OffsetDateTime};
use image_refresh::azure::arm::{BucketConfig, RateLimits, RetryPolicy};
use image_refresh::azure::gallery::{self, GalleryImageRef};
use image_refresh::azure::image_templates::{self, TemplateRef};
use image_refresh::azure::managed_images::{self, ManagedImageRef};
use image_refresh::azure::marketplace::{self, MarketplaceSku};
use image_refresh::azure::{
    ArmClient, ArmClientOptions, AzureError, CloudEndpoints, HttpTimeouts, LroPoller, PollKind,
    TokenCache, http_client,
};
use image_refresh::clock;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::config;

#[derive(Debug)]
struct StaticToken;

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "fuzz-token",
            OffsetDateTime::now_utc() + TimeDuration::hours(1),
        ))
    }
}

/// The answer the stub gives to every request.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

type Shared = Arc<Mutex<Answer>>;

async fn answer(State(shared): State<Shared>) -> Response {
    let answer = shared.lock().unwrap().clone();
    let mut response = answer.body.into_response();
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

/// A runtime with the stub serving on it and a client pointed at the stub.
struct StubArm {
    runtime: Runtime,
    shared: Shared,
    client: ArmClient,
}

impl StubArm {
    fn start() -> StubArm {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared: Shared = Arc::new(Mutex::new(Answer {
            status: 200,
            body: Vec::new(),
        }));
        let base = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let app = axum::Router::new()
                .fallback(answer)
                .with_state(shared.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            base
        });
        let endpoints =
            CloudEndpoints::custom(&base, &base, Some("https://management.azure.com")).unwrap();
        let unlimited = BucketConfig {
            burst: 1_000_000,
            per_second: 1_000_000.0,
        };
        let options = ArmClientOptions {
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
                max_retry_after: Duration::from_millis(1),
            },
            rate_limits: RateLimits {
                reads: unlimited,
                writes: unlimited,
            },
            lro_poll_interval: Duration::from_millis(1),
            observer: None,
        };
        let tokens = Arc::new(TokenCache::new(Arc::new(StaticToken), clock::system()));
        let http = http_client(HttpTimeouts::default()).unwrap();
        let client = ArmClient::new(http, &endpoints, tokens, clock::system(), options);
        StubArm {
            runtime,
            shared,
            client,
        }
    }

    fn set(&self, status: u16, body: &[u8]) {
        *self.shared.lock().unwrap() = Answer {
            status,
            body: body.to_vec(),
        };
    }
}

const SUB: &str = "00000000-0000-0000-0000-000000000000";

fn template() -> TemplateRef {
    TemplateRef {
        subscription_id: SUB.into(),
        resource_group: "rg".into(),
        name: "fuzz-template".into(),
    }
}

fn gallery_image() -> GalleryImageRef {
    GalleryImageRef {
        subscription_id: SUB.into(),
        resource_group: "rg".into(),
        gallery: "gal".into(),
        image: "fuzz-gallery-image".into(),
    }
}

fn sku() -> MarketplaceSku {
    MarketplaceSku {
        subscription_id: SUB.into(),
        location: "westeurope".into(),
        publisher: "Canonical".into(),
        offer: "ubuntu".into(),
        sku: "fuzz-sku".into(),
    }
}

fn managed_image() -> ManagedImageRef {
    ManagedImageRef {
        subscription_id: SUB.into(),
        resource_group: "rg".into(),
        name: "fuzz-managed-image".into(),
    }
}

const OPERATION: &str = "fuzz-operation";
const OPERATION_URL: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.VirtualMachineImages/locations/westeurope/operations/fuzz-op";

/// An error is acceptable when it names the thing that was read (`names`, any of them).
fn named(
    what: &str,
    result: Result<impl std::fmt::Debug, AzureError>,
    names: &[&str],
) -> Result<(), TestCaseError> {
    let Err(error) = result else {
        return Ok(());
    };
    let text = error.to_string();
    prop_assert!(
        !matches!(
            error,
            AzureError::Transport { .. } | AzureError::Timeout { .. }
        ),
        "{what}: the stub always answers, yet: {text}"
    );
    prop_assert!(
        names.iter().any(|name| text.contains(name)),
        "{what}: the error does not say what was read: {text}"
    );
    if let AzureError::Arm { code, .. } = &error {
        prop_assert!(
            !code.is_empty(),
            "{what}: an ARM error without a code: {text}"
        );
    }
    Ok(())
}

/// Every typed read the daemon makes, against the current answer.
fn read_everything(h: &StubArm) -> Result<(), TestCaseError> {
    h.runtime.block_on(async {
        let client = &h.client;
        named(
            "template status",
            image_templates::get(client, &template()).await,
            &["fuzz-template"],
        )?;
        named(
            "run outputs",
            image_templates::run_outputs(client, &template()).await,
            &["fuzz-template"],
        )?;
        named(
            "gallery versions",
            gallery::list_versions(client, &gallery_image()).await,
            &["fuzz-gallery-image"],
        )?;
        named(
            "marketplace versions",
            marketplace::resolve_latest(client, &sku()).await,
            &["fuzz-sku"],
        )?;
        named(
            "managed image",
            managed_images::get(client, &managed_image()).await,
            &["fuzz-managed-image"],
        )?;
        for kind in [PollKind::AsyncOperation, PollKind::Location] {
            let mut poller = LroPoller::resume(client, OPERATION, OPERATION_URL, kind).unwrap();
            named(
                "operation status",
                poller.poll().await,
                &[OPERATION, "fuzz-op"],
            )?;
        }
        Ok(())
    })
}

/// Names ARM and AIB use, so that generated objects sometimes have the right shape.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "properties", "lastRunStatus", "runState", "runSubState", "message", "startTime",
            "endTime", "provisioningState", "provisioningError", "provisioningErrorCode",
            "source", "exactVersion", "value", "name", "id", "location", "status", "error",
            "code", "details", "publishingProfile", "excludeFromLatest", "publishedDate",
            "targetRegions", "artifactId", "artifactUri",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z]{0,8}",
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "Succeeded", "PartiallySucceeded", "Failed", "Canceled", "Running", "InProgress",
            "Creating", "Updating", "Deleting", "Customizing", "Distributing", "Queued",
            "2024-11-05T10:00:00Z", "2024-13-45T99:00:00Z", "not a date", "22.04.202411050",
            "1.2.3", "1.2.3.4.5", "99999999999999999999.1", "-1.0", "", "westeurope",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/images/i",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Valid answers of each kind: mutated, they reach deep into the typed parsers.
fn skeletons() -> Vec<Value> {
    vec![
        json!({"properties": {
            "provisioningState": "Succeeded",
            "provisioningError": {"provisioningErrorCode": "x", "message": "m"},
            "lastRunStatus": {"runState": "Running", "runSubState": "Customizing",
                "startTime": "2024-11-05T10:00:00Z", "message": ""},
            "source": {"exactVersion": "22.04.202411050"}}}),
        json!({"value": [{"name": "out", "properties": {"artifactId": "/x",
            "provisioningState": "Succeeded"}}]}),
        json!({"value": [{"name": "1.0.0", "id": "/x", "properties": {
            "provisioningState": "Succeeded", "publishingProfile": {
                "excludeFromLatest": false, "publishedDate": "2024-11-05T10:00:00Z",
                "targetRegions": [{"name": "westeurope", "excludeFromLatest": true}]}}}]}),
        json!([{"name": "22.04.202411050", "location": "westeurope", "id": "/x"}]),
        json!({"status": "Failed", "error": {"code": "c", "message": "m",
            "details": [{"code": "d", "message": "n"}]}}),
    ]
}

/// Replaces or removes parts of `value`, driven by `choices`.
fn mutate(value: &mut Value, choices: &mut impl Iterator<Item = (u8, Value)>) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                match choices.next() {
                    Some((c, _)) if c % 6 == 0 => {
                        map.remove(&key);
                    }
                    Some((c, replacement)) if c % 6 == 1 => {
                        map.insert(key, replacement);
                    }
                    _ => mutate(map.get_mut(&key).unwrap(), choices),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                mutate(item, choices);
            }
        }
        leaf => {
            if let Some((c, replacement)) = choices.next()
                && c % 2 == 0
            {
                *leaf = replacement;
            }
        }
    }
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        prop::sample::select(skeletons()),
        prop::collection::vec((any::<u8>(), json()), 0..16),
    )
        .prop_map(|(mut skeleton, choices)| {
            mutate(&mut skeleton, &mut choices.into_iter());
            serde_json::to_vec(&skeleton).unwrap()
        });
    let truncated = (
        prop::sample::select(skeletons()),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(skeleton, at)| {
            let bytes = serde_json::to_vec(&skeleton).unwrap();
            bytes[..at.index(bytes.len() + 1)].to_vec()
        });
    prop_oneof![
        3 => mutated,
        2 => json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => truncated,
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        1 => Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
    ]
}

#[test]
fn successful_answers_of_any_shape_never_panic() {
    let harness = StubArm::start();
    let mut runner = TestRunner::new(config());
    let statuses = prop::sample::select(vec![200u16, 201, 202, 204]);
    runner
        .run(&(statuses, body()), |(status, body)| {
            harness.set(status, &body);
            read_everything(&harness)
        })
        .unwrap();
}

#[test]
fn error_answers_of_any_shape_become_arm_errors() {
    let harness = StubArm::start();
    let mut runner = TestRunner::new(config());
    let statuses = prop::sample::select(vec![400u16, 401, 403, 404, 409, 429, 500, 502, 503]);
    runner
        .run(&(statuses, body()), |(status, body)| {
            harness.set(status, &body);
            read_everything(&harness)?;
            let result = harness
                .runtime
                .block_on(image_templates::get(&harness.client, &template()));
            match result {
                Ok(None) => prop_assert_eq!(status, 404),
                Ok(Some(found)) => prop_assert!(false, "{status} read as a template: {found:?}"),
                Err(AzureError::Arm {
                    status: seen,
                    code,
                    message,
                    ..
                }) => {
                    prop_assert_eq!(seen, status);
                    prop_assert!(!code.is_empty());
                    // Something to go on: a code from the body, or its text.
                    prop_assert!(
                        code != "Unknown" || !message.trim().is_empty(),
                        "{} with neither code nor message",
                        status
                    );
                }
                Err(other) => prop_assert!(false, "{status} gave {other}"),
            }
            Ok(())
        })
        .unwrap();
}
