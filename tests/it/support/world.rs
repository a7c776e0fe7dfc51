//! The one test world: a simulator and a clock it shares with the product, a
//! temporary directory holding the client secret, the catalog and the
//! history database, and the real binary started on them.
//!
//! ```ignore
//! let world = World::builder().scenario(text).start().await;
//! let world = World::builder().clock(Arc::new(ManualClock::new(t0))).start().await;
//! ```
//!
//! Suites add what only they need on top (an extension trait or functions
//! taking a `&World`) in their own module.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use azure_sim::{JournalEntry, SimHandle};
use image_refresh::catalog::{self, Catalog};
use image_refresh::cli::simulated;
use image_refresh::clock::{Clock, SharedClock, SystemClock};
use image_refresh::store::{BuildRecord, Store};
use tempfile::TempDir;

use super::daemon::Daemon;
use super::setup;

/// A simulator and what points at it. `C` is the clock both sides read.
pub struct World<C: Clock = SystemClock> {
    pub sim: SimHandle,
    pub clock: Arc<C>,
    pub dir: TempDir,
    /// `dir/client-secret`, holding the secret the simulator accepts.
    pub secret_file: PathBuf,
    /// The classic catalog (config/image-refresh.toml) pointed at the
    /// simulator as in production: a custom cloud and the secret file.
    pub catalog: Catalog,
    /// The catalog file the binary reads, `dir/image-refresh.toml`; see
    /// [`World::write_catalog`].
    pub config: PathBuf,
    /// The history database, `dir/history.db` unless the builder moved it.
    pub database: PathBuf,
    /// How long waits on a spawned service may take before a test fails.
    patience: Duration,
    /// How often a spawned service polls running builds.
    poll_ms: u64,
}

/// How to make a [`World`].
pub struct Builder<C: Clock> {
    clock: Arc<C>,
    scenario: String,
    database: Option<PathBuf>,
    patience: Duration,
    poll_ms: u64,
}

impl World {
    /// The real clock, [`setup::scenario`] with one-second builds, the
    /// database in the temporary directory; services poll every 100 ms and
    /// are waited on for up to a minute.
    pub fn builder() -> Builder<SystemClock> {
        Builder {
            clock: Arc::new(SystemClock),
            scenario: setup::scenario("", 0, 1),
            database: None,
            patience: Duration::from_secs(60),
            poll_ms: 100,
        }
    }
}

impl<C: Clock> Builder<C> {
    /// The clock the simulator and the product share.
    pub fn clock<D: Clock>(self, clock: Arc<D>) -> Builder<D> {
        Builder {
            clock,
            scenario: self.scenario,
            database: self.database,
            patience: self.patience,
            poll_ms: self.poll_ms,
        }
    }

    /// The simulator's scenario (TOML).
    pub fn scenario(mut self, text: impl Into<String>) -> Self {
        self.scenario = text.into();
        self
    }

    /// The database file; a relative path is inside the temporary directory.
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Bound on waits on a spawned service (see [`Daemon`]).
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// How often a spawned service polls its running builds.
    pub fn poll_ms(mut self, ms: u64) -> Self {
        self.poll_ms = ms;
        self
    }

    pub async fn start(self) -> World<C> {
        let shared: SharedClock = self.clock.clone();
        let sim = setup::simulator(shared, &self.scenario).await;
        let dir = TempDir::new().unwrap();
        let secret_file = setup::secret_file(&sim, dir.path());
        let mut catalog = catalog::parse(catalog::CLASSIC, "image-refresh.toml").unwrap();
        simulated::point_catalog(&sim, &mut catalog, &secret_file).unwrap();
        let database = dir
            .path()
            .join(self.database.unwrap_or_else(|| "history.db".into()));
        World {
            config: dir.path().join("image-refresh.toml"),
            database,
            secret_file,
            catalog,
            sim,
            clock: self.clock,
            dir,
            patience: self.patience,
            poll_ms: self.poll_ms,
        }
    }
}

impl<C: Clock> World<C> {
    /// The clock as the product takes it.
    pub fn shared_clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// Writes the catalog file the binary reads.
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    /// Writes a [`setup::catalog`] of `images` pointed at the simulator:
    /// `extra` goes before the images (e.g. `[schedule]`).
    pub fn write_catalog(&self, extra: &str, images: &[impl AsRef<str>]) {
        self.write_config(&setup::catalog(&self.sim, &self.secret_file, extra, images));
    }

    /// The binary on the catalog file and the database, with the caller's
    /// environment.
    pub fn binary(&self) -> Command {
        setup::binary(&self.config, &self.database)
    }

    /// A one-shot command such as `status` or `enable`; its output.
    pub fn command(&self, args: &[&str]) -> Output {
        self.binary().args(args).output().unwrap()
    }

    /// A one-shot command's exit code and everything it printed, stdout first.
    pub fn said(&self, args: &[&str]) -> (Option<i32>, String) {
        let output = self.command(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    }

    /// The binary as the suites start the service ([`setup::service`]).
    pub fn service(&self) -> Command {
        setup::service(&self.config, &self.database, self.poll_ms)
    }

    /// `image-refresh run` in the background, logging at debug into
    /// `dir/name.log`, its stdout in `dir/name.out`; `env` comes last (so it
    /// may set `RUST_LOG`).
    pub fn spawn(&self, name: &str, env: &[(&str, String)]) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let out = self.dir.path().join(format!("{name}.out"));
        let mut command = self.service();
        command
            .arg("run")
            .env("RUST_LOG", "image_refresh=debug")
            .stdout(std::fs::File::create(out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap());
        for (key, value) in env {
            command.env(key, value);
        }
        Daemon::new(command.spawn().unwrap(), log, self.patience)
    }

    /// A new connection pool on the database: a new process's store.
    pub async fn store(&self) -> Store {
        Store::open(&self.database).await.unwrap()
    }

    /// The recorded builds, newest first, read through a store of their own.
    pub async fn builds(&self) -> Vec<BuildRecord> {
        let store = self.store().await;
        let builds = store.history(None, 100).await.unwrap();
        store.close().await;
        builds
    }

    /// The simulator's journal of `route`.
    pub fn journal(&self, route: &str) -> Vec<JournalEntry> {
        self.sim
            .journal()
            .into_iter()
            .filter(|e| e.route == route)
            .collect()
    }

    /// HTTP statuses the simulator answered on `route`, in order (0: dropped).
    pub fn statuses(&self, route: &str) -> Vec<u16> {
        self.journal(route).into_iter().map(|e| e.status).collect()
    }

    /// Requests on `route` that Azure accepted (2xx).
    pub fn accepted(&self, route: &str) -> usize {
        self.journal(route)
            .iter()
            .filter(|e| (200..300).contains(&e.status))
            .count()
    }

    /// Requests the simulator answered with `status`.
    pub fn answered(&self, status: u16) -> usize {
        self.sim
            .journal()
            .iter()
            .filter(|e| e.status == status)
            .count()
    }
}
