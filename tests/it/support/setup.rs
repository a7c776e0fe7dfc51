//! The parts a test world is made of: the simulator's scenario, catalogs that
//! point at it, and the command line that starts the real binary on them.
//! [`super::world::World`] puts them together.
//!
//! Only std, azure-sim and the product's clock: the benches include this
//! file too (`#[path]`), as they cannot use the test binary's modules.

// Each bench that includes this file uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use azure_sim::{Scenario, SimConfig, SimHandle, Simulator};
use image_refresh::clock::SharedClock;

pub const BIN: &str = env!("CARGO_BIN_EXE_image-refresh");

/// The classic catalog's image.
pub const IMAGE: &str = "ubuntu-golden";

/// The classic catalog's marketplace, with an older and a newer jammy, where
/// a build waits `queued_secs` in AIB's queue and customizes for
/// `customizing_secs`; the other phases take no time. `settings` adds keys to
/// `[settings]`.
pub fn scenario(settings: &str, queued_secs: u64, customizing_secs: u64) -> String {
    format!(
        r#"
[settings]
subscription_id = "00000000-0000-0000-0000-000000000000"
{settings}

[build]
provision_secs = 0
queued_secs = {queued_secs}
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

[[resource_groups]]
name = "rg-image-builder"
location = "westeurope"

[[identities]]
resource_group = "rg-image-builder"
name = "id-aib-builder"
location = "westeurope"
"#
    )
}

pub async fn simulator(clock: SharedClock, scenario: &str) -> SimHandle {
    let scenario = Scenario::from_toml(scenario).unwrap();
    Simulator::start(SimConfig::new(move || clock.now(), scenario))
        .await
        .unwrap()
}

/// Writes the secret `sim` accepts to `dir/client-secret`, where the catalogs
/// below are told to read it, as a production one would.
pub fn secret_file(sim: &SimHandle, dir: &Path) -> PathBuf {
    let path = dir.join("client-secret");
    image_refresh::cli::simulated::write_private(&path, sim.client_secret()).unwrap();
    path
}

/// The last keys of a catalog's `[azure]` table and its `[azure.credential]`
/// table: a custom cloud whose ARM and Entra are both `sim`.
pub fn endpoints(sim: &SimHandle, secret_file: &Path) -> String {
    endpoints_with_arm(sim, sim.base_url(), secret_file)
}

/// [`endpoints`] with ARM at `arm_url`, e.g. a proxy in front of `sim`.
pub fn endpoints_with_arm(sim: &SimHandle, arm_url: &str, secret_file: &Path) -> String {
    format!(
        r#"cloud = "custom"
resource_manager_url = "{arm_url}"
authority_host = "{authority}"
resource_manager_audience = "{audience}"
blob_url = "{blob}"

[azure.credential]
kind = "client_secret"
tenant_id = "{tenant}"
client_id = "{client}"
secret_file = "{secret}"
"#,
        authority = sim.authority_host(),
        audience = sim.arm_audience(),
        blob = image_refresh::cli::simulated::blob_url(sim),
        tenant = sim.tenant_id(),
        client = sim.client_id(),
        secret = secret_file.display(),
    )
}

/// The classic catalog's `[azure]` tables, pointed at `sim`.
pub fn azure(sim: &SimHandle, secret_file: &Path) -> String {
    format!(
        r#"
[azure]
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg-image-builder"
location = "westeurope"
identity = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder"
{}"#,
        endpoints(sim, secret_file)
    )
}

/// A catalog pointed at `sim` whose `images` are each the classic Ubuntu image
/// under another name, with a one-step recipe, so that builds are cheap to
/// describe; `extra` goes before the recipe (e.g. `[schedule]`).
pub fn catalog(
    sim: &SimHandle,
    secret_file: &Path,
    extra: &str,
    images: &[impl AsRef<str>],
) -> String {
    let mut text = format!(
        r#"{azure}
{extra}

[recipes.patch]
[[recipes.patch.steps]]
type = "shell"
name = "patch"
inline = ["sudo apt update"]
"#,
        azure = azure(sim, secret_file),
    );
    for image in images {
        let image = image.as_ref();
        text.push_str(&image_block(
            image,
            &format!(
                "type = \"managed_image\"\nimage_id = \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.Compute/images/{image}\""
            ),
        ));
    }
    text
}

/// The classic image's `[[images]]` table under `name`, with the `patch`
/// recipe and one `[[images.distribute]]` target made of `target` keys.
pub fn image_block(name: &str, target: &str) -> String {
    format!(
        r#"
[[images]]
name = "{name}"
recipes = ["patch"]
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
version = "latest"
[[images.distribute]]
{target}
"#
    )
}

/// The gallery image definition the suites distribute to.
pub const GALLERY_IMAGE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-gallery/providers/Microsoft.Compute/galleries/gal_corp/images/ubuntu-golden";

/// [`GALLERY_IMAGE`] as a scenario table, with `versions` published by hand.
pub fn gallery_scenario(versions: &[&str]) -> String {
    let versions: Vec<String> = versions.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        r#"
[[galleries]]
resource_group = "rg-image-gallery"
gallery = "gal_corp"
image = "ubuntu-golden"
location = "westeurope"
versions = [{}]
"#,
        versions.join(", ")
    )
}

/// The binary on `config` and `database`, with the caller's environment.
pub fn binary(config: &Path, database: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(config)
        .arg("--database")
        .arg(database);
    command
}

/// The binary as the suites start the service: polling builds every `poll_ms`
/// instead of every 30 s, as simulated builds take seconds, and blind to any
/// systemd the tests themselves run under (a test that wants one sets it
/// again).
pub fn service(config: &Path, database: &Path, poll_ms: u64) -> Command {
    let mut command = binary(config, database);
    command
        .env("IMAGE_REFRESH_POLL_INTERVAL_MS", poll_ms.to_string())
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null());
    command
}
