//! `build` and `run --once`: start builds and (optionally) follow them to the end.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr, miette};
use serde::Serialize;
use tokio::sync::mpsc;

use super::plan::{print_plan, say_unresolved};
use super::progress::spawn_printer;
use super::{GlobalArgs, Output, open_app, output};
use crate::app::App;
use crate::build::{BuildError, BuildOptions};
use crate::model::{CheckTrigger, DecisionKind};
use crate::pipeline::Pipeline;
use crate::plan::{Plan, PlanEntry, Selection};
use crate::promote::{Moved, PromoteError};
use crate::store::BuildRecord;

pub async fn build(
    global: &GlobalArgs,
    images: &[String],
    force: bool,
    skip_soak: bool,
    wait: bool,
    format: Output,
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
    // A build Azure has and a lost history does not must not be made twice;
    // the check still runs (and is recorded) when Azure would not say.
    let reconciled = pipeline.reconcile(&subset).await;
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
    let not_built = not_built(&plan, selection);
    if let Err(error) = reconciled {
        finish(&app, pipeline, printer).await;
        // When the check could not tell either, its lines say why (the same
        // outage, as a rule); else the reconcile failure is the answer.
        if plan.unresolved().next().is_some() {
            if format == Output::Table {
                say_why_not_built(&not_built);
            }
            return Ok(ExitCode::FAILURE);
        }
        return Err(error)
            .into_diagnostic()
            .wrap_err("cannot build: Azure did not say which builds it already has");
    }
    if format == Output::Table {
        say_built_outside_window(&plan, selection);
        say_why_not_built(&not_built);
    }
    let jobs = plan.jobs(&subset, selection);
    let results = pipeline.build_all(jobs).await;
    // A staged version whose first ring has no delay moves now, as in a cycle.
    let mut moves = Vec::new();
    if wait {
        for image in images {
            match pipeline.promote_due(Some(image)).await {
                Ok(moved) => moves.extend(moved),
                Err(error) => moves.push(Err(error.into())),
            }
        }
    }
    finish(&app, pipeline, printer).await;
    let results = Results::of(&results, wait);
    let promoted = Promoted::of(&moves);
    match format {
        Output::Json => output::print_json(&BuildReport {
            plan: &plan,
            not_built: &not_built,
            results: &results,
            promoted,
        })?,
        Output::Table => print_results(&results, wait),
    }
    let promotion_failed = super::promote::print_moves(&moves, format);
    // Asked to build them: an image that cannot be is a failure; up to date or soaking is
    // the catalog's policy.
    let refused = not_built.iter().any(|entry| {
        !matches!(
            entry.decision.kind(),
            DecisionKind::Soaking | DecisionKind::UpToDate
        )
    });
    Ok(if refused || results.failed() || promotion_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `build --output json`: the check it decided from, the images it did not build, and
/// the builds it started (or, with `--wait`, finished).
#[derive(Serialize)]
struct BuildReport<'a> {
    plan: &'a Plan,
    not_built: &'a [&'a PlanEntry],
    #[serde(flatten)]
    results: &'a Results<'a>,
    #[serde(flatten)]
    promoted: Promoted<'a>,
}

/// `run --once --output json`: the cycle's plan, the images it disabled and its builds.
#[derive(Serialize)]
struct CycleJson<'a> {
    plan: &'a Plan,
    disabled: Vec<Disabled<'a>>,
    #[serde(flatten)]
    results: &'a Results<'a>,
    #[serde(flatten)]
    promoted: Promoted<'a>,
}

/// Rings of staged versions moved (absent when none was due), and the moves
/// that failed.
#[derive(Serialize)]
struct Promoted<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promoted: Vec<&'a Moved>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promotion_errors: Vec<String>,
}

impl<'a> Promoted<'a> {
    fn of(moves: &'a [Result<Moved, PromoteError>]) -> Self {
        Promoted {
            promoted: moves.iter().filter_map(|m| m.as_ref().ok()).collect(),
            promotion_errors: moves
                .iter()
                .filter_map(|m| m.as_ref().err())
                .filter(|e| !matches!(e, PromoteError::Revoked { .. }))
                .map(|e| output::chain(e))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct Disabled<'a> {
    image: &'a str,
    reason: &'a str,
}

/// Builds as `history --output json` shows them, and the errors of those that did not get
/// as far as a record.
#[derive(Serialize)]
struct Results<'a> {
    builds: Vec<&'a BuildRecord>,
    errors: Vec<String>,
    /// Whether the command followed the builds to the end (`--wait`, `run --once`).
    waited: bool,
}

impl<'a> Results<'a> {
    fn of(results: &'a [Result<BuildRecord, BuildError>], waited: bool) -> Self {
        Results {
            builds: results.iter().filter_map(|r| r.as_ref().ok()).collect(),
            errors: results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .map(|e| output::chain(e))
                .collect(),
            waited,
        }
    }

    /// Whether a build failed: ended badly, or (followed) did not end well.
    fn failed(&self) -> bool {
        !self.errors.is_empty() || self.builds.iter().any(|b| !self.went_well(b))
    }

    fn went_well(&self, build: &BuildRecord) -> bool {
        build.state.is_success() || (!self.waited && !build.state.is_terminal())
    }
}

/// The named images that get no build.
fn not_built(plan: &Plan, selection: Selection) -> Vec<&PlanEntry> {
    plan.entries
        .iter()
        .filter(|entry| !(entry.source_version.is_some() && entry.selected(selection)))
        .collect()
}

/// A named image waiting for its build window is built as asked, and says so.
fn say_built_outside_window(plan: &Plan, selection: Selection) {
    for entry in &plan.entries {
        let built = entry.source_version.is_some() && entry.selected(selection);
        if built && entry.decision.kind() == DecisionKind::WaitingForWindow {
            println!(
                "{}: outside its build window ({}); building it now as asked",
                entry.image, entry.reason
            );
        }
    }
}

/// One line for each named image that gets no build.
fn say_why_not_built(entries: &[&PlanEntry]) {
    for entry in entries {
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
            println!("{}: cannot build: {}", entry.image, entry.reason);
        }
    }
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

fn print_results(results: &Results, waited: bool) {
    for build in &results.builds {
        if results.went_well(build) {
            let what = if waited { "built" } else { "started" };
            println!("{}: {what} (build {})", build.image, build.id);
            for artifact in &build.artifact_ids {
                println!("  {artifact}");
            }
        } else {
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
    }
    for error in &results.errors {
        eprintln!("error: {error}");
    }
    if !waited && !results.builds.is_empty() {
        println!("the daemon (or `image-refresh run --once`) follows the runs to the end");
    }
}

/// One check cycle and its builds, then exit: what the daemon does on each tick.
pub async fn run_once(global: &GlobalArgs, format: Output) -> miette::Result<ExitCode> {
    let app = open_app(global).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let printer = spawn_printer(receiver);
    let pipeline = app.pipeline(Some(sender));
    let on_plan = |plan: &Plan| {
        if format == Output::Table {
            print_plan(plan);
        }
    };
    let cycle = pipeline
        .run_cycle(&app.catalog, CheckTrigger::Cli, on_plan)
        .await
        .map_err(|e| miette!("{}", output::chain(&e)));
    finish(&app, pipeline, printer).await;
    let cycle = cycle?;
    let results = Results::of(&cycle.results, true);
    match format {
        Output::Json => output::print_json(&CycleJson {
            plan: &cycle.plan,
            disabled: cycle
                .disabled
                .iter()
                .map(|(image, reason)| Disabled { image, reason })
                .collect(),
            results: &results,
            promoted: Promoted::of(&cycle.promoted),
        })?,
        Output::Table => {
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
            print_results(&results, true);
        }
    }
    let promotion_failed = super::promote::print_moves(&cycle.promoted, format);
    // A cycle that could not look at some image did not do its job.
    Ok(
        if say_unresolved(&cycle.plan) || results.failed() || promotion_failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}
