//! Errors of the Azure client.
//!
//! Every message reads after "failed to …" and never contains a secret: no tokens, no client
//! secrets, no Authorization header.

use std::time::Duration;

/// What went wrong talking to Azure.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// ARM answered with a non-success status; `code` and `message` come from its error body.
    /// `request` is the method and path, e.g. `GET /subscriptions/…`.
    #[error("{request}: Azure returned {status} {code}: {message} (request id {request_id})")]
    Arm {
        request: Box<str>,
        status: u16,
        code: String,
        message: String,
        request_id: Box<str>,
    },

    /// The request never produced an HTTP response (DNS, connect, TLS, reset, timeout).
    ///
    /// `outcome_unknown` is set when the request may have reached Azure (for example a
    /// connection dropped after a POST was sent): the caller must look at Azure's state before
    /// repeating a non-idempotent action.
    #[error("{request}: {detail}")]
    Transport {
        request: String,
        detail: String,
        outcome_unknown: bool,
    },

    /// A credential could not produce a token, or its configuration is unusable.
    #[error("authenticate with Azure: {0}")]
    Auth(String),

    /// A deadline passed before Azure finished.
    #[error("{what}: no result after {after:?}")]
    Timeout { what: String, after: Duration },

    /// A configured endpoint is malformed or insecure.
    #[error("use endpoint {url}: {reason}")]
    InvalidEndpoint { url: String, reason: String },

    /// A long-running operation ended in Failed or Canceled, or its status was unreadable.
    #[error("complete {operation}: status {status}, {code}: {message}")]
    Lro {
        operation: Box<str>,
        status: Box<str>,
        code: String,
        message: String,
    },

    /// Azure answered 2xx with a body that does not match the documented contract.
    #[error("read {what}: {detail}")]
    UnexpectedBody { what: String, detail: String },
}

// Kept small: every `Result<_, AzureError>` in the crate carries this size.
const _: () = assert!(std::mem::size_of::<AzureError>() <= 96);

impl AzureError {
    /// True for errors that say "this thing does not exist" (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, AzureError::Arm { status: 404, .. })
    }

    pub(crate) fn unexpected_body(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        AzureError::UnexpectedBody {
            what: what.into(),
            detail: err.to_string(),
        }
    }
}
