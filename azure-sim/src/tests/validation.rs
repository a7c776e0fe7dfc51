//! AIB's validation phase: validators run in `Validating`, a failing one
//! fails the run with its output, and only `continueDistributeOnFailure`
//! still distributes; `sourceValidationOnly` customizes nothing.

use std::time::Duration;

use serde_json::{Value, json};

use super::staging::{SCENARIO, provision, run_to_end, send, template, template_path};
use super::{ARM, get_json, start, token};
use crate::SimHandle;

const AIB: &str = "2025-10-01";
const MESSAGE: &str = "sshd: PermitRootLogin is yes";

fn validating(continue_on_failure: bool) -> Value {
    let mut body = template("rg-images", None);
    body["properties"]["validate"] = json!({
        "continueDistributeOnFailure": continue_on_failure,
        "inVMValidations": [
            {"type": "Shell", "name": "smoke", "inline": ["systemctl is-system-running"]},
            {"type": "Shell", "name": "cis", "inline": ["sudo /opt/cis/check"]}
        ]
    });
    body
}

async fn outputs(sim: &SimHandle, arm: &str, name: &str) -> Vec<Value> {
    let path = format!("{}/runOutputs", template_path(name));
    get_json(sim, arm, &path, AIB, 200).await["value"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(start_paused = true)]
async fn a_failing_validator_fails_the_run_and_only_continue_distributes() {
    let sim = start(SCENARIO).await;
    sim.fail_validation("golden*", "cis", MESSAGE);
    let arm = token(&sim, ARM).await;
    for (name, keep_going) in [("golden", false), ("golden-anyway", true)] {
        provision(&sim, &arm, name, &validating(keep_going)).await;
        let t = run_to_end(&sim, &arm, name).await;
        let run = &t["properties"]["lastRunStatus"];
        assert_eq!(run["runState"], "Failed", "{run}");
        assert_eq!(run["runSubState"], "Validating");
        let message = run["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("Validation 'cis' (Shell) failed: {MESSAGE}.")),
            "{message}"
        );
        assert!(message.contains("/customization.log"), "{message}");
        assert_eq!(
            outputs(&sim, &arm, name).await.len(),
            usize::from(keep_going)
        );
    }
    assert_eq!(sim.artifact_ids().len(), 1, "only the one that went on");

    // A validator the rule does not name passes.
    sim.fail_validation("other", "*", MESSAGE);
    provision(&sim, &arm, "plain", &validating(false)).await;
    let t = run_to_end(&sim, &arm, "plain").await;
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Succeeded");
}

#[tokio::test(start_paused = true)]
async fn validating_the_source_alone_skips_customizing() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let mut body = validating(false);
    body["properties"]["customize"] = json!([]);
    body["properties"]["validate"]["sourceValidationOnly"] = json!(true);
    provision(&sim, &arm, "source", &body).await;
    let run = send(
        &sim,
        &arm,
        reqwest::Method::POST,
        &format!("{}/run", template_path("source")),
    )
    .await;
    assert_eq!(run.status(), 202);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let t = get_json(&sim, &arm, &template_path("source"), AIB, 200).await;
        let run = &t["properties"]["lastRunStatus"];
        if let Some(sub) = run["runSubState"].as_str()
            && seen.last().map(String::as_str) != Some(sub)
        {
            seen.push(sub.to_owned());
        }
        if run["runState"] != "Running" {
            assert_eq!(run["runState"], "Succeeded", "{run}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(seen, ["Queued", "Building", "Validating", "Distributing"]);
}
