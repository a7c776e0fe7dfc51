//! `enable` and `disable`: automatic rebuilds of one image, in the history.

use std::process::ExitCode;

use miette::{IntoDiagnostic, miette};

use super::{Existing, GlobalArgs, open_store_and_catalog};
use crate::catalog::Catalog;
use crate::store::{ImageState, Store};

/// Lets the service rebuild an image again after it stopped by itself.
pub async fn enable(global: &GlobalArgs, image: &str) -> miette::Result<ExitCode> {
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
pub async fn disable(global: &GlobalArgs, image: &str, reason: &str) -> miette::Result<ExitCode> {
    let (store, catalog) = open_store_and_catalog(global, Existing::MayCreate).await?;
    let done = async {
        known_image(catalog.as_ref(), &store, image).await?;
        store
            .set_enabled(image, false, Some(reason))
            .await
            .into_diagnostic()?;
        Ok::<_, miette::Report>(())
    }
    .await;
    store.close().await;
    done?;
    println!("{image}: disabled ({reason}); `image-refresh enable {image}` resumes");
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
