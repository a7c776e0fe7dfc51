//! Maps request paths onto the simulated operations and their route names.
//!
//! ARM matches path literals case-insensitively, so this does too.

mod arm;

use axum::http::Method;

use super::faults::Access;
use super::marketplace::SkuPath;

/// The api-version of the shipped spec of each simulated resource type: what
/// the simulator writes into the polling URLs it hands out.
pub(crate) const COMPUTE_API: &str = "2025-04-01";
pub(crate) const GALLERY_API: &str = "2024-03-03";
/// The stable api-versions each resource type accepts, comma-separated,
/// newest first: the versions of the ComputeRP and GalleryRP TypeSpec
/// sources (the `api_versions_list` of azure-mgmt-compute 39.0.0, generated
/// from them) and the shipped spec's. The shapes served are the shipped
/// spec's; a later version only adds optional properties.
const COMPUTE_SERVED: &str = "2026-04-01,2026-03-01,2025-11-01,2025-04-01,2024-11-01";
const GALLERY_SERVED: &str = "2026-03-03,2025-12-03,2025-03-03,2024-03-03";
/// Galleries and compute share the provider's operations endpoint.
pub(crate) const COMPUTE_OPERATIONS_API: &str = "2026-04-01,2026-03-01,2025-11-01,2025-04-01,2024-11-01,2026-03-03,2025-12-03,2025-03-03,2024-03-03";
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
        } else if method == Method::DELETE {
            Access::Delete
        } else {
            Access::Write
        }
    }

    /// Compute's own throttling policy for the route, as its
    /// `x-ms-ratelimit-remaining-resource` names it, with its 3- and 30-minute budgets.
    pub fn compute_policy(&self) -> Option<(&'static str, u32, u32)> {
        match self.name {
            "marketplace.list" => Some(("ListVMImagesVersionsFromLocation", 16000, 64000)),
            "marketplace.get" => Some(("GetVMImageFromLocation", 16000, 64000)),
            _ => None,
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
    match arm::arm_op(method, &segs) {
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

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
