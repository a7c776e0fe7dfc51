//! The text of a run's customization.log, written as the run moves on: what
//! packer prints under AIB, naming each customizer, validator and
//! distributor by its `name` (or `runOutputName`), and for a failed run the
//! step that failed and its error line.

use serde_json::Value;

use super::scenario::Phase;

const OUT: &str = "PACKER OUT ==> azure-arm:";
const ERR: &str = "PACKER ERR ==> azure-arm:";
/// The error line of a failed script step, as packer words it.
const SCRIPT_FAILED: &str =
    "Script exited with non-zero exit status: 1. Allowed exit codes are: [0]";

/// A step of the build: its name and its type as the template gives them.
struct Step {
    name: String,
    kind: String,
}

fn steps(list: &Value, name_key: &str) -> Vec<Step> {
    list.as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| {
            let kind = s["type"].as_str().unwrap_or("Unknown").to_owned();
            let name = s[name_key]
                .as_str()
                .filter(|n| !n.is_empty())
                .map_or_else(|| format!("#{}", i + 1), str::to_owned);
            Step { name, kind }
        })
        .collect()
}

fn customizers(request: &Value) -> Vec<Step> {
    steps(&request["properties"]["customize"], "name")
}

fn validators(request: &Value) -> Vec<Step> {
    steps(
        &request["properties"]["validate"]["inVMValidations"],
        "name",
    )
}

fn distributors(request: &Value) -> Vec<Step> {
    steps(&request["properties"]["distribute"], "runOutputName")
}

fn is_windows(request: &Value) -> bool {
    customizers(request)
        .iter()
        .any(|s| s.kind.starts_with("Windows") || s.kind == "PowerShell")
}

/// The log's first lines, when the run is queued.
pub(crate) fn start(template: &str, run_id: &str, staging_group: &str, location: &str) -> String {
    format!(
        "[INFO] Azure VM Image Builder run {run_id} of image template '{template}'\n\
         [INFO] Packer version: 1.10.0 [go1.21.6 linux amd64]\n\
         {OUT} Running builder ...\n\
         {OUT} Getting tokens using Managed Identity for Azure ...\n\
         {OUT} Using existing resource group ...\n\
         {OUT}  -> ResourceGroupName : '{staging_group}'\n\
         {OUT}  -> Location          : '{location}'\n"
    )
}

/// Lines for the run entering `phase` (the steps it runs, all but a failing last one).
pub(crate) fn phase(request: &Value, phase: Phase) -> String {
    match phase {
        Phase::Queued => String::new(),
        Phase::Building => {
            let wait = if is_windows(request) { "WinRM" } else { "SSH" };
            format!(
                "{OUT} Deploying deployment template ...\n\
                 {OUT} Waiting for {wait} to become available...\n\
                 {OUT} Connected to {wait}!\n"
            )
        }
        Phase::Customizing => step_lines(&customizers(request), "customizer"),
        Phase::Validating => step_lines(&validators(request), "validator"),
        Phase::Distributing => {
            let mut text = format!("{OUT} Capturing image ...\n");
            for d in distributors(request) {
                text.push_str(&format!(
                    "{OUT} Distributing '{}' ({}) ...\n",
                    d.name, d.kind
                ));
            }
            text
        }
    }
}

fn step_lines(steps: &[Step], what: &str) -> String {
    steps
        .iter()
        .map(|s| {
            format!(
                "{OUT} (telemetry) Starting {what} '{}' ({})\n{OUT} Running {what} '{}' ...\n",
                s.name, s.kind, s.name
            )
        })
        .collect()
}

/// The step a run failing in `phase` fails at: the phase's last step.
pub(crate) fn failing_step(request: &Value, phase: Phase) -> String {
    let last = |steps: Vec<Step>, what: &str| {
        steps.last().map_or_else(
            || what.to_owned(),
            |s| format!("{what} '{}' ({})", s.name, s.kind),
        )
    };
    match phase {
        Phase::Queued | Phase::Building => "build VM deployment".to_owned(),
        Phase::Customizing => last(customizers(request), "customizer"),
        Phase::Validating => last(validators(request), "validator"),
        Phase::Distributing => last(distributors(request), "distributor"),
    }
}

/// The end of a failed run's log.
pub(crate) fn failed(request: &Value, phase: Phase) -> String {
    let step = failing_step(request, phase);
    let error = match phase {
        Phase::Queued | Phase::Building => {
            "ERROR: -> DeploymentFailed : At least one resource deployment operation failed."
        }
        _ => SCRIPT_FAILED,
    };
    format!(
        "{ERR} {error}\n\
         {OUT} Step failed: {step}\n\
         PACKER OUT Build 'azure-arm' errored: {error}\n\
         PACKER OUT ==> Some builds didn't complete successfully and had errors:\n\
         PACKER OUT --> azure-arm: {error}\n\
         PACKER OUT ==> Builds finished but no artifacts were created.\n\
         [ERROR] Packer build command has failed: exit status 1\n"
    )
}

/// The end of a run whose distribution failed.
pub(crate) fn distribution_failed(message: &str) -> String {
    format!("{ERR} {message}\n[ERROR] Distribution failed\n")
}

/// The end of a run that succeeded (possibly in part).
pub(crate) fn succeeded() -> String {
    format!(
        "{OUT} Deleting the temporary build VM ...\n\
         PACKER OUT Build 'azure-arm' finished.\n\
         PACKER OUT ==> Builds finished. The artifacts of successful builds are:\n\
         PACKER OUT --> azure-arm: Azure.ResourceManagement.VMImage\n"
    )
}

pub(crate) fn canceled() -> String {
    "[INFO] The build was canceled by the user.\n".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_customization_names_its_last_customizer() {
        let request = json!({"properties": {"customize": [
            {"type": "Shell", "name": "update"},
            {"type": "Shell", "name": "harden"},
            {"type": "File"}
        ]}});
        let text = phase(&request, Phase::Customizing);
        assert!(
            text.contains("'update' (Shell)") && text.contains("'harden' (Shell)"),
            "{text}"
        );
        assert!(text.contains("'#3' (File)"), "{text}");
        let end = failed(&request, Phase::Customizing);
        assert!(end.contains("Step failed: customizer '#3' (File)"), "{end}");
        assert!(end.contains(SCRIPT_FAILED), "{end}");
    }
}
