//! ARM's paged lists: `{value, nextLink}`, where `nextLink` is the request's
//! own URL with an opaque `$skiptoken` for the next page. The page size is
//! the scenario's (`settings.page_size`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ArmError;
use super::state::State;
use super::wire::{self, query_value};

const SKIP_TOKEN: &str = "$skiptoken";
/// Marks our tokens, so a token from elsewhere is refused rather than misread.
const TOKEN_PREFIX: &str = "simskip1:";

/// The page of `items` the request asks for, as a 200 answer.
pub(crate) fn answer(
    state: &State,
    path: &str,
    query: &[(String, String)],
    items: Vec<Value>,
) -> Response {
    let start = match query_value(query, SKIP_TOKEN).map(decode) {
        None => 0,
        Some(Some(offset)) if offset <= items.len() => offset,
        Some(_) => {
            return ArmError::bad_request(
                "InvalidSkipToken",
                "The provided $skiptoken is invalid or has expired. Request the list again without it.",
            )
            .into_response();
        }
    };
    let size = state.settings.page_size.max(1);
    let end = items.len().min(start + size);
    let more = end < items.len();
    let value: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
    let mut body = json!({ "value": value });
    if more {
        body["nextLink"] = json!(next_link(state, path, query, end));
    }
    wire::json(StatusCode::OK, &body)
}

fn next_link(state: &State, path: &str, query: &[(String, String)], offset: usize) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(SKIP_TOKEN))
        .cloned()
        .collect();
    pairs.push((SKIP_TOKEN.to_owned(), encode(offset)));
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect();
    format!("{}{path}?{}", state.base_url, query.join("&"))
}

fn encode(offset: usize) -> String {
    format!("{TOKEN_PREFIX}{offset}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode(token: &str) -> Option<usize> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    text.strip_prefix(TOKEN_PREFIX)?.parse().ok()
}

/// Percent-encodes what a query value may not hold as it is.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'$' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode(&encode(120)), Some(120));
        assert_eq!(decode("not-hex"), None);
        assert_eq!(decode("6869"), None);
    }
}
