//! `import`: AIB templates of every shape and age → catalog TOML that the real
//! binary validates, and that `template` turns back into an equivalent body.
//!
//! Fixtures (`tests/fixtures/import/`, origins in its README): the 2019-05-01-preview
//! quickstart template of the original AIB announcement, as published and with its
//! placeholders filled in as its instructions do; a deployment template of our own
//! with the Windows customizers, a gallery source and target, a trigger and the
//! keys the catalog lacks. And every official 2025-10-01 example in
//! `azure-sim/specs/imagebuilder/2025-10-01/examples` (the repository's copy of
//! `../shared/azure-api/`, so a clone has them).

mod same;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image_refresh::catalog;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::setup::BIN;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");
const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/azure-sim/specs/imagebuilder/2025-10-01/examples"
);

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One run of `import`, its catalog written to a file of its own.
struct Imported {
    output: Output,
    dir: TempDir,
}

impl Imported {
    fn toml(&self) -> String {
        String::from_utf8(self.output.stdout.clone()).unwrap()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn catalog(&self) -> PathBuf {
        let path = self.dir.path().join("imported.toml");
        std::fs::write(&path, self.toml()).unwrap();
        path
    }

    /// `validate` on the catalog, by the real binary: exit 0.
    fn validates(&self) -> PathBuf {
        let catalog = self.catalog();
        let output = binary(&catalog, &["validate"]);
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.toml()
        );
        catalog
    }

    /// The template-relative paths the import said it did not import, for `origin`.
    fn not_imported(&self, origin: &str) -> Vec<String> {
        let prefix = format!("{origin}: not imported: ");
        self.stderr()
            .lines()
            .filter_map(|line| line.strip_prefix(&prefix))
            .filter_map(|rest| rest.split(": ").next())
            .filter(|path| path.starts_with("properties."))
            .map(str::to_owned)
            .collect()
    }

    /// Imports `original` (named `origin` in the notes) as `image`, renders it
    /// with `version` and asserts the body means what the template did.
    fn round_trips(&self, origin: &str, image: &str, original: &Value, version: &str) {
        let catalog = self.validates();
        let output = binary(&catalog, &["template", image, "--source-version", version]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut original = original.clone();
        let mut paths = self.not_imported(origin);
        // Later elements first, so the indices of earlier ones still hold.
        paths.sort_by(|a, b| b.cmp(a));
        for path in &paths {
            strip(&mut original, path);
        }
        let source = &mut original["properties"]["source"];
        if source["type"] == "PlatformImage" && source["version"] == "latest" {
            source["version"] = Value::from(version);
        }
        assert_eq!(same::reduce(&original), same::reduce(&body), "{paths:?}");
    }
}

/// `import` of `files` run in `dir`, so that the notes and comments name the
/// files as given (relative names keep snapshots the same on every machine).
fn import_in(dir: &Path, files: &[&Path]) -> Imported {
    let output = Command::new(BIN)
        .current_dir(dir)
        .arg("import")
        .args(files)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    Imported {
        output,
        dir: TempDir::new().unwrap(),
    }
}

fn import(files: &[&Path]) -> Imported {
    import_in(Path::new("."), files)
}

fn binary(catalog: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(catalog)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Removes `properties.customize[2]` or `properties.distribute[1].uri` from `value`.
fn strip(value: &mut Value, path: &str) {
    let mut segments: Vec<(String, Option<usize>)> = path
        .split('.')
        .map(|segment| match segment.split_once('[') {
            Some((key, index)) => (key.to_owned(), index.trim_end_matches(']').parse().ok()),
            None => (segment.to_owned(), None),
        })
        .collect();
    let Some((last, last_index)) = segments.pop() else {
        return;
    };
    let mut at = value;
    for (key, index) in segments {
        at = &mut at[key.as_str()];
        if let Some(i) = index {
            at = &mut at[i];
        }
    }
    match last_index {
        Some(i) => {
            at[last.as_str()].as_array_mut().unwrap().remove(i);
        }
        None => {
            at.as_object_mut().unwrap().remove(&last);
        }
    }
}

/// `import` of one fixture, which must import (exit 0).
fn imported_fixture(file: &Path) -> Imported {
    let imported = import_in(Path::new(FIXTURES), &[file]);
    assert_eq!(
        imported.output.status.code(),
        Some(0),
        "{}",
        imported.stderr()
    );
    imported
}

#[test]
fn the_2019_quickstart_template_imports_and_round_trips() {
    let file = Path::new("helloImageTemplateLinux.filled.json");
    let imported = imported_fixture(file);
    let origin = file.display().to_string();
    let stderr = imported.stderr();
    // The two downloads without a checksum are said, and left as comments.
    assert_eq!(
        imported.not_imported(&origin),
        ["properties.customize[0]", "properties.customize[2]"]
    );
    assert!(
        stderr.contains("the template pins 18.04.201903060"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"run output "aibCustLinManImg01ro""#),
        "{stderr}"
    );
    assert!(stderr.contains("[azure]: fill in: identity"), "{stderr}");
    let toml = imported.toml();
    assert!(toml.contains("# script_uri = \"https://raw.githubusercontent.com/danielsollondon/azvmimagebuilder/master/quickquickstarts/customizeScript.sh\""));
    insta::assert_snapshot!(toml);
    imported.round_trips(
        &origin,
        "helloImageTemplateLinux.filled",
        &read_json(&fixture("helloImageTemplateLinux.filled.json")),
        "18.04.201903060",
    );
}

/// The original blog post's example (issue 16): one inline figlet step and a
/// managed image; everything in it has a catalog key except the run output's
/// name, which is said.
#[test]
fn the_blog_posts_figlet_template_imports_and_round_trips() {
    let file = Path::new("blog-2019-05-01-preview.json");
    let imported = imported_fixture(file);
    let toml = imported.toml();
    assert!(toml.contains("sudo apt-get install -y figlet"), "{toml}");
    assert!(toml.contains("sku = \"18.04-LTS\""), "{toml}");
    let stderr = imported.stderr();
    assert!(
        stderr.contains(r#"run output "aibBlogFigletRo""#),
        "{stderr}"
    );
    let origin = file.display().to_string();
    imported.round_trips(
        &origin,
        "blog-2019-05-01-preview",
        &read_json(&fixture("blog-2019-05-01-preview.json")),
        "18.04.201905140",
    );
}

#[test]
fn the_quickstart_as_published_says_which_placeholders_to_fill_in() {
    let file = fixture("helloImageTemplateLinux.json");
    let imported = import(&[&file]);
    assert_eq!(imported.output.status.code(), Some(1));
    assert!(imported.output.stdout.is_empty());
    let stderr = imported.stderr();
    assert!(
        stderr.contains("`<subscriptionID>` does not fit `<guid>`"),
        "{stderr}"
    );
    assert!(stderr.contains("invalid location `<region>`"), "{stderr}");
    assert!(stderr.contains("nothing could be imported"), "{stderr}");
}

#[test]
fn a_deployment_template_imports_each_template_and_reports_the_rest() {
    let file = fixture("deployment.json");
    let imported = import(&[&file]);
    assert_eq!(
        imported.output.status.code(),
        Some(0),
        "{}",
        imported.stderr()
    );
    let stderr = imported.stderr();
    let path = file.display().to_string();
    for expected in [
        "id-aib: skipped: a Microsoft.ManagedIdentity/userAssignedIdentities resource",
        "imageTemplates/triggers is not imported",
        "win2022-golden: not imported: properties.autoRun",
        "win2022-golden: not imported: properties.optimize",
        "ubuntu-from-gallery: not imported: properties.distribute[1].uri",
        "ubuntu-from-gallery: changed: properties.source.version: the template pins 1.2.3",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from\n{stderr}"
        );
    }
    assert!(!stderr.contains("properties.validate"), "{stderr}");
    let catalog = catalog::load(&imported.validates()).unwrap();
    let names: Vec<&str> = catalog.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["win2022-golden", "ubuntu-from-gallery"]);
    assert_eq!(catalog.images[1].validation.validators.len(), 1);
    // The parameters' defaults and the variable are what the templates use.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("[parameters('location')]", "westeurope")
        .replace(
            "[variables('galleryImage')]",
            "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-gallery/providers/Microsoft.Compute/galleries/gal_corp/images/win2022",
        );
    let resources = serde_json::from_str::<Value>(&text).unwrap()["resources"].clone();
    let windows = format!("{path}: win2022-golden");
    imported.round_trips(
        &windows,
        "win2022-golden",
        &resources[1],
        "20348.2849.241107",
    );
    let ubuntu = format!("{path}: ubuntu-from-gallery");
    imported.round_trips(&ubuntu, "ubuntu-from-gallery", &resources[3], "1.2.3");
}

#[test]
fn templates_with_one_customize_list_share_a_recipe() {
    let file = fixture("helloImageTemplateLinux.filled.json");
    let imported = import(&[&file, &file]);
    let catalog = catalog::load(&imported.validates()).unwrap();
    assert_eq!(catalog.recipes.len(), 1);
    let images: Vec<(&str, &[String])> = catalog
        .images
        .iter()
        .map(|i| (i.name.as_str(), i.recipes.as_slice()))
        .collect();
    let recipe = ["helloImageTemplateLinux.filled".to_owned()];
    assert_eq!(
        images,
        [
            ("helloImageTemplateLinux.filled", &recipe[..]),
            ("helloImageTemplateLinux.filled-2", &recipe[..])
        ]
    );
}

#[test]
fn a_rendered_body_imports_back_to_the_same_body() {
    let dir = TempDir::new().unwrap();
    let classic = dir.path().join("classic.toml");
    std::fs::write(&classic, catalog::CLASSIC).unwrap();
    let args = [
        "template",
        "ubuntu-golden",
        "--source-version",
        "22.04.202411050",
    ];
    let first = binary(&classic, &args);
    assert!(first.status.success());
    // Named after the image, so that the import names it the same.
    let body = dir.path().join("ubuntu-golden.json");
    std::fs::write(&body, &first.stdout).unwrap();
    let imported = import(&[&body]);
    let again = binary(&imported.validates(), &args);
    assert_eq!(
        String::from_utf8(again.stdout).unwrap(),
        String::from_utf8(first.stdout).unwrap(),
        "{}",
        imported.stderr()
    );
}

#[test]
fn the_catalog_can_go_to_a_file_that_is_never_overwritten() {
    let file = fixture("helloImageTemplateLinux.filled.json");
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("catalog.toml");
    let run = || {
        Command::new(BIN)
            .args(["import", "--write"])
            .arg(&out)
            .arg(&file)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(catalog::parse(&written, "catalog.toml").is_ok());
    let second = run();
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
}

#[test]
fn a_file_without_a_template_imports_nothing_and_says_so() {
    let dir = TempDir::new().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{ not json").unwrap();
    let imported = import(&[&junk, &Path::new(EXAMPLES).join("RunImageTemplate.json")]);
    assert_eq!(imported.output.status.code(), Some(1));
    let stderr = imported.stderr();
    assert!(stderr.contains("junk.json: skipped: not JSON"), "{stderr}");
    assert!(
        stderr.contains("RunImageTemplate.json: skipped: holds no image template"),
        "{stderr}"
    );
}

mod examples;
