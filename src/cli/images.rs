//! `enable` and `disable`: automatic rebuilds of one image, in the history.

use std::process::ExitCode;

use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use super::{Existing, GlobalArgs, Output, open_store_and_catalog, output};
use crate::catalog::Catalog;
use crate::store::{ImageState, Store};

/// What `enable` and `disable --output json` print: the image's switch now, and before.
#[derive(Serialize)]
struct Switched<'a> {
    image: &'a str,
    enabled: bool,
    disabled_reason: Option<&'a str>,
    /// The stored state before; absent for a catalog image the service has not seen yet.
    previous: Option<Previous>,
}

#[derive(Serialize)]
struct Previous {
    enabled: bool,
    disabled_reason: Option<String>,
    consecutive_failures: u32,
}

impl Previous {
    fn of(state: Option<ImageState>) -> Option<Previous> {
        state.map(|state| Previous {
            enabled: state.enabled,
            disabled_reason: state.disabled_reason,
            consecutive_failures: state.consecutive_failures,
        })
    }
}

/// Lets the service rebuild an image again after it stopped by itself.
pub async fn enable(global: &GlobalArgs, image: &str, format: Output) -> miette::Result<ExitCode> {
    let (store, catalog) = open_store_and_catalog(global, Existing::MayCreate).await?;
    let state = async {
        let state = known_image(catalog.as_ref(), &store, image).await?;
        store
            .set_enabled(image, true, None)
            .await
            .into_diagnostic()?;
        Ok::<_, miette::Report>(state)
    }
    .await;
    // Closing checkpoints the WAL: nothing of this command stays in `-wal`.
    store.close().await;
    let state = state?;
    if format == Output::Json {
        output::print_json(&Switched {
            image,
            enabled: true,
            disabled_reason: None,
            previous: Previous::of(state),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    match state {
        Some(ImageState {
            enabled: false,
            disabled_reason: Some(reason),
            ..
        }) => println!("{image}: enabled (was disabled: {reason})"),
        Some(ImageState { enabled: true, .. }) => println!("{image}: already enabled"),
        _ => println!("{image}: enabled"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops automatic rebuilds of an image until `enable`.
pub async fn disable(
    global: &GlobalArgs,
    image: &str,
    reason: &str,
    format: Output,
) -> miette::Result<ExitCode> {
    let (store, catalog) = open_store_and_catalog(global, Existing::MayCreate).await?;
    let state = async {
        let state = known_image(catalog.as_ref(), &store, image).await?;
        store
            .set_enabled(image, false, Some(reason))
            .await
            .into_diagnostic()?;
        Ok::<_, miette::Report>(state)
    }
    .await;
    store.close().await;
    let state = state?;
    match format {
        Output::Json => output::print_json(&Switched {
            image,
            enabled: false,
            disabled_reason: Some(reason),
            previous: Previous::of(state),
        })?,
        Output::Table => {
            println!("{image}: disabled ({reason}); `image-refresh enable {image}` resumes")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The image's stored state; `None` for a catalog image the service has not
/// seen yet. Names in neither place are refused, so a typo changes nothing.
async fn known_image(
    catalog: Option<&Catalog>,
    store: &Store,
    image: &str,
) -> miette::Result<Option<ImageState>> {
    if let Some(state) = store.image_state(image).await.into_diagnostic()? {
        return Ok(Some(state));
    }
    // The history must stay usable with a broken catalog, so only a catalog
    // that loads can vouch for a name.
    if catalog.is_some_and(|c| c.image(image).is_some()) {
        return Ok(None);
    }
    let known: Vec<String> = store
        .status()
        .await
        .into_diagnostic()?
        .into_iter()
        .map(|s| s.state.name)
        .collect();
    Err(miette!(
        help = format!("images in the history: {}", known.join(", ")),
        "unknown image {image}"
    ))
}
