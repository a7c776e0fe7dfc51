//! ARM's error body (`CloudError`): `{"error": {"code", "message", "details": [...]}}`.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct CloudError {
    error: Option<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

impl ErrorDetail {
    fn says_something(&self) -> bool {
        self.code.is_some()
            || self
                .message
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty())
            || !self.details.is_empty()
    }

    /// `code` and a message that includes the details' messages, which is where ARM often
    /// puts the useful part ("InvalidTemplateDeployment" → which property was wrong).
    pub(crate) fn summary(&self) -> (String, String) {
        let code = self.code.clone().unwrap_or_else(|| "Unknown".to_owned());
        let mut message = self.message.clone().unwrap_or_default();
        for detail in &self.details {
            let (c, m) = detail.summary();
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&format!("{c}: {m}"));
        }
        (code, message)
    }
}

/// Code and message from an error response body, falling back to the status and raw text
/// when the body is not a CloudError (gateways and proxies answer with HTML or nothing).
/// Both are escaped (see [`printable`]), since they reach terminals, logs and history.
pub(crate) fn parse(status: u16, body: &[u8]) -> (String, String) {
    let (code, message) = raw_parse(status, body);
    (printable(&code, MAX_CODE), printable(&message, MAX_MESSAGE))
}

/// Longest code and message kept from an error body.
pub const MAX_CODE: usize = 100;
pub const MAX_MESSAGE: usize = 2000;

/// `text` with control characters (C0 but tab, DEL, C1) written as `\u{…}`, so an
/// error body cannot move a terminal's cursor or recolour it, and cut at `max`
/// characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        if (c.is_control() && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn raw_parse(status: u16, body: &[u8]) -> (String, String) {
    // serde also reads a JSON array as a CloudError, and `{"error": {}}` says nothing: only
    // a body that carries something replaces the raw text.
    if let Ok(CloudError {
        error: Some(detail),
    }) = serde_json::from_slice::<CloudError>(body)
        && detail.says_something()
    {
        return detail.summary();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        "no error details in the response".to_owned()
    } else {
        text.chars().take(500).collect()
    };
    (format!("HTTP{status}"), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_error_with_details() {
        let body = br#"{"error":{"code":"InvalidParameter","message":"Bad template.",
            "details":[{"code":"BadSourceType","message":"source.type is wrong"}]}}"#;
        let (code, message) = parse(400, body);
        assert_eq!(code, "InvalidParameter");
        assert_eq!(
            message,
            "Bad template.; BadSourceType: source.type is wrong"
        );
    }

    #[test]
    fn non_json_body_keeps_status_and_text() {
        assert_eq!(
            parse(502, b"<html>Bad Gateway</html>"),
            ("HTTP502".to_owned(), "<html>Bad Gateway</html>".to_owned())
        );
        assert_eq!(parse(500, b"").0, "HTTP500");
        assert_eq!(parse(404, br#"{"other":1}"#).0, "HTTP404");
        // Shapes serde reads as an empty CloudError keep the raw text.
        let array = br#"[{"name":"x"}]"#;
        assert_eq!(
            parse(400, array),
            ("HTTP400".to_owned(), r#"[{"name":"x"}]"#.to_owned())
        );
        assert_eq!(parse(409, br#"{"error":{}}"#).1, r#"{"error":{}}"#);
    }

    /// Security finding (low): an error body's escapes reached the terminal.
    #[test]
    fn control_characters_are_escaped_and_long_messages_cut() {
        let body = br#"{"error": {"code": "Bad\u001b[2J", "message": "\u001b[31mred\u001b[0m and \u009b31m"}}"#;
        let (code, message) = parse(400, body);
        assert_eq!(code, "Bad\\u{1b}[2J");
        assert_eq!(message, "\\u{1b}[31mred\\u{1b}[0m and \\u{9b}31m");
        let raw = format!("<html>{}</html>", "x".repeat(5000));
        let (_, message) = parse(502, raw.as_bytes());
        assert!(
            message.chars().count() <= MAX_MESSAGE + 1,
            "{}",
            message.len()
        );
        let long = format!(
            r#"{{"error": {{"code": "C", "message": "{}"}}}}"#,
            "y".repeat(5000)
        );
        let (_, message) = parse(400, long.as_bytes());
        assert_eq!(message.chars().count(), MAX_MESSAGE + 1);
        assert!(message.ends_with('…'));
    }
}
