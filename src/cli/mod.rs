//! The command line: a thin layer that loads inputs, calls the library and prints.

mod args;
mod build;
mod completions;
mod daemon;
mod database;
#[cfg(feature = "simulator")]
mod demo;
mod history;
mod images;
mod import;
mod logs;
mod notify;
mod output;
mod plan;
mod progress;
mod promote;
mod revoke;
#[cfg(feature = "simulator")]
pub mod simulated;
mod status;
mod template;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use miette::IntoDiagnostic;
use tracing_subscriber::EnvFilter;

pub use args::{Cli, Command, GlobalArgs, Output};

use crate::app::{App, AppError, Tuning};
use crate::catalog::{self, Catalog};
use crate::clock;
use crate::store::{self, Store};

/// Sets up logging on stderr; `RUST_LOG` wins over `-v`/`-q`. The service
/// logs its progress at info; commands a person runs stay quiet unless asked.
pub fn init_tracing(cli: &Cli) {
    let global = &cli.global;
    let chatty = match cli.command {
        Command::Run { .. } => true,
        #[cfg(feature = "simulator")]
        Command::Simulate { .. } => true,
        _ => false,
    };
    let level = match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) if chatty => "info",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,image_refresh={level}")));
    crate::logging::init(filter);
}

pub async fn run(cli: Cli) -> miette::Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::Validate { output, online } => validate::run(global, output, online).await,
        Command::Check { output } => plan::check(global, output).await,
        Command::Build {
            images,
            force,
            skip_soak,
            wait,
            output,
        } => build::build(global, &images, force, skip_soak, wait, output).await,
        #[cfg(feature = "simulator")]
        Command::Demo => demo::run().await,
        Command::Run { once: true, output } => build::run_once(global, output).await,
        Command::Run { once: false, .. } => daemon::run(global).await,
        Command::Enable { image, output } => images::enable(global, &image, output).await,
        Command::Disable {
            image,
            reason,
            output,
        } => images::disable(global, &image, &reason, output).await,
        Command::Promote {
            image,
            version,
            all,
            by,
            output,
        } => promote::promote(global, &image, version.as_deref(), all, by, output).await,
        Command::Revoke {
            image,
            version,
            reason,
            by,
            force,
            output,
        } => revoke::revoke(global, &image, &version, &reason, by, force, output).await,
        Command::History {
            image,
            limit,
            output,
        } => history::history(global, image.as_deref(), limit, output).await,
        Command::Logs { build, url } => logs::logs(global, &build, url).await,
        Command::Notify {
            action: args::NotifyAction::Test { output },
        } => notify::test(global, output).await,
        Command::Status { output } => status::status(global, output).await,
        Command::Template {
            image,
            source_version,
        } => template::template(global, &image, source_version.as_deref()).await,
        Command::Import { files, write } => import::import(global, &files, write.as_deref()),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man { dir } => completions::man(&dir),
        #[cfg(feature = "simulator")]
        Command::Simulate { listen, scenario } => {
            simulated::serve(listen, scenario.as_deref())
                .await
                .into_diagnostic()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the catalog named by `--config`, with all its problems as one report.
fn load_catalog(global: &GlobalArgs) -> miette::Result<Catalog> {
    catalog::load(&global.config).map_err(catalog::CatalogError::into_report)
}

/// The database path: `--database`, else the catalog's `[store] database`, else the default.
fn database_for(global: &GlobalArgs, catalog: Option<&Catalog>) -> PathBuf {
    if let Some(path) = &global.database {
        return path.clone();
    }
    catalog
        .and_then(|catalog| catalog.store.database.clone())
        .unwrap_or_else(|| PathBuf::from(store::DEFAULT_DATABASE_PATH))
}

/// The catalog (read once), its store and ARM client: what every Azure-facing
/// command works with.
async fn open_app(global: &GlobalArgs) -> miette::Result<App> {
    let catalog = load_catalog(global)?;
    let database = database_for(global, Some(&catalog));
    let tuning = Tuning::from_env().into_diagnostic()?;
    App::open(catalog, &database, clock::system(), tuning)
        .await
        .map_err(|error| match error {
            AppError::Store(error) => database::explain(&database, &error),
            other => miette::Report::from_err(other)
                .wrap_err(format!("failed to set up with {}", database.display())),
        })
}

/// Whether a command may start a new history database.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// It only reads: no history is an error, never a new empty file.
    Required,
    /// It records something (`enable`, `disable`).
    MayCreate,
}

/// The history store and, when one loads, the catalog, each read once. Reading
/// history must work without a catalog (an operator on a box whose catalog is
/// broken still wants to see what happened): a missing catalog is no error, and a
/// broken one only when the database's path has to come from it.
async fn open_store_and_catalog(
    global: &GlobalArgs,
    existing: Existing,
) -> miette::Result<(Store, Option<Catalog>)> {
    let catalog = match global.config.exists().then(|| load_catalog(global)) {
        Some(Err(report)) if global.database.is_none() => return Err(report),
        Some(loaded) => loaded.ok(),
        None => None,
    };
    let path = database_for(global, catalog.as_ref());
    let store = match existing {
        Existing::Required => Store::open_existing(&path).await,
        Existing::MayCreate => Store::open(&path).await,
    };
    let store = store.map_err(|error| database::explain(&path, &error))?;
    Ok((store, catalog))
}
