//! The real binary, as a person or a script runs it: against real catalog
//! files, a real SQLite file and the in-process Azure simulator.

use std::path::Path;
use std::process::Output;

use azure_sim::SimHandle;
use image_refresh::catalog;

use crate::support::setup::{self, BIN};
use crate::support::world::World;

/// A simulator with builds that take a few seconds, and a catalog file that
/// points the classic example at it; the database in a directory not made yet.
async fn world() -> World {
    let world = World::builder()
        .scenario(setup::scenario("", 1, 1))
        .database("state/history.db")
        .start()
        .await;
    let endpoints = format!(
        "{}\n[defaults]",
        setup::endpoints(&world.sim, &world.secret_file)
    );
    world.write_config(&catalog::CLASSIC.replacen("[defaults]", &endpoints, 1));
    world
}

trait CliWorld {
    /// The binary on the world's catalog and database.
    async fn run(&self, args: &[&str]) -> Output;
}

impl CliWorld for World {
    async fn run(&self, args: &[&str]) -> Output {
        run_with(&self.config, &self.database, args).await
    }
}

async fn run_with(config: &Path, database: &Path, args: &[&str]) -> Output {
    tokio::process::Command::from(setup::binary(config, database))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// Errors are for people: no Rust debug dumps or backtraces.
fn assert_no_debug_dump(text: &str) {
    for marker in ["panicked", "RUST_BACKTRACE", "Os {", "Error {", "kind:"] {
        assert!(
            !text.contains(marker),
            "debug output leaked ({marker}):\n{text}"
        );
    }
}

#[tokio::test]
async fn validate_shows_every_image_with_its_recipe_hash() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/image-refresh.toml");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let output = run_with(&config, &db, &["validate", "--output", "json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let images = json(&output);
    let expected = catalog::parse(catalog::CLASSIC, "classic").unwrap();
    assert_eq!(images[0]["name"], "ubuntu-golden");
    assert_eq!(
        images[0]["recipe_hash"],
        format!("sha256:{}", expected.images[0].recipe_hash.hex())
    );
    assert!(!db.exists(), "validate must not create a database");

    // Relative to the checkout, so the snapshot holds no machine's path.
    let table = tokio::process::Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--config", "config/image-refresh.toml", "validate"])
        .output()
        .await
        .unwrap();
    assert!(table.status.success());
    insta::assert_snapshot!(stdout(&table));
}

#[tokio::test]
async fn validate_reports_each_problem_with_its_location_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    let broken = catalog::CLASSIC
        .replace(
            "recipes = [\"patch-and-banner\"]",
            "recipes = [\"patch-and-bannr\"]",
        )
        .replace(
            "subscription_id = \"00000000-0000-0000-0000-000000000000\"",
            "subscription_id = \"nope\"",
        );
    std::fs::write(&config, &broken).unwrap();
    let output = run_with(&config, &dir.path().join("db"), &["validate"]).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let recipe_line = broken
        .lines()
        .position(|l| l.contains("patch-and-bannr"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("bad.toml:{recipe_line}:12")), "{err}");
    assert!(err.contains("bad.toml:8:19"), "{err}");
    assert!(err.contains("unknown recipe `patch-and-bannr`"), "{err}");
    assert!(err.contains("2 problems"), "{err}");
    assert_no_debug_dump(&err);
}

#[tokio::test]
async fn a_missing_catalog_is_named_without_a_debug_dump() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.toml");
    let output = run_with(&missing, &dir.path().join("db"), &["check"]).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("nowhere.toml"), "{err}");
    assert_no_debug_dump(&err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_build_history_status_round_trip() {
    let world = world().await;

    // Reading history makes none: before the first check there is nothing to show.
    let none = world.run(&["history"]).await;
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no history at"), "{}", stderr(&none));
    assert!(!world.database.exists());

    let check = world.run(&["check", "--output", "json"]).await;
    assert_eq!(
        check.status.code(),
        Some(3),
        "stale → exit 3: {}",
        stderr(&check)
    );
    let plan = json(&check);
    assert_eq!(plan["entries"][0]["decision"]["kind"], "never_built");
    assert_eq!(plan["entries"][0]["source_version"], "22.04.202411050");
    assert_eq!(
        world.sim.count("template.put"),
        0,
        "check changes nothing in Azure"
    );

    let build = world.run(&["build", "ubuntu-golden", "--wait"]).await;
    assert!(
        build.status.success(),
        "{}\n{}",
        stdout(&build),
        stderr(&build)
    );
    assert!(
        stdout(&build).contains("ubuntu-golden: built"),
        "{}",
        stdout(&build)
    );
    assert_eq!(world.sim.count("template.run"), 1);
    assert_eq!(
        world.sim.count("template.delete"),
        1,
        "the template is cleaned up"
    );

    let history = json(&world.run(&["history", "--output", "json"]).await);
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["state"], "succeeded");
    assert_eq!(history[0]["source_version"], "22.04.202411050");
    assert_eq!(history[0]["cleanup"], "done");
    let artifact = history[0]["artifact_ids"][0].as_str().unwrap();
    assert!(artifact.ends_with("/images/ubuntu-golden"), "{artifact}");

    let status = json(&world.run(&["status", "--output", "json"]).await);
    assert_eq!(status[0]["name"], "ubuntu-golden");
    assert_eq!(status[0]["last_build"]["state"], "succeeded");

    let again = world.run(&["check"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("up to date"), "{}", stdout(&again));

    let nothing = world.run(&["build", "ubuntu-golden"]).await;
    assert!(nothing.status.success());
    assert!(
        stdout(&nothing).contains("ubuntu-golden: up to date"),
        "{}",
        stdout(&nothing)
    );
    assert_eq!(world.sim.count("template.run"), 1, "no second run");

    let table = world.run(&["history", "--image", "ubuntu-golden"]).await;
    assert!(stdout(&table).contains("succeeded"), "{}", stdout(&table));
    drop(world.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_of_an_unknown_image_lists_the_known_ones() {
    let world = world().await;
    let output = world.run(&["build", "ubuntu-golen"]).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("unknown image ubuntu-golen"), "{err}");
    assert!(err.contains("ubuntu-golden"), "{err}");
    assert_no_debug_dump(&err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_without_wait_leaves_the_run_for_run_once_to_finish() {
    let world = world().await;
    let started = world.run(&["build", "ubuntu-golden"]).await;
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(
        stdout(&started).contains("ubuntu-golden: started"),
        "{}",
        stdout(&started)
    );
    let history = json(&world.run(&["history", "--output", "json"]).await);
    assert_eq!(history[0]["state"], "running");

    let finished = world.run(&["run", "--once"]).await;
    assert!(finished.status.success(), "{}", stderr(&finished));
    let history = json(&world.run(&["history", "--output", "json"]).await);
    assert_eq!(history.as_array().unwrap().len(), 1, "resumed, not rebuilt");
    assert_eq!(history[0]["state"], "succeeded");
    assert_eq!(world.sim.count("template.run"), 1);
}

/// `IMAGE_REFRESH_POLL_INTERVAL_MS` is read by every command that follows builds,
/// not only by the service: `run --once` polls a two-second build many times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_and_build_wait_poll_as_often_as_told() {
    let world = world().await;
    for args in [
        &["run", "--once"][..],
        &["build", "--force", "--wait", "ubuntu-golden"],
    ] {
        let before = world.sim.count("template.get");
        let output = tokio::process::Command::from(setup::binary(&world.config, &world.database))
            .args(args)
            .env_remove("RUST_LOG")
            .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "50")
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        // At the default 30 s the build would have been read once or twice.
        let polls = world.sim.count("template.get") - before;
        assert!(polls >= 10, "{args:?}: {polls} template reads");
    }
}

#[tokio::test]
async fn simulate_serves_on_loopback_and_prints_how_to_use_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut child = tokio::process::Command::new(BIN)
        .args(["simulate", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut endpoint = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        assert!(
            !line.starts_with("export ") && !line.contains("AZURE_AUTHORITY_HOST"),
            "nothing to paste into a real shell: {line}"
        );
        if let Some(url) = line.strip_prefix("IDENTITY_ENDPOINT=") {
            endpoint = Some(url.trim_end_matches("/msi/token").to_owned());
        }
        if line.contains("resource_manager_url") {
            break;
        }
    }
    let base = endpoint.expect("the identity endpoint is printed");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    // ARM without a token answers as Azure does.
    let response = reqwest::get(format!(
        "{base}/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-image-builder?api-version=2025-04-01"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    child.kill().await.unwrap();

    let refused = tokio::process::Command::new(BIN)
        .args(["simulate", "--listen", "0.0.0.0:0"])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("loopback"),
        "{}",
        stderr(&refused)
    );
}

/// The README's first command tells the whole story on its own.
#[tokio::test]
async fn demo_tells_the_whole_story() {
    let output = tokio::process::Command::new(BIN)
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    let first_check = out.find("check 1: 3 of 4 images stale").expect(&out);
    let second_check = out
        .find("check 2: 2 of 4 images stale")
        .unwrap_or_else(|| panic!("only what became stale is rebuilt:\n{out}"));
    assert!(first_check < second_check);
    let second_round = &out[second_check..];
    assert!(second_round.contains("ubuntu-2204: succeeded"), "{out}");
    assert!(second_round.contains("windows-2022: failed"), "{out}");
    assert!(second_round.contains("customization.log"), "{out}");
    assert!(
        out.contains("new base version 22.04.202411050 → 22.04.202412040"),
        "{out}"
    );
    assert!(out.contains("ubuntu-2404    keep"), "{out}");
    assert!(out.contains("== 5. history"), "{out}");
    // It leaves nothing behind.
    let workdir = out
        .lines()
        .find_map(|l| l.split("(working in ").nth(1))
        .map(|rest| rest.trim_end_matches(')').to_owned())
        .expect("the demo names its working folder");
    assert!(!Path::new(&workdir).exists(), "{workdir} was left behind");
}

/// A token the simulator minted for ARM, as `az login` would have cached one.
async fn minted_token(sim: &SimHandle) -> String {
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope={}/.default",
        sim.client_id(),
        sim.client_secret(),
        sim.arm_audience()
    );
    let answer: serde_json::Value = image_refresh::azure::http_client(Default::default())
        .unwrap()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.authority_host(),
            sim.tenant_id()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// `kind = "azure_cli"` signs in as the operator's `az login` does: image-refresh asks the
/// `az` on PATH for a token with ARM's scope and calls ARM with what it prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_credential_asks_az_for_an_arm_token() {
    use std::os::unix::fs::PermissionsExt;

    let world = world().await;
    let token = minted_token(&world.sim).await;
    let bin = world.dir.path().join("fake-az");
    std::fs::create_dir(&bin).unwrap();
    let asked = world.dir.path().join("az-was-asked");
    let expires_on = chrono::Utc::now().timestamp() + 3600;
    let az = bin.join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\necho \"$@\" > '{asked}'\n\
             printf '%s' '{{\"accessToken\": \"{token}\", \"expires_on\": {expires_on}, \"tokenType\": \"Bearer\"}}'\n",
            asked = asked.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();

    let text = std::fs::read_to_string(&world.config).unwrap();
    let start = text.find("[azure.credential]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let cli = format!(
        "{}[azure.credential]\nkind = \"azure_cli\"{}",
        &text[..start],
        &text[end..]
    );
    let config = world.dir.path().join("cli.toml");
    std::fs::write(&config, cli).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let check = tokio::process::Command::from(setup::binary(&config, &world.database))
        .arg("check")
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();

    assert_eq!(
        check.status.code(),
        Some(3),
        "stale → exit 3: {}",
        stderr(&check)
    );
    let args = std::fs::read_to_string(&asked).unwrap();
    assert!(
        args.starts_with("account get-access-token")
            && args.contains(&format!("--scope {}/.default", world.sim.arm_audience())),
        "az was asked: {args}"
    );
    assert_eq!(
        world.sim.count("token.entra"),
        1,
        "only the test minted a token; image-refresh used az's"
    );
    assert!(world.sim.count("marketplace.list") > 0);
}
