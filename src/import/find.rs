//! Where the image templates are in a JSON document: a bare template, an ARM
//! resource, an ARM deployment template, a list response, or a REST API example.

use serde_json::{Map, Value};

use super::{Note, NoteKind};

pub(super) const TEMPLATE_TYPE: &str = "Microsoft.VirtualMachineImages/imageTemplates";

/// One template found in a file, ARM expressions resolved as far as they can be.
#[derive(Debug)]
pub(super) struct Found {
    /// "FILE" or "FILE: NAME", for notes.
    pub origin: String,
    /// The resource's `name`, when it has a literal one.
    pub name: Option<String>,
    /// Has `properties` (and `location`, `tags`, `identity` when given).
    pub template: Map<String, Value>,
}

/// Every template in `document`; notes for what in it is not one.
pub(super) fn templates(file: &str, document: &Value, notes: &mut Vec<Note>) -> Vec<Found> {
    let mut found = Vec::new();
    let Some(object) = document.as_object() else {
        notes.push(Note::new(
            NoteKind::Skipped,
            file,
            "",
            "not a JSON object, so no image template",
        ));
        return found;
    };
    if let Some(resources) = object.get("resources").and_then(Value::as_array) {
        let context = Deployment::of(object);
        for resource in resources {
            deployment_resource(file, resource, &context, &mut found, notes);
        }
    } else if let Some(body) = example_body(object) {
        let name = object
            .get("parameters")
            .and_then(|p| p.get("imageTemplateName"))
            .and_then(Value::as_str);
        collect(file, body, name, &mut found);
    } else {
        collect(file, document, None, &mut found);
    }
    if found.is_empty() && notes.iter().all(|n| n.origin != file) {
        notes.push(Note::new(
            NoteKind::Skipped,
            file,
            "",
            "holds no image template (no `properties.source`)",
        ));
    }
    found
}

/// A REST API example (`{"parameters": …, "responses": …}`): its request body
/// when that is a template, else its first answer's body.
fn example_body(object: &Map<String, Value>) -> Option<&Value> {
    let responses = object.get("responses")?.as_object()?;
    let request = object.get("parameters").and_then(|p| p.get("parameters"));
    if let Some(request) = request.filter(|r| is_template(r)) {
        return Some(request);
    }
    ["200", "201", "202"]
        .iter()
        .find_map(|status| responses.get(*status)?.get("body"))
}

fn is_template(value: &Value) -> bool {
    value
        .get("properties")
        .and_then(|p| p.get("source"))
        .is_some()
}

/// A template, an ARM resource or a list of them (`{"value": [...]}`).
fn collect(file: &str, value: &Value, name: Option<&str>, found: &mut Vec<Found>) {
    if let Some(items) = value.get("value").and_then(Value::as_array) {
        for item in items {
            collect(file, item, None, found);
        }
        return;
    }
    let Some(object) = value.as_object().filter(|_| is_template(value)) else {
        return;
    };
    let name = object.get("name").and_then(Value::as_str).or(name);
    found.push(Found {
        origin: origin(file, name),
        name: name.map(str::to_owned),
        template: object.clone(),
    });
}

fn origin(file: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{file}: {name}"),
        None => file.to_owned(),
    }
}

/// A deployment template's parameters and variables, for `[parameters('x')]`.
struct Deployment<'a> {
    parameters: Option<&'a Map<String, Value>>,
    variables: Option<&'a Map<String, Value>>,
}

impl<'a> Deployment<'a> {
    fn of(object: &'a Map<String, Value>) -> Self {
        Deployment {
            parameters: object.get("parameters").and_then(Value::as_object),
            variables: object.get("variables").and_then(Value::as_object),
        }
    }

    /// The value of a whole-string expression the importer can evaluate.
    fn evaluate(&self, expression: &str) -> Option<Value> {
        let inner = expression.strip_prefix('[')?.strip_suffix(']')?.trim();
        let (function, rest) = inner.split_once("('")?;
        let name = rest.strip_suffix("')")?;
        match function {
            "parameters" => self.parameters?.get(name)?.get("defaultValue").cloned(),
            "variables" => self.variables?.get(name).cloned(),
            _ => None,
        }
    }

    /// Replaces every evaluable expression; says which were left as written.
    fn resolve(&self, value: &mut Value, path: &str, unresolved: &mut Vec<(String, String)>) {
        match value {
            Value::String(text) if is_expression(text) => match self.evaluate(text) {
                Some(resolved) if !resolved.as_str().is_some_and(is_expression) => {
                    *value = resolved;
                }
                _ => unresolved.push((path.to_owned(), text.clone())),
            },
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.resolve(item, &format!("{path}[{i}]"), unresolved);
                }
            }
            Value::Object(map) => {
                // Keys can be expressions too: `userAssignedIdentities` is keyed by ID.
                let keys: Vec<String> = map.keys().filter(|k| is_expression(k)).cloned().collect();
                for key in keys {
                    let resolved = self
                        .evaluate(&key)
                        .and_then(|v| v.as_str().map(str::to_owned));
                    match (resolved, map.remove(&key)) {
                        (Some(name), Some(item)) => {
                            map.insert(name, item);
                        }
                        (None, Some(item)) => {
                            unresolved.push((path.to_owned(), key.clone()));
                            map.insert(key, item);
                        }
                        (_, None) => {}
                    }
                }
                for (key, item) in map.iter_mut() {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.resolve(item, &path, unresolved);
                }
            }
            _ => {}
        }
    }
}

/// ARM's rule: a string in brackets is an expression, `[[` escapes a literal one.
fn is_expression(text: &str) -> bool {
    text.starts_with('[') && text.ends_with(']') && !text.starts_with("[[")
}

fn deployment_resource(
    file: &str,
    resource: &Value,
    context: &Deployment<'_>,
    found: &mut Vec<Found>,
    notes: &mut Vec<Note>,
) {
    let mut resource = resource.clone();
    let mut unresolved = Vec::new();
    context.resolve(&mut resource, "", &mut unresolved);
    let kind = resource.get("type").and_then(Value::as_str).unwrap_or("");
    let name = resource.get("name").and_then(Value::as_str);
    let here = origin(file, name);
    if kind.eq_ignore_ascii_case(TEMPLATE_TYPE) {
        for (path, expression) in unresolved {
            notes.push(Note::new(
                NoteKind::Dropped,
                &here,
                &path,
                &format!("{expression} is an ARM expression the importer does not evaluate; it is kept as text"),
            ));
        }
        collect(file, &resource, name, found);
    } else if kind
        .to_ascii_lowercase()
        .starts_with(&TEMPLATE_TYPE.to_ascii_lowercase())
    {
        notes.push(Note::new(
            NoteKind::Dropped,
            &here,
            "",
            &format!(
                "{kind} is not imported: image-refresh checks sources itself and rebuilds on a \
                 new base version (decision new_base_version)"
            ),
        ));
    } else if kind.eq_ignore_ascii_case("Microsoft.Resources/deployments") {
        notes.push(Note::new(
            NoteKind::Skipped,
            &here,
            "",
            "a nested deployment: import the template it deploys as a file of its own",
        ));
    } else {
        notes.push(Note::new(
            NoteKind::Skipped,
            &here,
            "",
            &format!("a {kind} resource, not an image template"),
        ));
    }
}
