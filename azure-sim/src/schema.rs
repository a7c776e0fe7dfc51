//! A small Swagger 2.0 validator for request bodies, run against the real
//! Azure VM Image Builder spec (`imagebuilder.json`, api-version 2025-10-01).
//!
//! It covers what that spec uses: `$ref`, `allOf`, `discriminator` with
//! `x-ms-discriminator-value`, `required`, `type`, `enum`, `properties` with
//! unknown (case-sensitive) names rejected, `additionalProperties`,
//! `readOnly` (ignored in requests), `minimum`/`maximum` and the
//! `^[class]{m,n}$` form of `pattern`. References into ARM's common-types
//! (not part of the spec file) resolve to the few definitions it uses.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

static IMAGE_BUILDER_SPEC: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!(
        "../specs/imagebuilder/2025-10-01/imagebuilder.json"
    ))
    // The spec is a fixed, checked-in file; tests parse it on every run.
    .expect("embedded imagebuilder.json is valid JSON")
});

/// The ARM common-types definitions the spec references, as in
/// `common-types/resource-management/v3/types.json` (Azure/azure-rest-api-specs).
fn common_type(name: &str) -> Option<Value> {
    let resource = json!({
        "id": {"type": "string", "readOnly": true},
        "name": {"type": "string", "readOnly": true},
        "type": {"type": "string", "readOnly": true},
        "systemData": {"type": "object", "readOnly": true}
    });
    match name {
        "Resource" | "ProxyResource" => Some(json!({"type": "object", "properties": resource})),
        "TrackedResource" => {
            let mut props = resource;
            props["tags"] = json!({"type": "object", "additionalProperties": {"type": "string"}});
            props["location"] = json!({"type": "string"});
            Some(json!({"type": "object", "properties": props, "required": ["location"]}))
        }
        _ => None,
    }
}

/// Validates a PUT imageTemplates body; errors carry JSON-pointer paths.
pub fn validate_image_template(body: &Value) -> Result<(), Vec<String>> {
    let validator = Validator {
        spec: &IMAGE_BUILDER_SPEC,
    };
    let mut errors = Vec::new();
    validator.check(
        &json!({"$ref": "#/definitions/ImageTemplate"}),
        body,
        "",
        &mut errors,
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

struct Validator<'a> {
    spec: &'a Value,
}

/// A schema with its `allOf` parents folded in.
#[derive(Default)]
struct Merged {
    properties: Map<String, Value>,
    required: Vec<String>,
    additional: Option<Value>,
    discriminator: Option<String>,
    ty: Option<String>,
}

impl Validator<'_> {
    fn definition(&self, reference: &str) -> Option<(String, Value)> {
        let name = reference.rsplit('/').next()?.to_owned();
        if reference.starts_with("#/definitions/") {
            let def = self.spec.get("definitions")?.get(&name)?.clone();
            Some((name, def))
        } else {
            common_type(&name).map(|d| (name, d))
        }
    }

    fn resolve(&self, schema: &Value) -> Value {
        let mut schema = schema.clone();
        for _ in 0..16 {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            match self.definition(r) {
                Some((_, def)) => schema = def,
                None => break,
            }
        }
        schema
    }

    fn merge(&self, schema: &Value, into: &mut Merged) {
        let schema = self.resolve(schema);
        for parent in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.merge(parent, into);
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            into.properties.extend(props.clone());
        }
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = r.as_str() {
                into.required.push(r.to_owned());
            }
        }
        if let Some(a) = schema.get("additionalProperties") {
            into.additional = Some(a.clone());
        }
        if let Some(d) = schema.get("discriminator").and_then(Value::as_str) {
            into.discriminator = Some(d.to_owned());
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            into.ty = Some(t.to_owned());
        }
    }

    /// Does definition `def` inherit (through `allOf`) from `base`?
    fn inherits(&self, def: &Value, base: &str, depth: u8) -> bool {
        depth < 8
            && def
                .get("allOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) if r.rsplit('/').next() == Some(base) => true,
                    Some(r) => self
                        .definition(r)
                        .is_some_and(|(_, d)| self.inherits(&d, base, depth + 1)),
                    None => false,
                })
    }

    fn subtype(&self, base: &str, value: &str) -> Option<Value> {
        let defs = self.spec.get("definitions")?.as_object()?;
        defs.values()
            .find(|d| {
                d.get("x-ms-discriminator-value").and_then(Value::as_str) == Some(value)
                    && self.inherits(d, base, 0)
            })
            .cloned()
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let base_name = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
            .map(str::to_owned);
        let resolved = self.resolve(schema);
        let mut merged = Merged::default();
        self.merge(&resolved, &mut merged);

        if let (Some(disc), Some(base), Some(obj)) =
            (&merged.discriminator, &base_name, value.as_object())
            && let Some(kind) = obj.get(disc).and_then(Value::as_str)
            && resolved.get("x-ms-discriminator-value").is_none()
        {
            match self.subtype(base, kind) {
                Some(sub) => merged = self.merged_subtype(&sub),
                None => {
                    errors.push(format!("{at}/{disc}: unknown {base} {disc} '{kind}'"));
                    return;
                }
            }
        }
        let ty = merged
            .ty
            .clone()
            .or_else(|| (!merged.properties.is_empty()).then(|| "object".to_owned()));
        if let Some(ty) = &ty
            && !type_matches(ty, value)
        {
            errors.push(format!("{}: expected {ty}", pointer(at)));
            return;
        }
        self.check_scalar(&resolved, value, at, errors);
        match value {
            Value::Object(obj) if ty.as_deref() == Some("object") => {
                self.check_object(&merged, obj, at, errors)
            }
            Value::Array(items) => {
                if let Some(item_schema) = resolved.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{at}/{i}"), errors);
                    }
                }
            }
            _ => {}
        }
    }

    fn merged_subtype(&self, sub: &Value) -> Merged {
        let mut merged = Merged::default();
        self.merge(sub, &mut merged);
        merged
    }

    fn check_object(
        &self,
        merged: &Merged,
        obj: &Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        for name in &merged.required {
            if !obj.contains_key(name) {
                errors.push(format!("{at}/{name}: required property is missing"));
            }
        }
        for (name, v) in obj {
            let here = format!("{at}/{name}");
            match merged.properties.get(name) {
                Some(prop) => {
                    if self.resolve(prop).get("readOnly") == Some(&Value::Bool(true))
                        || prop.get("readOnly") == Some(&Value::Bool(true))
                    {
                        continue;
                    }
                    self.check(prop, v, &here, errors);
                }
                None => match &merged.additional {
                    Some(Value::Bool(true)) => {}
                    Some(schema @ Value::Object(_)) => self.check(schema, v, &here, errors),
                    _ => errors.push(format!(
                        "{here}: unknown property (names are case-sensitive)"
                    )),
                },
            }
        }
    }

    fn check_scalar(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!(
                "{}: {value} is not one of {}",
                pointer(at),
                Value::Array(allowed.clone())
            ));
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                errors.push(format!("{}: {n} is below the minimum {min}", pointer(at)));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                errors.push(format!("{}: {n} is above the maximum {max}", pointer(at)));
            }
        }
        if let (Some(p), Some(s)) = (
            schema.get("pattern").and_then(Value::as_str),
            value.as_str(),
        ) && pattern_rejects(p, s)
        {
            errors.push(format!("{}: '{s}' does not match pattern {p}", pointer(at)));
        }
    }
}

fn pointer(at: &str) -> &str {
    if at.is_empty() { "/" } else { at }
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

/// `^[class]{m,n}$` patterns; other forms are not enforced (the spec has none).
fn pattern_rejects(pattern: &str, s: &str) -> bool {
    let Some(inner) = pattern.strip_prefix("^[").and_then(|p| p.strip_suffix('$')) else {
        return false;
    };
    let Some((class, rest)) = inner.split_once("]{") else {
        return false;
    };
    let Some((min, max)) = rest.strip_suffix('}').and_then(|r| r.split_once(',')) else {
        return false;
    };
    let (Ok(min), Ok(max)) = (min.parse::<usize>(), max.parse::<usize>()) else {
        return false;
    };
    let chars: Vec<char> = class.chars().collect();
    let in_class = |c: char| {
        let mut i = 0;
        while i < chars.len() {
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                if (chars[i]..=chars[i + 2]).contains(&c) {
                    return true;
                }
                i += 3;
            } else {
                if chars[i] == c {
                    return true;
                }
                i += 1;
            }
        }
        false
    };
    let n = s.chars().count();
    n < min || n > max || !s.chars().all(in_class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_pattern_is_enforced() {
        let p = "^[A-Za-z0-9-_.]{1,64}$";
        assert!(!pattern_rejects(p, "image_it-pir.1"));
        assert!(pattern_rejects(p, "has space"));
        assert!(pattern_rejects(p, ""));
        assert!(pattern_rejects(p, &"a".repeat(65)));
    }
}
