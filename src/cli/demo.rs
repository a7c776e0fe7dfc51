//! `demo`: the whole job in under a minute, on the simulator and a temporary
//! database, with the same code the daemon runs against Azure.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr};
use tokio::sync::mpsc;

use super::build::{DEFAULT_BUILD_CONCURRENCY, jobs_from_plan};
use super::plan::print_plan;
use super::progress::spawn_printer;
use super::{Session, history, validate};
use crate::azure::ArmClientOptions;
use crate::build::{self, BuildOptions};
use crate::catalog::{self, Catalog};
use crate::clock;
use crate::simulator::{Outcome, Phase, Scenario, SimConfig, SimHandle, Simulator};
use crate::store::CheckTrigger;

/// The scenario the demo tells its story with.
pub const DEMO_SCENARIO: &str = include_str!("../../config/scenarios/demo.toml");

pub async fn run() -> miette::Result<ExitCode> {
    let workdir = tempfile::Builder::new()
        .prefix("image-refresh-demo-")
        .tempdir()
        .into_diagnostic()?;
    let scenario = Scenario::from_toml(DEMO_SCENARIO).into_diagnostic()?;
    let sim = Simulator::start(SimConfig::new(clock::system(), scenario))
        .await
        .into_diagnostic()
        .wrap_err("failed to start the Azure simulator")?;
    println!(
        "Azure simulator on {} (working in {})",
        sim.base_url(),
        workdir.path().display()
    );

    heading("1. validate the catalog (config/examples/enterprise.toml)");
    let catalog = demo_catalog(&sim, workdir.path())?;
    validate::print_summary(&catalog);

    let database = workdir.path().join("history.db");
    // The simulator's operations finish in a second; real ones take longer.
    let arm_options = ArmClientOptions {
        lro_poll_interval: std::time::Duration::from_millis(500),
        ..ArmClientOptions::default()
    };
    let session = Session::with_catalog(catalog, &database, clock::system(), arm_options).await?;
    let options = BuildOptions {
        poll_interval: std::time::Duration::from_millis(500),
        ..BuildOptions::default()
    };

    heading("2. check: every enabled image is new, so every one is stale");
    round(&session, &options).await?;

    heading("3. Azure publishes new Ubuntu 22.04 and Windows Server 2022 base images");
    sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202412040",
    );
    sim.publish_version(
        "westeurope",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-azure-edition",
        "20348.2966.241205",
    );
    // A customizer failure, so the history shows what a failed build looks like.
    sim.set_build_outcome("*windows-2022*", Outcome::Failed, Some(Phase::Customizing));
    println!("published 22.04.202412040 and 20348.2966.241205; the next Windows build will fail");

    heading("4. the next check rebuilds only what became stale");
    round(&session, &options).await?;

    heading("5. history");
    history::print_history(&session.store.history(None, 20).await.into_diagnostic()?);
    println!(
        "\n{} ARM requests answered by the simulator; database was {}",
        sim.journal().len(),
        database.display()
    );
    session.store.close().await;
    sim.shutdown().await.into_diagnostic()?;
    Ok(ExitCode::SUCCESS)
}

fn heading(text: &str) {
    println!("\n== {text}");
}

/// One check cycle and its builds, shown as the plan table and live progress.
async fn round(session: &Session, options: &BuildOptions) -> miette::Result<()> {
    let plan = session.check(&session.catalog, CheckTrigger::Cli).await?;
    print_plan(&plan);
    let jobs = jobs_from_plan(&session.catalog, &plan, false);
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let ctx = session.build_context(options.clone(), Some(sender));
    let results = build::run_jobs(ctx.clone(), jobs, DEFAULT_BUILD_CONCURRENCY).await;
    drop(ctx);
    let _ = printer.await;
    for result in results {
        match result {
            Ok(b) if b.state.is_success() => println!("{}: {}", b.image, b.state),
            Ok(b) => println!(
                "{}: {}: {}",
                b.image,
                b.state,
                b.error_message.as_deref().unwrap_or("no message")
            ),
            Err(e) => println!("build error: {}", super::output::chain(&e)),
        }
    }
    Ok(())
}

/// The enterprise example pointed at the simulator.
fn demo_catalog(sim: &SimHandle, workdir: &std::path::Path) -> miette::Result<Catalog> {
    let mut catalog = catalog::parse(
        catalog::EXAMPLE_ENTERPRISE,
        "config/examples/enterprise.toml",
    )
    .map_err(catalog::CatalogError::into_report)?;
    sim.point_catalog(&mut catalog, &workdir.join("client-secret"))
        .into_diagnostic()?;
    Ok(catalog)
}
