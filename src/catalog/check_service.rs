//! Raw `[service]` → [`ServiceSettings`]: the daemon's build limits and metrics address.

use super::error::Problems;
use super::model::ServiceSettings;
use super::raw::{Int, RawService};

pub(super) fn check_service(p: &mut Problems, raw: Option<&RawService>) -> ServiceSettings {
    let mut service = ServiceSettings::default();
    let Some(raw) = raw else {
        return service;
    };
    if let Some(limit) = &raw.max_concurrent_builds {
        match usize::try_from(*limit.get_ref()) {
            Ok(n @ 1..=100) => service.max_concurrent_builds = n,
            _ => p.hint(
                limit.span(),
                "`max_concurrent_builds` out of range",
                "use 1 to 100; each build is one AIB run and one build VM in Azure",
            ),
        }
    }
    if let Some(threshold) = failures(p, &raw.disable_after_failures) {
        service.disable_after_failures = threshold;
    }
    service.metrics_listen = metrics_listen(p, raw);
    service
}

/// `metrics_listen`: loopback unless `metrics_allow_remote` says otherwise, since the
/// endpoint has neither TLS nor authentication of its own.
fn metrics_listen(p: &mut Problems, raw: &RawService) -> Option<std::net::SocketAddr> {
    let listen = raw.metrics_listen.as_ref()?;
    let Ok(addr) = listen.get_ref().parse::<std::net::SocketAddr>() else {
        p.hint(
            listen.span(),
            "`metrics_listen` is not an address and port",
            "write an IP address and a port, like \"127.0.0.1:9464\" or \"[::1]:9464\"",
        );
        return None;
    };
    let remote_allowed = raw
        .metrics_allow_remote
        .as_ref()
        .is_some_and(|allow| *allow.get_ref());
    if !addr.ip().is_loopback() && !remote_allowed {
        p.hint(
            listen.span(),
            "`metrics_listen` is not a loopback address",
            "the metrics endpoint has no TLS or authentication: listen on 127.0.0.1 behind a \
             reverse proxy, or set `metrics_allow_remote = true` to serve other hosts directly",
        );
        return None;
    }
    Some(addr)
}

fn failures(p: &mut Problems, raw: &Int) -> Option<u32> {
    let raw = raw.as_ref()?;
    match u32::try_from(*raw.get_ref()) {
        Ok(n) if n <= 1000 => Some(n),
        _ => {
            p.hint(
                raw.span(),
                "`disable_after_failures` out of range",
                "use 1 to 1000 failed builds in a row, or 0 to never disable an image",
            );
            None
        }
    }
}
