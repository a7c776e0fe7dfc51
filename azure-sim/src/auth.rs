//! Token issuance (managed identity and Entra client credentials) and the
//! bearer-token check ARM applies to every call.
//!
//! Wire formats follow `azure_identity` 1.0: the App Service managed-identity
//! flow (`GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=…` with
//! `X-IDENTITY-HEADER`, answer with `expires_on` as Unix seconds in a string)
//! and the Entra v2 client-credentials flow (form POST, `expires_in` seconds).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::error::ArmError;
use super::state::{State, lock};
use super::wire::{self, query_value};

/// The api-version App Service's identity endpoint speaks.
const MSI_API_VERSION: &str = "2019-08-01";

struct Issued {
    audience: String,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

/// Opaque tokens handed out, with what they are good for.
#[derive(Default)]
pub(crate) struct Tokens {
    issued: HashMap<String, Issued>,
}

/// Treats `https://x`, `https://x/` and `https://x/.default` as one audience.
pub(crate) fn normalize_audience(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw.strip_suffix("/.default").unwrap_or(raw);
    raw.trim_end_matches('/').to_ascii_lowercase()
}

impl Tokens {
    pub(crate) fn all(&self) -> Vec<String> {
        self.issued.keys().cloned().collect()
    }

    /// Every token issued so far stops working now.
    pub(crate) fn revoke_all(&mut self) {
        for issued in self.issued.values_mut() {
            issued.revoked = true;
        }
    }
}

impl State {
    fn mint(&self, audience: &str) -> (String, DateTime<Utc>) {
        let token = random_token();
        let lifetime = chrono::Duration::seconds(
            i64::try_from(self.settings.token_lifetime_secs).unwrap_or(i64::MAX / 1000),
        );
        let expires_at = self.now() + lifetime;
        lock(&self.tokens).issued.insert(
            token.clone(),
            Issued {
                audience: normalize_audience(audience),
                expires_at,
                revoked: false,
            },
        );
        (token, expires_at)
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /msi/token`: the App Service managed-identity protocol.
pub(crate) fn msi_token(
    state: &State,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Response {
    let secret = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if secret != Some(state.identity_header.as_str()) {
        return msi_error(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    if query_value(query, "api-version") != Some(MSI_API_VERSION) {
        return msi_error(
            StatusCode::BAD_REQUEST,
            "The api-version query parameter must be 2019-08-01.",
        );
    }
    let Some(resource) = query_value(query, "resource").filter(|r| !r.is_empty()) else {
        return msi_error(
            StatusCode::BAD_REQUEST,
            "The resource query parameter is required.",
        );
    };
    let (token, expires_at) = state.mint(resource);
    let body = json!({
        "access_token": token,
        "expires_on": expires_at.timestamp().to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": query_value(query, "client_id").unwrap_or(&state.settings.client_id),
    });
    wire::json(StatusCode::OK, &body)
}

fn msi_error(status: StatusCode, message: &str) -> Response {
    wire::json(
        status,
        &json!({"statusCode": status.as_u16(), "message": message}),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`: Entra client credentials.
pub(crate) fn entra_token(state: &State, tenant: &str, form: &[(String, String)]) -> Response {
    if !tenant.eq_ignore_ascii_case(&state.settings.tenant_id) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    if query_value(form, "grant_type") != Some("client_credentials") {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    let client_id = query_value(form, "client_id").unwrap_or_default();
    if !client_id.eq_ignore_ascii_case(&state.settings.client_id) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    }
    if query_value(form, "client_secret") != Some(state.settings.client_secret.as_str()) {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        );
    }
    let scope = query_value(form, "scope").unwrap_or_default();
    if scope.split(' ').count() != 1 || !scope.ends_with("/.default") {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let (token, _) = state.mint(scope);
    let lifetime = state.settings.token_lifetime_secs;
    wire::json(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }),
    )
}

fn entra_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    wire::json(
        status,
        &json!({
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": "",
            "trace_id": uuid::Uuid::new_v4().to_string(),
            "correlation_id": uuid::Uuid::new_v4().to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// What a request's bearer token is good for, against one audience.
pub(crate) enum TokenCheck {
    Missing,
    /// An Authorization header that is not `Bearer <token>`.
    Malformed,
    /// A token this simulator never issued.
    Unknown,
    Expired {
        expires_at: DateTime<Utc>,
    },
    /// Issued, unexpired, but revoked by a fault.
    Revoked,
    WrongAudience {
        audience: String,
    },
    Valid,
}

/// Looks the request's bearer token up; ARM and Storage word their refusals differently.
pub(crate) fn inspect(state: &State, headers: &HeaderMap, audience: &str) -> TokenCheck {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return TokenCheck::Missing;
    };
    let token = raw.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    let Some(token) = token.map(str::trim) else {
        return TokenCheck::Malformed;
    };
    let tokens = lock(&state.tokens);
    let Some(issued) = tokens.issued.get(token) else {
        return TokenCheck::Unknown;
    };
    if issued.revoked {
        return TokenCheck::Revoked;
    }
    if issued.expires_at <= state.now() {
        return TokenCheck::Expired {
            expires_at: issued.expires_at,
        };
    }
    if issued.audience != normalize_audience(audience) {
        return TokenCheck::WrongAudience {
            audience: issued.audience.clone(),
        };
    }
    TokenCheck::Valid
}

/// ARM's bearer check: a known, unexpired token for the ARM audience.
pub(crate) fn check_arm(state: &State, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match inspect(state, headers, &state.settings.arm_audience) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Missing => Err(unauthorized(
            state,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        )),
        TokenCheck::Malformed => Err(unauthorized(
            state,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            "The authentication failed because of invalid 'Authorization' header format.",
        )),
        TokenCheck::Unknown => Err(unauthorized(
            state,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
            "The access token is invalid.",
        )),
        // ARM words a revoked token as any token it will not take.
        TokenCheck::Revoked => Err(unauthorized(
            state,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
            "The access token has been revoked.",
        )),
        TokenCheck::Expired { expires_at } => {
            let fmt = "%m/%d/%Y %H:%M:%S";
            Err(unauthorized(
                state,
                "ExpiredAuthenticationToken",
                &format!(
                    "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    expires_at.format(fmt),
                    state.now().format(fmt)
                ),
                "The access token has expired.",
            ))
        }
        TokenCheck::WrongAudience { audience } => {
            let arm = state.settings.arm_audience.trim_end_matches('/');
            Err(unauthorized(
                state,
                "InvalidAuthenticationTokenAudience",
                &format!(
                    "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences '{arm}/','{arm}'."
                ),
                "The access token has been obtained for wrong audience or resource.",
            ))
        }
    }
}

fn unauthorized(state: &State, code: &str, message: &str, description: &str) -> Box<Response> {
    let mut resp = ArmError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    let challenge = format!(
        "Bearer authorization_uri=\"{}/{}\", error=\"invalid_token\", error_description=\"{description}\"",
        state.base_url, state.settings.tenant_id
    );
    wire::set_header(&mut resp, "www-authenticate", &challenge);
    Box::new(resp)
}

#[cfg(test)]
mod tests {
    use super::normalize_audience;

    #[test]
    fn audience_forms_are_equivalent() {
        let a = normalize_audience("https://management.azure.com");
        assert_eq!(a, normalize_audience("https://management.azure.com/"));
        assert_eq!(
            a,
            normalize_audience("https://management.azure.com/.default")
        );
        assert_ne!(a, normalize_audience("https://vault.azure.net"));
    }
}
