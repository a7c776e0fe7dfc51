//! `build` and `run --once`: start builds and (optionally) follow them to the end.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr, miette};
use tokio::sync::mpsc;

use super::plan::{print_plan, say_unresolved};
use super::progress::spawn_printer;
use super::{GlobalArgs, open_app, output};
use crate::app::App;
use crate::build::{BuildError, BuildOptions};
use crate::model::{CheckTrigger, DecisionKind};
use crate::pipeline::Pipeline;
use crate::plan::{Plan, Selection};
use crate::store::BuildRecord;

pub async fn build(
    global: &GlobalArgs,
    images: &[String],
    force: bool,
    skip_soak: bool,
    wait: bool,
) -> miette::Result<ExitCode> {
    let app = open_app(global).await?;
    if let Some(unknown) = images.iter().find(|n| app.catalog.image(n).is_none()) {
        let known: Vec<&str> = app.catalog.images.iter().map(|i| i.name.as_str()).collect();
        return Err(miette!(
            help = format!("images in the catalog: {}", known.join(", ")),
            "unknown image {unknown}"
        ));
    }
    let mut subset = app.catalog.clone();
    subset.images.retain(|i| images.contains(&i.name));
    let options = BuildOptions {
        detach_when_running: !wait,
        ..app.tuning.build.clone()
    };
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let pipeline = app.pipeline_with(options, Some(sender));
    // A build Azure has and a lost history does not must not be made twice.
    pipeline
        .reconcile(&subset)
        .await
        .into_diagnostic()
        .wrap_err("reconcile failed")?;
    let plan = pipeline
        .check(&subset, CheckTrigger::Cli)
        .await
        .into_diagnostic()
        .wrap_err("check failed")?;
    let selection = match (force, skip_soak) {
        (true, _) => Selection::Forced,
        (false, true) => Selection::SkipSoak,
        (false, false) => Selection::Named,
    };
    let not_built = say_why_not_built(&plan, selection);
    let jobs = plan.jobs(&subset, selection);
    let results = pipeline.build_all(jobs).await;
    finish(&app, pipeline, printer).await;
    let built = report(&results, wait);
    Ok(if not_built > 0 {
        ExitCode::FAILURE
    } else {
        built
    })
}

/// One line for each named image that gets no build, and how many of them were
/// not simply up to date (the command then exits 1: it was asked to build them).
fn say_why_not_built(plan: &Plan, selection: Selection) -> usize {
    let mut failed = 0;
    for entry in &plan.entries {
        let built = entry.source_version.is_some() && entry.selected(selection);
        if built {
            if entry.decision.kind() == DecisionKind::WaitingForWindow {
                println!(
                    "{}: outside its build window ({}); building it now as asked",
                    entry.image, entry.reason
                );
            }
            continue;
        }
        if entry.decision.kind() == DecisionKind::Soaking {
            // Waiting is the catalog's policy, not a failure.
            println!(
                "{}: soaking ({}); --skip-soak builds it now",
                entry.image, entry.reason
            );
        } else if entry.decision.kind() == DecisionKind::UpToDate {
            println!(
                "{}: up to date ({}); --force rebuilds it",
                entry.image, entry.reason
            );
        } else {
            failed += 1;
            println!("{}: cannot build: {}", entry.image, entry.reason);
        }
    }
    failed
}

/// Lets the progress printer drain (it ends when the pipeline, the last sender,
/// is dropped), hands this run's notices to their sinks, and closes the store
/// so that nothing stays in its WAL.
async fn finish(app: &App, pipeline: Pipeline, printer: tokio::task::JoinHandle<()>) {
    drop(pipeline);
    let _ = printer.await;
    super::notify::flush(app).await;
    app.store.close().await;
}

fn report(results: &[Result<BuildRecord, BuildError>], waited: bool) -> ExitCode {
    let mut failed = 0;
    for result in results {
        match result {
            Ok(build) if build.state.is_success() || (!waited && !build.state.is_terminal()) => {
                let what = if waited { "built" } else { "started" };
                println!("{}: {what} (build {})", build.image, build.id);
                for artifact in &build.artifact_ids {
                    println!("  {artifact}");
                }
            }
            Ok(build) => {
                failed += 1;
                println!(
                    "{}: {} (build {}): {}",
                    build.image,
                    build.state,
                    build.id,
                    build
                        .error_message
                        .as_deref()
                        .unwrap_or("no message from AIB")
                );
            }
            Err(error) => {
                failed += 1;
                eprintln!("error: {}", output::chain(error));
            }
        }
    }
    if !waited && !results.is_empty() {
        println!("the daemon (or `image-refresh run --once`) follows the runs to the end");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One check cycle and its builds, then exit: what the daemon does on each tick.
pub async fn run_once(global: &GlobalArgs) -> miette::Result<ExitCode> {
    let app = open_app(global).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let pipeline = app.pipeline(Some(sender));
    let cycle = pipeline
        .run_cycle(&app.catalog, CheckTrigger::Cli, print_plan)
        .await
        .map_err(|e| miette!("{}", output::chain(&e)));
    finish(&app, pipeline, printer).await;
    let cycle = cycle?;
    for entry in &cycle.plan.entries {
        if let crate::check::Decision::WaitingForWindow { opens_at, .. } = &entry.decision {
            println!(
                "{}: not built: its build window is closed until {}; the service builds it then, `image-refresh build {}` now",
                entry.image,
                opens_at.format("%Y-%m-%d %H:%M:%S UTC"),
                entry.image
            );
        }
    }
    for (image, reason) in &cycle.disabled {
        println!("{image}: disabled: {reason}; `image-refresh enable {image}` resumes");
    }
    let built = report(&cycle.results, true);
    // A cycle that could not look at some image did not do its job.
    Ok(if say_unresolved(&cycle.plan) {
        ExitCode::FAILURE
    } else {
        built
    })
}
