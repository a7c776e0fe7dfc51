//! The simulator, a catalog that grows by a round of never-built images at a
//! time, and the real `image-refresh run` binary, started and SIGKILLed.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use image_refresh::clock;
use image_refresh::simulator::{FaultKind, FaultRule, Scenario, SimConfig, SimHandle, Simulator};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_image-refresh");

/// Images that become stale together: each round adds this many to the catalog.
pub const ROUND_SIZE: usize = 3;

/// One-second AIB runs and no `Retry-After` wait, so a round of builds takes
/// a couple of seconds; the schedule is yearly, so every check the service
/// makes is its start-up catch-up of images it never checked.
const SCENARIO: &str = r#"
[settings]
subscription_id = "00000000-0000-0000-0000-000000000000"
operation_retry_after_secs = 0

[build]
provision_secs = 0
queued_secs = 0
building_secs = 0
customizing_secs = 1
validating_secs = 0
distributing_secs = 0

[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
versions = ["22.04.202410020", "22.04.202411050"]
"#;

/// Latency that holds each Azure call of a build open long enough for a kill
/// to land while it is in flight.
const LATENCY: &[(&str, u64)] = &[
    ("*", 2),
    ("template.put", 40),
    ("template.run", 40),
    ("template.runOutputs", 40),
    ("template.delete", 40),
];

pub struct World {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub catalog: PathBuf,
    pub database: PathBuf,
    /// Every image ever put in the catalog, in order.
    pub images: Vec<String>,
    spawned: usize,
}

impl World {
    pub async fn start() -> World {
        let sim = Simulator::start(SimConfig::new(
            clock::system(),
            Scenario::from_toml(SCENARIO).unwrap(),
        ))
        .await
        .unwrap();
        for (route, ms) in LATENCY {
            sim.add_fault(FaultRule::always(route, FaultKind::Latency { ms: *ms }));
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client-secret"), sim.client_secret()).unwrap();
        World {
            catalog: dir.path().join("image-refresh.toml"),
            database: dir.path().join("history.db"),
            sim,
            dir,
            images: Vec::new(),
            spawned: 0,
        }
    }

    /// The images of the latest round.
    pub fn round(&self) -> &[String] {
        &self.images[self.images.len().saturating_sub(ROUND_SIZE)..]
    }

    /// Adds a round of never-built (so stale) images to the catalog.
    pub fn add_round(&mut self) {
        let round = self.images.len() / ROUND_SIZE;
        for k in 0..ROUND_SIZE {
            self.images.push(format!("golden-{round}-{k}"));
        }
        self.write_catalog();
    }

    fn write_catalog(&self) {
        let sim = &self.sim;
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

[schedule]
cron = "0 0 1 1 *"

[service]
max_concurrent_builds = {ROUND_SIZE}

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
            secret = self.dir.path().join("client-secret").display(),
        );
        for image in &self.images {
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

    /// `image-refresh run` in the background, logging to `daemon-N.log`.
    pub fn spawn(&mut self) -> Daemon {
        self.spawned += 1;
        let log = self.dir.path().join(format!("daemon-{}.log", self.spawned));
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&self.catalog)
            .arg("--database")
            .arg(&self.database)
            .arg("run")
            .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "20")
            .env("RUST_LOG", "image_refresh=debug")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon::new(child, log, STOP_PATIENCE)
    }
}

pub use super::support::Daemon;

/// How long a SIGTERM'd service may take to stop.
const STOP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
