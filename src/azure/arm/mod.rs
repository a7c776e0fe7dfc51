//! Azure Resource Manager over reqwest: authentication, retries, rate limiting, error bodies.

mod blob;
mod error_body;
mod outage;
mod path;
pub mod retry;
mod send;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

pub use error_body::{MAX_CODE, MAX_MESSAGE, printable};
pub use path::ResourcePath;
pub use retry::RetryPolicy;
pub use throttle::{BucketConfig, RateLimits};

use super::{AzureError, CloudEndpoints, TokenCache};
use crate::clock::SharedClock;
use outage::Outage;
use send::{Capped, MAX_BODY, describe, read_capped};
use throttle::Throttle;

/// Tuning of an [`ArmClient`].
#[derive(Debug, Clone)]
pub struct ArmClientOptions {
    pub retry: RetryPolicy,
    pub rate_limits: RateLimits,
    /// Wait between long-running-operation polls when ARM sends no `Retry-After`.
    pub lro_poll_interval: Duration,
    /// Told of every attempt's outcome (the daemon's request counters).
    pub observer: Option<Arc<dyn RequestObserver>>,
}

/// How one ARM request attempt ended, as [`RequestObserver`]s hear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// ARM answered with this HTTP status.
    Status(u16),
    /// No answer: the connection failed or timed out.
    Transport,
}

/// Hears about every ARM request attempt, retries included. Called on the
/// request's task, so it must not block.
pub trait RequestObserver: Send + Sync + std::fmt::Debug {
    /// `path` is the URL's path: resource names, never the query or a token.
    fn observe(&self, method: &Method, path: &str, answer: Answer);
}

impl Default for ArmClientOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            lro_poll_interval: Duration::from_secs(10),
            observer: None,
        }
    }
}

/// A successful (2xx) ARM response.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: StatusCode,
    /// The `x-ms-client-request-id` we sent; quote it to Azure support.
    pub request_id: String,
    pub headers: HeaderMap,
    /// The JSON body, `Value::Null` when the body was empty.
    pub body: Value,
}

/// The ARM client. Cheap to clone; clones share the token cache and rate limits.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("base", &self.inner.base.as_str())
            .field("scope", &self.inner.scope)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    /// The cloud, for the one request that is not ARM's: a blob (see `blob`).
    cloud: CloudEndpoints,
    base: Url,
    scope: String,
    tokens: Arc<TokenCache>,
    clock: SharedClock,
    options: ArmClientOptions,
    throttle: Throttle,
    outage: Outage,
}

impl ArmClient {
    /// `http` should be the process's one client (see [`super::http_client`]).
    pub fn new(
        http: reqwest::Client,
        endpoints: &CloudEndpoints,
        tokens: Arc<TokenCache>,
        clock: SharedClock,
        options: ArmClientOptions,
    ) -> Self {
        let throttle = Throttle::new(options.rate_limits);
        Self {
            inner: Arc::new(Inner {
                http,
                cloud: endpoints.clone(),
                base: endpoints.resource_manager.clone(),
                scope: endpoints.arm_scope(),
                tokens,
                clock,
                options,
                throttle,
                outage: Outage::default(),
            }),
        }
    }

    /// The process's one HTTP client, for the requests that are not ARM's
    /// (notifications); reqwest pools connections per client.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub fn options(&self) -> &ArmClientOptions {
        &self.inner.options
    }

    pub async fn get(
        &self,
        path: &ResourcePath,
        api_version: &str,
    ) -> Result<ArmResponse, AzureError> {
        let url = path.to_url(&self.inner.base, api_version)?;
        self.send(Method::GET, url, None).await
    }

    pub async fn put(
        &self,
        path: &ResourcePath,
        api_version: &str,
        body: &Value,
    ) -> Result<ArmResponse, AzureError> {
        self.send_body(Method::PUT, path, api_version, body).await
    }

    pub async fn patch(
        &self,
        path: &ResourcePath,
        api_version: &str,
        body: &Value,
    ) -> Result<ArmResponse, AzureError> {
        self.send_body(Method::PATCH, path, api_version, body).await
    }

    async fn send_body(
        &self,
        method: Method,
        path: &ResourcePath,
        api_version: &str,
        body: &Value,
    ) -> Result<ArmResponse, AzureError> {
        let url = path.to_url(&self.inner.base, api_version)?;
        self.send(method, url, Some(body)).await
    }

    pub async fn post(
        &self,
        path: &ResourcePath,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse, AzureError> {
        let url = path.to_url(&self.inner.base, api_version)?;
        self.send(Method::POST, url, body).await
    }

    pub async fn delete(
        &self,
        path: &ResourcePath,
        api_version: &str,
    ) -> Result<ArmResponse, AzureError> {
        let url = path.to_url(&self.inner.base, api_version)?;
        self.send(Method::DELETE, url, None).await
    }

    /// The server's requested wait in `headers`, if any (capped like retries).
    pub(crate) fn retry_after(&self, headers: &HeaderMap) -> Option<Duration> {
        retry::retry_after(headers, self.inner.clock.now())
            .map(|wait| wait.min(self.inner.options.retry.max_retry_after))
    }

    /// GET a URL that ARM handed out (`nextLink`, `Azure-AsyncOperation`, `Location`).
    pub async fn get_url(&self, url: Url) -> Result<ArmResponse, AzureError> {
        self.send(Method::GET, url, None).await
    }

    /// GETs a list and follows `nextLink` until the end; returns every `value` item.
    pub async fn list_all(
        &self,
        path: &ResourcePath,
        api_version: &str,
    ) -> Result<Vec<Value>, AzureError> {
        // Protects against a server that keeps handing out the same page.
        const MAX_PAGES: usize = 1000;
        let mut url = path.to_url(&self.inner.base, api_version)?;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.get_url(url.clone()).await?;
            match page.body.get("value") {
                Some(Value::Array(values)) => items.extend(values.iter().cloned()),
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(AzureError::unexpected_body(
                        format!("list {path}"),
                        "`value` is not an array",
                    ));
                }
            }
            match page.body.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => url = self.resolve_server_url(next)?,
                _ => return Ok(items),
            }
        }
        Err(AzureError::unexpected_body(
            format!("list {path}"),
            format!("more than {MAX_PAGES} pages"),
        ))
    }

    /// Turns a URL from a response into one we may send our token to.
    ///
    /// Relative URLs are resolved against the ARM endpoint. An absolute URL on another origin
    /// keeps its path and query but is sent to our ARM endpoint: a bearer token for ARM must
    /// never go anywhere else (spec examples even carry placeholder hosts).
    pub fn resolve_server_url(&self, raw: &str) -> Result<Url, AzureError> {
        let base = &self.inner.base;
        let invalid = |reason: String| AzureError::InvalidEndpoint {
            url: raw.to_owned(),
            reason,
        };
        // `join` keeps an absolute URL as it is and resolves a relative one.
        let url = base.join(raw).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("unsupported scheme {:?}", url.scheme())));
        }
        if url.origin() == base.origin() {
            return Ok(url);
        }
        tracing::debug!(
            given = %url.origin().ascii_serialization(),
            "rebasing a server-provided URL onto the ARM endpoint"
        );
        let mut rebased = base.clone();
        rebased.set_path(url.path());
        rebased.set_query(url.query());
        Ok(rebased)
    }
}
