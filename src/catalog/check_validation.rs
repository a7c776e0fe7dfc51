//! In-VM validation: `[[recipes.NAME.validate]]` and `[[images.validate]]`
//! validators, and the image's `continue_distribute_on_failure` and
//! `source_validation_only`, refused in the combinations AIB cannot run.

use super::check_steps::check_step;
use super::error::Problems;
use super::model::Validation;
use super::raw::{RawImage, RawStep, S};
use super::step::Step;

const VALIDATOR_TYPES: [&str; 3] = ["shell", "powershell", "file"];

/// Checks one validator: a step of a type AIB validates with; `None` when it
/// has problems (they are recorded).
pub(super) fn check_validator(p: &mut Problems, raw: &S<RawStep>) -> Option<Step> {
    if let Some(kind) = &raw.get_ref().r#type
        && !VALIDATOR_TYPES.contains(&kind.get_ref().as_str())
    {
        p.hint(
            kind.span(),
            format!("`{}` cannot be a validator", kind.get_ref()),
            "AIB validates with \"shell\", \"powershell\" or \"file\" steps; put other steps in `steps`",
        );
        return None;
    }
    check_step(p, raw)
}

/// The image's validation: its recipes' validators (`inherited`, in recipe
/// order) then its own. `customizes` says whether the image has steps.
pub(super) fn check_validation(
    p: &mut Problems,
    raw: &S<RawImage>,
    inherited: Vec<Step>,
    customizes: bool,
) -> Validation {
    let image = raw.get_ref();
    let mut validators = inherited;
    validators.extend(image.validate.iter().filter_map(|v| check_validator(p, v)));
    let flag = |f: &Option<S<bool>>| f.as_ref().filter(|f| *f.get_ref()).map(|f| f.span());
    let continue_on_failure = flag(&image.continue_distribute_on_failure);
    let source_only = flag(&image.source_validation_only);
    let nothing_to_validate = validators.is_empty() && image.validate.is_empty();
    if let Some(span) = continue_on_failure.clone().filter(|_| nothing_to_validate) {
        p.hint(
            span,
            "`continue_distribute_on_failure` without validators has no effect",
            "add [[images.validate]] steps (or a recipe with validate steps), or remove it",
        );
    }
    if let Some(span) = source_only.clone() {
        if nothing_to_validate {
            p.hint(
                span.clone(),
                "`source_validation_only` without validators validates nothing",
                "add [[images.validate]] steps (or a recipe with validate steps)",
            );
        }
        if customizes {
            p.hint(
                span,
                "`source_validation_only` validates the source image as it is, so the image's steps would never run",
                "remove the steps (and recipes with steps) from this image, or set source_validation_only = false",
            );
        }
    }
    Validation {
        validators,
        continue_distribute_on_failure: continue_on_failure.is_some(),
        source_validation_only: source_only.is_some(),
    }
}
