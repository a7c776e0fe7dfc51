//! Problems found after a catalog loaded (by asking Azure), pointed at the
//! line and column of the key they come from, and reported like load problems.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::error::{InvalidCatalog, Problems};
use super::validate::redact_secrets;

/// One step into the catalog: a key, or an index into an array (`[[images]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Name(&'static str),
    Index(usize),
}

/// A path into the catalog, e.g. `images[2].distribute[0].image_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Key>);

impl KeyPath {
    pub fn of(keys: &[Key]) -> KeyPath {
        KeyPath(keys.to_vec())
    }

    /// This path, one key further.
    pub fn then(&self, key: Key) -> KeyPath {
        let mut keys = self.0.clone();
        keys.push(key);
        KeyPath(keys)
    }
}

/// Something wrong that only Azure could tell, at the first of `at` the file
/// has (a value may come from a default set elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub at: Vec<KeyPath>,
    pub message: String,
    pub hint: Option<String>,
}

/// The findings as catalog problems of `source`, with lines and columns.
pub fn locate(source: &str, file_name: &str, findings: &[Finding]) -> InvalidCatalog {
    let document = DeTable::parse(source).ok();
    let mut problems = Problems::new(source);
    for finding in findings {
        let span = document
            .as_ref()
            .and_then(|doc| {
                finding
                    .at
                    .iter()
                    .find_map(|path| find(doc.get_ref(), &path.0))
            })
            .unwrap_or(0..0);
        problems.push(span, finding.message.clone(), finding.hint.clone());
    }
    let shown = redact_secrets(source, problems.hidden());
    InvalidCatalog::new(file_name, shown, problems.into_vec())
}

/// The span of the value at `path`; for a table, of its key (or, for an
/// entry of a `[[…]]` array, which has no span of its own, of its first key).
fn find(table: &DeTable, path: &[Key]) -> Option<Range<usize>> {
    let (Key::Name(first), rest) = path.split_first()? else {
        return None;
    };
    let (key, value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    match (rest, value.get_ref()) {
        ([], DeValue::Table(_) | DeValue::Array(_)) => Some(key.span()),
        ([], _) => Some(value.span()),
        (rest, value) => walk(value, rest),
    }
}

fn walk(value: &DeValue, path: &[Key]) -> Option<Range<usize>> {
    match (path, value) {
        ([Key::Name(_), ..], DeValue::Table(table)) => find(table, path),
        ([Key::Index(i), rest @ ..], DeValue::Array(items)) => {
            let item = items.get(*i)?;
            match rest {
                [] if !item.span().is_empty() => Some(item.span()),
                [] => first_key(item.get_ref()),
                rest => walk(item.get_ref(), rest),
            }
        }
        _ => None,
    }
}

/// Where an array-of-tables entry starts: its first key.
fn first_key(value: &DeValue) -> Option<Range<usize>> {
    match value {
        DeValue::Table(table) => table.iter().map(|(k, _)| k.span()).min_by_key(|s| s.start),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[azure]\nresource_group = \"rg\"\n\n[[images]]\nname = \"a\"\n\n[[images]]\nname = \"b\"\n[images.source]\nsku = \"x\"\n[[images.distribute]]\nimage_id = \"/g\"\n";

    fn line_of(finding: Finding) -> (usize, usize) {
        let invalid = locate(TEXT, "c.toml", &[finding]);
        let p = &invalid.problems()[0];
        (p.line, p.column)
    }

    fn at(keys: &[Key]) -> Finding {
        Finding {
            at: vec![KeyPath::of(keys)],
            message: "m".into(),
            hint: None,
        }
    }

    #[test]
    fn findings_point_at_their_key() {
        use Key::{Index, Name};
        assert_eq!(
            line_of(at(&[Name("azure"), Name("resource_group")])),
            (2, 18)
        );
        assert_eq!(
            line_of(at(&[Name("images"), Index(1), Name("source"), Name("sku")])),
            (10, 7)
        );
        assert_eq!(
            line_of(at(&[
                Name("images"),
                Index(1),
                Name("distribute"),
                Index(0),
                Name("image_id")
            ])),
            (12, 12)
        );
        assert_eq!(
            line_of(at(&[Name("images"), Index(0)])).0,
            4,
            "its [[images]] header"
        );
        // An absent key: the next place the value may come from.
        let fallback = Finding {
            at: vec![
                KeyPath::of(&[Name("images"), Index(1), Name("source"), Name("location")]),
                KeyPath::of(&[Name("azure"), Name("resource_group")]),
            ],
            ..at(&[])
        };
        assert_eq!(line_of(fallback).0, 2);
    }
}
