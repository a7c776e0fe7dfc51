//! Azure Resource Manager over reqwest: authentication, retries, rate limiting, error bodies.

mod blob;
mod error_body;
mod outage;
mod path;
pub mod retry;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use uuid::Uuid;

pub use error_body::{MAX_CODE, MAX_MESSAGE, printable};
pub use path::ResourcePath;
pub use retry::RetryPolicy;
pub use throttle::{BucketConfig, RateLimits};

use super::{AzureError, CloudEndpoints, TokenCache};
use crate::clock::SharedClock;
use outage::Outage;
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

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<ArmResponse, AzureError> {
        let policy = &self.inner.options.retry;
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let last_attempt = attempt >= policy.max_attempts;
            match self.attempt(&method, &url, body, attempt).await {
                Ok(response) => {
                    if self.inner.outage.answered() {
                        tracing::info!(method = %method, path = url.path(), "Azure answers again");
                    }
                    return Ok(response);
                }
                // ARM checks the token before anything else, so even a POST is safe to repeat.
                Err(Failure { error, .. })
                    if is_unauthorized(&error) && !reauthenticated && !last_attempt =>
                {
                    reauthenticated = true;
                    tracing::info!(method = %method, path = url.path(), error = %error,
                        "ARM rejected the access token; fetching a new one");
                    self.inner.tokens.invalidate(&self.inner.scope).await;
                }
                Err(Failure { error, retry }) => {
                    let Some(wait) = retry.filter(|_| !last_attempt) else {
                        return Err(error);
                    };
                    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    if self.inner.outage.failed() {
                        tracing::warn!(method = %method, path = url.path(), attempt, wait_ms, error = %error,
                            "Azure is failing requests; retrying quietly until it answers again");
                    } else {
                        tracing::debug!(method = %method, path = url.path(), attempt, wait_ms, error = %error,
                            "retrying ARM request");
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One try. On failure says whether (and after how long) to try again.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        attempt: u32,
    ) -> Result<ArmResponse, Failure> {
        let inner = &self.inner;
        inner.throttle.acquire(method).await;
        let token = inner
            .tokens
            .token(&inner.scope)
            .await
            .map_err(Failure::permanent)?;
        let request_id = Uuid::new_v4().to_string();
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
                Failure::permanent(AzureError::Auth("the token is not a valid header".into()))
            })?;
        bearer.set_sensitive(true);
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::AUTHORIZATION, bearer)
            .header("x-ms-client-request-id", &request_id)
            .header("x-ms-return-client-request-id", "true");
        if let Some(body) = body {
            request = request.json(body);
        } else if *method == Method::POST {
            // Azure front ends answer 411 Length Required to a POST without Content-Length.
            request = request.header(reqwest::header::CONTENT_LENGTH, "0");
        }

        let transport = |e: reqwest::Error, never_sent: bool| {
            let retry = retry::transport_error_is_retryable(method, never_sent)
                .then(|| inner.options.retry.backoff(attempt));
            let error = AzureError::Transport {
                request: format!("{method} {}", url.path()),
                detail: describe(e),
                outcome_unknown: !never_sent,
            };
            tracing::debug!(method = %method, path = url.path(), request_id, attempt, error = %error, "ARM request failed");
            Failure { error, retry }
        };

        let observe = |answer| {
            if let Some(observer) = &inner.options.observer {
                observer.observe(method, url.path(), answer);
            }
        };
        let response = request.send().await.map_err(|e| {
            observe(Answer::Transport);
            let never_sent = e.is_connect();
            transport(e, never_sent)
        })?;
        let status = response.status();
        observe(Answer::Status(status.as_u16()));
        let headers = response.headers().clone();
        inner.throttle.observe(method, &headers);
        let bytes = read_capped(response, MAX_BODY)
            .await
            .map_err(|read| match read {
                Capped::Transport(e) => transport(e, false),
                Capped::TooLarge => Failure::permanent(AzureError::unexpected_body(
                    format!("{method} {} response", url.path()),
                    format!("the body is larger than {} MiB", MAX_BODY >> 20),
                )),
            })?;
        tracing::debug!(method = %method, path = url.path(), status = status.as_u16(), request_id, attempt, "ARM request");

        if status.is_success() {
            let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).map_err(|e| {
                    Failure::permanent(AzureError::unexpected_body(
                        format!("{method} {} response", url.path()),
                        e,
                    ))
                })?
            };
            return Ok(ArmResponse {
                status,
                request_id,
                headers,
                body,
            });
        }

        let (code, message) = error_body::parse(status.as_u16(), &bytes);
        let error = AzureError::Arm {
            request: format!("{method} {}", url.path()).into(),
            status: status.as_u16(),
            code,
            message,
            request_id: request_id.into(),
        };
        let retry = retry::status_is_retryable(method, status).then(|| {
            inner
                .options
                .retry
                .delay(attempt, &headers, inner.clock.now())
        });
        Err(Failure { error, retry })
    }
}

fn is_unauthorized(error: &AzureError) -> bool {
    matches!(error, AzureError::Arm { status: 401, .. })
}

struct Failure {
    error: AzureError,
    /// `Some(wait)` when another attempt may succeed.
    retry: Option<Duration>,
}

impl Failure {
    fn permanent(error: AzureError) -> Self {
        Self { error, retry: None }
    }
}

/// reqwest's top-level message is generic ("error sending request"); the cause says what.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The most of a response body the client reads: ARM pages its lists, so a
/// real answer is far smaller, while an endpoint that streams without end
/// would otherwise be read into memory whole.
const MAX_BODY: usize = 32 << 20;

enum Capped {
    Transport(reqwest::Error),
    TooLarge,
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, Capped> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
