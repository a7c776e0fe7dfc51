//! `run` (the service) and `enable`/`disable` (automatic rebuilds of one image).

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr, miette};

use super::{GlobalArgs, database_for, load_catalog, open_store};
use crate::app::Tuning;
use crate::clock;
use crate::daemon::{self, Notifier, ServiceConfig, notify};
use crate::store::{ImageState, Store};

/// The service, until SIGTERM or SIGINT.
pub async fn run(global: &GlobalArgs) -> miette::Result<ExitCode> {
    let catalog = load_catalog(global)?;
    let database = database_for(global, Some(&catalog));
    let tuning = Tuning::from_env().into_diagnostic()?;
    // A failed check is first retried after a minute, or after the poll
    // interval when that is shortened for the simulator.
    let check_retry = tuning
        .poll_interval
        .and_then(|interval| chrono::Duration::from_std(interval).ok())
        .unwrap_or(daemon::CHECK_RETRY_FIRST);
    let config = ServiceConfig {
        catalog_path: global.config.clone(),
        database,
        clock: clock::system(),
        tuning,
        watchdog: notify::watchdog_from_env(),
        check_retry,
    };
    daemon::serve(config, catalog, Notifier::from_env())
        .await
        .into_diagnostic()
        .wrap_err("the service failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Lets the service rebuild an image again after it stopped by itself.
pub async fn enable(global: &GlobalArgs, image: &str) -> miette::Result<ExitCode> {
    let store = open_store(global).await?;
    let state = async {
        let state = known_image(global, &store, image).await?;
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
    let store = open_store(global).await?;
    let done = async {
        known_image(global, &store, image).await?;
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
    global: &GlobalArgs,
    store: &Store,
    image: &str,
) -> miette::Result<Option<ImageState>> {
    if let Some(state) = store.image_state(image).await.into_diagnostic()? {
        return Ok(Some(state));
    }
    // The history must stay usable with a broken catalog, so only a catalog
    // that loads can vouch for a name.
    let catalog = global
        .config
        .exists()
        .then(|| load_catalog(global).ok())
        .flatten();
    if catalog.as_ref().is_some_and(|c| c.image(image).is_some()) {
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
