//! `demo`: the whole job in under a minute, on the simulator and a temporary
//! database, with the same code the daemon runs against Azure.

use std::process::ExitCode;

use azure_sim::{Outcome, Phase, Scenario, SimConfig, SimHandle, Simulator, SystemClock};
use miette::{IntoDiagnostic, WrapErr};
use tokio::sync::mpsc;

use super::plan::print_plan;
use super::progress::spawn_printer;
use super::{history, validate};
use crate::app::{App, Tuning};
use crate::catalog::{self, Catalog, ScheduleSettings};
use crate::clock;
use crate::model::CheckTrigger;
use crate::schedule::{Alarm, CatalogSchedules, CronAlarm};

/// The demo's compressed schedule: every 10 seconds, in the catalog's timezone.
const DEMO_CRON: &str = "*/10 * * * * *";
const DEMO_TIMEZONE: chrono_tz::Tz = chrono_tz::Europe::Prague;

/// The scenario the demo tells its story with.
pub const DEMO_SCENARIO: &str = include_str!("../../config/scenarios/demo.toml");

/// The demo, until it ends or SIGINT/SIGTERM stops it; either way its temporary
/// directory (owner-only: it holds the simulator's client secret) is removed.
pub async fn run() -> miette::Result<ExitCode> {
    use std::os::unix::fs::PermissionsExt;
    let workdir = tempfile::Builder::new()
        .prefix("image-refresh-demo-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .into_diagnostic()?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .into_diagnostic()?;
    let outcome = tokio::select! {
        outcome = story(&workdir) => outcome,
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::from(130)),
        _ = terminate.recv() => Ok(ExitCode::from(143)),
    };
    // The story's tasks may still hold files open; removing the directory does not mind.
    if let Err(error) = workdir.close() {
        eprintln!("warning: could not remove the demo's temporary directory: {error}");
    }
    outcome
}

async fn story(workdir: &tempfile::TempDir) -> miette::Result<ExitCode> {
    let scenario = Scenario::from_toml(DEMO_SCENARIO).into_diagnostic()?;
    let sim = Simulator::start(SimConfig::new(SystemClock, scenario))
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
    let tuning = Tuning::default().polling_every(std::time::Duration::from_millis(500));
    let app = App::open(catalog, &database, clock::system(), tuning)
        .await
        .into_diagnostic()?;

    heading("2. the first check at start-up: every enabled image is new, so every one is stale");
    round(&app, CheckTrigger::Startup).await?;

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

    heading("4. the next scheduled check rebuilds only what became stale");
    wait_for_next_check(&app).await?;
    round(&app, CheckTrigger::Schedule).await?;

    heading("5. history");
    let builds = app.store.history(None, 20).await.into_diagnostic()?;
    let promotions = app.store.promotions(None).await.into_diagnostic()?;
    history::print_lines(&history::lines(builds, &promotions));
    println!(
        "\n{} ARM requests answered by the simulator; database was {}",
        sim.journal().len(),
        database.display()
    );
    app.store.close().await;
    sim.shutdown().await.into_diagnostic()?;
    Ok(ExitCode::SUCCESS)
}

fn heading(text: &str) {
    println!("\n== {text}");
}

/// One cycle of the service (resume, check, build what is stale, disable
/// what keeps failing), shown as the plan table and live progress.
async fn round(app: &App, trigger: CheckTrigger) -> miette::Result<()> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let pipeline = app.pipeline(Some(sender));
    let report = pipeline.run_cycle(&app.catalog, trigger, print_plan).await;
    drop(pipeline);
    let _ = printer.await;
    let report = report.into_diagnostic()?;
    for result in report.results {
        match result {
            Ok(b) if b.state.is_success() => println!("{}: {}", b.image, b.state),
            Ok(b) => {
                println!(
                    "{}: {}: {}",
                    b.image,
                    b.state,
                    b.error_message.as_deref().unwrap_or("no message")
                );
                show_log_tail(app, &b).await;
            }
            Err(e) => println!("build error: {}", super::output::chain(&e)),
        }
    }
    Ok(())
}

/// What `image-refresh logs BUILD` would print, shortened to its last lines:
/// the failing step, read from AIB's staging storage as the daemon would.
async fn show_log_tail(app: &App, build: &crate::store::BuildRecord) {
    let Some(url) = build
        .log_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
    else {
        return;
    };
    match app.arm.read_blob(&url).await {
        Ok(bytes) => {
            let text = super::logs::terminal_safe(&String::from_utf8_lossy(&bytes));
            let lines: Vec<&str> = text.lines().collect();
            println!(
                "  customization.log (`image-refresh logs {}` prints it all) ends:",
                super::history::short_id(&build.id.to_string())
            );
            for line in &lines[lines.len().saturating_sub(7)..] {
                println!("    {line}");
            }
        }
        Err(error) => println!("  cannot read its customization.log: {error}"),
    }
}

/// Sleeps until the schedule says the next check is due, on the daemon's own
/// schedule and alarm (tokio-cron-scheduler).
async fn wait_for_next_check(app: &App) -> miette::Result<()> {
    let schedules = CatalogSchedules::new(&app.catalog, "demo").into_diagnostic()?;
    let now = app.clock.now();
    let Some((due, images)) = schedules.next_due(now) else {
        return Ok(());
    };
    let local = due.with_timezone(&DEMO_TIMEZONE);
    println!(
        "next check of {} images at {} ({}); waiting…",
        images.len(),
        local.format("%H:%M:%S %Z"),
        DEMO_CRON
    );
    let alarm = CronAlarm::new(app.clock.clone());
    alarm.wait_until(due).await.into_diagnostic()?;
    Ok(())
}

/// The enterprise example pointed at the simulator.
fn demo_catalog(sim: &SimHandle, workdir: &std::path::Path) -> miette::Result<Catalog> {
    let mut catalog = catalog::parse(
        catalog::EXAMPLE_ENTERPRISE,
        "config/examples/enterprise.toml",
    )
    .map_err(catalog::CatalogError::into_report)?;
    super::simulated::point_catalog(sim, &mut catalog, &workdir.join("client-secret"))
        .into_diagnostic()?;
    // Twice a month is too slow to watch: every image follows one schedule
    // that fires every few seconds.
    catalog.schedule = Some(ScheduleSettings {
        cron: DEMO_CRON.to_owned(),
        timezone: DEMO_TIMEZONE,
        jitter: None,
    });
    for image in &mut catalog.images {
        image.schedule = None;
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_scenario_parses() {
        let demo = Scenario::from_toml(DEMO_SCENARIO).unwrap();
        assert_eq!(demo.marketplace.len(), 5);
        assert_eq!(demo.faults.len(), 1);
        assert_eq!(
            demo.settings.subscription_id,
            "00000000-0000-0000-0000-000000000000"
        );
    }
}
