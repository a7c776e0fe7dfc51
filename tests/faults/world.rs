//! The real `image-refresh run` binary against the in-process simulator, with its
//! log in a file: the harness the fault and secret suites share.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use image_refresh::clock;
use image_refresh::simulator::{Scenario, SimConfig, SimHandle, Simulator};
use image_refresh::store::{BuildRecord, BuildState, Store};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_image-refresh");
pub const IMAGE: &str = "ubuntu-golden";
/// A client secret that appears nowhere unless leaked.
pub const SECRET: &str = "Zq8~leak-canary-5f0c9e1d7b2a4c6e";

/// Bound on any wait; generous because two cores are shared by many builds.
const PATIENCE: Duration = Duration::from_secs(90);

fn scenario() -> String {
    format!(
        r#"
[settings]
subscription_id = "00000000-0000-0000-0000-000000000000"
client_secret = "{SECRET}"
token_lifetime_secs = 3600

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
"#
    )
}

/// A simulator, a catalog pointing at it, and a database directory.
pub struct World {
    pub sim: SimHandle,
    pub dir: TempDir,
    pub catalog: PathBuf,
    pub database: PathBuf,
    pub secret_file: PathBuf,
}

impl World {
    /// `data` is the database directory (inside `dir` when `None`).
    pub async fn start(data: Option<&Path>) -> World {
        let scenario = Scenario::from_toml(&scenario()).unwrap();
        let sim = Simulator::start(SimConfig::new(clock::system(), scenario))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("client-secret");
        std::fs::write(&secret_file, SECRET).unwrap();
        let database = data.unwrap_or(dir.path()).join("history.db");
        let world = World {
            catalog: dir.path().join("image-refresh.toml"),
            database,
            secret_file,
            sim,
            dir,
        };
        // Checked every two seconds, so that a check failed by a fault is retried soon.
        world.write_catalog("[schedule]\ncron = \"*/2 * * * * *\"");
        world
    }

    pub fn write_catalog(&self, extra: &str) {
        let sim = &self.sim;
        let text = format!(
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

[[images]]
name = "{IMAGE}"
recipes = ["patch"]
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
version = "latest"
[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.Compute/images/{IMAGE}"
"#,
            arm = sim.base_url(),
            authority = sim.authority_host(),
            audience = sim.arm_audience(),
            tenant = sim.tenant_id(),
            client = sim.client_id(),
            secret = self.secret_file.display(),
        );
        std::fs::write(&self.catalog, text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("--config")
            .arg(&self.catalog)
            .arg("--database")
            .arg(&self.database)
            .args(args)
            .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "100")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null());
        command
    }

    /// `image-refresh run` in the background, logging at `filter` into `name.log`.
    pub fn spawn(&self, name: &str, filter: &str) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let child = self
            .command(&["run"])
            .env("RUST_LOG", filter)
            .stdout(std::fs::File::create(self.dir.path().join(format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon::new(child, log, PATIENCE)
    }

    /// A one-shot command; its output.
    pub fn run(&self, args: &[&str], filter: &str) -> std::process::Output {
        self.command(args).env("RUST_LOG", filter).output().unwrap()
    }

    pub async fn builds(&self) -> Vec<BuildRecord> {
        let store = Store::open(&self.database).await.unwrap();
        let builds = store.history(None, 100).await.unwrap();
        store.close().await;
        builds
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

pub use super::support::{Daemon, eventually};

/// Waits for the image's build to succeed, then asserts the history has exactly that one
/// build, from one AIB run: nothing lost, nothing duplicated.
pub async fn one_good_build(world: &World, daemon: &Daemon) -> BuildRecord {
    let build = eventually("a succeeded build", daemon, || async {
        world
            .builds()
            .await
            .into_iter()
            .find(|b| b.state == BuildState::Succeeded)
    })
    .await;
    let builds = world.builds().await;
    assert_eq!(
        builds.len(),
        1,
        "one build, no failed or duplicate ones: {:#?}\n{}",
        builds
            .iter()
            .map(|b| (&b.state, &b.error_message))
            .collect::<Vec<_>>(),
        daemon.log()
    );
    assert_eq!(world.sim.count("template.run"), 1, "exactly one run POST");
    build
}

/// Log lines at WARN or ERROR.
pub fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}
