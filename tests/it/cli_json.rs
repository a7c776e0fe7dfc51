//! `--output json` of every command that reports (issue 16): the JSON is all there is on
//! stdout, its exit code is the table's, and its shape is held by snapshots in which only
//! what varies from run to run (ids, times, the simulator's port) is replaced.

use std::process::Output;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use azure_sim::{Outcome, Phase};
use serde_json::Value;

use crate::support::gallery;
use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

const JAMMY: (&str, &str, &str) = (
    "Canonical",
    "0001-com-ubuntu-server-jammy",
    "22_04-lts-gen2",
);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The whole of stdout as JSON: a log line or a table row in it fails the parse.
fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON alone ({e}):\n{}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// The JSON with ids, times and the simulator's address replaced, for a snapshot.
fn normalised(value: &Value, sim_url: &str) -> String {
    fn walk(value: &Value, sim_url: &str) -> Value {
        match value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
                Value::String("[time]".into())
            }
            Value::String(s) => {
                Value::String(short_ids_out(&uuids_out(&s.replace(sim_url, "[sim]"))))
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, sim_url)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, sim_url)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&walk(value, sim_url.trim_end_matches('/'))).unwrap()
}

/// Every UUID (36 characters, dashed) as `[uuid]`.
fn uuids_out(text: &str) -> String {
    let is_uuid = |s: &str| {
        s.len() == 36
            && s.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        if let Some(candidate) = text.get(i..i + 36)
            && is_uuid(candidate)
        {
            out.push_str("[uuid]");
            i += 36;
            continue;
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Build ids as people see them (8 hex digits: in template names, "failed build 1a2b3c4d")
/// as `[short]`; longer hex (a recipe hash) stays, as it does not vary.
fn short_ids_out(text: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let short = word.len() == 8 && word.chars().all(|c| c.is_ascii_hexdigit());
        out.push_str(if short { "[short]" } else { word.as_str() });
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_run_once_enable_and_disable_report_in_json_with_the_table_s_exit_code() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    let url = world.sim.base_url().to_owned();

    let built = world.command(&["build", IMAGE, "--wait", "--output", "json"]);
    assert_code(&built, 0);
    let report = json(&built);
    assert_eq!(report["waited"], true);
    assert_eq!(report["builds"][0]["state"], "succeeded");
    assert_eq!(report["builds"][0]["decision"], "never_built");
    assert_eq!(
        report["plan"]["entries"][0]["source_version"],
        "22.04.202411050"
    );
    // The id in full: the one `history` and `logs` take.
    let id = report["builds"][0]["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    insta::assert_snapshot!("build_wait", normalised(&report, &url));

    let table = world.command(&["build", IMAGE]);
    assert_code(&table, 0);
    let kept = world.command(&["build", IMAGE, "--output", "json"]);
    assert_code(&kept, 0);
    let kept = json(&kept);
    assert_eq!(kept["builds"], Value::Array(vec![]));
    assert_eq!(kept["not_built"][0]["decision"]["kind"], "up_to_date");

    world
        .sim
        .queue_build_outcome(Outcome::Failed, Some(Phase::Validating));
    let failed = world.command(&["build", IMAGE, "--force", "--wait", "--output", "json"]);
    assert_code(&failed, 1);
    let failed = json(&failed);
    assert_eq!(failed["builds"][0]["state"], "failed");
    let message = failed["builds"][0]["error_message"].as_str().unwrap();
    assert!(message.contains("A validation step failed."), "{message}");

    let (publisher, offer, sku) = JAMMY;
    world
        .sim
        .publish_version("westeurope", publisher, offer, sku, "22.04.202412010");
    let cycle = world.command(&["run", "--once", "--output", "json"]);
    assert_code(&cycle, 0);
    let cycle = json(&cycle);
    assert_eq!(cycle["builds"][0]["source_version"], "22.04.202412010");
    assert_eq!(cycle["builds"][0]["state"], "succeeded");
    insta::assert_snapshot!("run_once", normalised(&cycle, &url));

    let disabled = world.command(&[
        "disable",
        IMAGE,
        "--reason",
        "base image recalled",
        "--output",
        "json",
    ]);
    assert_code(&disabled, 0);
    insta::assert_snapshot!("disable", normalised(&json(&disabled), &url));
    let enabled = world.command(&["enable", IMAGE, "--output", "json"]);
    assert_code(&enabled, 0);
    let enabled = json(&enabled);
    assert_eq!(
        enabled["previous"]["disabled_reason"],
        "base image recalled"
    );
    insta::assert_snapshot!("enable", normalised(&enabled, &url));

    let unknown = world.command(&["enable", "ubuntu-goldne", "--output", "json"]);
    assert_code(&unknown, 1);
    assert!(unknown.stdout.is_empty(), "{}", text(&unknown.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_reports_each_sink_in_json() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/hooks/t0ken", listener.local_addr().unwrap());
    let app = Router::new().route("/hooks/t0ken", post(|| async { StatusCode::ACCEPTED }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url_file = world.dir.path().join("webhook-url");
    image_refresh::cli::simulated::write_private(&url_file, &receiver).unwrap();
    let sinks = format!(
        "[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl_file = \"{}\"\n",
        url_file.display()
    );
    world.write_catalog(&sinks, &[IMAGE]);

    let output = world.command(&["notify", "test", "--output", "json"]);
    assert_code(&output, 0);
    let report = json(&output);
    assert_eq!(report["sinks"][0]["delivery"], "delivered");
    insta::assert_snapshot!("notify_test", normalised(&report, world.sim.base_url()));
}

#[test]
fn validate_prints_every_problem_as_json_when_the_catalog_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let broken = image_refresh::catalog::CLASSIC
        .replace(
            "recipes = [\"patch-and-banner\"]",
            "recipes = [\"patch-and-bannr\"]",
        )
        .replace(
            "subscription_id = \"00000000-0000-0000-0000-000000000000\"",
            "subscription_id = \"nope\"",
        );
    std::fs::write(dir.path().join("bad.toml"), &broken).unwrap();
    // Relative, so that the snapshot holds no temporary path.
    let output = std::process::Command::new(setup::BIN)
        .current_dir(dir.path())
        .args(["--config", "bad.toml", "validate", "--output", "json"])
        .output()
        .unwrap();
    assert_code(&output, 1);
    let problems = json(&output);
    assert_eq!(problems.as_array().unwrap().len(), 2);
    assert_eq!(problems[0]["line"], 8);
    assert_eq!(problems[0]["column"], 19);
    insta::assert_snapshot!(
        "validate_invalid",
        normalised(&problems, "http://no-simulator")
    );

    // A file that cannot be read is one problem without a place.
    let output = std::process::Command::new(setup::BIN)
        .current_dir(dir.path())
        .args(["--config", "missing.toml", "validate", "--output", "json"])
        .output()
        .unwrap();
    assert_code(&output, 1);
    let problems = json(&output);
    assert_eq!(problems[0]["file"], "missing.toml");
    assert_eq!(problems[0]["line"], Value::Null);
    let message = problems[0]["message"].as_str().unwrap();
    assert!(message.contains("missing.toml"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_rollout_reports_in_json() {
    let world = gallery::world(
        "[[images.distribute.rings]]\nregions = [\"westeurope\"]\n\
         [[images.distribute.rings]]\nregions = [\"northeurope\"]\nafter = \"1d\"\n",
    )
    .await;
    let url = world.sim.base_url().to_owned();
    let cycle = world.command(&["run", "--once", "--output", "json"]);
    assert_code(&cycle, 0);
    let cycle = json(&cycle);
    assert_eq!(cycle["promoted"][0]["latest_in"][0], "westeurope");
    insta::assert_snapshot!("run_once_promoted", normalised(&cycle["promoted"], &url));

    let status = world.command(&["status", "--output", "json"]);
    assert_code(&status, 0);
    let status = json(&status);
    insta::assert_snapshot!(
        "status_promotions",
        normalised(&status[0]["promotions"], &url)
    );

    let promoted = world.command(&["promote", IMAGE, "--by", "erin", "--output", "json"]);
    assert_code(&promoted, 0);
    let promoted = json(&promoted);
    assert_eq!(promoted[0]["ring"], 2);
    insta::assert_snapshot!("promote", normalised(&promoted, &url));

    let nothing = world.command(&["promote", IMAGE, "--output", "json"]);
    assert_code(&nothing, 1);
    assert!(nothing.stdout.is_empty(), "{}", text(&nothing.stdout));
}
