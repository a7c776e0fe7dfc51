//! What AIB refuses while it provisions a template (a missing source, a
//! script step without exactly one script, an injected failure), and what a
//! build leaves on its artifacts (tags, source ids, systemData).

use std::time::Duration;

use serde_json::{Value, json};

use super::staging::{SCENARIO, provision, run_to_end, template, template_path};
use super::{ARM, SUB, get_json, start, token};

const AIB: &str = "2025-10-01";
const GALLERY: &str = r#"
[[galleries]]
resource_group = "rg-images"
gallery = "gal"
image = "golden"
location = "westeurope"
versions = ["1.0.0"]

[[managed_images]]
resource_group = "rg-images"
name = "base"
location = "westeurope"

[[provisioning]]
match = "injected-*"
code = "ServerError"
message = "An internal error occurred while processing the image template."
"#;

fn definition() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/gal/images/golden"
    )
}

/// `body` with the member at `pointer` (its parent must exist) set to `value`.
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    body.pointer_mut(parent).unwrap()[key] = value;
    body
}

#[tokio::test(start_paused = true)]
async fn templates_aib_cannot_build_fail_provisioning_with_the_specs_codes() {
    let sim = start(&format!("{SCENARIO}{GALLERY}")).await;
    let arm = token(&sim, ARM).await;
    let base = template("rg-images", None);
    let marketplace = |version: &str| {
        json!({"type": "PlatformImage", "publisher": "Canonical",
            "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": version})
    };
    let managed = |name: &str| {
        json!({"type": "ManagedImage", "imageId": format!(
            "/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/images/{name}")})
    };
    let gallery = |version: &str| json!({"type": "SharedImageVersion", "imageVersionId": format!("{}/versions/{version}", definition())});
    let shell = |step: Value| json!([step]);
    let cases = [
        (
            "pinned-gone",
            with(
                base.clone(),
                "/properties/source",
                marketplace("22.04.209901010"),
            ),
            Some("BadPIRSource"),
        ),
        (
            "pinned-ok",
            with(
                base.clone(),
                "/properties/source",
                marketplace("22.04.202411050"),
            ),
            None,
        ),
        (
            "managed-gone",
            with(base.clone(), "/properties/source", managed("nope")),
            Some("BadManagedImageSource"),
        ),
        (
            "managed-ok",
            with(base.clone(), "/properties/source", managed("base")),
            None,
        ),
        (
            "gallery-gone",
            with(base.clone(), "/properties/source", gallery("9.9.9")),
            Some("BadSharedImageVersionSource"),
        ),
        (
            "gallery-ok",
            with(base.clone(), "/properties/source", gallery("1.0.0")),
            None,
        ),
        (
            "no-script",
            with(
                base.clone(),
                "/properties/customize",
                shell(json!({"type": "Shell", "name": "x"})),
            ),
            Some("NoCustomizerScript"),
        ),
        (
            "two-scripts",
            with(
                base.clone(),
                "/properties/customize",
                shell(
                    json!({"type": "Shell", "name": "x", "inline": ["true"], "scriptUri": "https://example.com/a.sh"}),
                ),
            ),
            Some("NoCustomizerScript"),
        ),
        (
            "validator-no-script",
            with(
                base.clone(),
                "/properties/validate",
                json!({"inVMValidations": [{"type": "Shell", "name": "v"}]}),
            ),
            Some("NoValidatorScript"),
        ),
        ("injected-1", base.clone(), Some("ServerError")),
    ];
    for (name, body, code) in cases {
        let t = provision(&sim, &arm, name, &body).await;
        let props = &t["properties"];
        match code {
            Some(code) => {
                assert_eq!(props["provisioningState"], "Failed", "{name}");
                assert_eq!(
                    props["provisioningError"]["provisioningErrorCode"], code,
                    "{name}"
                );
                assert!(
                    props["provisioningError"]["message"]
                        .as_str()
                        .unwrap()
                        .len()
                        > 10
                );
            }
            None => {
                assert_eq!(props["provisioningState"], "Succeeded", "{name}: {t}");
                assert!(props.get("provisioningError").is_none(), "{name}");
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_version_withdrawn_while_the_template_provisions_fails_it() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let body = with(
        template("rg-images", None),
        "/properties/source/version",
        json!("22.04.202411050"),
    );
    let resp = super::staging::put(&sim, &arm, &template_path("late"), &body).await;
    assert_eq!(resp.status(), 201);
    sim.withdraw_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202411050",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = get_json(&sim, &arm, &template_path("late"), AIB, 200).await;
    assert_eq!(
        t["properties"]["provisioningError"]["provisioningErrorCode"],
        "BadPIRSource"
    );
}

#[tokio::test(start_paused = true)]
async fn artifacts_carry_tags_source_ids_and_system_data() {
    let sim = start(&format!("{SCENARIO}{GALLERY}")).await;
    let arm = token(&sim, ARM).await;
    let tags = json!({"builtBy": "image-refresh", "build": "b1"});
    let mut body = template("rg-images", None);
    body["properties"]["distribute"][0]["artifactTags"] = tags.clone();
    body["properties"]["distribute"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"type": "SharedImage", "runOutputName": "gal", "galleryImageId": definition(),
            "artifactTags": tags, "targetRegions": [{"name": "westeurope", "replicaCount": 1}]}),
        );
    let t = provision(&sim, &arm, "tagged", &body).await;
    assert_eq!(t["systemData"]["createdByType"], "Application");
    assert!(t["systemData"]["createdAt"].is_string());
    run_to_end(&sim, &arm, "tagged").await;

    let image_path = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/images/golden"
    );
    let image = get_json(&sim, &arm, &image_path, "2025-04-01", 200).await;
    assert_eq!(image["tags"], tags);
    let vm = image["properties"]["sourceVirtualMachine"]["id"]
        .as_str()
        .unwrap();
    assert!(
        vm.contains("/providers/Microsoft.Compute/virtualMachines/"),
        "{vm}"
    );

    let version = get_json(
        &sim,
        &arm,
        &format!("{}/versions/1.0.1", definition()),
        "2024-03-03",
        200,
    )
    .await;
    assert_eq!(version["tags"], tags);
    let source = version["properties"]["storageProfile"]["source"]["id"]
        .as_str()
        .unwrap();
    assert!(
        source.contains("/providers/Microsoft.Compute/images/"),
        "{source}"
    );
    assert_eq!(version["systemData"]["createdByType"], "ManagedIdentity");
    let seeded = get_json(
        &sim,
        &arm,
        &format!("{}/versions/1.0.0", definition()),
        "2024-03-03",
        200,
    )
    .await;
    assert!(
        !seeded["properties"]["storageProfile"]["source"]["id"]
            .as_str()
            .unwrap()
            .is_empty()
    );
}

/// A definition id as the source means what `latest` means where AIB builds:
/// a version excluded from latest (as a whole, or in that region) does not
/// count, so a definition whose only version is excluded cannot be built from.
#[tokio::test(start_paused = true)]
async fn a_definition_source_resolves_latest_as_azure_does() {
    let sim = start(&format!("{SCENARIO}{GALLERY}")).await;
    let arm = token(&sim, ARM).await;
    let source = json!({"type": "SharedImageVersion", "imageVersionId": definition()});
    let body = with(template("rg-images", None), "/properties/source", source);
    let t = provision(&sim, &arm, "latest-ok", &body).await;
    assert_eq!(t["properties"]["provisioningState"], "Succeeded", "{t}");

    let version = format!("{}/versions/1.0.0?api-version=2024-03-03", definition());
    let patch = json!({"properties": {
        "publishingProfile": {"targetRegions": [{"name": "westeurope", "excludeFromLatest": true}]},
        "storageProfile": {}
    }});
    let resp = super::client()
        .patch(format!("{}{version}", sim.base_url()))
        .bearer_auth(&arm)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let t = provision(&sim, &arm, "latest-excluded", &body).await;
    assert_eq!(
        t["properties"]["provisioningError"]["provisioningErrorCode"],
        "BadSharedImageVersionSource",
        "{t}"
    );
}
