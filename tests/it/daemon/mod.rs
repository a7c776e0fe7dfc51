//! The real `image-refresh run` binary against the loopback Azure simulator:
//! restarts, reloads, systemd notifications and automatic disabling.
//!
//! Builds take a second or two of simulated AIB time and the service polls
//! every 100 ms (`IMAGE_REFRESH_POLL_INTERVAL_MS`), so each test runs for a
//! few seconds. Waits are bounded generously and only fail a test when the
//! expected thing never happens.

#[path = "daemon/catchup.rs"]
mod catchup;
#[path = "daemon/disable.rs"]
mod disable;
#[path = "daemon/journal.rs"]
mod journal;
#[path = "daemon/limit.rs"]
mod limit;
#[path = "daemon/notify.rs"]
mod notify;
#[path = "daemon/overlap.rs"]
mod overlap;
#[path = "daemon/reload.rs"]
mod reload;
#[path = "daemon/restart.rs"]
mod restart;
#[path = "daemon/retry.rs"]
mod retry;
#[path = "daemon/unit_file.rs"]
mod unit_file;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use azure_sim::SimHandle;
use image_refresh::clock;
use image_refresh::store::{BuildRecord, Store};
use tempfile::TempDir;

#[path = "support/world.rs"]
mod setup;
#[path = "support/daemon.rs"]
mod support;
pub use setup::{BIN, IMAGE};
pub use support::{Daemon, eventually};

/// Bound on any wait; generous because two cores are shared by many builds.
const PATIENCE: Duration = Duration::from_secs(60);

/// A simulator, a catalog pointing at it and a database path in a temp dir.
pub struct World {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub catalog: PathBuf,
    pub database: PathBuf,
    secret_file: PathBuf,
}

impl World {
    /// `customizing_secs` sets how long a build runs.
    pub async fn start(customizing_secs: u64) -> World {
        let scenario = setup::scenario("", 0, customizing_secs);
        let sim = setup::simulator(clock::system(), &scenario).await;
        let dir = tempfile::tempdir().unwrap();
        let world = World {
            secret_file: setup::secret_file(&sim, dir.path()),
            catalog: dir.path().join("image-refresh.toml"),
            database: dir.path().join("history.db"),
            sim,
            dir,
        };
        world.write_catalog("", &[IMAGE]);
        world
    }

    /// Writes the catalog: `extra` goes before the images (e.g. `[schedule]`).
    pub fn write_catalog(&self, extra: &str, images: &[&str]) {
        let text = setup::catalog(&self.sim, &self.secret_file, extra, images);
        std::fs::write(&self.catalog, text).unwrap();
    }

    /// `image-refresh run` in the background, with its log in `name.log`.
    pub fn spawn(&self, name: &str, env: &[(&str, String)]) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut command = setup::service(&self.catalog, &self.database, 100);
        command
            .arg("run")
            .env("RUST_LOG", "image_refresh=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (key, value) in env {
            command.env(key, value);
        }
        Daemon::new(command.spawn().unwrap(), log, PATIENCE)
    }

    /// A one-shot command such as `status` or `enable`.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        setup::binary(&self.catalog, &self.database)
            .args(args)
            .output()
            .unwrap()
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.database).await.unwrap()
    }

    pub async fn builds(&self) -> Vec<BuildRecord> {
        let store = self.store().await;
        let builds = store.history(None, 100).await.unwrap();
        store.close().await;
        builds
    }
}

/// A bound datagram socket standing in for systemd's `NOTIFY_SOCKET`.
pub struct NotifySocket {
    socket: UnixDatagram,
    pub path: PathBuf,
    pub received: Vec<String>,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        NotifySocket {
            socket,
            path,
            received: Vec::new(),
        }
    }

    /// Reads every message that arrived so far.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.received
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }

    /// Waits for a message starting with `prefix` after the first `from` messages.
    pub async fn wait_for(&mut self, daemon: &Daemon, from: usize, prefix: &str) -> usize {
        eventually(&format!("notification {prefix}"), daemon, || {
            self.drain();
            let found = self
                .received
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, m)| m.starts_with(prefix))
                .map(|(i, _)| i);
            std::future::ready(found)
        })
        .await
    }

    /// After the service exited: the index of the first message starting with `prefix`
    /// after the first `from`.
    pub fn find_after_exit(&mut self, from: usize, prefix: &str) -> usize {
        self.drain();
        self.received
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, m)| m.starts_with(prefix))
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {prefix} among {:?}", self.received))
    }
}
