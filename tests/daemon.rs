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
use std::process::{Command, Stdio};
use std::time::Duration;

use image_refresh::clock;
use image_refresh::simulator::{Scenario, SimConfig, SimHandle, Simulator};
use image_refresh::store::{BuildRecord, Store};
use tempfile::TempDir;

#[path = "support/daemon.rs"]
mod support;
pub use support::{Daemon, eventually};

pub const BIN: &str = env!("CARGO_BIN_EXE_image-refresh");
pub const IMAGE: &str = "ubuntu-golden";

/// Bound on any wait; generous because two cores are shared by many builds.
const PATIENCE: Duration = Duration::from_secs(60);

/// The classic catalog's marketplace; `customizing_secs` sets how long a build runs.
fn scenario(customizing_secs: u64) -> String {
    format!(
        r#"
[settings]
subscription_id = "00000000-0000-0000-0000-000000000000"

[build]
provision_secs = 0
queued_secs = 0
building_secs = 0
customizing_secs = {customizing_secs}
validating_secs = 0
distributing_secs = 0

[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
versions = ["22.04.202410020", "22.04.202411050"]
"#
    )
}

/// A simulator, a catalog pointing at it and a database path in a temp dir.
pub struct World {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub catalog: PathBuf,
    pub database: PathBuf,
}

impl World {
    pub async fn start(customizing_secs: u64) -> World {
        let scenario = Scenario::from_toml(&scenario(customizing_secs)).unwrap();
        let sim = Simulator::start(SimConfig::new(clock::system(), scenario))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client-secret"), sim.client_secret()).unwrap();
        let world = World {
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
        let sim = &self.sim;
        let secret = self.dir.path().join("client-secret");
        let mut text = format!(
            r#"
[azure]
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg-image-builder"
location = "westeurope"
identity = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder"
cloud = "custom"
resource_manager_url = "{arm}"
authority_host = "{authority}"
resource_manager_audience = "{audience}"

[azure.credential]
kind = "client_secret"
tenant_id = "{tenant}"
client_id = "{client}"
secret_file = "{secret}"

{extra}

[recipes.patch]
[[recipes.patch.steps]]
type = "shell"
name = "patch"
inline = ["sudo apt update"]
"#,
            arm = sim.base_url(),
            authority = sim.authority_host(),
            audience = sim.arm_audience(),
            tenant = sim.tenant_id(),
            client = sim.client_id(),
            secret = secret.display(),
        );
        for image in images {
            text.push_str(&format!(
                r#"
[[images]]
name = "{image}"
recipes = ["patch"]
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
version = "latest"
[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.Compute/images/{image}"
"#
            ));
        }
        std::fs::write(&self.catalog, text).unwrap();
    }

    /// `image-refresh run` in the background, with its log in `name.log`.
    pub fn spawn(&self, name: &str, env: &[(&str, String)]) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut command = Command::new(BIN);
        command
            .arg("--config")
            .arg(&self.catalog)
            .arg("--database")
            .arg(&self.database)
            .arg("run")
            .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "100")
            .env("RUST_LOG", "image_refresh=debug")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (key, value) in env {
            command.env(key, value);
        }
        Daemon::new(command.spawn().unwrap(), log, PATIENCE)
    }

    /// A one-shot command such as `status` or `enable`.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .arg("--config")
            .arg(&self.catalog)
            .arg("--database")
            .arg(&self.database)
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
