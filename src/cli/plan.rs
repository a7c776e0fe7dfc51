//! `check`: what is stale and why. Changes nothing in Azure.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr};

use super::{GlobalArgs, Output, open_app, output};
use crate::model::CheckTrigger;
use crate::plan::Plan;

/// Exit code of `check` when at least one image is stale, so scripts can
/// branch on it without parsing output.
pub const EXIT_STALE: u8 = 3;

pub async fn check(global: &GlobalArgs, format: Output) -> miette::Result<ExitCode> {
    let app = open_app(global).await?;
    let pipeline = app.pipeline(None);
    // Reads Azure only: what a lost history does not know must not read as stale.
    pipeline
        .reconcile(&app.catalog)
        .await
        .into_diagnostic()
        .wrap_err("reconcile failed")?;
    let plan = pipeline
        .check(&app.catalog, CheckTrigger::Cli)
        .await
        .into_diagnostic()
        .wrap_err("check failed")?;
    app.store.close().await;
    match format {
        Output::Json => output::print_json(&plan)?,
        Output::Table => print_plan(&plan),
    }
    Ok(exit_code(&plan))
}

/// 0 only when every image's decision is known and none is stale; 3 when some
/// are stale and all are known; 1 when any could not be determined, whatever
/// else is true: a check that could not look never says "all good".
fn exit_code(plan: &Plan) -> ExitCode {
    if say_unresolved(plan) {
        ExitCode::FAILURE
    } else if plan.outdated().next().is_some() {
        ExitCode::from(EXIT_STALE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Says on stderr which images could not be decided, and why; true if any.
pub fn say_unresolved(plan: &Plan) -> bool {
    let unresolved: Vec<_> = plan.unresolved().collect();
    for entry in &unresolved {
        eprintln!(
            "error: cannot tell whether {} is stale: {}",
            entry.image, entry.reason
        );
    }
    !unresolved.is_empty()
}

/// What happens to the entry: rebuilt now, when its window opens, or kept.
fn plan_word(entry: &crate::plan::PlanEntry) -> &'static str {
    if entry.stale {
        "rebuild"
    } else if entry.decision.kind().is_outdated() {
        "wait"
    } else {
        "keep"
    }
}

pub fn print_plan(plan: &Plan) {
    let mut table = output::table(["image", "plan", "source version", "reason"]);
    for entry in &plan.entries {
        table.add_row([
            entry.image.clone(),
            plan_word(entry).to_owned(),
            entry.source_version.clone().unwrap_or_else(|| "?".into()),
            entry.reason.clone(),
        ]);
    }
    println!("{table}");
    let unknown = plan.unresolved().count();
    let unknown = match unknown {
        0 => String::new(),
        n => format!(", {n} could not be told"),
    };
    println!(
        "check {}: {} of {} images stale{unknown} ({} source lookups)",
        plan.check_id,
        plan.outdated().count(),
        plan.entries.len(),
        plan.lookups
    );
}
