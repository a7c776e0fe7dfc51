//! `[azure]` from the templates: what the catalog says once for every image.

use super::find::Found;
use super::toml_text::{Line, string};
use super::translate::Imported;
use super::{Note, NoteKind};

/// The `[azure]` keys an import sets, with the placeholder written when the
/// templates do not say (or say something the catalog refuses).
pub(super) const AZURE_KEYS: &[(&str, &str)] = &[
    ("subscription_id", "00000000-0000-0000-0000-000000000000"),
    ("resource_group", "rg-image-builder"),
    ("location", "westeurope"),
    (
        "identity",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder",
    ),
    ("subnet_id", ""),
    ("container_instance_subnet_id", ""),
];

pub(super) fn value_of(lines: &[Line], key: &str) -> Option<String> {
    lines.iter().find_map(|line| match line {
        Line::Key { key: k, value, .. } if k == key => {
            toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()?
                .get("v")?
                .as_str()
                .map(str::to_owned)
        }
        _ => None,
    })
}

/// `[azure]` from the first template that says each thing.
pub(super) fn azure(found: &[Found], images: &[Imported], notes: &mut Vec<Note>) -> Vec<Line> {
    let first = |pick: fn(&Imported) -> Option<&String>| images.iter().find_map(pick).cloned();
    let identity = first(|i| i.identity.as_ref());
    let mut ids: Vec<String> = identity.iter().cloned().collect();
    for f in found {
        resource_ids(&serde_json::Value::Object(f.template.clone()), &mut ids);
    }
    let subscription = ids
        .iter()
        .find_map(|id| segment_after(id, "subscriptions").filter(|s| looks_like_guid(s)));
    let group = found
        .iter()
        .find_map(|f| segment_after(f.template.get("id")?.as_str()?, "resourceGroups"));
    let values = [
        subscription,
        group,
        first(|i| i.location.as_ref()),
        identity,
        first(|i| i.subnet.as_ref()),
        first(|i| i.container_subnet.as_ref()),
    ];
    let mut lines = Vec::new();
    for ((key, placeholder), value) in AZURE_KEYS.iter().zip(values) {
        match value {
            Some(value) => lines.push(Line::key(key, string(&value))),
            None if placeholder.is_empty() => {}
            None => {
                let note = Note::new(
                    NoteKind::FillIn,
                    "[azure]",
                    key,
                    &format!("no template says it; replace the placeholder {placeholder:?}"),
                );
                lines.push(Line::commented(
                    key,
                    string(placeholder),
                    format!("fill in: {}", note.message),
                ));
                notes.push(note);
            }
        }
    }
    lines
}

/// Every string in `value` that names an ARM resource, in document order.
fn resource_ids(value: &serde_json::Value, ids: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if text.starts_with("/subscriptions/") => {
            ids.push(text.clone())
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| resource_ids(v, ids)),
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if key.starts_with("/subscriptions/") {
                    ids.push(key.clone());
                }
                resource_ids(item, ids);
            }
        }
        _ => {}
    }
}

fn segment_after(id: &str, name: &str) -> Option<String> {
    let mut segments = id.split('/');
    segments.find(|s| s.eq_ignore_ascii_case(name))?;
    segments.next().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn looks_like_guid(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// What `[azure]` says for every image: an image whose template said otherwise
/// is told so; a marketplace image keeps its own region as its source's `location`.
pub(super) fn settle_catalog_wide(
    image: &mut Imported,
    azure: &[Line],
    keep_failed: bool,
    location: Option<&str>,
    notes: &mut Vec<Note>,
) {
    let catalog_wide = [
        ("identity", image.identity.clone()),
        ("subnet_id", image.subnet.clone()),
        (
            "container_instance_subnet_id",
            image.container_subnet.clone(),
        ),
    ];
    for (key, own) in catalog_wide {
        let shared = value_of(azure, key);
        if own.is_some() && own != shared {
            let note = Note::new(
                NoteKind::Changed,
                &image.origin,
                key,
                &format!(
                    "{} is catalog-wide ([azure] {key}); this template's {} is not used",
                    shared.as_deref().unwrap_or("none"),
                    own.as_deref().unwrap_or("none")
                ),
            );
            image.comments.push(format!("changed: {}", note.comment()));
            notes.push(note);
        }
    }
    if image.keep_failed != keep_failed {
        let note = Note::new(
            NoteKind::Changed,
            &image.origin,
            "properties.errorHandling",
            "error handling is catalog-wide (keep_failed_templates); the first template's is used",
        );
        image.comments.push(format!("changed: {}", note.comment()));
        notes.push(note);
    }
    let Some(own) = image
        .location
        .clone()
        .filter(|own| Some(own.as_str()) != location)
    else {
        return;
    };
    if image.source.lines.first() == Some(&Line::key("type", string("marketplace"))) {
        image.source.lines.push(Line::key("location", string(&own)));
    } else {
        let note = Note::new(
            NoteKind::Changed,
            &image.origin,
            "location",
            &format!(
                "built in [azure] location {}, not {own}: only a marketplace source has a region of its own",
                location.unwrap_or("?")
            ),
        );
        image.comments.push(format!("changed: {}", note.comment()));
        notes.push(note);
    }
}
