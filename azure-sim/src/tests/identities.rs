//! User-assigned identities in both served api-versions.

use serde_json::json;

use super::{
    ARM, SUB, arm_error, assert_has_example_keys, assert_shape, example, get_json, start, token,
};

const SCENARIO: &str = r#"
[[identities]]
resource_group = "rg-image-builder"
name = "id-aib-builder"
location = "westeurope"
tags = { purpose = "aib" }
"#;

fn path(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

#[tokio::test]
async fn an_identity_answers_in_the_shape_of_its_api_version() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;

    let new = get_json(&sim, &arm, &path("id-aib-builder"), "2026-05-31", 200).await;
    let ex = example("managedidentity/2026-05-31/examples/IdentityGet.json");
    assert_shape(&new, &ex, &[], "");
    assert_has_example_keys(&new, &ex, &[]);
    assert_eq!(new["name"], "id-aib-builder");
    assert_eq!(new["location"], "westeurope");
    assert_eq!(new["tags"], json!({"purpose": "aib"}));
    assert_eq!(new["properties"]["tenantId"], sim.tenant_id());
    assert_eq!(new["properties"]["isolationScope"], "None");
    assert!(
        new["id"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&path("id-aib-builder"))
    );

    let old = get_json(&sim, &arm, &path("ID-AIB-BUILDER"), "2023-01-31", 200).await;
    let ex = example("managedidentity/2023-01-31/examples/IdentityGet.json");
    assert_shape(&old, &ex, &[], "");
    assert_has_example_keys(&old, &ex, &[]);
    assert!(old["properties"].get("isolationScope").is_none());
    assert!(old["properties"].get("assignmentRestrictions").is_none());
    // The same identity has the same ids in every version and every call.
    for key in ["principalId", "clientId"] {
        assert_eq!(old["properties"][key], new["properties"][key], "{key}");
        let id = new["properties"][key].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    assert_ne!(
        new["properties"]["principalId"],
        new["properties"]["clientId"]
    );
    assert_eq!(sim.count("identity.get"), 2);
}

#[tokio::test]
async fn unknown_identities_and_versions_are_refused() {
    let sim = start(SCENARIO).await;
    let arm = token(&sim, ARM).await;
    let (code, message) = arm_error(&sim, &arm, &path("id-nope"), "2026-05-31", 404).await;
    assert_eq!(code, "ResourceNotFound");
    assert_eq!(
        message,
        "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/id-nope' under resource group 'rg-image-builder' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    );
    let (code, message) = arm_error(&sim, &arm, &path("id-aib-builder"), "2018-11-30", 400).await;
    assert_eq!(code, "NoRegisteredProviderFound");
    assert!(message.contains("'2026-05-31', '2023-01-31'"), "{message}");
    let elsewhere = path("id-aib-builder").replace("rg-image-builder", "rg-missing");
    let (code, _) = arm_error(&sim, &arm, &elsewhere, "2026-05-31", 404).await;
    assert_eq!(code, "ResourceGroupNotFound");
}
