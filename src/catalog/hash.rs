//! The recipe hash: a fingerprint of everything that shapes the built image except the
//! source version.
//!
//! The check compares it with the hash of the last successful build: a different hash means
//! the recipe changed and the image must be rebuilt even if the source did not move. The
//! source *version* is left out because the check tracks it separately (a new upstream
//! version is a different reason to rebuild). Also left out, since they change where or how
//! fast an image is built but not what is in it: the VM size, the build timeout, tags,
//! distribution targets, schedules, build windows, `continue_distribute_on_failure`, step
//! names and the source location.
//!
//! The input is canonical JSON (object keys sorted, no whitespace) of the expanded steps, the
//! in-VM validators (with `source_validation_only`; only when there are any), the
//! source identity and the OS disk size, so that key order, formatting and comments in the
//! TOML do not matter. ARM names and IDs are compared case-insensitively by Azure, so they are
//! lowercased. Changing this function changes every hash and triggers rebuilds: bump `FORMAT`.

use std::fmt;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::model::Validation;
use super::source::Source;
use super::step::Step;

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecipeHash(String);

impl RecipeHash {
    pub(super) fn compute(
        steps: &[Step],
        validation: &Validation,
        source: &Source,
        os_disk_size_gb: u32,
    ) -> RecipeHash {
        let mut input = json!({
            "format": FORMAT,
            "steps": steps.iter().map(step_value).collect::<Vec<_>>(),
            "source": source_identity(source),
            "os_disk_size_gb": os_disk_size_gb,
        });
        // Only present when validating, so images without validators keep the
        // hashes (and builds) they had before validation existed.
        if !validation.validators.is_empty() {
            input["validate"] = json!({
                "validators": validation.validators.iter().map(step_value).collect::<Vec<_>>(),
                "source_validation_only": validation.source_validation_only,
            });
        }
        let mut canonical_text = String::new();
        canonical(&input, &mut canonical_text);
        let digest = Sha256::digest(canonical_text.as_bytes());
        RecipeHash(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// All 64 hex digits, for storing and comparing.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// `sha256:` and the first 12 hex digits, for people.
    pub fn short(&self) -> String {
        format!("sha256:{}", &self.0[..12])
    }
}

impl fmt::Display for RecipeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

/// A step without its friendly name, which only labels AIB's log.
fn step_value(step: &Step) -> Value {
    // Steps hold only strings, numbers, booleans and lists, which always serialize.
    let mut value = serde_json::to_value(step).expect("a step serializes to JSON");
    if let Value::Object(map) = &mut value {
        map.remove("name");
    }
    value
}

fn source_identity(source: &Source) -> Value {
    match source {
        Source::Marketplace(s) => json!({
            "type": "marketplace",
            "publisher": s.publisher.to_lowercase(),
            "offer": s.offer.to_lowercase(),
            "sku": s.sku.to_lowercase(),
            "plan": s.plan.as_ref().map(|plan| json!({
                "name": plan.name.to_lowercase(),
                "product": plan.product.to_lowercase(),
                "publisher": plan.publisher.to_lowercase(),
            })),
        }),
        Source::Gallery(s) => json!({ "type": "gallery", "image_id": s.image_id.to_lowercase() }),
        Source::ManagedImage(s) => {
            json!({ "type": "managed_image", "image_id": s.image_id.to_lowercase() })
        }
    }
}

/// Writes JSON with object keys sorted, independent of serde_json's map ordering features.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
