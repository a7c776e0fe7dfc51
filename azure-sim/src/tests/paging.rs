//! Paged lists: `nextLink` with an opaque `$skiptoken`, pages of the
//! scenario's size, every item exactly once.

use serde_json::Value;

use super::{ARM, SUB, get_json, start, token};

#[tokio::test]
async fn gallery_versions_page_by_the_scenarios_size() {
    let versions: Vec<String> = (0..120).map(|i| format!("\"1.0.{i}\"")).collect();
    let sim = start(&format!(
        "page_size = 50\n[[galleries]]\nresource_group = \"rg\"\ngallery = \"gal\"\nimage = \"img\"\nlocation = \"westeurope\"\nversions = [{}]\n",
        versions.join(", ")
    ))
    .await;
    let arm = token(&sim, ARM).await;
    let path = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions"
    );
    let mut page = get_json(&sim, &arm, &path, "2024-03-03", 200).await;
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    let http = super::client();
    loop {
        let value = page["value"].as_array().unwrap();
        sizes.push(value.len());
        names.extend(value.iter().map(|v| v["name"].as_str().unwrap().to_owned()));
        let Some(next) = page["nextLink"].as_str() else {
            break;
        };
        assert!(next.starts_with(sim.base_url()), "{next}");
        assert!(
            next.contains("api-version=2024-03-03") && next.contains("$skiptoken="),
            "{next}"
        );
        page = http
            .get(next)
            .bearer_auth(&arm)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    }
    assert_eq!(sizes, [50, 50, 20]);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 120);

    let bad = http
        .get(format!(
            "{}{path}?api-version=2024-03-03&$skiptoken=abc",
            sim.base_url()
        ))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidSkipToken");
}
