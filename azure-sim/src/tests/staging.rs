//! Resource groups as AIB meets them: a template PUT into a missing group,
//! the staging group's life, refused staging groups and a managed image
//! target whose group is missing.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ARM, SUB, arm_error, get, get_json, start, token};
use crate::SimHandle;

const AIB: &str = "2025-10-01";
const RG_API: &str = "2025-04-01";

pub(crate) const SCENARIO: &str = r#"
[build]
provision_secs = 1
queued_secs = 1
building_secs = 1
customizing_secs = 1
validating_secs = 1
distributing_secs = 1

[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
versions = ["22.04.202411050"]

[[resource_groups]]
name = "rg-images"
location = "westeurope"

[[resource_groups]]
name = "rg-staging"
location = "westeurope"

[[resource_groups]]
name = "rg-staging-full"
location = "westeurope"
resources = ["Microsoft.Storage/storageAccounts/leftover"]

[[resource_groups]]
name = "rg-staging-east"
location = "eastus"

[[builds]]
match = "fail-*"
outcome = "failed"
fail_in = "customizing"
"#;

pub(crate) fn template_path(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"
    )
}

pub(crate) fn group_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

/// A marketplace build into a managed image in `target_group`, with two named customizers.
pub(crate) fn template(target_group: &str, staging: Option<&str>) -> Value {
    let mut body = json!({
        "location": "westeurope",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {
            format!("/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"): {}}},
        "properties": {
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"},
            "customize": [
                {"type": "Shell", "name": "update", "inline": ["sudo apt-get update"]},
                {"type": "Shell", "name": "harden", "inline": ["sudo ./harden.sh"]}
            ],
            "distribute": [{
                "type": "ManagedImage", "runOutputName": "golden", "location": "westeurope",
                "imageId": format!("/subscriptions/{SUB}/resourceGroups/{target_group}/providers/Microsoft.Compute/images/golden")
            }]
        }
    });
    if let Some(s) = staging {
        body["properties"]["stagingResourceGroup"] = json!(s);
    }
    body
}

pub(crate) async fn put(sim: &SimHandle, arm: &str, path: &str, body: &Value) -> reqwest::Response {
    super::client()
        .put(format!("{}{path}?api-version={AIB}", sim.base_url()))
        .bearer_auth(arm)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn send(
    sim: &SimHandle,
    arm: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    super::client()
        .request(
            method,
            format!("{}{path}?api-version={AIB}", sim.base_url()),
        )
        .bearer_auth(arm)
        .send()
        .await
        .unwrap()
}

/// PUT, wait out provisioning, and return the template as GET shows it.
pub(crate) async fn provision(sim: &SimHandle, arm: &str, name: &str, body: &Value) -> Value {
    let resp = put(sim, arm, &template_path(name), body).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    get_json(sim, arm, &template_path(name), AIB, 200).await
}

/// Runs the template and waits until the run has ended.
pub(crate) async fn run_to_end(sim: &SimHandle, arm: &str, name: &str) -> Value {
    let run = send(
        sim,
        arm,
        reqwest::Method::POST,
        &format!("{}/run", template_path(name)),
    )
    .await;
    assert_eq!(run.status(), 202);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let t = get_json(sim, arm, &template_path(name), AIB, 200).await;
    assert_ne!(t["properties"]["lastRunStatus"]["runState"], "Running");
    t
}

async fn delete_and_wait(sim: &SimHandle, arm: &str, name: &str) {
    let del = send(sim, arm, reqwest::Method::DELETE, &template_path(name)).await;
    assert_eq!(del.status(), 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(get(sim, arm, &template_path(name), AIB).await.status(), 404);
}

async fn resources_of(sim: &SimHandle, arm: &str, group: &str) -> Vec<Value> {
    let list = get_json(
        sim,
        arm,
        &format!("{}/resources", group_path(group)),
        RG_API,
        200,
    )
    .await;
    list["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_template_put_into_a_missing_group_is_refused_before_its_body_is_read() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let path = template_path("t").replace("rg-images", "rg-missing");
    for body in [json!({"not": "a template"}), template("rg-images", None)] {
        let resp = put(&sim, &arm, &path, &body).await;
        assert_eq!(resp.status(), 404);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "ResourceGroupNotFound");
        assert_eq!(
            err["error"]["message"],
            "Resource group 'rg-missing' could not be found."
        );
    }
    // Reads under a missing group are refused the same way.
    let (code, _) = arm_error(&sim, &arm, &path, AIB, 404).await;
    assert_eq!(code, "ResourceGroupNotFound");
    // The group that exists takes the same body.
    let ok = put(
        &sim,
        &arm,
        &template_path("t"),
        &template("rg-images", None),
    )
    .await;
    assert_eq!(ok.status(), 201);
    assert_eq!(sim.count("template.put"), 3);
}

#[tokio::test(start_paused = true)]
async fn aib_makes_a_staging_group_at_the_first_run_and_deletes_it_with_the_template() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let t = provision(&sim, &arm, "golden", &template("rg-images", None)).await;
    assert!(
        t["properties"].get("exactStagingResourceGroup").is_none(),
        "{t}"
    );
    assert_eq!(sim.staging_resource_group(SUB, "rg-images", "golden"), None);

    let t = run_to_end(&sim, &arm, "golden").await;
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Succeeded");
    let exact = t["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = format!("/subscriptions/{SUB}/resourceGroups/IT_rg-images_golden_");
    assert!(exact.starts_with(&prefix), "{exact}");
    assert!(
        uuid::Uuid::parse_str(&exact[prefix.len()..]).is_ok(),
        "{exact}"
    );
    assert_eq!(
        sim.staging_resource_group(SUB, "rg-images", "golden")
            .as_deref(),
        Some(exact.as_str())
    );

    let group = exact.rsplit('/').next().unwrap().to_owned();
    let rg = get_json(&sim, &arm, &group_path(&group), RG_API, 200).await;
    assert_eq!(rg["location"], "westeurope");
    assert_eq!(
        rg["tags"],
        json!({"createdBy": "AzureVMImageBuilder", "imageTemplateName": "golden", "imageTemplateResourceGroupName": "rg-images"})
    );
    let inside = resources_of(&sim, &arm, &group).await;
    assert_eq!(inside.len(), 1, "{inside:?}");
    assert_eq!(inside[0]["type"], "Microsoft.Storage/storageAccounts");
    let account = inside[0]["name"].as_str().unwrap();
    assert!(
        account.len() <= 24
            && account
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{account}"
    );

    // The template's own group lists the template and the image it made.
    let types: Vec<Value> = resources_of(&sim, &arm, "rg-images")
        .await
        .into_iter()
        .map(|r| r["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("Microsoft.Compute/images"),
            json!("Microsoft.VirtualMachineImages/imageTemplates")
        ]
    );

    // A second run builds in the same group.
    let again = run_to_end(&sim, &arm, "golden").await;
    assert_eq!(
        again["properties"]["exactStagingResourceGroup"],
        exact.as_str()
    );
    assert_eq!(resources_of(&sim, &arm, &group).await.len(), 1);

    delete_and_wait(&sim, &arm, "golden").await;
    let (code, _) = arm_error(&sim, &arm, &group_path(&group), RG_API, 404).await;
    assert_eq!(code, "ResourceGroupNotFound");
    assert!(!sim.resource_group_exists(SUB, &group));
}

#[tokio::test(start_paused = true)]
async fn a_configured_staging_group_is_used_and_emptied_or_made_and_deleted() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let given = format!("/subscriptions/{SUB}/resourceGroups/rg-staging");
    provision(&sim, &arm, "given", &template("rg-images", Some(&given))).await;
    let t = run_to_end(&sim, &arm, "given").await;
    assert_eq!(t["properties"]["exactStagingResourceGroup"], given.as_str());
    assert_eq!(resources_of(&sim, &arm, "rg-staging").await.len(), 1);
    let rg = get_json(&sim, &arm, &group_path("rg-staging"), RG_API, 200).await;
    assert!(rg.get("tags").is_none(), "AIB did not create it: {rg}");
    delete_and_wait(&sim, &arm, "given").await;
    assert!(sim.resource_group_exists(SUB, "rg-staging"));
    assert!(resources_of(&sim, &arm, "rg-staging").await.is_empty());

    // A configured group that does not exist is made with its name, and goes with the template.
    let named = format!("/subscriptions/{SUB}/resourceGroups/rg-staging-new");
    provision(&sim, &arm, "named", &template("rg-images", Some(&named))).await;
    assert!(!sim.resource_group_exists(SUB, "rg-staging-new"));
    let t = run_to_end(&sim, &arm, "named").await;
    assert_eq!(t["properties"]["exactStagingResourceGroup"], named.as_str());
    let rg = get_json(&sim, &arm, &group_path("rg-staging-new"), RG_API, 200).await;
    assert_eq!(rg["tags"]["createdBy"], "AzureVMImageBuilder");
    delete_and_wait(&sim, &arm, "named").await;
    assert!(!sim.resource_group_exists(SUB, "rg-staging-new"));
}

#[tokio::test(start_paused = true)]
async fn a_staging_group_aib_cannot_use_fails_provisioning() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let other_sub = "00000000-0000-0000-0000-0000000000dd";
    for (name, staging, says) in [
        (
            "full",
            format!("/subscriptions/{SUB}/resourceGroups/rg-staging-full"),
            "is not empty",
        ),
        (
            "east",
            format!("/subscriptions/{SUB}/resourceGroups/rg-staging-east"),
            "location 'eastus'",
        ),
        (
            "other-sub",
            format!("/subscriptions/{other_sub}/resourceGroups/rg-staging"),
            "not in the subscription",
        ),
        (
            "not-an-id",
            "rg-staging".to_owned(),
            "not a resource group id",
        ),
    ] {
        let resp = put(
            &sim,
            &arm,
            &template_path(name),
            &template("rg-images", Some(&staging)),
        )
        .await;
        assert_eq!(resp.status(), 201, "{name}");
        let op = resp.headers()["azure-asyncoperation"]
            .to_str()
            .unwrap()
            .to_owned();
        let created: Value = resp.json().await.unwrap();
        assert_eq!(created["properties"]["provisioningState"], "Creating");
        tokio::time::sleep(Duration::from_secs(2)).await;

        let t = get_json(&sim, &arm, &template_path(name), AIB, 200).await;
        assert_eq!(t["properties"]["provisioningState"], "Failed", "{name}");
        let error = &t["properties"]["provisioningError"];
        assert_eq!(
            error["provisioningErrorCode"], "BadStagingResourceGroup",
            "{name}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
        let status: Value = super::client()
            .get(&op)
            .bearer_auth(&arm)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["status"], "Failed", "{name}");
        assert_eq!(status["error"]["code"], "BadStagingResourceGroup");

        let run = send(
            &sim,
            &arm,
            reqwest::Method::POST,
            &format!("{}/run", template_path(name)),
        )
        .await;
        assert_eq!(run.status(), 409, "{name}");
    }
    // Nothing was made in the groups AIB refused.
    assert_eq!(resources_of(&sim, &arm, "rg-staging-full").await.len(), 1);
    assert!(resources_of(&sim, &arm, "rg-staging-east").await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_managed_image_target_in_a_missing_group_fails_the_run() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    provision(&sim, &arm, "lost", &template("rg-missing", None)).await;
    let t = run_to_end(&sim, &arm, "lost").await;
    let run = &t["properties"]["lastRunStatus"];
    assert_eq!(run["runState"], "Failed");
    assert_eq!(run["runSubState"], "Distributing");
    let message = run["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed in distributing 1 images out of total 1:"),
        "{message}"
    );
    assert!(
        message.contains("Resource group 'rg-missing' could not be found."),
        "{message}"
    );
    let outputs = get_json(
        &sim,
        &arm,
        &format!("{}/runOutputs", template_path("lost")),
        AIB,
        200,
    )
    .await;
    assert_eq!(outputs["value"], json!([]));
    let log = sim.last_log_url(SUB, "rg-images", "lost").unwrap();
    assert!(log.ends_with("/customization.log"), "{log}");
}
