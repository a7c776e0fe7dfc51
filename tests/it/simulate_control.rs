//! `image-refresh simulate` on its own, steered through its control endpoint
//! (azure-sim/README.md): a plain HTTP client publishes a marketplace version and makes
//! the next build fail, and the real binary pointed at it sees both.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use image_refresh::catalog;
use serde_json::{Value, json};

use crate::support::setup::{BIN, IMAGE};

/// The demo scenario's service principal, which `simulate` accepts without `--scenario`.
const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const CLIENT: &str = "22222222-2222-2222-2222-222222222222";
const SECRET: &str = "demo-only-not-a-real-secret";

/// `simulate` on a port the OS picks; killed when dropped.
struct Simulate {
    child: Child,
    /// Kept open: `simulate` keeps SIGPIPE ignored, as a service does.
    _stdout: BufReader<std::process::ChildStdout>,
    url: String,
}

impl Simulate {
    fn start() -> Simulate {
        let mut child = Command::new(BIN)
            .args(["simulate", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        // "# Azure simulator on http://127.0.0.1:PORT; stop it with Ctrl-C."
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .map(|word| word.trim_end_matches(';').to_owned())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        Simulate {
            child,
            _stdout: stdout,
            url,
        }
    }
}

impl Drop for Simulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The classic catalog pointed at the simulator as its printed settings say.
fn catalog_for(sim: &Simulate, dir: &Path) -> std::path::PathBuf {
    let secret = dir.join("client-secret");
    image_refresh::cli::simulated::write_private(&secret, SECRET).unwrap();
    let settings = format!(
        "cloud = \"custom\"\nresource_manager_url = \"{url}\"\nauthority_host = \"{url}\"\n\
         resource_manager_audience = \"https://management.azure.com\"\nblob_url = \"{url}/blob/\"\n\n\
         [azure.credential]\nkind = \"client_secret\"\ntenant_id = \"{TENANT}\"\n\
         client_id = \"{CLIENT}\"\nsecret_file = \"{}\"\n\n[defaults]",
        secret.display(),
        url = sim.url
    );
    let path = dir.join("image-refresh.toml");
    std::fs::write(&path, catalog::CLASSIC.replacen("[defaults]", &settings, 1)).unwrap();
    path
}

fn run(config: &Path, database: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("--database")
        .arg(database)
        .args(args)
        .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "200")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_endpoint_publishes_versions_and_fails_the_next_build() {
    let sim = Simulate::start();
    let dir = tempfile::tempdir().unwrap();
    let config = catalog_for(&sim, dir.path());
    let database = dir.path().join("history.db");
    let http = image_refresh::azure::http_client(Default::default()).unwrap();

    let before = run(&config, &database, &["check", "--output", "json"]);
    let plan: Value = serde_json::from_slice(&before.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&before.stderr)));
    assert_ne!(plan["entries"][0]["source_version"], "22.04.202412010");

    let publish = format!(
        "{}/_simulator/marketplace/Canonical/0001-com-ubuntu-server-jammy/22_04-lts-gen2/versions",
        sim.url
    );
    let answer = http
        .post(&publish)
        .json(&json!({ "location": "westeurope", "version": "22.04.202412010" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let refused = http
        .post(&publish)
        .json(&json!({ "location": "westeurope", "version": "latest" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "not a version number");

    let after = run(&config, &database, &["check", "--output", "json"]);
    assert_eq!(after.status.code(), Some(3), "{}", text(&after.stderr));
    let plan: Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(plan["entries"][0]["source_version"], "22.04.202412010");

    let queued = http
        .post(format!("{}/_simulator/builds/next-failure", sim.url))
        .json(&json!({ "phase": "validating" }))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let build = run(&config, &database, &["build", IMAGE, "--wait"]);
    let out = text(&build.stdout);
    assert_eq!(
        build.status.code(),
        Some(1),
        "{out}\n{}",
        text(&build.stderr)
    );
    assert!(out.contains("ubuntu-golden: failed"), "{out}");
    assert!(out.contains("A validation step failed."), "{out}");

    // Only the next one: the one after builds.
    let again = run(&config, &database, &["build", IMAGE, "--wait"]);
    assert!(again.status.success(), "{}", text(&again.stdout));
}
