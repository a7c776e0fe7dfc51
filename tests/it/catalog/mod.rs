//! The catalog format: shipped examples, every kind of problem with its exact position,
//! and the recipe hash. The helpers every topic shares are here.

mod examples;
mod hash;
mod image_keys;
mod problems;
mod security;
mod settings;

use std::time::Duration as StdDuration;

use image_refresh::azure::{CredentialConfig, SecretSource};
use image_refresh::catalog::{
    self, Catalog, CatalogError, Cloud, Distribute, Script, Source, Step, StorageAccountType,
    VersionSpec,
};

const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// Lines 1–5 of every test catalog.
fn azure() -> String {
    format!(
        "[azure]\n\
         subscription_id = \"{SUB}\"\n\
         resource_group = \"rg-images\"\n\
         location = \"westeurope\"\n\
         identity = \"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib\"\n"
    )
}

/// A valid image starting on line `6` when appended to [`azure`]; 9 lines long.
const IMAGE: &str = r#"[[images]]
name = "img"
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
[[images.distribute]]
type = "vhd"
"#;

fn parse(source: &str) -> Result<Catalog, CatalogError> {
    catalog::parse(source, "test.toml")
}

fn problems(source: &str) -> Vec<(usize, usize, String)> {
    match parse(source) {
        Ok(_) => panic!("expected problems in:\n{source}"),
        Err(error) => error
            .problems()
            .iter()
            .map(|p| (p.line, p.column, p.message.clone()))
            .collect(),
    }
}

/// Asserts that the catalog has exactly one problem, at `line:column`, whose message contains
/// `message`; returns its hint.
#[track_caller]
fn single_problem(source: &str, line: usize, column: usize, message: &str) -> String {
    let error = parse(source).expect_err("catalog should be rejected");
    let found = error.problems();
    assert_eq!(found.len(), 1, "expected one problem, got:\n{error}");
    let problem = &found[0];
    assert_eq!(
        (problem.line, problem.column),
        (line, column),
        "wrong position:\n{error}"
    );
    assert!(
        problem.message.contains(message),
        "message {:?} lacks {message:?}",
        problem.message
    );
    problem.hint.clone().unwrap_or_default()
}

fn image_with(extra_image_keys: &str) -> String {
    format!("{}{}{IMAGE}", azure(), extra_image_keys)
}
