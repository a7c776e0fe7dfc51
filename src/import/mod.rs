//! Import: existing AIB image templates → catalog TOML.
//!
//! Each template becomes one `[[images]]` entry and each distinct customize list
//! one recipe. Nothing is lost silently: every key the catalog cannot express is
//! a [`Note`], listed for the person importing and written as a `#` comment where
//! it would have gone. The text is checked with the catalog's own parser; an
//! image (or a step, or one of several targets) the catalog refuses is commented
//! out whole, with the catalog's reason, so the result always validates.
//!
//! Documented differences from the original templates: pinned source versions
//! become `latest`; run outputs are named after the image (`NAME-1`, …); the
//! template's tags and every target's artifact tags become the image's one set of
//! tags; identity, network and error handling are catalog-wide (`[azure]`), so an
//! image whose template said otherwise gets the first template's.

mod azure_section;
mod catalog_text;
mod find;
mod steps;
mod targets;
mod toml_text;
mod translate;

use std::fmt;

use serde::Serialize;

/// One JSON document to import, with the name notes use for it.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub text: String,
}

/// What an import made.
#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// Catalog text that `image-refresh validate` accepts.
    pub toml: String,
    /// Images written active (not commented out).
    pub images: usize,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The catalog cannot say it; it is a comment in the TOML.
    Dropped,
    /// Said differently in the catalog (a pinned version followed, a run output renamed).
    Changed,
    /// Not in the templates; the TOML has a placeholder to replace.
    FillIn,
    /// A file, or a part of one, that holds no image template.
    Skipped,
}

/// Something the person importing must know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    /// The file, and the template's name when it has one.
    pub origin: String,
    /// Where in the template: `properties.customize[0].sha256Checksum`; empty for the whole.
    pub path: String,
    pub message: String,
}

impl Note {
    fn new(kind: NoteKind, origin: &str, path: &str, message: &str) -> Self {
        Note {
            kind,
            origin: origin.to_owned(),
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The text of the comment in the TOML (the origin is the image's).
    fn comment(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.path, self.message)
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            NoteKind::Dropped => "not imported",
            NoteKind::Changed => "changed",
            NoteKind::FillIn => "fill in",
            NoteKind::Skipped => "skipped",
        };
        write!(f, "{}: {kind}: {}", self.origin, self.comment())
    }
}

/// Imports every template in `inputs`, in order.
pub fn import(inputs: &[Input]) -> Import {
    let mut notes = Vec::new();
    let mut found = Vec::new();
    for input in inputs {
        match serde_json::from_str::<serde_json::Value>(&input.text) {
            Ok(document) => found.extend(find::templates(&input.name, &document, &mut notes)),
            Err(error) => notes.push(Note::new(
                NoteKind::Skipped,
                &input.name,
                "",
                &format!("not JSON: {error}"),
            )),
        }
    }
    if found.is_empty() {
        return Import {
            toml: String::new(),
            images: 0,
            notes,
        };
    }
    let mut names = Vec::new();
    let images: Vec<_> = found
        .iter()
        .map(|f| {
            let name = image_name(f, &input_stem(&f.origin), &names);
            names.push(name.clone());
            translate::image(f, name, &mut notes)
        })
        .collect();
    catalog_text::write(&found, images, notes)
}

/// The file name without directories and `.json`, for templates without a name.
fn input_stem(origin: &str) -> String {
    let file = origin.split(": ").next().unwrap_or(origin);
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".json").unwrap_or(base).to_owned()
}

/// A catalog name (letters, digits, `-_.`, at most 48, a letter or digit first)
/// from the template's name or file, unique among `taken`.
fn image_name(found: &find::Found, stem: &str, taken: &[String]) -> String {
    const MAX: usize = 44;
    let wanted = found
        .name
        .as_deref()
        .filter(|n| !n.starts_with('['))
        .unwrap_or(stem);
    let mut name: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(MAX)
        .collect();
    if name.is_empty() {
        name = "imported".to_owned();
    }
    let mut unique = name.clone();
    let mut n = 2;
    while taken.contains(&unique) {
        unique = format!("{name}-{n}");
        n += 1;
    }
    unique
}

#[cfg(test)]
mod tests;
