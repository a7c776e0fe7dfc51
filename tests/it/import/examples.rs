//! Every official 2025-10-01 example: each converts, or says what it could not.
//!
//! As published, their resource IDs hold the placeholder `{subscription-id}`, which
//! no catalog takes; filled in (as a person adapting an example would), the
//! templates whose values the catalog takes import and round-trip.

use std::path::{Path, PathBuf};

use image_refresh::catalog;
use serde_json::Value;
use tempfile::TempDir;

use super::{EXAMPLES, import, read_json};

const SUBSCRIPTION: &str = "22222222-3333-4444-8555-666666666666";

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(EXAMPLES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "{files:?}");
    files
}

/// The templates an example holds, by name: its request body, or the
/// templates of its answer (one, or a list).
fn templates(example: &Value) -> Vec<(String, Value)> {
    let request = &example["parameters"]["parameters"];
    if request["properties"]["source"].is_object() {
        let name = example["parameters"]["imageTemplateName"].as_str().unwrap();
        return vec![(name.to_owned(), request.clone())];
    }
    let body = &example["responses"]["200"]["body"];
    let items = match body["value"].as_array() {
        Some(items) => items.clone(),
        None => vec![body.clone()],
    };
    items
        .into_iter()
        .filter(|t| t["properties"]["source"].is_object())
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t))
        .collect()
}

#[test]
fn as_published_each_example_says_what_it_could_not_import() {
    for file in examples() {
        let imported = import(&[&file]);
        let stderr = imported.stderr();
        let name = file.display().to_string();
        assert_eq!(imported.output.status.code(), Some(1), "{name}: {stderr}");
        let held = templates(&read_json(&file));
        if held.is_empty() {
            assert!(
                stderr.contains("holds no image template"),
                "{name}: {stderr}"
            );
        }
        for (template, _) in held {
            let refused = format!("{name}: {template}: not imported: the catalog refuses it");
            assert!(
                stderr.contains(&refused),
                "{refused:?} missing from\n{stderr}"
            );
        }
        assert!(
            stderr.contains("nothing could be imported"),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn filled_in_the_examples_import_what_the_catalog_takes_and_round_trip() {
    let dir = TempDir::new().unwrap();
    let mut imported_names = Vec::new();
    for file in examples() {
        let filled = fill_in(&file, dir.path());
        let example = read_json(&filled);
        let held = templates(&example);
        let imported = import(&[&filled]);
        let stderr = imported.stderr();
        if imported.output.status.code() == Some(1) {
            // Nothing the catalog takes: each template is said, with why.
            for (template, _) in &held {
                let origin = format!("{}: {template}", filled.display());
                assert!(
                    stderr.contains(&format!("{origin}: not imported")),
                    "{stderr}"
                );
            }
            continue;
        }
        assert_eq!(imported.output.status.code(), Some(0), "{stderr}");
        let catalog = catalog::load(&imported.validates()).unwrap();
        for image in &catalog.images {
            let (_, original) = held.iter().find(|(n, _)| *n == image.name).unwrap();
            let version = original["properties"]["source"]["version"]
                .as_str()
                .unwrap_or("unversioned");
            let origin = format!("{}: {}", filled.display(), image.name);
            imported.round_trips(&origin, &image.name, original, version);
            let example = file.file_name().unwrap().to_string_lossy().into_owned();
            imported_names.push((example, image.name.clone()));
        }
    }
    // The others use `1_location` (not a region name) for their only target.
    assert_eq!(
        imported_names,
        [
            (
                "ListImageTemplates.json".to_owned(),
                "mySecondImageTemplate".to_owned()
            ),
            (
                "ListImageTemplatesByRg.json".to_owned(),
                "myOtherImageTemplate".to_owned()
            ),
        ]
    );
}

fn fill_in(file: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(file)
        .unwrap()
        .replace("{subscription-id}", SUBSCRIPTION);
    let path = dir.join(file.file_name().unwrap());
    std::fs::write(&path, text).unwrap();
    path
}
