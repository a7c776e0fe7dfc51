//! What the daemon sent: a request journal and per-route counters for tests.
//!
//! Tokens never reach the journal: the Authorization header is not recorded
//! and client secrets in token request bodies are redacted.

use std::collections::BTreeMap;

use serde_json::Value;

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`), empty when there was none.
    pub query: String,
    /// The JSON (or form, as a JSON object) body, when there was one.
    pub body: Option<Value>,
    pub status: u16,
    /// The route name used for faults and counters, e.g. "template.put".
    pub route: String,
}

#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: Vec<JournalEntry>,
    counters: BTreeMap<String, u64>,
}

impl Journal {
    pub fn record(&mut self, entry: JournalEntry) {
        *self.counters.entry(entry.route.clone()).or_default() += 1;
        self.entries.push(entry);
    }

    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries.clone()
    }

    pub fn count(&self, route: &str) -> u64 {
        self.counters.get(route).copied().unwrap_or(0)
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.counters.clone()
    }
}

const SECRET_FIELDS: [&str; 3] = ["client_secret", "client_assertion", "assertion"];

/// Turns a request body into what the journal keeps.
pub(crate) fn body_for_journal(bytes: &[u8], is_form: bool) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    if is_form {
        let pairs: serde_json::Map<String, Value> =
            super::wire::parse_pairs(&String::from_utf8_lossy(bytes))
                .into_iter()
                .map(|(k, v)| {
                    let v = if SECRET_FIELDS.contains(&k.as_str()) {
                        "[redacted]".to_owned()
                    } else {
                        v
                    };
                    (k, Value::String(v))
                })
                .collect();
        return Some(Value::Object(pairs));
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_secrets_are_redacted() {
        let body = body_for_journal(b"client_id=a&client_secret=s3cr3t&scope=x", true).unwrap();
        assert_eq!(body["client_id"], "a");
        assert!(!body.to_string().contains("s3cr3t"));
    }
}
