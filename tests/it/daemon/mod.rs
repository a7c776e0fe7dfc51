//! The real `image-refresh run` binary against the loopback Azure simulator:
//! restarts, reloads, systemd notifications and automatic disabling.
//!
//! Builds take a second or two of simulated AIB time and the service polls
//! every 100 ms (`IMAGE_REFRESH_POLL_INTERVAL_MS`), so each test runs for a
//! few seconds. Waits are bounded generously and only fail a test when the
//! expected thing never happens.

mod catchup;
mod disable;
mod journal;
mod limit;
pub(crate) mod metrics;
mod notify;
mod overlap;
mod reload;
mod restart;
mod retry;
mod unit_file;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::support::daemon::{Daemon, eventually};
use crate::support::setup::scenario;
pub use crate::support::setup::{BIN, IMAGE};
use crate::support::world::World;

/// Bound on any wait; generous because two cores are shared by many builds.
const PATIENCE: Duration = Duration::from_secs(60);

/// A simulator whose builds run for `customizing_secs`, and a catalog of
/// [`IMAGE`] pointing at it (`World::write_catalog` rewrites it).
pub async fn world(customizing_secs: u64) -> World {
    let world = World::builder()
        .scenario(scenario("", 0, customizing_secs))
        .patience(PATIENCE)
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    world
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
