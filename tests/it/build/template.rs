//! Rendered template bodies against the official 2025-10-01 schema.

use azure_sim::schema::validate_image_template;
use image_refresh::build::template::{
    self, TAG_BUILD_ID, TAG_IMAGE, TAG_RECIPE_HASH, TAG_SOURCE_VERSION, TemplateInput,
};
use image_refresh::catalog::{self, Catalog, Image, Source};
use serde_json::Value;

const BUILD_ID: &str = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

/// Sources, targets and settings the example catalogs do not use, with their documented
/// keys: here builds run isolated in the company's own network.
const OTHER_KINDS: &str = r#"
[azure]
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg-image-builder"
location = "westeurope"
identity = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder"
subnet_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-build/subnets/snet-vm"
container_instance_subnet_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-build/subnets/snet-aci"

[[images]]
name = "from-gallery"
[[images.steps]]
type = "shell"
name = "patch"
script_uri = "https://example.com/patch.sh"
sha256_checksum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
[images.source]
type = "gallery"
image_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-gold/providers/Microsoft.Compute/galleries/gold/images/ubuntu"
version = "latest"
[[images.distribute]]
type = "vhd"

[[images]]
name = "from-managed-image"
[[images.steps]]
type = "shell"
name = "patch"
inline = ["sudo apt-get update"]
[images.source]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-gold/providers/Microsoft.Compute/images/base"
[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-gold/providers/Microsoft.Compute/images/derived"
"#;

/// An exact version of the kind the image's source would resolve to.
fn pinned_version(image: &Image) -> &'static str {
    match image.source {
        Source::Marketplace(_) => "22.04.202411050",
        Source::Gallery(_) => "1.4.2",
        Source::ManagedImage(_) => "",
    }
}

fn render(catalog: &Catalog, image: &Image) -> Value {
    template::render(TemplateInput {
        image,
        azure: &catalog.azure,
        source_version: pinned_version(image),
        build_id: BUILD_ID,
    })
}

fn catalogs() -> Vec<(&'static str, Catalog)> {
    [
        ("classic", catalog::CLASSIC),
        ("enterprise", catalog::EXAMPLE_ENTERPRISE),
        ("other kinds", OTHER_KINDS),
    ]
    .into_iter()
    .map(|(name, text)| (name, catalog::parse(text, name).unwrap()))
    .collect()
}

#[test]
fn every_rendered_body_validates_against_the_official_schema() {
    let mut rendered = 0;
    for (name, catalog) in catalogs() {
        for image in &catalog.images {
            let body = render(&catalog, image);
            if let Err(errors) = validate_image_template(&body) {
                panic!("{name}/{}: {errors:#?}\n{body:#}", image.name);
            }
            rendered += 1;
        }
    }
    // classic 1, enterprise 4, other kinds 2.
    assert_eq!(rendered, 7);
    let isolated = catalogs()
        .iter()
        .filter(|(_, catalog)| catalog.azure.network.is_some())
        .count();
    assert_eq!(
        isolated, 1,
        "one catalog sends vnetConfig through the schema"
    );
}

#[test]
fn the_source_is_pinned_and_artifacts_carry_the_build_tags() {
    for (name, catalog) in catalogs() {
        for image in &catalog.images {
            let body = render(&catalog, image);
            let source = &body["properties"]["source"];
            let pinned = pinned_version(image);
            match source["type"].as_str().unwrap() {
                "PlatformImage" => assert_eq!(source["version"], pinned, "{name}"),
                "SharedImageVersion" => assert!(
                    source["imageVersionId"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("/versions/{pinned}")),
                    "{source}"
                ),
                "ManagedImage" => assert!(source["imageId"].is_string()),
                other => panic!("unexpected source type {other}"),
            }
            assert!(!body.to_string().contains("\"latest\""), "{name}: {body}");

            let distribute = body["properties"]["distribute"].as_array().unwrap();
            assert_eq!(distribute.len(), image.distribute.len());
            let mut output_names = Vec::new();
            for target in distribute {
                let tags = &target["artifactTags"];
                assert_eq!(tags[TAG_IMAGE], image.name.as_str());
                assert_eq!(tags[TAG_BUILD_ID], BUILD_ID);
                assert_eq!(tags[TAG_RECIPE_HASH], image.recipe_hash.hex());
                assert_eq!(tags[TAG_SOURCE_VERSION], pinned);
                output_names.push(target["runOutputName"].as_str().unwrap().to_owned());
            }
            output_names.sort();
            output_names.dedup();
            assert_eq!(
                output_names.len(),
                distribute.len(),
                "run output names are unique"
            );

            let identity = &body["identity"];
            assert_eq!(identity["type"], "UserAssigned");
            assert!(identity["userAssignedIdentities"][&catalog.azure.identity].is_object());
            let profile = &body["properties"]["vmProfile"];
            assert_eq!(profile["vmSize"], image.vm_size.as_str());
            assert_eq!(profile["osDiskSizeGB"], image.os_disk_size_gb);
            match &catalog.azure.network {
                Some(network) => {
                    assert_eq!(
                        profile["vnetConfig"]["subnetId"],
                        network.subnet_id.as_str()
                    );
                    assert_eq!(
                        profile["vnetConfig"]["containerInstanceSubnetId"],
                        network.container_instance_subnet_id.as_deref().unwrap()
                    );
                }
                None => assert!(profile.get("vnetConfig").is_none(), "{name}: {profile}"),
            }
            assert_eq!(
                body["properties"]["buildTimeoutInMinutes"],
                image.build_timeout_minutes
            );
            assert_eq!(
                body["properties"]["customize"].as_array().unwrap().len(),
                image.steps.len()
            );
        }
    }
}

#[test]
fn optional_staging_group_and_error_handling_follow_the_catalog() {
    let enterprise = catalog::parse(catalog::EXAMPLE_ENTERPRISE, "enterprise").unwrap();
    let body = render(&enterprise, &enterprise.images[0]);
    let props = &body["properties"];
    assert_eq!(
        props["stagingResourceGroup"],
        enterprise.azure.staging_resource_group.as_deref().unwrap()
    );
    // A retention ends with the template's deletion: AIB cleans up the build VM.
    assert_eq!(props["errorHandling"]["onCustomizerError"], "cleanup");
    // keep_failed_templates = true keeps the build VM for inspection too.
    let keeping = catalog::EXAMPLE_ENTERPRISE.replace(
        "failed_template_retention = \"14d\"",
        "keep_failed_templates = true",
    );
    assert_ne!(keeping, catalog::EXAMPLE_ENTERPRISE);
    let keeping = catalog::parse(&keeping, "enterprise").unwrap();
    let body = render(&keeping, &keeping.images[0]);
    assert_eq!(
        body["properties"]["errorHandling"]["onCustomizerError"],
        "abort"
    );

    let classic = catalog::parse(catalog::CLASSIC, "classic").unwrap();
    let body = render(&classic, &classic.images[0]);
    assert!(body["properties"].get("stagingResourceGroup").is_none());
    assert_eq!(
        body["properties"]["errorHandling"]["onCustomizerError"],
        "cleanup"
    );
}

#[test]
fn template_names_are_deterministic_valid_arm_names() {
    let long = "a".repeat(48);
    for image in [
        "ubuntu-golden",
        "windows-2022",
        long.as_str(),
        "odd name/with:chars",
    ] {
        let name = template::template_name(image, BUILD_ID);
        assert_eq!(name, template::template_name(image, BUILD_ID));
        assert!((1..=64).contains(&name.len()), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "{name}"
        );
        assert_ne!(
            name,
            template::template_name(image, "ffffffff-0000-0000-0000-000000000000"),
            "builds of one image get different templates"
        );
    }
}

#[test]
fn rendering_is_a_pure_function_of_its_input() {
    let classic = catalog::parse(catalog::CLASSIC, "classic").unwrap();
    let image = &classic.images[0];
    assert_eq!(render(&classic, image), render(&classic, image));
}

#[test]
fn classic_body_snapshot() {
    let classic = catalog::parse(catalog::CLASSIC, "classic").unwrap();
    insta::assert_snapshot!(
        serde_json::to_string_pretty(&render(&classic, &classic.images[0])).unwrap()
    );
}
