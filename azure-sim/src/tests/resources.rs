//! Subscriptions, locations, resource groups, their resources and resource
//! providers.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{
    ARM, SUB, arm_error, assert_has_example_keys, assert_shape, example, fixture, get, get_json,
    start, token,
};

const OTHER_SUB: &str = "00000000-0000-0000-0000-0000000000bb";

fn scenario() -> String {
    format!(
        r#"
[[resource_groups]]
name = "rg-builder"
location = "westeurope"
tags = {{ team = "platform" }}
resources = ["Microsoft.Storage/storageAccounts/leftover", "Microsoft.Network/virtualNetworks/vnet/subnets/snet"]

[[resource_groups]]
subscription_id = "{OTHER_SUB}"
name = "rg-elsewhere"
location = "northeurope"

[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "ubuntu"
location = "westeurope"
versions = ["1.0.0"]

[[identities]]
resource_group = "rg-identity"
name = "id-aib"
location = "swedencentral"
"#
    )
}

#[tokio::test]
async fn the_subscription_answers_in_the_official_shape_and_others_are_not_found() {
    let sim = start(&scenario()).await;
    let arm = token(&sim, ARM).await;
    let sub = get_json(
        &sim,
        &arm,
        &format!("/subscriptions/{SUB}"),
        "2022-12-01",
        200,
    )
    .await;
    let ex = example("resources/Subscriptions-2022-12-01/examples/GetSubscription.json");
    assert_shape(&sub, &ex, &[], "");
    assert_has_example_keys(&sub, &ex, &["tags"]);
    assert_eq!(sub["subscriptionId"], SUB);
    assert_eq!(sub["id"], format!("/subscriptions/{SUB}"));
    assert_eq!(sub["state"], "Enabled");
    assert_eq!(sub["tenantId"], sim.tenant_id());

    // A subscription a declared resource names exists too.
    let path = format!("/subscriptions/{OTHER_SUB}");
    assert_eq!(get(&sim, &arm, &path, "2022-12-01").await.status(), 200);

    let nope = "00000000-0000-0000-0000-0000000000cc";
    for path in [
        format!("/subscriptions/{nope}"),
        format!("/subscriptions/{nope}/locations"),
        format!("/subscriptions/{nope}/resourcegroups/rg-builder"),
    ] {
        let api = if path.contains("resourcegroups") {
            "2025-04-01"
        } else {
            "2022-12-01"
        };
        let (code, message) = arm_error(&sim, &arm, &path, api, 404).await;
        assert_eq!(code, "SubscriptionNotFound", "{path}");
        assert_eq!(
            message,
            format!("The subscription '{nope}' could not be found.")
        );
    }

    let (code, _) = arm_error(
        &sim,
        &arm,
        &format!("/subscriptions/{SUB}"),
        "2025-04-01",
        400,
    )
    .await;
    assert_eq!(code, "NoRegisteredProviderFound");
    let bare = super::client()
        .get(format!("{}/subscriptions/{SUB}", sim.base_url()))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 400);
    let unauthenticated = super::client()
        .get(format!(
            "{}/subscriptions/{SUB}?api-version=2022-12-01",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(sim.count("subscription.get"), 6);
}

#[tokio::test]
async fn locations_are_real_regions_in_the_official_shape() {
    let sim = start(&scenario()).await;
    let arm = token(&sim, ARM).await;
    let path = format!("/subscriptions/{SUB}/locations");
    let list = get_json(&sim, &arm, &path, "2022-12-01", 200).await;
    let ex = example("resources/Subscriptions-2022-12-01/examples/GetLocations.json");
    assert_shape(&list, &ex, &[], "");
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    for required in [
        "westeurope",
        "northeurope",
        "eastus",
        "eastus2",
        "westus2",
        "westus3",
        "centralus",
        "uksouth",
        "swedencentral",
        "germanywestcentral",
        "francecentral",
        "southeastasia",
        "australiaeast",
        "japaneast",
    ] {
        assert!(names.contains(&required), "{required} in {names:?}");
    }
    let we = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "westeurope")
        .unwrap();
    assert_has_example_keys(we, &ex["value"][0], &[]);
    assert_eq!(
        we["id"],
        format!("/subscriptions/{SUB}/locations/westeurope")
    );
    assert_eq!(we["displayName"], "West Europe");
    assert_eq!(we["regionalDisplayName"], "(Europe) West Europe");
    assert_eq!(we["metadata"]["pairedRegion"][0]["name"], "northeurope");

    let narrow = start(&format!(
        "locations = [\"swedencentral\", \"westeurope\"]\n{}",
        scenario()
    ))
    .await;
    let arm = token(&narrow, ARM).await;
    let list = get_json(&narrow, &arm, &path, "2022-12-01", 200).await;
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["swedencentral", "westeurope"]);
    assert_eq!(narrow.count("subscription.locations"), 1);
}

#[tokio::test]
async fn resource_groups_exist_when_declared_or_proven_by_what_is_in_them() {
    let sim = start(&scenario()).await;
    let arm = token(&sim, ARM).await;
    let ex = example("resources/Resources-2025-04-01/examples/ResourceGroups_Get.json");
    let rg = get_json(
        &sim,
        &arm,
        &format!("/subscriptions/{SUB}/resourcegroups/rg-builder"),
        "2025-04-01",
        200,
    )
    .await;
    assert_shape(&rg, &ex, &["tags"], "");
    assert_has_example_keys(&rg, &ex, &[]);
    assert_eq!(
        rg["id"],
        format!("/subscriptions/{SUB}/resourceGroups/rg-builder")
    );
    assert_eq!(rg["type"], "Microsoft.Resources/resourceGroups");
    assert_eq!(rg["properties"]["provisioningState"], "Succeeded");
    assert_eq!(rg["tags"], json!({"team": "platform"}));

    // ARM matches path literals and names case-insensitively.
    let shouting = format!("/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-BUILDER");
    assert_eq!(get(&sim, &arm, &shouting, "2025-04-01").await.status(), 200);

    for (name, location) in [
        ("rg-gallery", "westeurope"),
        ("rg-identity", "swedencentral"),
    ] {
        let rg = get_json(
            &sim,
            &arm,
            &format!("/subscriptions/{SUB}/resourceGroups/{name}"),
            "2025-04-01",
            200,
        )
        .await;
        assert_eq!(rg["location"], location, "{name}");
        assert!(rg.get("tags").is_none(), "no tags, no key");
        assert!(sim.resource_group_exists(SUB, name));
    }

    for name in ["rg-nope", "rg-elsewhere"] {
        let path = format!("/subscriptions/{SUB}/resourcegroups/{name}");
        let (code, message) = arm_error(&sim, &arm, &path, "2025-04-01", 404).await;
        assert_eq!(code, "ResourceGroupNotFound");
        assert_eq!(
            message,
            format!("Resource group '{name}' could not be found.")
        );
    }
    let elsewhere = format!("/subscriptions/{OTHER_SUB}/resourcegroups/rg-elsewhere");
    assert_eq!(
        get(&sim, &arm, &elsewhere, "2025-04-01").await.status(),
        200
    );
    let (code, _) = arm_error(&sim, &arm, &elsewhere, "2022-12-01", 400).await;
    assert_eq!(code, "NoRegisteredProviderFound");
    assert_eq!(sim.count("resourceGroup.get"), 8);
}

/// Property names a GenericResourceExpanded may have (it and its allOf parents).
fn generic_resource_keys() -> BTreeSet<String> {
    let spec = fixture("resources/Resources-2025-04-01/resources.json");
    ["GenericResourceExpanded", "GenericResource", "Resource"]
        .iter()
        .flat_map(|d| {
            spec["definitions"][d]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn resources(sim: &crate::SimHandle, arm: &str, rg: &str) -> Vec<(String, String)> {
    let path = format!("/subscriptions/{SUB}/resourceGroups/{rg}/resources");
    let list = get_json(sim, arm, &path, "2025-04-01", 200).await;
    let allowed = generic_resource_keys();
    let items = list["value"].as_array().unwrap();
    for item in items {
        for key in item.as_object().unwrap().keys() {
            assert!(
                allowed.contains(key),
                "{key} is not a GenericResourceExpanded property"
            );
        }
        for key in ["id", "name", "type", "location"] {
            assert!(item[key].is_string(), "{key} in {item}");
        }
    }
    items
        .iter()
        .map(|i| {
            (
                i["type"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_group_lists_what_the_simulator_knows_lives_in_it() {
    let sim = start(&scenario()).await;
    let arm = token(&sim, ARM).await;
    let pair = |t: &str, n: &str| (t.to_owned(), n.to_owned());
    let builder = resources(&sim, &arm, "rg-builder").await;
    assert_eq!(
        builder,
        [
            pair("Microsoft.Network/virtualNetworks/subnets", "vnet/snet"),
            pair("Microsoft.Storage/storageAccounts", "leftover"),
        ]
    );
    let gallery = resources(&sim, &arm, "rg-gallery").await;
    assert_eq!(
        gallery,
        [
            pair("Microsoft.Compute/galleries", "gal"),
            pair("Microsoft.Compute/galleries/images", "gal/ubuntu"),
            pair(
                "Microsoft.Compute/galleries/images/versions",
                "gal/ubuntu/1.0.0"
            ),
        ]
    );
    let identity = resources(&sim, &arm, "rg-identity").await;
    assert_eq!(
        identity,
        [pair(
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            "id-aib"
        )]
    );

    let path = format!("/subscriptions/{SUB}/resourceGroups/rg-nope/resources");
    let (code, _) = arm_error(&sim, &arm, &path, "2025-04-01", 404).await;
    assert_eq!(code, "ResourceGroupNotFound");
    assert_eq!(sim.count("resourceGroup.resources"), 4);
}

#[tokio::test]
async fn providers_are_registered_unless_the_scenario_says_not() {
    let sim = start(&format!(
        "unregistered_providers = [\"microsoft.virtualmachineimages\"]\n{}",
        scenario()
    ))
    .await;
    let arm = token(&sim, ARM).await;
    let ex = example("resources/Resources-2025-04-01/examples/GetProvider.json");
    let path = |ns: &str| format!("/subscriptions/{SUB}/providers/{ns}");
    for (ns, state) in [
        ("Microsoft.Compute", "Registered"),
        ("microsoft.storage", "Registered"),
        ("Microsoft.VirtualMachineImages", "NotRegistered"),
    ] {
        let p = get_json(&sim, &arm, &path(ns), "2025-04-01", 200).await;
        assert_shape(&p, &ex, &[], "");
        assert_has_example_keys(&p, &ex, &[]);
        assert_eq!(p["registrationState"], state, "{ns}");
        assert!(p["namespace"].as_str().unwrap().eq_ignore_ascii_case(ns));
        assert_eq!(
            p["id"],
            format!(
                "/subscriptions/{SUB}/providers/{}",
                p["namespace"].as_str().unwrap()
            )
        );
        assert!(!p["resourceTypes"].as_array().unwrap().is_empty());
    }
    let aib = get_json(
        &sim,
        &arm,
        &path("Microsoft.VirtualMachineImages"),
        "2025-04-01",
        200,
    )
    .await;
    let templates = aib["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resourceType"] == "imageTemplates")
        .unwrap();
    assert!(
        templates["apiVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2025-10-01"))
    );
    assert!(
        templates["locations"]
            .as_array()
            .unwrap()
            .contains(&json!("West Europe"))
    );
    for ns in [
        "Microsoft.KeyVault",
        "Microsoft.ManagedIdentity",
        "Microsoft.ContainerInstance",
        "Microsoft.Network",
        "Microsoft.Resources",
    ] {
        let p = get_json(&sim, &arm, &path(ns), "2025-04-01", 200).await;
        assert_eq!(p["registrationState"], "Registered", "{ns}");
    }

    let (code, message) = arm_error(&sim, &arm, &path("Microsoft.Nope"), "2025-04-01", 404).await;
    assert_eq!(code, "InvalidResourceNamespace");
    assert_eq!(
        message,
        "The resource namespace 'Microsoft.Nope' is invalid."
    );

    // ARM refuses a write into a namespace the subscription has not registered.
    let put = super::client()
        .put(format!(
            "{}/subscriptions/{SUB}/resourceGroups/rg-builder/providers/Microsoft.VirtualMachineImages/imageTemplates/t?api-version=2025-10-01",
            sim.base_url()
        ))
        .bearer_auth(&arm)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 409);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MissingSubscriptionRegistration");
    assert!(sim.count("provider.get") >= 9);
}

#[tokio::test]
async fn the_new_reads_take_from_the_reads_bucket() {
    let sim = start(&format!(
        "{}\n[throttle]\nreads = 2\nreads_per_sec = 0\n",
        scenario()
    ))
    .await;
    let arm = token(&sim, ARM).await;
    let first = get(&sim, &arm, &format!("/subscriptions/{SUB}"), "2022-12-01").await;
    assert_eq!(
        first.headers()["x-ms-ratelimit-remaining-subscription-reads"],
        "1"
    );
    let path = format!("/subscriptions/{SUB}/providers/Microsoft.Compute");
    assert_eq!(get(&sim, &arm, &path, "2025-04-01").await.status(), 200);
    let throttled = get(
        &sim,
        &arm,
        &format!("/subscriptions/{SUB}/resourcegroups/rg-builder"),
        "2025-04-01",
    )
    .await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    let routes: Vec<String> = sim.journal().into_iter().map(|e| e.route).collect();
    assert_eq!(
        routes,
        [
            "token.msi",
            "subscription.get",
            "provider.get",
            "resourceGroup.get"
        ]
    );
}
