//! Raw `[service]` → [`ServiceSettings`]: the daemon's build limits.

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
    service
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
