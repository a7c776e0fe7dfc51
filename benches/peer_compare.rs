//! image-refresh against the script an enterprise would otherwise schedule
//! (bench/peer/check_images.py, Microsoft's Azure SDK for Python): one check
//! of a 1,000-image catalog over 50 unique marketplace skus, both against the
//! same loopback simulator answering every request 50 ms late.
//!
//! Run with `cargo bench --bench peer_compare`. The Python side needs
//! `sh bench/peer/setup.sh` first. Prints wall time, ARM requests and 429s
//! for both and their ratios; the numbers are recorded in BENCHMARKS.md, not
//! asserted. Exits non-zero only when the setup fails.

#[path = "support/catalog.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use azure_sim::{
    FaultKind, FaultRule, JournalEntry, Scenario, SimConfig, SimHandle, Simulator, SystemClock,
};
use image_refresh::app;
use image_refresh::azure::ArmClientOptions;
use image_refresh::catalog::{self, Catalog};
use image_refresh::check::{CheckOptions, run_check};
use image_refresh::clock;
use image_refresh::model::CheckTrigger;
use image_refresh::plan::Plan;

const IMAGES: usize = 1000;
const SKUS: usize = 50;
const LATENCY_MS: u64 = 50;
/// The Compute api-version the simulator serves (and image-refresh calls);
/// azure-mgmt-compute 39 would otherwise send its own newer default.
const COMPUTE_API_VERSION: &str = "2025-04-01";

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("failed to start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(compare()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer benchmark setup failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What one side cost, read from the simulator's journal.
struct Side {
    /// Wall time of the check itself (sign-in included, process start excluded).
    wall: Duration,
    /// The whole process, interpreter start and imports included (Python only).
    process: Option<Duration>,
    arm: usize,
    tokens: usize,
    throttled: usize,
    routes: BTreeMap<String, usize>,
}

impl Side {
    fn from_journal(wall: Duration, process: Option<Duration>, entries: &[JournalEntry]) -> Side {
        let mut routes = BTreeMap::new();
        for e in entries {
            *routes.entry(e.route.clone()).or_default() += 1;
        }
        let tokens = entries
            .iter()
            .filter(|e| e.route.starts_with("token."))
            .count();
        Side {
            wall,
            process,
            arm: entries.len() - tokens,
            tokens,
            throttled: entries.iter().filter(|e| e.status == 429).count(),
            routes,
        }
    }
}

async fn compare() -> anyhow::Result<()> {
    let mut scenario = Scenario::from_toml(&scenario()).context("failed to parse the scenario")?;
    // Every route, the token endpoints included: "*" matches them all.
    scenario.faults.push(FaultRule::always(
        "*",
        FaultKind::Latency { ms: LATENCY_MS },
    ));
    let sim = Simulator::start(SimConfig::new(SystemClock, scenario))
        .await
        .context("failed to start the simulator")?;
    let dir = tempfile::tempdir().context("failed to create a temporary directory")?;
    let catalog_path = write_catalog(&sim, dir.path())?;
    let catalog = catalog::load(&catalog_path)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("failed to load the generated catalog")?;
    println!(
        "peer benchmark: {IMAGES} images over {SKUS} unique skus, {LATENCY_MS} ms simulated latency on every request"
    );

    let (ours, plan) = image_refresh_side(&sim, &catalog, dir.path()).await?;
    print_side("image-refresh", &ours);

    let python = venv_python();
    if !python.exists() {
        println!(
            "\nThe Python peer is not installed ({} is missing); create it with:\n    sh bench/peer/setup.sh\nthen run this benchmark again.",
            python.display()
        );
        return Ok(());
    }
    let (peer, newest) = python_side(&sim, &python, &catalog_path, dir.path()).await?;
    print_side("Python SDK script", &peer);

    let agree = plan
        .entries
        .iter()
        .filter(|e| e.source_version.is_some() && newest.get(&e.image) == e.source_version.as_ref())
        .count();
    println!("\nnewest version per image: both sides agree on {agree} of {IMAGES}");
    print_table(&ours, &peer);
    sim.shutdown()
        .await
        .context("failed to stop the simulator")?;
    Ok(())
}

/// One check cycle through the library, as `image-refresh check` runs it.
async fn image_refresh_side(
    sim: &SimHandle,
    catalog: &Catalog,
    dir: &Path,
) -> anyhow::Result<(Side, Plan)> {
    let store = app::open_store(&dir.join("history.db"), Some(catalog))
        .await
        .context("failed to open the history store")?;
    let clock = clock::system();
    let arm = app::arm_client(catalog, clock.clone(), ArmClientOptions::default())
        .context("failed to set up the ARM client")?;
    let started = Instant::now();
    let plan = run_check(
        &arm,
        &store,
        catalog,
        clock.now(),
        CheckTrigger::Cli,
        CheckOptions::default(),
    )
    .await
    .context("the image-refresh check failed")?;
    let wall = started.elapsed();
    store.close().await;
    ensure!(
        plan.entries.len() == IMAGES,
        "the plan has {} entries, not {IMAGES}",
        plan.entries.len()
    );
    Ok((Side::from_journal(wall, None, &sim.journal()), plan))
}

/// The Python script against the same simulator; its requests are the
/// journal entries after image-refresh's.
async fn python_side(
    sim: &SimHandle,
    python: &Path,
    catalog_path: &Path,
    dir: &Path,
) -> anyhow::Result<(Side, BTreeMap<String, String>)> {
    let before = sim.journal().len();
    let report = dir.join("peer-report.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peer/check_images.py");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(&script)
        .arg(catalog_path)
        .arg("--api-version")
        .arg(COMPUTE_API_VERSION)
        .arg("--report")
        .arg(&report)
        // A clean environment, so no AZURE_* variable of this machine leaks in;
        // DefaultAzureCredential then finds the App Service managed identity.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("IDENTITY_ENDPOINT", sim.identity_endpoint())
        .env("IDENTITY_HEADER", sim.identity_header())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command
        .output()
        .await
        .with_context(|| format!("failed to run {}", python.display()))?;
    let process = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{} exited with {}:\n{}",
            script.display(),
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 20)
        );
    }
    let summary: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .context("the script printed no JSON summary")?;
    let seconds = summary["seconds"]
        .as_f64()
        .context("the summary has no seconds")?;
    let newest: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(&report).context("failed to read the script's report")?,
    )
    .context("failed to parse the script's report")?;
    let entries = sim.journal();
    let side = Side::from_journal(
        Duration::from_secs_f64(seconds),
        Some(process),
        &entries[before..],
    );
    Ok((side, newest))
}

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peer-venv/bin/python")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn print_side(name: &str, side: &Side) {
    let routes = side
        .routes
        .iter()
        .map(|(route, n)| format!("{route} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!("{name}: {routes}");
}

fn print_table(ours: &Side, peer: &Side) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1}x", a / b)
        } else {
            "n/a".to_owned()
        }
    };
    println!();
    println!(
        "{:<32} {:>14} {:>18} {:>8}",
        "", "image-refresh", "Python SDK script", "ratio"
    );
    println!(
        "{:<32} {:>14} {:>18} {:>8}",
        "wall time (check, sign-in incl.)",
        ms(ours.wall),
        ms(peer.wall),
        ratio(peer.wall.as_secs_f64(), ours.wall.as_secs_f64())
    );
    if let Some(process) = peer.process {
        println!(
            "{:<32} {:>14} {:>18} {:>8}",
            "wall time (whole process)",
            "-",
            ms(process),
            ratio(process.as_secs_f64(), ours.wall.as_secs_f64())
        );
    }
    println!(
        "{:<32} {:>14} {:>18} {:>8}",
        "ARM requests",
        ours.arm,
        peer.arm,
        ratio(peer.arm as f64, ours.arm as f64)
    );
    println!(
        "{:<32} {:>14} {:>18} {:>8}",
        "token requests", ours.tokens, peer.tokens, ""
    );
    println!(
        "{:<32} {:>14} {:>18} {:>8}",
        "429 responses", ours.throttled, peer.throttled, ""
    );
}

/// Azure's default throttle model stays on, so a client bursting past it
/// meets real 429s; every sku lists a version that string order would
/// wrongly call the newest.
fn scenario() -> String {
    let mut text = String::new();
    for i in 0..SKUS {
        text.push_str(&format!(
            r#"
[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "sku-{i:02}"
versions = ["22.04.202409110", "22.04.202410020", "22.04.2024110{i:02}", "22.04.99"]
"#
        ));
    }
    // The catalog's resource group and build identity (benches/support/catalog.rs).
    text.push_str(
        r#"
[[resource_groups]]
name = "rg-images"
location = "westeurope"

[[identities]]
resource_group = "rg-images"
name = "id-aib"
location = "westeurope"
"#,
    );
    text
}

/// The catalog both sides read: a custom cloud on loopback and a service
/// principal whose secret sits in a file, as in production.
fn write_catalog(sim: &SimHandle, dir: &Path) -> anyhow::Result<PathBuf> {
    let text = support::catalog_text(sim, &dir.join("client-secret"), IMAGES, SKUS)
        .context("failed to write the secret file")?;
    let path = dir.join("catalog.toml");
    std::fs::write(&path, text).context("failed to write the catalog")?;
    Ok(path)
}
