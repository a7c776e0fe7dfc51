//! `validate`: check the catalog and show what each image will be built from.

use std::process::ExitCode;

use serde::Serialize;

use std::time::Duration;

use miette::IntoDiagnostic;

use super::output;
use super::{GlobalArgs, Output};
use crate::azure::ArmClientOptions;
use crate::catalog::{self, Catalog, Distribute, Finding, Image, Key, KeyPath, Source};
use crate::preflight::{self, Lookups};
use crate::report::chain;
use crate::{app, clock};

#[derive(Serialize)]
struct ImageSummary<'a> {
    name: &'a str,
    enabled: bool,
    source: String,
    recipes: &'a [String],
    steps: usize,
    distribute: Vec<&'static str>,
    recipe_hash: String,
}

impl<'a> ImageSummary<'a> {
    fn new(image: &'a Image) -> Self {
        ImageSummary {
            name: &image.name,
            enabled: image.enabled,
            source: source_label(&image.source),
            recipes: &image.recipes,
            steps: image.steps.len(),
            distribute: image.distribute.iter().map(target_label).collect(),
            recipe_hash: format!("sha256:{}", image.recipe_hash.hex()),
        }
    }
}

pub fn source_label(source: &Source) -> String {
    match source {
        Source::Marketplace(m) => format!(
            "{}:{}:{}:{}",
            m.publisher,
            m.offer,
            m.sku,
            m.version.as_str()
        ),
        Source::Gallery(g) => format!(
            "gallery {}@{}",
            last_segment(&g.image_id),
            g.version.as_str()
        ),
        Source::ManagedImage(m) => format!("managed image {}", last_segment(&m.image_id)),
    }
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn target_label(target: &Distribute) -> &'static str {
    match target {
        Distribute::Gallery(_) => "gallery",
        Distribute::ManagedImage(_) => "managed image",
        Distribute::Vhd => "vhd",
    }
}

pub async fn run(global: &GlobalArgs, format: Output, online: bool) -> miette::Result<ExitCode> {
    let catalog = match catalog::load(&global.config) {
        Ok(catalog) => catalog,
        Err(error) if format == Output::Json => {
            output::print_json(&problems_of(&global.config.display().to_string(), &error))?;
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => {
            eprintln!("{:?}", error.into_report());
            return Ok(ExitCode::FAILURE);
        }
    };
    if online {
        return preflight(global, &catalog, format).await;
    }
    let summaries: Vec<ImageSummary> = catalog.images.iter().map(ImageSummary::new).collect();
    match format {
        Output::Json => output::print_json(&summaries)?,
        Output::Table if global.quiet => {}
        Output::Table => {
            print_table(&summaries);
            println!(
                "{}: valid, {} images, {} recipes",
                global.config.display(),
                catalog.images.len(),
                catalog.recipes.len()
            );
            // Where its tokens and secrets will go, for the reviewer of a catalog edit.
            let endpoints = &catalog.azure.endpoints;
            println!(
                "talks to: Azure Resource Manager {} and Entra ID {} ({} cloud)",
                endpoints.resource_manager,
                endpoints.authority_host,
                format!("{:?}", catalog.azure.cloud).to_lowercase()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One catalog problem as `validate --output json` prints it, for CI to lint with.
#[derive(Serialize)]
struct ProblemLine<'a> {
    file: &'a str,
    /// 1-based; absent when the file could not be read at all.
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    hint: Option<&'a str>,
}

/// Every problem at once; a file that cannot be read is one problem without a place.
fn problems_of<'a>(file: &'a str, error: &'a catalog::CatalogError) -> Vec<ProblemLine<'a>> {
    match error {
        catalog::CatalogError::Io { .. } => vec![ProblemLine {
            file,
            line: None,
            column: None,
            message: chain(error),
            hint: None,
        }],
        catalog::CatalogError::Invalid(invalid) => invalid
            .problems()
            .iter()
            .map(|p| ProblemLine {
                file,
                line: Some(p.line),
                column: Some(p.column),
                message: p.message.clone(),
                hint: p.hint.as_deref(),
            })
            .collect(),
    }
}

/// `validate --online`: every preflight finding at once, each at its catalog
/// line; 0 only when Azure answered every question and found nothing.
async fn preflight(
    global: &GlobalArgs,
    catalog: &Catalog,
    format: Output,
) -> miette::Result<ExitCode> {
    let source = std::fs::read_to_string(&global.config).into_diagnostic()?;
    let file = global.config.display().to_string();
    let issues = match app::arm_client(catalog, clock::system(), ArmClientOptions::default()) {
        Ok(arm) => preflight::catalog(&arm, catalog, &Lookups::new(Duration::MAX)).await,
        // A credential that cannot even be set up (say, its file is missing).
        Err(error) => vec![preflight::Issue {
            finding: Finding {
                at: vec![
                    KeyPath::of(&[Key::Name("azure"), Key::Name("credential")]),
                    KeyPath::of(&[Key::Name("azure")]),
                ],
                message: format!("the credential cannot be used: {}", chain(&error)),
                hint: None,
            },
            certain: true,
        }],
    };
    let findings: Vec<Finding> = issues.iter().map(|i| i.finding.clone()).collect();
    let located = catalog::locate(&source, &file, &findings);
    match format {
        Output::Json => {
            let problems: Vec<_> = located
                .problems()
                .iter()
                .zip(&issues)
                .map(|(p, issue)| {
                    serde_json::json!({
                        "file": file, "line": p.line, "column": p.column,
                        "message": p.message, "hint": p.hint, "certain": issue.certain,
                    })
                })
                .collect();
            output::print_json(&problems)?;
        }
        Output::Table if issues.is_empty() => {
            if !global.quiet {
                println!(
                    "{}: valid, and Azure has everything its {} images need",
                    global.config.display(),
                    catalog.images.len()
                );
            }
        }
        Output::Table => eprintln!("{:?}", miette::Report::new(located)),
    }
    Ok(if issues.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The image table `validate` prints.
#[cfg(feature = "simulator")]
pub fn print_summary(catalog: &crate::catalog::Catalog) {
    let summaries: Vec<ImageSummary> = catalog.images.iter().map(ImageSummary::new).collect();
    print_table(&summaries);
}

fn print_table(summaries: &[ImageSummary]) {
    let mut table = output::table([
        "image",
        "enabled",
        "source",
        "recipes",
        "steps",
        "distribute",
        "recipe hash",
    ]);
    for s in summaries {
        table.add_row([
            s.name.to_owned(),
            if s.enabled { "yes" } else { "no" }.to_owned(),
            s.source.clone(),
            s.recipes.join(", "),
            s.steps.to_string(),
            s.distribute.join(", "),
            s.recipe_hash[..19].to_owned(),
        ]);
    }
    println!("{table}");
}
