//! The catalog both check benchmarks read: `images` images over `skus` marketplace
//! skus, pointed at the simulator through a custom cloud and a service principal
//! whose secret sits in a file, as in production.

use std::path::Path;

use azure_sim::SimHandle;

#[path = "../../tests/it/support/setup.rs"]
mod setup;

/// Writes the secret file at `secret` and returns the catalog text.
pub fn catalog_text(
    sim: &SimHandle,
    secret: &Path,
    images: usize,
    skus: usize,
) -> std::io::Result<String> {
    std::fs::write(secret, sim.client_secret())?;
    let sub = sim.subscription_id();
    let mut text = format!(
        r#"
[azure]
subscription_id = "{sub}"
resource_group = "rg-images"
location = "westeurope"
identity = "/subscriptions/{sub}/resourceGroups/rg-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
{endpoints}"#,
        endpoints = setup::endpoints(sim, secret),
    );
    for n in 0..images {
        text.push_str(&format!(
            r#"
[[images]]
name = "img-{n:04}"

[[images.steps]]
type = "shell"
inline = ["echo {n}"]

[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "sku-{sku:02}"
version = "latest"

[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/{sub}/resourceGroups/rg-images/providers/Microsoft.Compute/images/img-{n:04}"
"#,
            sku = n % skus
        ));
    }
    Ok(text)
}
