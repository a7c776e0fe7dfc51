//! `template`: the AIB template body the next build of an image would PUT, as a
//! dry run a reviewer can diff.
//!
//! The body comes from [`crate::build::template::render`], the function the build
//! machine PUTs, never a copy of it. Only the build id differs from a real build:
//! a dry run has none, so it shows [`DRY_RUN_BUILD_ID`] (the nil UUID) in the
//! `image-refresh.build-id` tags, where each build puts its own.

use std::process::ExitCode;

use miette::{IntoDiagnostic, miette};

use super::{GlobalArgs, load_catalog, output};
use crate::azure::ArmClientOptions;
use crate::build::template::{self, TemplateInput};
use crate::catalog::{Catalog, Image};
use crate::check::{self, Resolution, lookup_key, resolution_for, resolve_all};
use crate::{app, clock};

/// The build id a dry run renders: no build has one yet, and a fixed value keeps
/// two dry runs of one catalog byte-identical.
pub const DRY_RUN_BUILD_ID: &str = "00000000-0000-0000-0000-000000000000";

pub async fn template(
    global: &GlobalArgs,
    name: &str,
    source_version: Option<&str>,
) -> miette::Result<ExitCode> {
    let catalog = load_catalog(global)?;
    let image = known_image(&catalog, name)?;
    let version = match source_version {
        Some("latest") => {
            return Err(miette!(
                help = "give the exact version a build would pin, e.g. 22.04.202411010, or leave \
                        --source-version out to ask Azure for it",
                "--source-version latest: a build never sends `latest`"
            ));
        }
        Some(version) => version.to_owned(),
        None => next_version(&catalog, image).await?,
    };
    let body = template::render(TemplateInput {
        image,
        azure: &catalog.azure,
        source_version: &version,
        build_id: DRY_RUN_BUILD_ID,
    });
    // serde_json's map is ordered by key, so the same catalog prints the same text.
    output::print_json(&body)?;
    if !global.quiet {
        eprintln!(
            "dry run of {name} at source version {version}: a build puts its own id where \
             {} says {DRY_RUN_BUILD_ID}",
            template::TAG_BUILD_ID
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn known_image<'c>(catalog: &'c Catalog, name: &str) -> miette::Result<&'c Image> {
    catalog.image(name).ok_or_else(|| {
        let known: Vec<&str> = catalog.images.iter().map(|i| i.name.as_str()).collect();
        miette!(
            help = format!("images in the catalog: {}", known.join(", ")),
            "unknown image {name}"
        )
    })
}

/// The version the next build would pin, found the way a check finds it: a
/// followed source is asked of Azure, a pinned one is the catalog's. An Azure
/// that does not answer is an error, never a guessed version.
async fn next_version(catalog: &Catalog, image: &Image) -> miette::Result<String> {
    let resolved = match lookup_key(image) {
        Some(key) => {
            let arm = app::arm_client(catalog, clock::system(), ArmClientOptions::default())
                .into_diagnostic()?;
            resolve_all(&arm, &catalog.azure.subscription_id, [key], 1).await
        }
        None => check::Resolved::default(),
    };
    match resolution_for(image, &resolved) {
        Resolution::Version(version) => Ok(version),
        Resolution::Unversioned => Ok(check::UNVERSIONED.to_owned()),
        Resolution::Failed(error) => Err(miette!(
            help = "try again when Azure answers, or give --source-version",
            "cannot tell the source version of {}: {error}",
            image.name
        )),
        Resolution::NotFound(missing) => Err(miette!(
            help = "fix the image's [images.source] in the catalog",
            "{}: {missing}",
            image.name
        )),
    }
}
