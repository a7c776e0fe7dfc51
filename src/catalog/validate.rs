//! The pipeline: TOML text → raw structs (shape) → typed catalog (meaning), with all
//! semantic problems collected before giving up.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::check_azure::check_azure;
use super::check_credential::check_credential;
use super::check_images::{ImageContext, check_image};
use super::check_service::check_service;
use super::check_settings::{check_defaults, check_schedule, check_store};
use super::check_steps::check_step;
use super::check_validation::check_validator;
use super::error::{CatalogError, InvalidCatalog, Problems};
use super::model::{Catalog, Recipe};
use super::raw::{RawCatalog, SECRET_KEY_PARTS};
use super::type_hints;
use super::values::check_name;

pub(super) fn parse(source: &str, file_name: &str) -> Result<Catalog, CatalogError> {
    let mut problems = Problems::new(source);
    let catalog = match toml::from_str::<RawCatalog>(source) {
        Ok(raw) => check_catalog(&mut problems, &raw),
        Err(error) => {
            shape_problem(&mut problems, &error);
            None
        }
    };
    match catalog {
        Some(catalog) if problems.len() == 0 => Ok(catalog),
        _ => {
            let shown = redact_secrets(source, problems.hidden());
            Err(CatalogError::Invalid(InvalidCatalog::new(
                file_name,
                shown,
                problems.into_vec(),
            )))
        }
    }
}

/// A syntax, unknown-key or wrong-type error from toml; it stops at the first one.
fn shape_problem(p: &mut Problems, error: &toml::de::Error) {
    let span = error.span().unwrap_or(0..0);
    // toml appends the accepted keys to the message; they read better as the hint.
    let message = error.message().trim();
    match message.split_once(", expected ") {
        Some((what, expected)) if what.starts_with("unknown field") => {
            p.hint(span, what, format!("expected {expected}"));
        }
        _ => match type_hints::wrong_type(p.source(), &span, message) {
            Some((message, hint)) => p.hint(span, message, hint),
            None => p.error(span, message),
        },
    }
}

fn check_catalog(p: &mut Problems, raw: &RawCatalog) -> Option<Catalog> {
    let azure = match &raw.azure {
        Some(azure) => check_azure(p, azure),
        None => {
            p.hint(
                0..0,
                "missing `[azure]` table",
                "add [azure] with subscription_id, resource_group, location and identity",
            );
            None
        }
    };
    let credential = check_credential(
        p,
        raw.azure
            .as_ref()
            .and_then(|a| a.get_ref().credential.as_ref()),
    );
    let store = check_store(p, raw.store.as_ref());
    let schedule = raw.schedule.as_ref().and_then(|s| check_schedule(p, s));
    let defaults = check_defaults(p, raw.defaults.as_ref());
    let service = check_service(p, raw.service.as_ref());

    let mut recipes = BTreeMap::new();
    let mut declared = BTreeSet::new();
    for (name, recipe) in &raw.recipes {
        declared.insert(name.get_ref().clone());
        if let Err(hint) = check_name(name.get_ref(), 64) {
            p.hint(
                name.span(),
                format!("invalid recipe name `{}`", name.get_ref()),
                hint,
            );
        }
        if recipe.get_ref().steps.is_empty() && recipe.get_ref().validate.is_empty() {
            p.hint(
                recipe.span(),
                format!("recipe `{}` has no steps", name.get_ref()),
                "add [[recipes.<name>.steps]] (or [[recipes.<name>.validate]]) tables, or remove the recipe",
            );
        }
        let before = p.len();
        let steps: Vec<_> = recipe
            .get_ref()
            .steps
            .iter()
            .filter_map(|step| check_step(p, step))
            .collect();
        let validators: Vec<_> = recipe
            .get_ref()
            .validate
            .iter()
            .filter_map(|validator| check_validator(p, validator))
            .collect();
        if p.len() == before {
            recipes.insert(
                name.get_ref().clone(),
                Recipe {
                    description: recipe.get_ref().description.clone(),
                    steps,
                    validators,
                },
            );
        }
    }

    let ctx = ImageContext {
        location: azure.as_ref().map(|a| a.location.as_str()),
        staging_resource_group: azure
            .as_ref()
            .and_then(|a| a.staging_resource_group.as_deref()),
        defaults: &defaults,
        recipes: &recipes,
        declared: &declared,
    };
    // Case-insensitive, because ARM resource names (the templates are named after images) are.
    let mut first_seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    let mut images = Vec::new();
    for raw_image in &raw.images {
        if let Some(name) = &raw_image.get_ref().name {
            let key = name.get_ref().to_ascii_lowercase();
            if let Some(first) = first_seen.get(&key) {
                let line = p.line_of(first.start);
                p.hint(name.span(), format!("duplicate image name `{}`", name.get_ref()), format!("the first image with this name is on line {line}; image names must be unique"));
            } else {
                first_seen.insert(key, name.span());
            }
        }
        images.extend(check_image(p, raw_image, &ctx));
    }
    one_image_per_staging_group(p, raw, &images);
    let names = images.iter().map(|i| i.name.clone()).collect();
    let notify = super::check_notify::check_notify(p, &raw.notify, &names);

    Some(Catalog {
        azure: azure?,
        credential: credential?,
        store,
        schedule,
        defaults,
        service,
        recipes,
        images,
        notify,
    })
}

/// AIB builds in a configured staging group only while it holds nothing else,
/// so two images sharing one would refuse each other's templates (and a kept
/// failed template would block the other image for its whole retention).
fn one_image_per_staging_group(p: &mut Problems, raw: &RawCatalog, images: &[super::Image]) {
    let inherited = raw
        .azure
        .as_ref()
        .and_then(|a| a.get_ref().staging_resource_group.as_ref())
        .map(|s| s.span());
    let mut first: BTreeMap<String, &str> = BTreeMap::new();
    for image in images {
        let Some(group) = &image.staging_resource_group else {
            continue;
        };
        let own = raw
            .images
            .iter()
            .find(|r| {
                r.get_ref()
                    .name
                    .as_ref()
                    .is_some_and(|n| n.get_ref() == &image.name)
            })
            .and_then(|r| r.get_ref().staging_resource_group.as_ref())
            .map(|s| s.span());
        match first.get(&group.to_ascii_lowercase()) {
            Some(other) => p.hint(
                own.or(inherited.clone()).unwrap_or(0..0),
                format!(
                    "images `{other}` and `{}` share the staging resource group",
                    image.name
                ),
                "AIB needs a staging group to itself while it builds: give each image its own \
                 `staging_resource_group` in its [[images]] table, or leave it out and AIB makes \
                 one per build",
            ),
            None => {
                first.insert(group.to_ascii_lowercase(), &image.name);
            }
        }
    }
}

/// The source with the value of every secret-looking key (see [`SECRET_KEY_PARTS`])
/// and every `hidden` span blanked, for diagnostics that show snippets. Byte offsets
/// and line breaks are kept so that spans still line up. A file that does not parse
/// is blanked line by line, so a syntax error elsewhere cannot show a secret.
pub(super) fn redact_secrets(source: &str, hidden: &[Range<usize>]) -> String {
    let mut spans = hidden.to_vec();
    match DeTable::parse(source) {
        Ok(document) => collect_secret_spans(document.get_ref(), &mut spans),
        Err(_) => secret_lines(source, &mut spans),
    }
    let mut bytes = source.as_bytes().to_vec();
    for span in spans {
        for byte in bytes.get_mut(span).into_iter().flatten() {
            if *byte != b'\n' && *byte != b'\r' {
                *byte = b'*';
            }
        }
    }
    // Whole multi-byte characters lie inside a value span and are fully replaced.
    String::from_utf8(bytes).unwrap_or_else(|_| String::new())
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// `key = value` lines whose key looks secret: the span after the `=`.
fn secret_lines(source: &str, spans: &mut Vec<Range<usize>>) {
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        if let Some((key, _)) = line.split_once('=')
            && is_secret_key(key.trim().trim_matches(['"', '\'']))
        {
            let start = offset + key.len() + 1;
            spans.push(start..offset + line.trim_end_matches(['\r', '\n']).len());
        }
        offset += line.len();
    }
}

fn collect_secret_spans(table: &DeTable, spans: &mut Vec<Range<usize>>) {
    for (key, value) in table.iter() {
        if is_secret_key(key.get_ref()) {
            spans.push(value.span());
        }
        collect_value(value.get_ref(), spans);
    }
}

fn collect_value(value: &DeValue, spans: &mut Vec<Range<usize>>) {
    match value {
        DeValue::Table(table) => collect_secret_spans(table, spans),
        DeValue::Array(items) => items
            .iter()
            .for_each(|item| collect_value(item.get_ref(), spans)),
        _ => {}
    }
}
