//! AIB's validation phase: the template's `validate.inVMValidations` run in
//! the `Validating` sub-state, and a scenario's `[[validations]]` rules make
//! one fail with the validator's output. As the contract says, a failed
//! validation fails the run either way; only `continueDistributeOnFailure`
//! still distributes the image.

use serde::Deserialize;
use serde_json::Value;

use super::scenario::wildcard_match;
use super::state::World;

/// A validator that fails in runs of templates matching `match`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationRule {
    /// Template names, `*` wildcards.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Which validator fails, by its `name` (or `#N` for an unnamed one), `*`
    /// wildcards; the first validator when absent.
    #[serde(default = "any")]
    pub validator: String,
    /// What the validator printed when it failed.
    pub message: String,
}

fn any() -> String {
    "*".to_owned()
}

/// A validator of a run that fails, and what it said.
pub(crate) struct Failure {
    name: String,
    kind: String,
    message: String,
    pub continue_distribute: bool,
}

/// Whether the template asks to validate the source alone: the run then
/// skips customization.
pub(crate) fn source_only(request: &Value) -> bool {
    request["properties"]["validate"]["sourceValidationOnly"] == true
}

/// The failing validator of a run of template `name`, if a rule makes one fail.
pub(crate) fn failure(world: &World, name: &str, request: &Value) -> Option<Failure> {
    let validate = &request["properties"]["validate"];
    let validators = validate["inVMValidations"].as_array()?;
    world
        .validation_rules
        .iter()
        .filter(|rule| wildcard_match(&rule.pattern, name))
        .find_map(|rule| {
            validators.iter().enumerate().find_map(|(i, v)| {
                let label = v["name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map_or_else(|| format!("#{}", i + 1), str::to_owned);
                wildcard_match(&rule.validator, &label).then(|| Failure {
                    name: label,
                    kind: v["type"].as_str().unwrap_or("Unknown").to_owned(),
                    message: rule.message.clone(),
                    continue_distribute: validate["continueDistributeOnFailure"] == true,
                })
            })
        })
}

impl Failure {
    /// What customization.log shows: the validator's output and packer's end.
    pub(crate) fn log(&self) -> String {
        let distributed = if self.continue_distribute {
            "[INFO] continueDistributeOnFailure is set: distributing the image although validation failed\n"
        } else {
            "PACKER OUT ==> Builds finished but no artifacts were created.\n"
        };
        format!(
            "PACKER ERR ==> azure-arm: {message}\n\
             PACKER ERR ==> azure-arm: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]\n\
             PACKER OUT ==> azure-arm: Step failed: validator '{name}' ({kind})\n\
             {distributed}\
             [ERROR] Validation failed\n",
            message = self.message,
            name = self.name,
            kind = self.kind,
        )
    }

    /// The validator and its output, for the run's message.
    pub(crate) fn detail(&self) -> String {
        format!(
            "Validation '{}' ({}) failed: {}.",
            self.name,
            self.kind,
            self.message.trim_end_matches('.')
        )
    }
}
