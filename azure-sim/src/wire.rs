//! Small helpers for speaking ARM's wire format.

use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Decodes `a=1&b=2` (query strings and form bodies alike).
pub(crate) fn parse_pairs(text: &str) -> Vec<(String, String)> {
    let Ok(uri) = format!("/?{text}").parse::<Uri>() else {
        return Vec::new();
    };
    Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

pub(crate) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// A JSON response with ARM's content type.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

pub(crate) fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// ARM timestamps: RFC 3339 with fractional seconds and `Z`... as AIB writes them.
pub(crate) fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Who made a resource, as ARM's `systemData` says (common-types v3).
#[derive(Debug, Clone)]
pub(crate) struct Creator {
    pub by: String,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    pub by_type: &'static str,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Creator {
    /// `systemData` of a resource nobody has changed since it was made.
    pub fn system_data(&self) -> Value {
        serde_json::json!({
            "createdBy": self.by,
            "createdByType": self.by_type,
            "createdAt": timestamp(self.at),
            "lastModifiedBy": self.by,
            "lastModifiedByType": self.by_type,
            "lastModifiedAt": timestamp(self.at),
        })
    }
}
