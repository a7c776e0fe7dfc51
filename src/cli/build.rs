//! `build` and `run --once`: start builds and (optionally) follow them to the end.

use std::process::ExitCode;

use miette::miette;
use tokio::sync::mpsc;

use super::plan::print_plan;
use super::progress::spawn_printer;
use super::{GlobalArgs, Session, output};
use crate::build::{self, BuildError, BuildOptions, Job};
use crate::catalog::Catalog;
use crate::check::Plan;
use crate::daemon;
use crate::store::{BuildRecord, CheckTrigger};

/// Builds at once when the catalog does not say.
pub const DEFAULT_BUILD_CONCURRENCY: usize = 4;

pub async fn build(
    global: &GlobalArgs,
    images: &[String],
    force: bool,
    wait: bool,
) -> miette::Result<ExitCode> {
    let session = Session::open(global).await?;
    let mut subset = session.catalog.clone();
    subset.images.retain(|i| images.contains(&i.name));
    if let Some(unknown) = images.iter().find(|n| session.catalog.image(n).is_none()) {
        let known: Vec<&str> = session
            .catalog
            .images
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        return Err(miette!(
            help = format!("images in the catalog: {}", known.join(", ")),
            "unknown image {unknown}"
        ));
    }
    let plan = session.check(&subset, CheckTrigger::Cli).await?;
    let jobs = jobs_from_plan(&subset, &plan, force);
    if jobs.is_empty() {
        println!("nothing to build; use --force to rebuild up-to-date images");
        return Ok(ExitCode::SUCCESS);
    }
    let options = BuildOptions {
        detach_when_running: !wait,
        ..BuildOptions::default()
    };
    let results = run_with_progress(&session, options, jobs).await;
    report(&results, wait)
}

/// One job per stale image in the plan (every buildable image with `force`);
/// says which forced images cannot be built.
pub fn jobs_from_plan(catalog: &Catalog, plan: &Plan, force: bool) -> Vec<Job> {
    for entry in &plan.entries {
        if force && entry.source_version.is_none() {
            println!("{}: cannot build: {}", entry.image, entry.reason);
        }
    }
    daemon::cycle::jobs_from_plan(catalog, plan, force)
}

async fn run_with_progress(
    session: &Session,
    options: BuildOptions,
    jobs: Vec<Job>,
) -> Vec<Result<BuildRecord, BuildError>> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let ctx = session.build_context(options, Some(sender));
    let results = build::run_jobs(ctx.clone(), jobs, DEFAULT_BUILD_CONCURRENCY).await;
    drop(ctx);
    let _ = printer.await;
    results
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
    let session = Session::open(global).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let ctx = session.build_context(BuildOptions::default(), Some(sender));
    let cycle = daemon::run_cycle(&ctx, &session.catalog, CheckTrigger::Cli, print_plan)
        .await
        .map_err(|e| miette!("{}", output::chain(&e)))?;
    drop(ctx);
    let _ = printer.await;
    for (image, reason) in &cycle.disabled {
        println!("{image}: disabled: {reason}; `image-refresh enable {image}` resumes");
    }
    report(&cycle.results, true)
}
