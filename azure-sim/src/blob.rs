//! The staging storage accounts and their blobs (AIB's build logs), served
//! path-style on loopback as Azurite does: `GET /blob/{account}/{container}/{blob}`.
//!
//! This is Azure Storage, not ARM: OAuth bearer tokens for
//! `https://storage.azure.com`, a mandatory `x-ms-version`, and XML errors
//! (`<Error><Code>…</Code><Message>…</Message></Error>`) with the code also in
//! `x-ms-error-code`. No ARM throttle bucket applies.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::auth::{self, TokenCheck};
use super::state::State;
use super::wire;

/// The audience Azure Storage accepts tokens for, in every cloud.
pub(crate) const STORAGE_AUDIENCE: &str = "https://storage.azure.com";
/// The oldest service version that accepts OAuth (Storage's versioning docs).
const OLDEST_OAUTH_VERSION: &str = "2017-11-09";
/// The container AIB writes its packer logs to.
pub(crate) const LOG_CONTAINER: &str = "packerlogs";

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub name: String,
    pub id: String,
    pub location: String,
    /// Key of the resource group it lives in.
    pub group_key: String,
    /// Key of the template whose builds use it.
    pub owner: String,
}

#[derive(Debug, Clone)]
struct Blob {
    text: String,
    etag: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(crate) struct Storage {
    /// By (lower-case) account name.
    pub accounts: BTreeMap<String, Account>,
    /// Accounts that existed once: their blobs are gone, not unheard of.
    deleted: BTreeSet<String>,
    /// By `{account}/{container}/{blob}`.
    blobs: BTreeMap<String, Blob>,
}

fn blob_key(account: &str, container: &str, blob: &str) -> String {
    // Account and container names are lower case by rule; blob names are case-sensitive.
    format!(
        "{}/{}/{blob}",
        account.to_ascii_lowercase(),
        container.to_ascii_lowercase()
    )
}

fn etag() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random::<u64>() & 0x000F_FFFF_FFFF_FFFF;
    format!("\"0x8D{n:013X}\"")
}

impl Storage {
    pub fn add_account(&mut self, account: Account) {
        self.accounts
            .insert(account.name.to_ascii_lowercase(), account);
    }

    /// Removes an account and every blob in it.
    pub fn remove_account(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        self.accounts.remove(&name);
        let prefix = format!("{name}/");
        self.blobs.retain(|k, _| !k.starts_with(&prefix));
        self.deleted.insert(name);
    }

    /// Appends to a block blob, creating it when new (AIB writes its log as the build goes).
    pub fn append(
        &mut self,
        account: &str,
        container: &str,
        blob: &str,
        text: &str,
        now: DateTime<Utc>,
    ) {
        let entry = self
            .blobs
            .entry(blob_key(account, container, blob))
            .or_insert_with(|| Blob {
                text: String::new(),
                etag: String::new(),
                created: now,
                modified: now,
            });
        entry.text.push_str(text);
        entry.etag = etag();
        entry.modified = now;
    }
}

/// `{base_url}/blob/{account}/{container}/{blob}`.
pub(crate) fn url(state: &State, account: &str, container: &str, blob: &str) -> String {
    format!("{}/blob/{account}/{container}/{blob}", state.base_url)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Storage's error answer. Its message carries the request id and time, as Storage's do.
fn error(
    state: &State,
    status: StatusCode,
    code: &str,
    message: &str,
    detail: Option<&str>,
    version: Option<&str>,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let time = state
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let detail = detail.map_or(String::new(), |d| {
        format!(
            "<AuthenticationErrorDetail>{}</AuthenticationErrorDetail>",
            xml_escape(d)
        )
    });
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}\nRequestId:{request_id}\nTime:{time}</Message>{detail}</Error>",
        xml_escape(message)
    );
    let mut resp = (status, body).into_response();
    wire::set_header(&mut resp, "content-type", "application/xml");
    wire::set_header(&mut resp, "x-ms-error-code", code);
    wire::set_header(&mut resp, "x-ms-request-id", &request_id);
    if let Some(v) = version {
        wire::set_header(&mut resp, "x-ms-version", v);
    }
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!(
            "Bearer authorization_uri={}/{}/oauth2/authorize resource_id={STORAGE_AUDIENCE}",
            state.base_url, state.settings.tenant_id
        );
        wire::set_header(&mut resp, "www-authenticate", &challenge);
    }
    resp
}

/// A scripted fault on the blob route, in Storage's words: Storage throttles
/// with 503 ServerBusy, not ARM's 429.
pub(crate) fn fault_error(state: &State, status: Option<u16>) -> Response {
    let status = status
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
        ("ServerBusy", "The server is busy.")
    } else {
        (
            "InternalError",
            "The server encountered an internal error. Please retry the request.",
        )
    };
    error(state, status, code, message, None, None)
}

/// A well-formed service version: `YYYY-MM-DD`.
fn version_format_ok(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// `GET /blob/{account}/{container}/{blob}`.
pub(crate) fn get(
    state: &State,
    method: &Method,
    headers: &HeaderMap,
    account: &str,
    container: &str,
    blob: &str,
) -> Response {
    const AUTH_FAILED: &str = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";
    const SEE_CHALLENGE: &str = "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.";
    let version = headers
        .get("x-ms-version")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let valid_version = version.filter(|v| version_format_ok(v));
    let fail = |status, code, message: &str, detail: Option<&str>| {
        error(state, status, code, message, detail, valid_version)
    };
    if method != Method::GET {
        return fail(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnsupportedHttpVerb",
            "The resource doesn't support specified Http Verb.",
            None,
        );
    }
    let check = auth::inspect(state, headers, STORAGE_AUDIENCE);
    if matches!(check, TokenCheck::Missing) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "NoAuthenticationInformation",
            SEE_CHALLENGE,
            None,
        );
    }
    if matches!(check, TokenCheck::Malformed) {
        return fail(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            AUTH_FAILED,
            None,
        );
    }
    if let Some(v) = version
        && !version_format_ok(v)
    {
        return fail(
            StatusCode::BAD_REQUEST,
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
            None,
        );
    }
    // Without x-ms-version a request speaks a version older than OAuth.
    if version.is_none_or(|v| v < OLDEST_OAUTH_VERSION) {
        return fail(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            AUTH_FAILED,
            Some("Authentication scheme Bearer is not supported in this version."),
        );
    }
    let detail = match check {
        TokenCheck::Unknown => Some("Signature validation failed. Signature is invalid."),
        TokenCheck::Expired { .. } => Some("Lifetime validation failed. The token is expired."),
        TokenCheck::Revoked => Some("The token has been revoked."),
        TokenCheck::WrongAudience { .. } => {
            Some("Audience validation failed. Audience did not match.")
        }
        _ => None,
    };
    if let Some(detail) = detail {
        return fail(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationInfo",
            SEE_CHALLENGE,
            Some(detail),
        );
    }
    if !state.settings.blob_read_allowed {
        return fail(
            StatusCode::FORBIDDEN,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
            None,
        );
    }
    let world = state.world();
    let storage = &world.storage;
    let account_key = account.to_ascii_lowercase();
    let Some(found) = storage.blobs.get(&blob_key(account, container, blob)) else {
        let live = storage.accounts.contains_key(&account_key);
        let (code, message) = if live && !container.eq_ignore_ascii_case(LOG_CONTAINER) {
            (
                "ContainerNotFound",
                "The specified container does not exist.",
            )
        } else if live || storage.deleted.contains(&account_key) {
            ("BlobNotFound", "The specified blob does not exist.")
        } else {
            ("ResourceNotFound", "The specified resource does not exist.")
        };
        return fail(StatusCode::NOT_FOUND, code, message, None);
    };
    let mut resp = (StatusCode::OK, found.text.clone()).into_response();
    let http_date = |t: DateTime<Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    wire::set_header(&mut resp, "content-type", "text/plain");
    wire::set_header(&mut resp, "etag", &found.etag);
    wire::set_header(&mut resp, "last-modified", &http_date(found.modified));
    wire::set_header(&mut resp, "x-ms-creation-time", &http_date(found.created));
    wire::set_header(&mut resp, "x-ms-blob-type", "BlockBlob");
    wire::set_header(&mut resp, "x-ms-lease-status", "unlocked");
    wire::set_header(&mut resp, "x-ms-lease-state", "available");
    wire::set_header(&mut resp, "x-ms-server-encrypted", "true");
    wire::set_header(&mut resp, "accept-ranges", "bytes");
    wire::set_header(
        &mut resp,
        "x-ms-request-id",
        &uuid::Uuid::new_v4().to_string(),
    );
    if let Some(v) = valid_version {
        wire::set_header(&mut resp, "x-ms-version", v);
    }
    resp
}
