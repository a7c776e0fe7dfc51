//! image-refresh on the `azure-sim` simulator: what `demo`, `simulate` and
//! the tests need to point a catalog at it. The simulator itself knows
//! nothing of catalogs; it only says where it listens and whom it accepts.

use std::net::SocketAddr;
use std::path::Path;

use azure_sim::{Scenario, SimConfig, SimError, SimHandle, Simulator, SystemClock};

use crate::azure::{
    BlobEndpoint, CloudEndpoints, CredentialConfig, SecretSource, parse_secure_url,
};
use crate::catalog::{Catalog, Cloud};

/// Points a parsed catalog at `sim` the way production is set up: a custom
/// cloud (on loopback) and a service principal whose secret sits in
/// `secret_file`, which this writes.
pub fn point_catalog(
    sim: &SimHandle,
    catalog: &mut Catalog,
    secret_file: &Path,
) -> std::io::Result<()> {
    write_private(secret_file, sim.client_secret())?;
    catalog.azure.cloud = Cloud::Custom;
    let mut endpoints = CloudEndpoints::custom(
        sim.base_url(),
        sim.authority_host(),
        Some(sim.arm_audience()),
    )
    .map_err(std::io::Error::other)?;
    endpoints.blob = Some(BlobEndpoint::PathStyle(
        parse_secure_url(&blob_url(sim)).map_err(std::io::Error::other)?,
    ));
    catalog.azure.endpoints = endpoints;
    catalog.credential = CredentialConfig::ClientSecret {
        tenant_id: sim.tenant_id().to_owned(),
        client_id: sim.client_id().to_owned(),
        secret_source: SecretSource::File(secret_file.to_owned()),
    };
    Ok(())
}

/// Where the simulator serves its storage accounts' blobs (path-style, like Azurite).
pub fn blob_url(sim: &SimHandle) -> String {
    format!("{}/blob/", sim.base_url().trim_end_matches('/'))
}

/// Writes a secret file only its owner may read, as the service insists.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())
}

/// The `[azure]` settings that point a catalog at `sim`.
pub fn catalog_settings(sim: &SimHandle) -> String {
    format!(
        "[azure]\nsubscription_id = \"{sub}\"\ncloud = \"custom\"\n\
         resource_manager_url = \"{url}\"\nauthority_host = \"{url}\"\n\
         resource_manager_audience = \"{audience}\"\nblob_url = \"{blob}\"\n\n\
         [azure.credential]   # with the exported IDENTITY_* variables\n\
         kind = \"managed_identity\"\n\
         # or: kind = \"client_secret\", tenant_id = \"{tenant}\", client_id = \"{client}\",\n\
         #     secret_file = a file holding \"{secret}\"\n",
        sub = sim.subscription_id(),
        url = sim.base_url(),
        audience = sim.arm_audience(),
        blob = blob_url(sim),
        tenant = sim.tenant_id(),
        client = sim.client_id(),
        secret = sim.client_secret(),
    )
}

/// `simulate`: runs the simulator until Ctrl-C, printing the environment a
/// daemon needs.
pub async fn serve(listen: SocketAddr, scenario: Option<&Path>) -> Result<(), SimError> {
    let scenario = match scenario {
        Some(path) => Scenario::from_file(path)?,
        // An empty Azure would refuse the first template (no resource group):
        // alone, `simulate` serves the demo's world.
        None => Scenario::from_toml(super::demo::DEMO_SCENARIO)?,
    };
    let handle = Simulator::start(SimConfig {
        listen,
        ..SimConfig::new(SystemClock, scenario)
    })
    .await?;
    println!(
        "# Azure simulator on {}; stop it with Ctrl-C.",
        handle.base_url()
    );
    // Not `export` lines, and not AZURE_AUTHORITY_HOST: pasted into a shell that
    // also talks to real Azure, they would send its credentials to this listener.
    println!(
        "# A managed-identity daemon's environment: give it to that one process \
         (env NAME=VALUE … image-refresh …), never export it into your shell."
    );
    for (name, value) in handle.env() {
        if name.starts_with("IDENTITY_") {
            println!("{name}={value}");
        }
    }
    println!(
        "# And in its catalog (keep the rest of [azure]: resource_group, location, identity):"
    );
    for line in catalog_settings(&handle).lines() {
        println!("#   {line}");
    }
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await
}
