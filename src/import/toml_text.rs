//! The pieces of catalog text an import is made of: keys with TOML values and
//! comments, in blocks that can be commented out whole.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Line {
    /// `key = value`, the value already TOML, with an optional trailing comment.
    Key {
        key: String,
        value: String,
        comment: Option<String>,
    },
    /// `# text`
    Comment(String),
}

impl Line {
    pub fn key(key: &str, value: String) -> Line {
        Line::Key {
            key: key.to_owned(),
            value,
            comment: None,
        }
    }

    pub fn commented(key: &str, value: String, comment: String) -> Line {
        Line::Key {
            key: key.to_owned(),
            value,
            comment: Some(comment),
        }
    }

    /// The line's text; `disabled` comments a key out.
    pub fn write(&self, out: &mut String, disabled: bool) {
        match self {
            Line::Comment(text) => push_comment(out, text),
            Line::Key {
                key,
                value,
                comment,
            } => {
                let text = format!("{key} = {value}");
                for (i, line) in text.lines().enumerate() {
                    if disabled {
                        out.push_str("# ");
                    }
                    out.push_str(line);
                    if i == 0
                        && let Some(comment) = comment
                    {
                        out.push_str("  # ");
                        out.push_str(&comment.replace('\n', " "));
                    }
                    out.push('\n');
                }
            }
        }
    }
}

pub(super) fn push_comment(out: &mut String, text: &str) {
    for line in text.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
}

/// A table (a step, a source, a target) that the import keeps or comments out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Block {
    pub lines: Vec<Line>,
    /// Why the block is commented out; active when empty.
    pub why: Vec<String>,
}

impl Block {
    pub fn active(&self) -> bool {
        self.why.is_empty()
    }

    pub fn disable(&mut self, why: String) {
        if !self.why.contains(&why) {
            self.why.push(why);
        }
    }

    /// The header and the lines, commented out when the block is not active
    /// or `off` (it belongs to an image that is not imported).
    pub fn write(&self, out: &mut String, header: &str, off: bool) {
        for why in &self.why {
            push_comment(out, &format!("not imported: {why}"));
        }
        let off = off || !self.active();
        if off {
            out.push_str("# ");
        }
        out.push_str(header);
        out.push('\n');
        for line in &self.lines {
            line.write(out, off);
        }
    }
}

pub(super) fn string(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// `["a", "b"]`, or one element per line when long (inline scripts).
pub(super) fn strings(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| string(v)).collect();
    let one_line = format!("[{}]", items.join(", "));
    if one_line.len() <= 80 {
        return one_line;
    }
    let mut text = "[\n".to_owned();
    for item in items {
        text.push_str("  ");
        text.push_str(&item);
        text.push_str(",\n");
    }
    text.push(']');
    text
}

/// `{ a = "1", b = "2" }`, keys quoted when they need it.
pub(super) fn table(entries: &[(String, String)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{} = {}", bare_or_quoted(k), string(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

pub(super) fn bare_or_quoted(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_owned()
    } else {
        string(key)
    }
}

/// A JSON object whose keys are taken one by one; what is left was not understood.
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    taken: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Obj {
            map,
            taken: Vec::new(),
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        let (name, value) = self.map.get_key_value(key)?;
        self.taken.push(name);
        Some(value)
    }

    /// Takes `key` only when it holds what `read` accepts: a value of the
    /// wrong type stays and is reported with the rest.
    fn take_as<T>(&mut self, key: &str, read: impl Fn(&'a Value) -> Option<T>) -> Option<T> {
        let (name, value) = self.map.get_key_value(key)?;
        let read = read(value)?;
        self.taken.push(name);
        Some(read)
    }

    pub fn str(&mut self, key: &str) -> Option<&'a str> {
        self.take_as(key, Value::as_str)
    }

    /// A string that is not empty (older templates write `""` for "none").
    pub fn text(&mut self, key: &str) -> Option<&'a str> {
        match self.str(key) {
            Some("") => None,
            other => other,
        }
    }

    pub fn uint(&mut self, key: &str) -> Option<u64> {
        self.take_as(key, Value::as_u64)
    }

    pub fn bool(&mut self, key: &str) -> Option<bool> {
        self.take_as(key, Value::as_bool)
    }

    pub fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        self.take_as(key, Value::as_object)
    }

    pub fn array(&mut self, key: &str) -> Option<&'a Vec<Value>> {
        self.take_as(key, Value::as_array)
    }

    pub fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        self.take_as(key, |v| {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
    }

    /// Marks keys that carry state, not configuration (read-only fields of a
    /// GET), as understood.
    pub fn ignore(&mut self, keys: &[&str]) {
        for key in keys {
            self.take(key);
        }
    }

    /// The keys not taken, as `key = value` for a note.
    pub fn rest(&self) -> Vec<(String, String)> {
        self.map
            .iter()
            .filter(|(k, _)| !self.taken.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }
}
