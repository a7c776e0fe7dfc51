//! Reading one blob with the daemon's identity: AIB keeps a run's
//! customization.log in its staging resource group's storage account.
//!
//! Not ARM, so none of its retries or budgets: a person asked for this one
//! file and waits for the answer. The storage token goes only to the cloud's
//! blob service, whatever address a run's message gave.

use reqwest::{StatusCode, Url};

use super::{ArmClient, Capped, MAX_BODY, describe, printable, read_capped};
use crate::azure::{AzureError, STORAGE_SCOPE};

/// The Storage service version sent; OAuth needs 2017-11-09 or later.
const STORAGE_VERSION: &str = "2023-11-03";

impl ArmClient {
    /// The blob at `url`, read with a token for Azure Storage.
    pub async fn read_blob(&self, url: &Url) -> Result<Vec<u8>, AzureError> {
        let inner = &self.inner;
        let request = format!("GET {}", url.path());
        inner
            .cloud
            .check_blob_url(url)
            .map_err(|reason| AzureError::InvalidEndpoint {
                url: url.to_string(),
                reason,
            })?;
        let token = inner.tokens.token(STORAGE_SCOPE).await?;
        let mut bearer =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.secret()))
                .map_err(|_| AzureError::Auth("the token is not a valid header".into()))?;
        bearer.set_sensitive(true);
        let transport = |e: reqwest::Error| AzureError::Transport {
            request: request.clone(),
            detail: describe(e),
            outcome_unknown: false,
        };
        let response = inner
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, bearer)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-ms-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .into();
        let body = read_capped(response, MAX_BODY).await.map_err(|e| match e {
            Capped::Transport(e) => transport(e),
            Capped::TooLarge => AzureError::unexpected_body(
                format!("the blob {}", url.path()),
                format!("it is larger than {} MiB", MAX_BODY >> 20),
            ),
        })?;
        if status == StatusCode::OK {
            return Ok(body);
        }
        let (code, message) = storage_error(&String::from_utf8_lossy(&body));
        Err(AzureError::Arm {
            request: request.into(),
            status: status.as_u16(),
            code: printable(&code, super::MAX_CODE),
            message: printable(&message, super::MAX_MESSAGE),
            request_id,
        })
    }
}

/// Storage answers errors in XML: `<Error><Code>…</Code><Message>…</Message></Error>`.
fn storage_error(body: &str) -> (String, String) {
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_owned())
    };
    (
        element("Code").unwrap_or_else(|| "Unknown".into()),
        element("Message").unwrap_or_else(|| "(no message)".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::storage_error;

    #[test]
    fn storage_errors_are_read_from_their_xml() {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>\
            AuthorizationPermissionMismatch</Code><Message>This request is not authorized to \
            perform this operation using this permission.\nRequestId:1</Message></Error>";
        let (code, message) = storage_error(body);
        assert_eq!(code, "AuthorizationPermissionMismatch");
        assert!(
            message.starts_with("This request is not authorized"),
            "{message}"
        );
        assert_eq!(storage_error("").0, "Unknown");
    }
}
