//! Long-running operations: follow `Azure-AsyncOperation`, else `Location`, until done.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::AzureError;
use super::arm::{ArmClient, ArmResponse};
use super::arm::{MAX_CODE, MAX_MESSAGE, printable};

/// The first wait of an operation that sent no `Retry-After`.
const FIRST_POLL_WAIT: Duration = Duration::from_secs(1);

/// Which header the poll URL came from; they answer differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollKind {
    /// Returns `{"status": "InProgress" | "Succeeded" | "Failed" | "Canceled", "error": …}`.
    AsyncOperation,
    /// Returns 202 while running, then the final result with 200/201/204.
    Location,
}

/// Result of one poll.
#[derive(Debug, Clone, PartialEq)]
pub enum LroState {
    InProgress,
    /// Done; the body of the final poll response.
    Succeeded(Value),
}

/// Follows one long-running operation.
#[derive(Debug, Clone)]
pub struct LroPoller {
    client: ArmClient,
    operation: String,
    url: Url,
    kind: PollKind,
    next_wait: Option<Duration>,
}

#[derive(Debug, Deserialize)]
struct OperationStatus {
    status: Option<String>,
    error: Option<OperationError>,
}

#[derive(Debug, Deserialize)]
struct OperationError {
    code: Option<String>,
    message: Option<String>,
}

impl LroPoller {
    /// The poller for an operation ARM accepted, or `None` when the response carries no poll
    /// URL (the operation finished synchronously).
    pub fn from_response(
        client: &ArmClient,
        operation: impl Into<String>,
        response: &ArmResponse,
    ) -> Result<Option<Self>, AzureError> {
        let header = |name: &str| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        let (raw, kind) = match (header("azure-asyncoperation"), header("location")) {
            (Some(url), _) => (url, PollKind::AsyncOperation),
            (None, Some(url)) => (url, PollKind::Location),
            (None, None) => return Ok(None),
        };
        Ok(Some(Self {
            client: client.clone(),
            operation: operation.into(),
            url: client.resolve_server_url(raw)?,
            kind,
            next_wait: client.retry_after(&response.headers),
        }))
    }

    /// Picks up an operation whose poll URL was stored earlier (e.g. before a restart).
    pub fn resume(
        client: &ArmClient,
        operation: impl Into<String>,
        url: &str,
        kind: PollKind,
    ) -> Result<Self, AzureError> {
        Ok(Self {
            client: client.clone(),
            operation: operation.into(),
            url: client.resolve_server_url(url)?,
            kind,
            next_wait: None,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn kind(&self) -> PollKind {
        self.kind
    }

    /// Asks once. Failed and Canceled operations come back as [`AzureError::Lro`].
    pub async fn poll(&mut self) -> Result<LroState, AzureError> {
        let response = self.client.get_url(self.url.clone()).await?;
        self.next_wait = self.client.retry_after(&response.headers);
        match self.kind {
            PollKind::Location if response.status == StatusCode::ACCEPTED => {
                Ok(LroState::InProgress)
            }
            PollKind::Location => Ok(LroState::Succeeded(response.body)),
            PollKind::AsyncOperation => self.interpret_status(response.body),
        }
    }

    fn interpret_status(&self, body: Value) -> Result<LroState, AzureError> {
        let status: OperationStatus = serde_json::from_value(body.clone())
            .map_err(|e| AzureError::unexpected_body(format!("{} status", self.operation), e))?;
        let Some(state) = status.status else {
            return Err(AzureError::unexpected_body(
                format!("{} status", self.operation),
                "no `status` field",
            ));
        };
        if state.eq_ignore_ascii_case("succeeded") {
            return Ok(LroState::Succeeded(body));
        }
        if state.eq_ignore_ascii_case("failed") || state.eq_ignore_ascii_case("canceled") {
            let (code, message) = status
                .error
                .map(|e| (e.code, e.message))
                .unwrap_or_default();
            return Err(AzureError::Lro {
                operation: self.operation.as_str().into(),
                status: state.into(),
                code: printable(&code.unwrap_or_else(|| "Unknown".to_owned()), MAX_CODE),
                message: printable(
                    &message.unwrap_or_else(|| "no error details".to_owned()),
                    MAX_MESSAGE,
                ),
            });
        }
        // InProgress, Accepted, Running, provider-specific states: keep waiting.
        Ok(LroState::InProgress)
    }

    /// Polls until the operation ends or `deadline` passes, sleeping `Retry-After` between
    /// polls. Without one, the wait starts at a second and doubles up to the client's
    /// interval: most operations end within seconds, and the slow ones are not polled hard.
    pub async fn wait(mut self, deadline: Instant) -> Result<Value, AzureError> {
        let started = Instant::now();
        let ceiling = self.client.options().lro_poll_interval;
        let mut backoff = FIRST_POLL_WAIT.min(ceiling);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(AzureError::Timeout {
                    what: self.operation.clone(),
                    after: now - started,
                });
            }
            let wait = self.next_wait.unwrap_or(backoff);
            backoff = (backoff * 2).min(ceiling);
            tokio::time::sleep(wait.min(deadline - now)).await;
            if let LroState::Succeeded(body) = self.poll().await? {
                return Ok(body);
            }
        }
    }
}
