//! Checks for the individual strings a catalog is made of. Each returns a hint on failure.

use std::time::Duration;

/// A resource ID shape the catalog refers to.
#[derive(Debug, Clone, Copy)]
pub(super) enum IdKind {
    ResourceGroup,
    UserAssignedIdentity,
    GalleryImage,
    ManagedImage,
    Subnet,
}

impl IdKind {
    /// The provider part after `/resourceGroups/<rg>`: fixed segments and `<placeholders>`.
    fn tail(self) -> &'static [&'static str] {
        match self {
            IdKind::ResourceGroup => &[],
            IdKind::UserAssignedIdentity => &[
                "providers",
                "Microsoft.ManagedIdentity",
                "userAssignedIdentities",
                "<name>",
            ],
            IdKind::GalleryImage => &[
                "providers",
                "Microsoft.Compute",
                "galleries",
                "<gallery>",
                "images",
                "<definition>",
            ],
            IdKind::ManagedImage => &["providers", "Microsoft.Compute", "images", "<name>"],
            IdKind::Subnet => &[
                "providers",
                "Microsoft.Network",
                "virtualNetworks",
                "<vnet>",
                "subnets",
                "<subnet>",
            ],
        }
    }

    pub(super) fn describe(self) -> &'static str {
        match self {
            IdKind::ResourceGroup => "resource group",
            IdKind::UserAssignedIdentity => "user-assigned identity",
            IdKind::GalleryImage => "gallery image definition",
            IdKind::ManagedImage => "managed image",
            IdKind::Subnet => "subnet",
        }
    }

    fn template(self) -> String {
        let mut template = "/subscriptions/<subscription-guid>/resourceGroups/<group>".to_owned();
        for segment in self.tail() {
            template.push('/');
            template.push_str(segment);
        }
        template
    }
}

/// Checks the shape of an ARM resource ID. Type segments compare case-insensitively, as ARM does.
pub(super) fn check_resource_id(id: &str, kind: IdKind) -> Result<(), String> {
    let expected = format!("expected {}", kind.template());
    let Some(rest) = id.strip_prefix('/') else {
        return Err(format!("{expected} (a resource ID starts with `/`)"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if matches!(kind, IdKind::GalleryImage)
        && segments.len() > 10
        && segments[10].eq_ignore_ascii_case("versions")
    {
        return Err(
            "give the image definition's ID without `/versions/...`; set the version with `version`"
                .to_owned(),
        );
    }
    let mut pattern = vec!["subscriptions", "<guid>", "resourceGroups", "<group>"];
    pattern.extend_from_slice(kind.tail());
    if segments.len() != pattern.len() {
        return Err(expected);
    }
    for (segment, want) in segments.iter().zip(&pattern) {
        let ok = match *want {
            "<guid>" => is_guid(segment),
            "<group>" => is_resource_group_name(segment),
            placeholder if placeholder.starts_with('<') => is_resource_name(segment),
            fixed => segment.eq_ignore_ascii_case(fixed),
        };
        if !ok {
            return Err(format!("{expected}; `{segment}` does not fit `{want}`"));
        }
    }
    Ok(())
}

pub(super) fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// ARM's rule: 1–90 of letters, digits, `-_.()`, not ending in a period.
pub(super) fn is_resource_group_name(name: &str) -> bool {
    (1..=90).contains(&name.len())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
}

fn is_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Programmatic location names such as `westeurope`.
pub(super) fn check_location(location: &str) -> Result<(), String> {
    if !location.is_empty()
        && location
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err("use the programmatic name, e.g. `westeurope` rather than `West Europe`".to_owned())
    }
}

/// HTTPS, or plain HTTP to a loopback address (for local emulators and tests).
pub(super) fn check_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::azure::is_loopback(&url) => Ok(()),
        other => Err(format!(
            "use https:// (`{other}` is only accepted for literal loopback addresses: 127.0.0.0/8, ::1)"
        )),
    }
}

/// A SHA-256 digest as 64 hex digits; returned lowercase so that case does not change hashes.
pub(super) fn check_sha256(value: &str) -> Result<String, String> {
    if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!(
            "a SHA-256 checksum is 64 hexadecimal digits (got {} characters); compute it with `sha256sum <file>`",
            value.chars().count()
        ))
    }
}

/// An exact image version: three dot-separated numbers, as marketplace and gallery versions are.
pub(super) fn check_exact_version(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 10 && p.chars().all(|c| c.is_ascii_digit()));
    if parts.len() == 3 && numeric {
        Ok(())
    } else {
        Err(
            "use \"latest\" or an exact version of three numbers, e.g. \"22.04.202411010\""
                .to_owned(),
        )
    }
}

/// Durations as AIB writes them: a whole number and a unit, `s`, `m` or `h` ("30m", "2h").
pub(super) fn parse_duration(value: &str) -> Result<Duration, String> {
    parse_units(value, false)
}

/// How long something is kept: as [`parse_duration`], or in days ("7d").
pub(super) fn parse_retention(value: &str) -> Result<Duration, String> {
    parse_units(value, true)
}

fn parse_units(value: &str, days: bool) -> Result<Duration, String> {
    let hint = || {
        let units = if days {
            "\"90s\", \"30m\", \"2h\" or \"7d\""
        } else {
            "\"90s\", \"30m\" or \"2h\""
        };
        format!("write a whole number and a unit: {units}")
    };
    let unit_at = value.len().saturating_sub(1);
    let (number, unit) = (value.get(..unit_at).ok_or_else(hint)?, &value[unit_at..]);
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(hint());
    }
    let number: u64 = number.parse().map_err(|_| hint())?;
    let seconds = match unit {
        "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        "d" if days => number.checked_mul(86_400),
        _ => None,
    };
    seconds.map(Duration::from_secs).ok_or_else(hint)
}

/// Image and recipe names end up in ARM resource names (`^[A-Za-z0-9-_.]{1,64}$`), with room
/// left for the prefixes and suffixes the build adds.
pub(super) fn check_name(name: &str, max: usize) -> Result<(), String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if valid_chars && starts_well && name.len() <= max {
        Ok(())
    } else {
        Err(format!(
            "use 1–{max} letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000000";

    #[test]
    fn resource_ids_are_checked_segment_by_segment() {
        let gallery = format!(
            "{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/ubuntu"
        );
        assert_eq!(check_resource_id(&gallery, IdKind::GalleryImage), Ok(()));
        let lower = gallery.to_lowercase();
        assert_eq!(check_resource_id(&lower, IdKind::GalleryImage), Ok(()));
        let version = format!("{gallery}/versions/1.0.0");
        assert!(
            check_resource_id(&version, IdKind::GalleryImage)
                .unwrap_err()
                .contains("`version`")
        );
        assert!(check_resource_id(&gallery, IdKind::ManagedImage).is_err());
        let bad_sub = gallery.replace("00000000-0000", "0000-0000");
        assert!(
            check_resource_id(&bad_sub, IdKind::GalleryImage)
                .unwrap_err()
                .contains("<guid>")
        );
        assert_eq!(
            check_resource_id(&format!("{SUB}/resourceGroups/rg"), IdKind::ResourceGroup),
            Ok(())
        );
    }

    #[test]
    fn urls_must_be_https_unless_loopback() {
        assert!(check_url("https://management.azure.com").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://127.3.2.1").is_ok());
        assert!(check_url("http://[::1]:1234").is_ok());
        // By name, localhost is whatever the resolver says.
        assert!(check_url("http://localhost:9").is_err());
        assert!(check_url("http://10.0.0.1").is_err());
        assert!(check_url("http://example.com").is_err());
        assert!(check_url("ftp://127.0.0.1").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn durations_versions_and_checksums() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        // Days are for retention ("7d"), not for AIB's own durations.
        for bad in ["", "m", "30", "1.5h", "-3m", "3d", "3w", "ž"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_retention("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_retention("0s"), Ok(Duration::ZERO));
        assert!(check_exact_version("22.04.202411010").is_ok());
        for bad in ["22.04", "1.2.3.4", "1.a.3", "1..3", ""] {
            assert!(check_exact_version(bad).is_err(), "{bad}");
        }
        assert_eq!(check_sha256(&"AB".repeat(32)), Ok("ab".repeat(32)));
        assert!(check_sha256(&"g".repeat(64)).is_err());
        assert!(check_sha256("abc").is_err());
    }
}
