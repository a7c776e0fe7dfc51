//! Paths classify case-insensitively, as ARM matches them.

use super::*;

#[test]
fn paths_classify_case_insensitively() {
    let p = "/subscriptions/s/resourcegroups/rg/providers/microsoft.virtualmachineimages/imagetemplates/t/run";
    assert_eq!(classify(&Method::POST, p).name, "template.run");
    let p = "/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/publishers/Canonical/artifacttypes/vmimage/offers/o/skus/k/versions";
    assert_eq!(classify(&Method::GET, p).name, "marketplace.list");
    assert_eq!(classify(&Method::GET, "/msi/token").name, "token.msi");
    assert_eq!(
        classify(&Method::POST, "/t/oauth2/v2.0/token").name,
        "token.entra"
    );
    assert_eq!(classify(&Method::GET, "/nope").name, "unknown");
    for (path, name) in [
        ("/SUBSCRIPTIONS/s", "subscription.get"),
        ("/subscriptions/s/Locations", "subscription.locations"),
        ("/subscriptions/s/resourceGroups/rg", "resourceGroup.get"),
        (
            "/subscriptions/s/RESOURCEGROUPS/rg/Resources",
            "resourceGroup.resources",
        ),
        (
            "/subscriptions/s/providers/Microsoft.Compute",
            "provider.get",
        ),
        (
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id",
            "identity.get",
        ),
        ("/blob/acct/packerlogs/run/customization.log", "blob.get"),
    ] {
        assert_eq!(classify(&Method::GET, path).name, name, "{path}");
    }
    assert_eq!(
        classify(&Method::PUT, "/subscriptions/s/resourceGroups/rg").name,
        "unknown"
    );
    assert_eq!(
        classify(&Method::GET, "/blob/acct/packerlogs").name,
        "unknown"
    );
}
