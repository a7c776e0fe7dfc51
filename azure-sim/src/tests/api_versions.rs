//! Every stable api-version of a resource type is served; any other is
//! refused in ARM's words.

use super::{ARM, SUB, arm_error, get, start, token};

const GALLERY: &str = "[[galleries]]\nresource_group = \"rg\"\ngallery = \"gal\"\nimage = \"img\"\nlocation = \"westeurope\"\nversions = [\"1.0.0\"]\n";

#[tokio::test]
async fn stable_versions_are_served_and_others_refused() {
    let sim = start(GALLERY).await;
    let arm = token(&sim, ARM).await;
    let versions = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions"
    );
    // azure-mgmt-compute 39.0.0's defaults, the shipped spec's and one between.
    for api in ["2026-03-03", "2025-03-03", "2024-03-03"] {
        assert_eq!(get(&sim, &arm, &versions, api).await.status(), 200, "{api}");
    }
    let (code, message) = arm_error(&sim, &arm, &versions, "2023-07-03", 400).await;
    assert_eq!(code, "NoRegisteredProviderFound");
    assert!(
        message.contains("2026-03-03") && message.contains("2024-03-03"),
        "{message}"
    );
    // A compute version is not a gallery version.
    let (code, _) = arm_error(&sim, &arm, &versions, "2026-04-01", 400).await;
    assert_eq!(code, "NoRegisteredProviderFound");
    let (code, _) = arm_error(&sim, &arm, &versions, "latest", 400).await;
    assert_eq!(code, "InvalidApiVersionParameter");

    let image =
        format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/images/none");
    for api in ["2026-04-01", "2025-04-01", "2024-11-01"] {
        assert_eq!(get(&sim, &arm, &image, api).await.status(), 404, "{api}");
    }
    let (code, _) = arm_error(&sim, &arm, &image, "2026-03-03", 400).await;
    assert_eq!(code, "NoRegisteredProviderFound");
}

#[tokio::test]
async fn answers_report_the_remaining_budget_as_arm_and_compute_do() {
    let sim = start(&format!(
        "{GALLERY}[[marketplace]]\nlocation = \"westeurope\"\npublisher = \"p\"\noffer = \"o\"\nsku = \"s\"\nversions = [\"1.0.0\"]\n"
    ))
    .await;
    let arm = token(&sim, ARM).await;
    let market = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/publishers/p/artifacttypes/vmimage/offers/o/skus/s/versions"
    );
    let header =
        |resp: &reqwest::Response, name: &str| resp.headers()[name].to_str().unwrap().to_owned();
    let first = get(&sim, &arm, &market, "2026-04-01").await;
    assert_eq!(
        header(&first, "x-ms-ratelimit-remaining-subscription-reads"),
        "249"
    );
    assert_eq!(
        header(&first, "x-ms-ratelimit-remaining-subscription-global-reads"),
        "249"
    );
    let second = get(&sim, &arm, &market, "2026-04-01").await;
    let resource = header(&second, "x-ms-ratelimit-remaining-resource");
    assert!(
        resource.starts_with("Microsoft.Compute/ListVMImagesVersionsFromLocation3Min;15998,"),
        "{resource}"
    );
    let deleted = super::client()
        .delete(format!(
            "{}/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/img/versions/1.0.0?api-version=2024-03-03",
            sim.base_url()
        ))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    assert_eq!(
        header(&deleted, "x-ms-ratelimit-remaining-subscription-deletes"),
        "199"
    );
    assert!(
        deleted
            .headers()
            .get("x-ms-ratelimit-remaining-subscription-writes")
            .is_none()
    );
}
