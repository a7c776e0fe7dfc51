//! `build` and `run --once`: start builds and (optionally) follow them to the end.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr, miette};
use tokio::sync::mpsc;

use super::plan::print_plan;
use super::progress::spawn_printer;
use super::{GlobalArgs, open_app, output};
use crate::app::App;
use crate::build::{BuildError, BuildOptions};
use crate::model::CheckTrigger;
use crate::pipeline::Pipeline;
use crate::plan::Selection;
use crate::store::BuildRecord;

pub async fn build(
    global: &GlobalArgs,
    images: &[String],
    force: bool,
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
    let plan = pipeline
        .check(&subset, CheckTrigger::Cli)
        .await
        .into_diagnostic()
        .wrap_err("check failed")?;
    let selection = if force {
        Selection::Forced
    } else {
        Selection::Stale
    };
    if force {
        for entry in plan.entries.iter().filter(|e| e.source_version.is_none()) {
            println!("{}: cannot build: {}", entry.image, entry.reason);
        }
    }
    let jobs = pipeline.jobs(&subset, &plan, selection);
    if jobs.is_empty() {
        finish(&app, pipeline, printer).await;
        println!("nothing to build; use --force to rebuild up-to-date images");
        return Ok(ExitCode::SUCCESS);
    }
    let results = pipeline.build_all(jobs).await;
    finish(&app, pipeline, printer).await;
    report(&results, wait)
}

/// Lets the progress printer drain (it ends when the pipeline, the last sender,
/// is dropped) and closes the store so that nothing stays in its WAL.
async fn finish(app: &App, pipeline: Pipeline, printer: tokio::task::JoinHandle<()>) {
    drop(pipeline);
    let _ = printer.await;
    app.store.close().await;
}

fn report(results: &[Result<BuildRecord, BuildError>], waited: bool) -> miette::Result<ExitCode> {
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
    if !waited {
        println!("the daemon (or `image-refresh run --once`) follows the runs to the end");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
    for (image, reason) in &cycle.disabled {
        println!("{image}: disabled: {reason}; `image-refresh enable {image}` resumes");
    }
    report(&cycle.results, true)
}
