//! One request to ARM: its attempts, a new token after a 401, retries with their
//! waits, and the response body read up to a cap.

use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, Url};
use serde_json::Value;
use uuid::Uuid;

use super::{Answer, ArmClient, ArmResponse, error_body, retry};
use crate::azure::AzureError;

impl ArmClient {
    pub(super) async fn send(
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
        let ticket = inner.throttle.acquire(method).await;
        let token = inner.tokens.token(&inner.scope).await.map_err(|e| {
            inner.throttle.unanswered(ticket, method);
            Failure::permanent(e)
        })?;
        let request_id = Uuid::new_v4().to_string();
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
                inner.throttle.unanswered(ticket, method);
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
            inner.throttle.unanswered(ticket, method);
            observe(Answer::Transport);
            let never_sent = e.is_connect();
            transport(e, never_sent)
        })?;
        let status = response.status();
        observe(Answer::Status(status.as_u16()));
        let headers = response.headers().clone();
        inner.throttle.observe(ticket, method, status, &headers);
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
pub(super) fn describe(e: reqwest::Error) -> String {
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
pub(super) const MAX_BODY: usize = 32 << 20;

pub(super) enum Capped {
    Transport(reqwest::Error),
    TooLarge,
}

pub(super) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, Capped> {
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
