//! Maps request paths onto the simulated operations and their route names.
//!
//! ARM matches path literals case-insensitively, so this does too.

use axum::http::Method;

use super::faults::Access;
use super::marketplace::SkuPath;

/// api-versions the simulated resource providers accept.
pub(crate) const COMPUTE_API: &str = "2025-04-01";
pub(crate) const GALLERY_API: &str = "2024-03-03";
/// Several accepted versions are written comma-separated.
pub(crate) const COMPUTE_OPERATIONS_API: &str = "2025-04-01,2024-03-03";
pub(crate) const IMAGE_BUILDER_API: &str = "2025-10-01";
pub(crate) const SUBSCRIPTIONS_API: &str = "2022-12-01";
pub(crate) const RESOURCES_API: &str = "2025-04-01";
/// The newest stable identity api-version and the older stable one most tools pin.
pub(crate) const IDENTITY_API: &str = "2026-05-31,2023-01-31";
pub(crate) const IDENTITY_API_LEGACY: &str = "2023-01-31";

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`.
#[derive(Debug, Clone)]
pub(crate) struct ResourcePath {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct GalleryImagePath {
    pub subscription: String,
    pub resource_group: String,
    pub gallery: String,
    pub image: String,
}

#[derive(Debug, Clone)]
pub(crate) enum ArmOp {
    MarketList(SkuPath),
    MarketGet(SkuPath, String),
    /// The templates of one resource group (of the request's subscription).
    TemplateList(String),
    TemplatePut(ResourcePath),
    TemplateGet(ResourcePath),
    TemplateDelete(ResourcePath),
    TemplateRun(ResourcePath),
    TemplateCancel(ResourcePath),
    RunOutputs(ResourcePath),
    RunOutput(ResourcePath, String),
    OperationStatus {
        id: String,
    },
    OperationResult {
        id: String,
    },
    GalleryImageGet(GalleryImagePath),
    GalleryVersionList(GalleryImagePath),
    GalleryVersionGet(GalleryImagePath, String),
    GalleryVersionDelete(GalleryImagePath, String),
    GalleryVersionUpdate(GalleryImagePath, String),
    ImageGet(ResourcePath),
    ImageDelete(ResourcePath),
    SubscriptionGet,
    LocationList,
    ResourceGroupGet(String),
    ResourceList(String),
    ProviderGet(String),
    IdentityGet(ResourcePath),
}

impl ArmOp {
    /// The resource group the request is scoped to, which ARM checks exists.
    pub fn resource_group(&self) -> Option<(&str, &str)> {
        let r = match self {
            ArmOp::TemplatePut(r)
            | ArmOp::TemplateGet(r)
            | ArmOp::TemplateDelete(r)
            | ArmOp::TemplateRun(r)
            | ArmOp::TemplateCancel(r)
            | ArmOp::RunOutputs(r)
            | ArmOp::RunOutput(r, _)
            | ArmOp::ImageGet(r)
            | ArmOp::ImageDelete(r)
            | ArmOp::IdentityGet(r) => (r.subscription.as_str(), r.resource_group.as_str()),
            ArmOp::GalleryImageGet(g)
            | ArmOp::GalleryVersionList(g)
            | ArmOp::GalleryVersionGet(g, _)
            | ArmOp::GalleryVersionDelete(g, _)
            | ArmOp::GalleryVersionUpdate(g, _) => {
                (g.subscription.as_str(), g.resource_group.as_str())
            }
            _ => return None,
        };
        Some(r)
    }

    /// The resource provider namespace a write goes to.
    pub fn write_namespace(&self) -> Option<&'static str> {
        match self {
            ArmOp::TemplatePut(_)
            | ArmOp::TemplateDelete(_)
            | ArmOp::TemplateRun(_)
            | ArmOp::TemplateCancel(_) => Some("Microsoft.VirtualMachineImages"),
            ArmOp::GalleryVersionDelete(..)
            | ArmOp::GalleryVersionUpdate(..)
            | ArmOp::ImageDelete(_) => Some("Microsoft.Compute"),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum RouteKind {
    Msi,
    Entra {
        tenant: String,
    },
    Arm {
        subscription: String,
        api_version: &'static str,
        op: ArmOp,
    },
    /// Azure Storage, path-style: `/blob/{account}/{container}/{blob}`.
    Blob {
        account: String,
        container: String,
        blob: String,
    },
    /// An ARM-looking path the simulator does not serve.
    UnknownArm {
        subscription: String,
    },
    NotFound,
}

#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub name: &'static str,
    pub kind: RouteKind,
}

impl Route {
    pub fn access(method: &Method) -> Access {
        if method == Method::GET || method == Method::HEAD {
            Access::Read
        } else {
            Access::Write
        }
    }
}

/// Matches `segs` against `pattern`, where `{}` captures one segment.
fn capture(segs: &[&str], pattern: &str) -> Option<Vec<String>> {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    if pat.len() != segs.len() {
        return None;
    }
    let mut out = Vec::new();
    for (p, s) in pat.iter().zip(segs) {
        if *p == "{}" {
            if s.is_empty() {
                return None;
            }
            out.push((*s).to_owned());
        } else if !p.eq_ignore_ascii_case(s) {
            return None;
        }
    }
    Some(out)
}

const MARKET: &str = "subscriptions/{}/providers/Microsoft.Compute/locations/{}/publishers/{}/artifacttypes/vmimage/offers/{}/skus/{}/versions";
const TEMPLATE: &str =
    "subscriptions/{}/resourceGroups/{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{}";
const GALLERY_IMAGE: &str =
    "subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/galleries/{}/images/{}";
const IMAGE: &str = "subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/images/{}";
const OPERATION: &str = "subscriptions/{}/providers/{}/locations/{}/operations/{}";
const OPERATION_RESULT: &str = "subscriptions/{}/providers/{}/locations/{}/operationresults/{}";
const RESOURCE_GROUP: &str = "subscriptions/{}/resourcegroups/{}";
const IDENTITY: &str = "subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}";

pub(crate) fn classify(method: &Method, path: &str) -> Route {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = method == Method::GET;
    if get && capture(&segs, "msi/token").is_some() {
        return Route {
            name: "token.msi",
            kind: RouteKind::Msi,
        };
    }
    if method == Method::POST
        && let Some(c) = capture(&segs, "{}/oauth2/v2.0/token")
    {
        let tenant = c.into_iter().next().unwrap_or_default();
        return Route {
            name: "token.entra",
            kind: RouteKind::Entra { tenant },
        };
    }
    if segs[0] == "blob" && segs.len() >= 4 && segs[1..].iter().all(|s| !s.is_empty()) {
        let name = if get { "blob.get" } else { "blob.unsupported" };
        return Route {
            name,
            kind: RouteKind::Blob {
                account: segs[1].to_owned(),
                container: segs[2].to_owned(),
                blob: segs[3..].join("/"),
            },
        };
    }
    if !segs[0].eq_ignore_ascii_case("subscriptions") || segs.len() < 2 {
        return Route {
            name: "unknown",
            kind: RouteKind::NotFound,
        };
    }
    let subscription = segs[1].to_owned();
    match arm_op(method, &segs) {
        Some((name, api_version, op)) => Route {
            name,
            kind: RouteKind::Arm {
                subscription,
                api_version,
                op,
            },
        },
        None => Route {
            name: "unknown",
            kind: RouteKind::UnknownArm { subscription },
        },
    }
}

fn arm_op(method: &Method, segs: &[&str]) -> Option<(&'static str, &'static str, ArmOp)> {
    let m = method.clone();
    let sku = |c: &[String]| SkuPath {
        subscription: c[0].clone(),
        location: c[1].clone(),
        publisher: c[2].clone(),
        offer: c[3].clone(),
        sku: c[4].clone(),
    };
    let res = |c: &[String]| ResourcePath {
        subscription: c[0].clone(),
        resource_group: c[1].clone(),
        name: c[2].clone(),
    };
    let gal = |c: &[String]| GalleryImagePath {
        subscription: c[0].clone(),
        resource_group: c[1].clone(),
        gallery: c[2].clone(),
        image: c[3].clone(),
    };
    if let Some(c) = capture(segs, MARKET) {
        return (m == Method::GET)
            .then(|| ("marketplace.list", COMPUTE_API, ArmOp::MarketList(sku(&c))));
    }
    if let Some(c) = capture(segs, &format!("{MARKET}/{{}}")) {
        return (m == Method::GET).then(|| {
            (
                "marketplace.get",
                COMPUTE_API,
                ArmOp::MarketGet(sku(&c), c[5].clone()),
            )
        });
    }
    if let Some(c) = capture(segs, TEMPLATE.trim_end_matches("/{}")) {
        let op = ArmOp::TemplateList(c[1].clone());
        return (m == Method::GET).then_some(("template.list", IMAGE_BUILDER_API, op));
    }
    if let Some(c) = capture(segs, TEMPLATE) {
        let r = res(&c);
        let api = IMAGE_BUILDER_API;
        return match m {
            Method::PUT => Some(("template.put", api, ArmOp::TemplatePut(r))),
            Method::GET => Some(("template.get", api, ArmOp::TemplateGet(r))),
            Method::DELETE => Some(("template.delete", api, ArmOp::TemplateDelete(r))),
            _ => None,
        };
    }
    if let Some(c) = capture(segs, &format!("{TEMPLATE}/{{}}")) {
        let r = res(&c);
        let api = IMAGE_BUILDER_API;
        let action = c[3].to_ascii_lowercase();
        return match (m, action.as_str()) {
            (Method::POST, "run") => Some(("template.run", api, ArmOp::TemplateRun(r))),
            (Method::POST, "cancel") => Some(("template.cancel", api, ArmOp::TemplateCancel(r))),
            (Method::GET, "runoutputs") => Some(("template.runOutputs", api, ArmOp::RunOutputs(r))),
            _ => None,
        };
    }
    if let Some(c) = capture(segs, &format!("{TEMPLATE}/runOutputs/{{}}")) {
        return (m == Method::GET).then(|| {
            (
                "template.runOutput",
                IMAGE_BUILDER_API,
                ArmOp::RunOutput(res(&c), c[3].clone()),
            )
        });
    }
    for (pattern, result) in [(OPERATION, false), (OPERATION_RESULT, true)] {
        if let Some(c) = capture(segs, pattern) {
            let api = if c[1].eq_ignore_ascii_case("Microsoft.VirtualMachineImages") {
                IMAGE_BUILDER_API
            } else if c[1].eq_ignore_ascii_case("Microsoft.Compute") {
                // Galleries and compute share the provider's operations endpoint;
                // ARM accepts the api-version of either resource type there.
                COMPUTE_OPERATIONS_API
            } else {
                return None;
            };
            let id = c[3].clone();
            let op = if result {
                ("operation.result", api, ArmOp::OperationResult { id })
            } else {
                ("operation.get", api, ArmOp::OperationStatus { id })
            };
            return (m == Method::GET).then_some(op);
        }
    }
    if let Some(c) = capture(segs, GALLERY_IMAGE) {
        return (m == Method::GET).then(|| {
            (
                "gallery.image.get",
                GALLERY_API,
                ArmOp::GalleryImageGet(gal(&c)),
            )
        });
    }
    if let Some(c) = capture(segs, &format!("{GALLERY_IMAGE}/versions")) {
        return (m == Method::GET).then(|| {
            (
                "gallery.version.list",
                GALLERY_API,
                ArmOp::GalleryVersionList(gal(&c)),
            )
        });
    }
    if let Some(c) = capture(segs, &format!("{GALLERY_IMAGE}/versions/{{}}")) {
        let v = c[4].clone();
        return match m {
            Method::GET => Some((
                "gallery.version.get",
                GALLERY_API,
                ArmOp::GalleryVersionGet(gal(&c), v),
            )),
            Method::PATCH => Some((
                "gallery.version.update",
                GALLERY_API,
                ArmOp::GalleryVersionUpdate(gal(&c), v),
            )),
            Method::DELETE => Some((
                "gallery.version.delete",
                GALLERY_API,
                ArmOp::GalleryVersionDelete(gal(&c), v),
            )),
            _ => None,
        };
    }
    if let Some(op) = resource_op(&m, segs) {
        return Some(op);
    }
    if let Some(c) = capture(segs, IMAGE) {
        return match m {
            Method::GET => Some(("image.get", COMPUTE_API, ArmOp::ImageGet(res(&c)))),
            Method::DELETE => Some(("image.delete", COMPUTE_API, ArmOp::ImageDelete(res(&c)))),
            _ => None,
        };
    }
    None
}

/// Subscriptions, resource groups, providers and identities: read-only GETs.
fn resource_op(m: &Method, segs: &[&str]) -> Option<(&'static str, &'static str, ArmOp)> {
    if *m != Method::GET {
        return None;
    }
    if capture(segs, "subscriptions/{}").is_some() {
        return Some((
            "subscription.get",
            SUBSCRIPTIONS_API,
            ArmOp::SubscriptionGet,
        ));
    }
    if capture(segs, "subscriptions/{}/locations").is_some() {
        return Some((
            "subscription.locations",
            SUBSCRIPTIONS_API,
            ArmOp::LocationList,
        ));
    }
    if let Some(c) = capture(segs, RESOURCE_GROUP) {
        let op = ArmOp::ResourceGroupGet(c[1].clone());
        return Some(("resourceGroup.get", RESOURCES_API, op));
    }
    if let Some(c) = capture(segs, &format!("{RESOURCE_GROUP}/resources")) {
        let op = ArmOp::ResourceList(c[1].clone());
        return Some(("resourceGroup.resources", RESOURCES_API, op));
    }
    if let Some(c) = capture(segs, "subscriptions/{}/providers/{}") {
        let op = ArmOp::ProviderGet(c[1].clone());
        return Some(("provider.get", RESOURCES_API, op));
    }
    if let Some(c) = capture(segs, IDENTITY) {
        let op = ArmOp::IdentityGet(ResourcePath {
            subscription: c[0].clone(),
            resource_group: c[1].clone(),
            name: c[2].clone(),
        });
        return Some(("identity.get", IDENTITY_API, op));
    }
    None
}

#[cfg(test)]
mod tests {
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
}
