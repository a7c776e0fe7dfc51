//! `run`: the service. The only command that imports `daemon`.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr};

use super::{GlobalArgs, database_for, load_catalog};
use crate::app::Tuning;
use crate::clock;
use crate::daemon::{self, Notifier, ServiceConfig, notify};

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
