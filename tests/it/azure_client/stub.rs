//! A scripted ARM stub for answers the simulator does not give on demand (a failed
//! operation, a page chain, an operation that never ends, a client-assertion token request).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::{Duration as TimeDuration, OffsetDateTime};
use image_refresh::azure::image_templates::TemplateRef;
use image_refresh::azure::{ArmClient, CloudEndpoints, HttpTimeouts, TokenCache, http_client};
use image_refresh::clock;
use serde_json::Value;

use super::fast_retries;

/// A credential that always returns the same token.
#[derive(Debug)]
pub struct StaticToken;

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "stub-token",
            OffsetDateTime::now_utc() + TimeDuration::hours(1),
        ))
    }
}

pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub request_id: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    script: HashMap<(String, String), VecDeque<Canned>>,
    seen: Vec<Seen>,
}

#[derive(Clone)]
pub struct Stub {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl Stub {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stub = Stub {
            inner: Arc::default(),
            base: format!("http://{}", listener.local_addr().unwrap()),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stub
    }

    /// Queues answers for `method path`; the last one repeats.
    pub fn script(&self, method: &str, path: &str, answers: Vec<Canned>) {
        self.inner
            .lock()
            .unwrap()
            .script
            .insert((method.to_owned(), path.to_owned()), answers.into());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }
}

async fn handle(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut inner = stub.inner.lock().unwrap();
    inner.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        request_id: text("x-ms-client-request-id"),
        authorization: text("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let key = (method.to_string(), uri.path().to_owned());
    let Some(queue) = inner.script.get_mut(&key) else {
        return (StatusCode::NOT_FOUND, "unscripted").into_response();
    };
    let canned = if queue.len() > 1 {
        queue.pop_front().unwrap()
    } else {
        let last = queue.front().unwrap();
        Canned {
            status: last.status,
            headers: last.headers.clone(),
            body: last.body.clone(),
        }
    };
    let mut response = match canned.body {
        Some(body) => axum::Json(body).into_response(),
        None => ().into_response(),
    };
    *response.status_mut() = StatusCode::from_u16(canned.status).unwrap();
    for (name, value) in canned.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

pub const TEMPLATE_PATH: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/golden";

pub fn stub_client(stub: &Stub) -> ArmClient {
    client_at(&stub.base)
}

/// An ARM client with a fixed token for the server at `base`.
pub fn client_at(base: &str) -> ArmClient {
    let endpoints =
        CloudEndpoints::custom(base, base, Some("https://management.azure.com")).unwrap();
    let tokens = Arc::new(TokenCache::new(Arc::new(StaticToken), clock::system()));
    let http = http_client(HttpTimeouts::default()).unwrap();
    ArmClient::new(http, &endpoints, tokens, clock::system(), fast_retries())
}

pub fn golden() -> TemplateRef {
    TemplateRef {
        subscription_id: "sub".into(),
        resource_group: "rg".into(),
        name: "golden".into(),
    }
}

pub fn answer(
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
) -> Canned {
    Canned {
        status,
        headers,
        body,
    }
}
