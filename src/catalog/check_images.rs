//! Raw `[[images]]` → typed images, with recipes expanded and the recipe hash computed.

use std::collections::{BTreeMap, BTreeSet};

use super::check_settings::{
    build_timeout, check_schedule, disk_size, max_age, min_base_age, resource_id, tags, vm_size,
};
use super::check_steps::check_step;
use super::check_targets::{check_distribute, check_source};
use super::check_validation::check_validation;
use super::check_window::check_build_window;
use super::error::Problems;
use super::hash::RecipeHash;
use super::model::{Defaults, Image, Recipe};
use super::raw::{RawImage, S};
use super::source::Source;
use super::values::{IdKind, check_name};

/// Longest image name: leaves room for the prefixes and suffixes that template and run
/// output names (at most 64 characters) add.
pub(super) const MAX_IMAGE_NAME: usize = 48;

/// What every image is checked against.
pub(super) struct ImageContext<'c> {
    /// `azure.location`, or `None` when `[azure]` itself has problems.
    pub location: Option<&'c str>,
    /// `azure.staging_resource_group`, the default of every image.
    pub staging_resource_group: Option<&'c str>,
    pub defaults: &'c Defaults,
    /// Recipes that passed their checks.
    pub recipes: &'c BTreeMap<String, Recipe>,
    /// Every recipe declared, valid or not, so that a broken recipe is not also "unknown".
    pub declared: &'c BTreeSet<String>,
}

pub(super) fn check_image(
    p: &mut Problems,
    raw: &S<RawImage>,
    ctx: &ImageContext,
) -> Option<Image> {
    let image = raw.get_ref();
    let before = p.len();
    let name = match &image.name {
        None => {
            p.hint(
                raw.span(),
                "image has no `name`",
                "add name = \"…\"; it names the AIB template and the build history",
            );
            None
        }
        Some(name) => match check_name(name.get_ref(), MAX_IMAGE_NAME) {
            Ok(()) => Some(name.get_ref().clone()),
            Err(hint) => {
                p.hint(
                    name.span(),
                    format!("invalid image name `{}`", name.get_ref()),
                    hint,
                );
                None
            }
        },
    };
    let source = match &image.source {
        Some(source) => check_source(p, source, ctx.location),
        None => {
            p.hint(
                raw.span(),
                "image has no `[images.source]`",
                "add a source table, e.g. type = \"marketplace\" with publisher, offer and sku",
            );
            None
        }
    };

    let mut steps = Vec::new();
    let mut recipe_validators = Vec::new();
    let mut recipe_names = Vec::new();
    for reference in image.recipes.iter().flatten() {
        let recipe_name = reference.get_ref();
        if recipe_names.contains(recipe_name) {
            p.hint(
                reference.span(),
                format!("recipe `{recipe_name}` is listed twice"),
                "list each recipe once",
            );
        } else if let Some(recipe) = ctx.recipes.get(recipe_name) {
            steps.extend(recipe.steps.iter().cloned());
            recipe_validators.extend(recipe.validators.iter().cloned());
        } else if !ctx.declared.contains(recipe_name) {
            p.hint(
                reference.span(),
                format!("unknown recipe `{recipe_name}`"),
                known_recipes(ctx.declared),
            );
        }
        recipe_names.push(recipe_name.clone());
    }
    for step in &image.steps {
        if let Some(step) = check_step(p, step) {
            steps.push(step);
        }
    }

    if image.distribute.is_empty() {
        p.hint(
            raw.span(),
            "image has no `[[images.distribute]]` target",
            "add at least one, e.g. type = \"gallery\" with image_id",
        );
    }
    // AIB takes a platform image from the template's region, so an image is built
    // where its source is looked up; targets default to that region.
    let build_location = match &source {
        Some(Source::Marketplace(m)) => Some(m.location.as_str()),
        _ => ctx.location,
    };
    let distribute: Vec<_> = image
        .distribute
        .iter()
        .filter_map(|target| check_distribute(p, target, build_location))
        .collect();
    let location = build_location.map(str::to_owned);

    let validation = check_validation(p, raw, recipe_validators, !steps.is_empty());
    let build_window = match &image.build_window {
        Some(window) => check_build_window(p, window),
        None => ctx.defaults.build_window.clone(),
    };
    let schedule = image.schedule.as_ref().and_then(|s| check_schedule(p, s));
    let max_age = max_age(p, &image.max_age_days).or(ctx.defaults.max_age);
    let min_base_age = min_base_age(p, &image.min_base_age).or(ctx.defaults.min_base_age);
    let vm_size = image.vm_size.as_ref().and_then(|s| vm_size(p, s));
    let os_disk_size_gb =
        disk_size(p, &image.os_disk_size_gb).unwrap_or(ctx.defaults.os_disk_size_gb);
    let build_timeout_minutes = build_timeout(p, &image.build_timeout_minutes)
        .unwrap_or(ctx.defaults.build_timeout_minutes);
    let staging_resource_group = match &image.staging_resource_group {
        Some(id) => resource_id(p, id, IdKind::ResourceGroup),
        None => ctx.staging_resource_group.map(str::to_owned),
    };
    let mut merged_tags = ctx.defaults.tags.clone();
    merged_tags.extend(tags(p, image.tags.as_ref()));

    // Recipes declared but broken were reported where they are defined; the image cannot be
    // built from them either.
    let recipes_ok = recipe_names.iter().all(|r| ctx.recipes.contains_key(r));
    if p.len() != before || !recipes_ok {
        return None;
    }
    let source = source?;
    let location = location?;
    let recipe_hash = RecipeHash::compute(&steps, &validation, &source, os_disk_size_gb);
    Some(Image {
        name: name?,
        enabled: image.enabled.unwrap_or(true),
        source,
        location,
        recipes: recipe_names,
        steps,
        distribute,
        schedule,
        max_age,
        min_base_age,
        vm_size: vm_size.unwrap_or_else(|| ctx.defaults.vm_size.clone()),
        os_disk_size_gb,
        build_timeout_minutes,
        staging_resource_group,
        tags: merged_tags,
        recipe_hash,
        validation,
        build_window,
    })
}

fn known_recipes(declared: &BTreeSet<String>) -> String {
    if declared.is_empty() {
        "no recipes are defined; add a [recipes.<name>] table".to_owned()
    } else {
        let names: Vec<_> = declared.iter().map(|n| format!("`{n}`")).collect();
        format!("defined recipes: {}", names.join(", "))
    }
}
