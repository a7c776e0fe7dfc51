//! Architecture, OS state and features of gallery image definitions and
//! marketplace images.

use serde_json::{Value, json};

use super::{ARM, SUB, assert_shape, example, fixture, get_json, start, token};

const SCENARIO: &str = r#"
[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "arm"
location = "westeurope"
architecture = "Arm64"
os_state = "Specialized"
features = [{ name = "SecurityType", value = "TrustedLaunchSupported" }, { name = "IsAcceleratedNetworkSupported", value = "True", starts_at_version = "2.0.0" }]

[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "plain"
location = "westeurope"

[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "ubuntu-24_04-lts"
sku = "server-arm64"
architecture = "Arm64"
features = [{ name = "SecurityType", value = "TrustedLaunchSupported" }]
versions = ["24.04.202501150"]

[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "ubuntu-24_04-lts"
sku = "server"
versions = ["24.04.202501150"]
"#;

/// The spec's definition has the property the example leaves out.
fn spec_has(spec: &str, definition: &str, property: &str) -> bool {
    fixture(spec)["definitions"][definition]["properties"]
        .get(property)
        .is_some()
}

fn definition(image: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-gallery/providers/Microsoft.Compute/galleries/gal/images/{image}"
    )
}

#[tokio::test]
async fn gallery_image_definitions_show_architecture_state_and_features() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    assert!(spec_has(
        "compute/GalleryRP-2024-03-03/GalleryRP.json",
        "GalleryImageProperties",
        "architecture"
    ));

    let arm64 = get_json(&sim, &arm, &definition("arm"), "2024-03-03", 200).await;
    let ex =
        example("compute/GalleryRP-2024-03-03/galleryExamples/GalleryImage_UpdateFeatures.json");
    // GalleryImage is a TrackedResource (common-types v3): it has systemData.
    assert_shape(
        &arm64,
        &ex,
        &["id", "type", "architecture", "systemData"],
        "",
    );
    let props = &arm64["properties"];
    assert_eq!(props["architecture"], "Arm64");
    assert_eq!(props["osState"], "Specialized");
    assert_eq!(
        props["features"],
        json!([
            {"name": "SecurityType", "value": "TrustedLaunchSupported"},
            {"name": "IsAcceleratedNetworkSupported", "value": "True", "startsAtVersion": "2.0.0"}
        ])
    );

    // Defaults: as before, and no features key at all, as Compute answers.
    let plain = get_json(&sim, &arm, &definition("plain"), "2024-03-03", 200).await;
    let ex = example("compute/GalleryRP-2024-03-03/galleryExamples/GalleryImage_Get.json");
    assert_shape(&plain, &ex, &["type", "architecture", "systemData"], "");
    assert_eq!(plain["properties"]["architecture"], "x64");
    assert_eq!(plain["properties"]["osState"], "Generalized");
    assert!(plain["properties"].get("features").is_none(), "{plain}");
}

#[tokio::test]
async fn marketplace_images_show_architecture_and_features() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    assert!(spec_has(
        "compute/ComputeRP-2025-04-01/virtualMachineImage.json",
        "VirtualMachineImageProperties",
        "architecture"
    ));
    let version = |sku: &str| {
        format!(
            "/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/publishers/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/{sku}/versions/24.04.202501150"
        )
    };
    let ex = example(
        "compute/ComputeRP-2025-04-01/virtualMachineImageExamples/VirtualMachineImage_Get_MaximumSet_Gen.json",
    );
    let arm64: Value = get_json(&sim, &arm, &version("server-arm64"), "2025-04-01", 200).await;
    assert_shape(
        &arm64,
        &ex,
        &["architecture", "replicaType", "sizeInGb"],
        "",
    );
    assert_eq!(arm64["properties"]["architecture"], "Arm64");
    assert_eq!(
        arm64["properties"]["features"],
        json!([{"name": "SecurityType", "value": "TrustedLaunchSupported"}])
    );
    let x64: Value = get_json(&sim, &arm, &version("server"), "2025-04-01", 200).await;
    assert_eq!(x64["properties"]["architecture"], "x64");
    assert_eq!(x64["properties"]["features"], json!([]));
}
