//! ARM request counters: every attempt, by a small fixed set of operations
//! derived from the request, so that resource names never become labels.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use reqwest::Method;

use crate::azure::{Answer, RequestObserver};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ArmLabels {
    operation: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug)]
pub(super) struct ArmRequests {
    requests: Family<ArmLabels, Counter>,
    throttled: Counter,
}

impl ArmRequests {
    pub(super) fn register(registry: &mut Registry) -> ArmRequests {
        let requests = Family::default();
        registry.register(
            "image_refresh_arm_requests",
            "ARM request attempts (retries included) by operation and status class",
            requests.clone(),
        );
        let throttled = Counter::default();
        registry.register(
            "image_refresh_arm_throttled",
            "ARM requests answered 429 Too Many Requests",
            throttled.clone(),
        );
        ArmRequests {
            requests,
            throttled,
        }
    }
}

impl RequestObserver for ArmRequests {
    fn observe(&self, method: &Method, path: &str, answer: Answer) {
        let status_class = match answer {
            Answer::Transport => "transport",
            Answer::Status(200..=299) => "2xx",
            Answer::Status(300..=399) => "3xx",
            Answer::Status(400..=499) => "4xx",
            Answer::Status(_) => "5xx",
        };
        if answer == Answer::Status(429) {
            self.throttled.inc();
        }
        self.requests
            .get_or_create(&ArmLabels {
                operation: operation(method, path),
                status_class,
            })
            .inc();
    }
}

/// The operation a request performs: `area.verb`, from a fixed list.
pub fn operation(method: &Method, path: &str) -> &'static str {
    let path = path.to_ascii_lowercase();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.last().copied().unwrap_or("");
    let after = |word: &str| {
        segments
            .iter()
            .position(|s| *s == word)
            .map(|at| segments.len() - at - 1)
    };
    let get = *method == Method::GET;
    let put = *method == Method::PUT;
    let delete = *method == Method::DELETE;
    let post = *method == Method::POST;
    if segments.iter().any(|s| s.contains("operation")) {
        return "operation.poll";
    }
    if path.contains("/artifacttypes/vmimage/") {
        return match after("versions") {
            Some(0) => "marketplace.list",
            _ => "marketplace.get",
        };
    }
    if path.contains("microsoft.virtualmachineimages/imagetemplates") {
        return match (after("imagetemplates"), last) {
            (Some(3), _) if segments.contains(&"runoutputs") => "template.run_output",
            (Some(2), "run") if post => "template.run",
            (Some(2), "cancel") if post => "template.cancel",
            (Some(2), "runoutputs") => "template.run_output",
            (Some(1), _) if put => "template.put",
            (Some(1), _) if get => "template.get",
            (Some(1), _) if delete => "template.delete",
            _ => "template.other",
        };
    }
    if path.contains("microsoft.compute/galleries") {
        return match (get, put, delete) {
            (true, ..) => "gallery.get",
            (_, true, _) => "gallery.put",
            (.., true) => "gallery.delete",
            _ => "gallery.other",
        };
    }
    if path.contains("microsoft.compute/images") {
        return match (get, delete) {
            (true, _) => "managed_image.get",
            (_, true) => "managed_image.delete",
            _ => "managed_image.other",
        };
    }
    if path.contains("microsoft.managedidentity") {
        return "identity.get";
    }
    if path.contains("microsoft.storage") || path.contains("/blob") {
        return "storage.get";
    }
    if path.contains("/providers/microsoft.authorization") {
        return "authorization.get";
    }
    if after("resourcegroups") == Some(0) || (after("resourcegroups") == Some(1) && !post) {
        return "resource_group.get";
    }
    if post {
        return "other.post";
    }
    "other"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_name_the_request_not_its_resources() {
        let market = "/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/publishers/Canonical/artifacttypes/vmimage/offers/o/skus/k/versions";
        assert_eq!(operation(&Method::GET, market), "marketplace.list");
        assert_eq!(
            operation(&Method::GET, &format!("{market}/22.04.202611010")),
            "marketplace.get"
        );
        let template = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/t";
        assert_eq!(operation(&Method::PUT, template), "template.put");
        assert_eq!(operation(&Method::GET, template), "template.get");
        assert_eq!(operation(&Method::DELETE, template), "template.delete");
        assert_eq!(
            operation(&Method::POST, &format!("{template}/run")),
            "template.run"
        );
        assert_eq!(
            operation(&Method::GET, &format!("{template}/runOutputs/out")),
            "template.run_output"
        );
        assert_eq!(
            operation(
                &Method::GET,
                "/subscriptions/s/providers/Microsoft.VirtualMachineImages/locations/w/operations/1"
            ),
            "operation.poll"
        );
        assert_eq!(
            operation(&Method::GET, "/subscriptions/s/resourcegroups/rg"),
            "resource_group.get"
        );
        assert_eq!(operation(&Method::GET, "/anything/else"), "other");
    }
}
