//! `history` and `status`: plain queries over the history store.

use std::process::ExitCode;

use miette::IntoDiagnostic;

use super::output::{self, human_duration};
use super::{GlobalArgs, Output, open_store};
use crate::store::BuildRecord;

pub async fn history(
    global: &GlobalArgs,
    image: Option<&str>,
    limit: u32,
    format: Output,
) -> miette::Result<ExitCode> {
    let store = open_store(global).await?;
    let builds = store.history(image, limit).await.into_diagnostic()?;
    match format {
        Output::Json => output::print_json(&builds)?,
        Output::Table => print_history(&builds),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_history(builds: &[BuildRecord]) {
    if builds.is_empty() {
        println!("no builds recorded yet");
        return;
    }
    let mut table = output::table([
        "started",
        "image",
        "build",
        "state",
        "source version",
        "reason",
        "result",
    ]);
    for b in builds {
        let result = match (&b.error_code, &b.error_message) {
            (_, Some(message)) => message.clone(),
            (Some(code), None) => code.clone(),
            (None, None) => b.artifact_ids.join("\n"),
        };
        let state = match b.run_sub_state {
            Some(sub) if !b.state.is_terminal() => format!("{} ({sub})", b.state),
            _ => b.state.to_string(),
        };
        table.add_row([
            b.created_at.format("%Y-%m-%d %H:%M").to_string(),
            b.image.clone(),
            short_id(&b.id.to_string()),
            state,
            b.source_version.clone(),
            b.reason.clone(),
            result,
        ]);
    }
    println!("{table}");
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

pub async fn status(global: &GlobalArgs, format: Output) -> miette::Result<ExitCode> {
    let store = open_store(global).await?;
    let rows = store.status().await.into_diagnostic()?;
    match format {
        Output::Json => output::print_json(&rows)?,
        Output::Table => {
            let now = chrono::Utc::now();
            let mut table = output::table([
                "image",
                "enabled",
                "last build",
                "result",
                "age",
                "source version",
                "note",
            ]);
            for row in &rows {
                let last = row.last_build.as_ref();
                let age = row
                    .last_success
                    .as_ref()
                    .and_then(|b| b.finished_at)
                    .map(|at| human_duration(now - at))
                    .unwrap_or_else(|| "-".into());
                let enabled = if row.state.enabled { "yes" } else { "no" };
                let note = match (&row.state.disabled_reason, &row.last_reason) {
                    (Some(why), _) => why.clone(),
                    (None, Some(reason)) => reason.clone(),
                    (None, None) => String::new(),
                };
                table.add_row([
                    row.state.name.clone(),
                    enabled.to_owned(),
                    last.map(|b| b.created_at.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into()),
                    last.map(|b| b.state.to_string())
                        .unwrap_or_else(|| "-".into()),
                    age,
                    row.last_success
                        .as_ref()
                        .map(|b| b.source_version.clone())
                        .unwrap_or_else(|| "-".into()),
                    note,
                ]);
            }
            println!("{table}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
