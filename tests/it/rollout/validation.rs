//! In-VM validation (issue 15, part 2): validators run in AIB's `Validating`
//! sub-state; a failing one fails the build with its message and log, and
//! distributes nothing unless `continue_distribute_on_failure`.

use image_refresh::model::{BuildState, RunSubState};
use serde_json::Value;

use crate::support::daemon::eventually;
use crate::support::setup;
use crate::support::world::World;

const FAILS: &str = "ubuntu-golden";
const RISKY: &str = "ubuntu-risky";
const PASSES: &str = "ubuntu-plain";
const MESSAGE: &str = "CIS 5.2.10 failed: PermitRootLogin is yes";

/// Every image validates with the recipe's `cis` validator, which fails for
/// two of them; `RISKY` distributes all the same.
async fn world() -> World {
    let scenario = format!(
        "{}\n[[validations]]\nmatch = \"ir-{FAILS}-*\"\nvalidator = \"cis\"\nmessage = \"{MESSAGE}\"\n\
         [[validations]]\nmatch = \"ir-{RISKY}-*\"\nmessage = \"{MESSAGE}\"\n",
        setup::scenario("", 0, 0)
    );
    let world = World::builder().scenario(scenario).start().await;
    let text = setup::catalog(&world.sim, &world.secret_file, "", &[FAILS, RISKY, PASSES]).replace(
        &format!("name = \"{RISKY}\"\n"),
        &format!("name = \"{RISKY}\"\ncontinue_distribute_on_failure = true\n"),
    );
    world.write_config(&format!(
        "{text}\n[[recipes.patch.validate]]\ntype = \"shell\"\nname = \"cis\"\ninline = [\"sudo /opt/cis/check\"]\n"
    ));
    world
}

fn history(world: &World) -> Vec<Value> {
    let output = world.command(&["history", "--output", "json"]);
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn of<'h>(history: &'h [Value], image: &str) -> &'h Value {
    history.iter().find(|b| b["image"] == image).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_validator_fails_the_build_and_distributes_nothing() {
    let world = world().await;
    let output = world.command(&["build", "--wait", FAILS, RISKY, PASSES]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "a build failed: {output:?}");

    // The template the simulator accepted (its PUT is schema-validated) asked for it.
    let puts = world.statuses("template.put");
    assert!(
        puts.len() == 3 && puts.iter().all(|s| (200..300).contains(s)),
        "{puts:?}"
    );

    let history = history(&world);
    let failed = of(&history, FAILS);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error_code"], "ValidationFailed");
    assert_eq!(failed["run_sub_state"], "validating");
    let message = failed["error_message"].as_str().unwrap();
    assert!(
        message.contains(&format!("Validation 'cis' (Shell) failed: {MESSAGE}")),
        "{message}"
    );
    let log_url = failed["log_url"].as_str().unwrap();
    assert!(log_url.ends_with("/customization.log"), "{log_url}");
    assert!(stdout.contains(MESSAGE), "{stdout}");
    assert_eq!(failed["artifact_ids"], serde_json::json!([]), "{failed}");

    // The validator's own output is in the log `logs` prints.
    let id = failed["id"].as_str().unwrap();
    let output = world.command(&["logs", &id[..8]]);
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(log.contains(MESSAGE), "{log}");
    assert!(
        log.contains("Step failed: validator 'cis' (Shell)"),
        "{log}"
    );

    // The run still failed, but its image went out, and history says where.
    let risky = of(&history, RISKY);
    assert_eq!(risky["state"], "failed");
    assert_eq!(risky["error_code"], "ValidationFailed");
    let risky_artifacts = risky["artifact_ids"].as_array().unwrap();
    assert_eq!(risky_artifacts.len(), 1, "{risky}");

    let passed = of(&history, PASSES);
    assert_eq!(passed["state"], "succeeded", "{passed}");

    // What exists in Azure: the images of the passing build and of the risky
    // one, none of the failed one.
    let artifacts = world.sim.artifact_ids();
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    assert!(
        artifacts.iter().all(|a| !a.ends_with(&format!("/{FAILS}"))),
        "{artifacts:?}"
    );
    assert!(artifacts.contains(&risky_artifacts[0].as_str().unwrap().to_owned()));

    // Each failure is a build_failed notice, written with its final state.
    let store = world.store().await;
    let notices: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, image FROM outbox ORDER BY image")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let failed_notices: Vec<&str> = notices
        .iter()
        .filter(|(kind, _)| kind == "build_failed")
        .map(|(_, image)| image.as_str())
        .collect();
    assert_eq!(failed_notices, [FAILS, RISKY], "{notices:?}");
    store.close().await;

    let builds = world.builds().await;
    let failed = builds.iter().find(|b| b.image == FAILS).unwrap();
    assert_eq!(failed.state, BuildState::Failed);
    assert_eq!(failed.run_sub_state, Some(RunSubState::Validating));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_validator_is_a_changed_recipe() {
    let world = world().await;
    let output = world.command(&["build", "--wait", PASSES]);
    assert!(output.status.success(), "{output:?}");
    let output = world.command(&["check"]);
    let plain = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains(PASSES))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(plain(&output).contains("up to date"), "{output:?}");

    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("sudo /opt/cis/check", "sudo /opt/cis/check --level 2");
    world.write_config(&text);
    let output = world.command(&["check"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(plain(&output).contains("recipe changed"), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_while_aib_validates_resumes_to_the_validations_verdict() {
    let scenario = format!(
        "{}\n[[validations]]\nmatch = \"ir-{FAILS}-*\"\nmessage = \"{MESSAGE}\"\n",
        setup::scenario("", 0, 0).replace("validating_secs = 0", "validating_secs = 8")
    );
    let world = World::builder()
        .scenario(scenario)
        .patience(std::time::Duration::from_secs(90))
        .start()
        .await;
    let text = setup::catalog(&world.sim, &world.secret_file, "", &[FAILS]);
    world.write_config(&format!(
        "{text}\n[[images.validate]]\ntype = \"shell\"\ninline = [\"sudo /opt/cis/check\"]\n"
    ));
    let first = world.spawn("first", &[]);
    let store = world.store().await;
    // The progress the service records: AIB is validating.
    eventually("the run to be validating", &first, || async {
        store
            .history(Some(FAILS), 1)
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.run_sub_state == Some(RunSubState::Validating))
    })
    .await;
    // What a person sees meanwhile (the progress line of `build --wait` reads the same).
    let output = world.command(&["history"]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("running (validating)"), "{table}");
    first.kill();

    let second = world.spawn("second", &[]);
    let build = eventually("the resumed build to end", &second, || async {
        store
            .history(Some(FAILS), 1)
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.state.is_terminal())
    })
    .await;
    assert_eq!(build.state, BuildState::Failed);
    assert_eq!(build.error_code.as_deref(), Some("ValidationFailed"));
    assert!(
        build.error_message.as_deref().unwrap().contains(MESSAGE),
        "{build:?}"
    );
    assert!(build.log_url.is_some());
    assert_eq!(world.accepted("template.run"), 1, "resumed, not run again");
    assert!(world.sim.artifact_ids().is_empty());
    assert_eq!(world.builds().await.len(), 1);
    second.stop_cleanly().await;
    store.close().await;
}
