//! `history`: the builds, newest first, as the history store has them.

use std::process::ExitCode;

use miette::{IntoDiagnostic, miette};

use super::output;
use super::{Existing, GlobalArgs, Output, open_store_and_catalog};
use crate::catalog::Catalog;
use crate::promote::PromotionView;
use crate::store::{BuildRecord, Promotion, Store};
use serde::Serialize;

pub async fn history(
    global: &GlobalArgs,
    image: Option<&str>,
    limit: u32,
    format: Output,
) -> miette::Result<ExitCode> {
    let (store, catalog) = open_store_and_catalog(global, Existing::Required).await?;
    let lines = async {
        if let Some(image) = image {
            known_image(&store, catalog.as_ref(), image).await?;
        }
        let builds = store.history(image, limit).await.into_diagnostic()?;
        let promotions = store.promotions(image).await.into_diagnostic()?;
        Ok::<_, miette::Report>(lines(builds, &promotions))
    }
    .await;
    // Closing checkpoints the WAL: nothing of this command stays in `-wal`.
    store.close().await;
    let lines = lines?;
    match format {
        Output::Json => output::print_json(&lines)?,
        Output::Table => print_lines(&lines),
    }
    Ok(ExitCode::SUCCESS)
}

/// A build as `history --output json` shows it: the record, and the
/// promotions of the versions it published.
#[derive(Serialize)]
pub(super) struct Line {
    #[serde(flatten)]
    build: BuildRecord,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promotions: Vec<PromotionView>,
}

pub(super) fn lines(builds: Vec<BuildRecord>, promotions: &[Promotion]) -> Vec<Line> {
    builds
        .into_iter()
        .map(|build| {
            let id = build.id.to_string();
            let promotions = promotions
                .iter()
                .filter(|p| p.build_id == id)
                .map(PromotionView::of)
                .collect();
            Line { build, promotions }
        })
        .collect()
}

/// A name neither the catalog nor the history knows is a typo, not an image without builds.
async fn known_image(store: &Store, catalog: Option<&Catalog>, image: &str) -> miette::Result<()> {
    let in_history = store.image_state(image).await.into_diagnostic()?.is_some();
    if in_history || catalog.is_some_and(|c| c.image(image).is_some()) {
        return Ok(());
    }
    let mut known: Vec<String> = store
        .status()
        .await
        .into_diagnostic()?
        .into_iter()
        .map(|s| s.state.name)
        .chain(
            catalog
                .iter()
                .flat_map(|c| c.images.iter().map(|i| i.name.clone())),
        )
        .collect();
    known.sort();
    known.dedup();
    let help = match known.is_empty() {
        true => "no image has been checked or built yet".to_owned(),
        false => format!("known images: {}", known.join(", ")),
    };
    Err(miette!(help = help, "unknown image {image}"))
}

pub(super) fn print_lines(lines: &[Line]) {
    if lines.is_empty() {
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
    for Line {
        build: b,
        promotions,
    } in lines
    {
        let mut result = match (&b.error_code, &b.error_message) {
            (code, Some(message)) => failure_summary(code.as_deref(), message),
            (Some(code), None) => code.clone(),
            (None, None) => b
                .artifact_ids
                .iter()
                .map(|id| artifact_label(id))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        for p in promotions {
            result.push_str(&format!("\n{}", p.describe()));
        }
        if b.log_url.is_some() {
            result.push_str(&format!(
                "\nlog: image-refresh logs {}",
                short_id(&b.id.to_string())
            ));
        }
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

/// AIB's failure messages run to a paragraph; the table shows the start, and
/// `logs` the customization.log (JSON output has it all, `log_url` included).
fn failure_summary(code: Option<&str>, message: &str) -> String {
    const KEEP: usize = 100;
    let mut text = match code {
        Some(code) => format!("{code}: "),
        None => String::new(),
    };
    text.extend(message.chars().take(KEEP));
    if message.chars().count() > KEEP {
        text.push('…');
    }
    text
}

/// "gal_corp/ubuntu-2204 1.0.2" for a gallery version, the name for anything else.
fn artifact_label(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    let find = |key: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(key))
            .and_then(|i| parts.get(i + 1))
    };
    match (find("galleries"), find("images"), find("versions")) {
        (Some(gallery), Some(image), Some(version)) => format!("{gallery}/{image} {version}"),
        _ => parts.last().copied().unwrap_or(id).to_owned(),
    }
}

/// Build ids are shown by their first 8 characters, which `logs` takes back.
pub(super) fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::{artifact_label, failure_summary};

    #[test]
    fn artifacts_are_shown_by_gallery_image_and_version() {
        assert_eq!(
            artifact_label(
                "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/ubuntu/versions/1.0.2"
            ),
            "gal/ubuntu 1.0.2"
        );
        assert_eq!(
            artifact_label(
                "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/images/golden"
            ),
            "golden"
        );
    }

    #[test]
    fn failures_keep_the_start() {
        let message = format!(
            "A customizer step failed. {} Image Build log location: https://x.blob.core.windows.net/packerlogs/1/customization.log. OperationId: 9.",
            "padding ".repeat(20)
        );
        let summary = failure_summary(Some("BuildFailed"), &message);
        assert!(
            summary.starts_with("BuildFailed: A customizer step failed."),
            "{summary}"
        );
        assert!(summary.ends_with('…'), "{summary}");
        assert_eq!(failure_summary(None, "short"), "short");
    }
}
