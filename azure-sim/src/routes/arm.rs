//! Which ARM operation a path under `/subscriptions` names, with its route name
//! and the api-versions it accepts.

use axum::http::Method;

use super::{ArmOp, GalleryImagePath, ResourcePath, capture};
use super::{
    COMPUTE_OPERATIONS_API, COMPUTE_SERVED, GALLERY_API, GALLERY_SERVED, IDENTITY_API,
    IMAGE_BUILDER_API, RESOURCES_API, SUBSCRIPTIONS_API,
};
use crate::marketplace::SkuPath;

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

pub(super) fn arm_op(
    method: &Method,
    segs: &[&str],
) -> Option<(&'static str, &'static str, ArmOp)> {
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
        return (m == Method::GET).then(|| {
            (
                "marketplace.list",
                COMPUTE_SERVED,
                ArmOp::MarketList(sku(&c)),
            )
        });
    }
    if let Some(c) = capture(segs, &format!("{MARKET}/{{}}")) {
        return (m == Method::GET).then(|| {
            (
                "marketplace.get",
                COMPUTE_SERVED,
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
                GALLERY_SERVED,
                ArmOp::GalleryImageGet(gal(&c)),
            )
        });
    }
    if let Some(c) = capture(segs, &format!("{GALLERY_IMAGE}/versions")) {
        return (m == Method::GET).then(|| {
            (
                "gallery.version.list",
                GALLERY_SERVED,
                ArmOp::GalleryVersionList(gal(&c)),
            )
        });
    }
    if let Some(c) = capture(segs, &format!("{GALLERY_IMAGE}/versions/{{}}")) {
        let v = c[4].clone();
        return match m {
            Method::GET => Some((
                "gallery.version.get",
                GALLERY_SERVED,
                ArmOp::GalleryVersionGet(gal(&c), v),
            )),
            Method::PATCH => Some((
                "gallery.version.update",
                GALLERY_API,
                ArmOp::GalleryVersionUpdate(gal(&c), v),
            )),
            Method::DELETE => Some((
                "gallery.version.delete",
                GALLERY_SERVED,
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
            Method::GET => Some(("image.get", COMPUTE_SERVED, ArmOp::ImageGet(res(&c)))),
            Method::DELETE => Some(("image.delete", COMPUTE_SERVED, ArmOp::ImageDelete(res(&c)))),
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
