//! `GalleryImageVersions_Update`: excludeFromLatest for the version and per
//! region, the spec's required `storageProfile`, and the list replacing.

use serde_json::{Value, json};

use super::{ARM, SUB, assert_shape, example, get_json, start, token};

const SCENARIO: &str = r#"
[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "web"
location = "westeurope"
versions = ["1.0.0"]
"#;

fn path() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-gallery/providers/Microsoft.Compute/galleries/gal/images/web/versions/1.0.0"
    )
}

async fn patch(sim: &crate::SimHandle, token: &str, body: Value) -> (u16, Value) {
    let resp = super::client()
        .patch(format!(
            "{}{}?api-version=2024-03-03",
            sim.base_url(),
            path()
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn excludes_from_latest_for_the_version_and_per_region() {
    let sim = start(SCENARIO).await;
    let token = token(&sim, ARM).await;
    let (status, body) = patch(
        &sim,
        &token,
        json!({"properties": {
            "publishingProfile": {
                "excludeFromLatest": true,
                "targetRegions": [
                    {"name": "westeurope", "regionalReplicaCount": 2, "excludeFromLatest": true},
                    {"name": "northeurope", "regionalReplicaCount": 1}
                ]
            },
            "storageProfile": {}
        }}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_shape(
        &body,
        &example("compute/GalleryRP-2024-03-03/galleryExamples/GalleryImageVersion_Update.json"),
        &[
            "id",
            "type",
            "tags",
            "safetyProfile",
            "excludeFromLatest",
            "endOfLifeDate",
            "systemData",
        ],
        "PATCH answer",
    );
    let read = get_json(&sim, &token, &path(), "2024-03-03", 200).await;
    let profile = &read["properties"]["publishingProfile"];
    assert_eq!(profile["excludeFromLatest"], true);
    let regions: Vec<(&str, u64, bool)> = profile["targetRegions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["regionalReplicaCount"].as_u64().unwrap(),
                r["excludeFromLatest"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        regions,
        [("westeurope", 2, true), ("northeurope", 1, false)]
    );
}

#[tokio::test]
async fn refuses_a_body_the_spec_calls_invalid() {
    let sim = start(SCENARIO).await;
    let token = token(&sim, ARM).await;
    let without_storage = json!({"properties": {"publishingProfile": {"excludeFromLatest": true}}});
    let (status, body) = patch(&sim, &token, without_storage).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "InvalidParameter");
    let nameless = json!({"properties": {
        "publishingProfile": {"targetRegions": [{"regionalReplicaCount": 1}]},
        "storageProfile": {}
    }});
    let (status, body) = patch(&sim, &token, nameless).await;
    assert_eq!(status, 400, "{body}");
    // Nothing changed.
    let read = get_json(&sim, &token, &path(), "2024-03-03", 200).await;
    assert_eq!(
        read["properties"]["publishingProfile"]["excludeFromLatest"],
        false
    );
}

#[tokio::test]
async fn a_blocked_version_is_not_deleted_before_its_end_of_life() {
    let sim = start(&format!(
        "{SCENARIO}end_of_life_date = \"2030-01-01T00:00:00Z\"\nblock_deletion_before_end_of_life = true\n"
    ))
    .await;
    let token = token(&sim, ARM).await;
    let resp = super::client()
        .delete(format!(
            "{}{}?api-version=2024-03-03",
            sim.base_url(),
            path()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "OperationNotAllowed");
    let read = get_json(&sim, &token, &path(), "2024-03-03", 200).await;
    assert_eq!(
        read["properties"]["safetyProfile"]["blockDeletionBeforeEndOfLife"],
        true
    );
}
