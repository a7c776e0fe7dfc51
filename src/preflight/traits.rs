//! Whether AIB can publish a build from a source into a gallery image
//! definition: their OS type, Hyper-V generation, architecture and security
//! type must agree, or the build runs for an hour and fails at distributing.

use crate::azure::resources::ImageTraits;

/// Each way `target` (a gallery image definition) does not fit `source`.
pub(super) fn mismatches(source: &ImageTraits, target: &ImageTraits) -> Vec<String> {
    let mut found = Vec::new();
    let pairs = [
        ("OS type", &source.os_type, &target.os_type, None),
        (
            "Hyper-V generation",
            &source.hyper_v_generation,
            &target.hyper_v_generation,
            None,
        ),
        // Azure leaves out x64, its default.
        (
            "architecture",
            &source.architecture,
            &target.architecture,
            Some("x64"),
        ),
    ];
    for (what, source, target, default) in pairs {
        let (Some(s), Some(t)) = (source.as_deref().or(default), target.as_deref().or(default))
        else {
            continue;
        };
        if !s.eq_ignore_ascii_case(t) {
            found.push(format!(
                "the definition's {what} is {t}, the source's is {s}"
            ));
        }
    }
    if let Some(why) = security_mismatch(
        source.security_type.as_deref(),
        target.security_type.as_deref(),
    ) {
        found.push(why);
    }
    found
}

/// What a security type allows: a VM of that kind can be made from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Allows {
    standard: bool,
    trusted_launch: bool,
    confidential: bool,
}

fn allows(security_type: Option<&str>) -> Allows {
    let t = security_type.unwrap_or("Standard").to_ascii_lowercase();
    match t.as_str() {
        "trustedlaunch" => Allows {
            standard: false,
            trusted_launch: true,
            confidential: false,
        },
        "trustedlaunchsupported" => Allows {
            standard: true,
            trusted_launch: true,
            confidential: false,
        },
        "confidentialvm" => Allows {
            standard: false,
            trusted_launch: false,
            confidential: true,
        },
        "confidentialvmsupported" => Allows {
            standard: true,
            trusted_launch: false,
            confidential: true,
        },
        "trustedlaunchandconfidentialvmsupported" => Allows {
            standard: true,
            trusted_launch: true,
            confidential: true,
        },
        _ => Allows {
            standard: true,
            trusted_launch: false,
            confidential: false,
        },
    }
}

/// A definition that only takes Trusted Launch (or confidential) images needs a
/// source that can be one; a source that can only be one needs a definition
/// that takes it.
fn security_mismatch(source: Option<&str>, target: Option<&str>) -> Option<String> {
    let (s, t) = (allows(source), allows(target));
    let fits = (t.standard && s.standard)
        || (t.trusted_launch && s.trusted_launch)
        || (t.confidential && s.confidential);
    (!fits).then(|| {
        format!(
            "the definition's security type is {}, which the source ({}) cannot be",
            target.unwrap_or("Standard"),
            source.unwrap_or("Standard")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traits(
        os: &str,
        generation: &str,
        arch: Option<&str>,
        security: Option<&str>,
    ) -> ImageTraits {
        ImageTraits {
            os_type: Some(os.into()),
            hyper_v_generation: Some(generation.into()),
            architecture: arch.map(Into::into),
            security_type: security.map(Into::into),
        }
    }

    #[test]
    fn a_matching_definition_has_no_mismatch() {
        let source = traits("Linux", "V2", None, Some("TrustedLaunchSupported"));
        assert!(mismatches(&source, &traits("linux", "V2", Some("x64"), None)).is_empty());
        let tl = traits("Linux", "V2", None, Some("TrustedLaunch"));
        assert!(mismatches(&source, &tl).is_empty());
        assert!(
            mismatches(
                &source,
                &traits("Linux", "V2", None, Some("TrustedLaunchSupported"))
            )
            .is_empty()
        );
    }

    #[test]
    fn each_difference_is_named() {
        let source = traits("Linux", "V1", None, None);
        let target = traits("Windows", "V2", Some("Arm64"), Some("TrustedLaunch"));
        let found = mismatches(&source, &target);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].contains("OS type is Windows, the source's is Linux"));
        assert!(found[1].contains("Hyper-V generation is V2"));
        assert!(found[2].contains("architecture is Arm64, the source's is x64"));
        assert!(
            found[3].contains("security type is TrustedLaunch"),
            "{}",
            found[3]
        );
        // A Trusted-Launch-only source cannot go into a standard definition.
        let tl_only = traits("Linux", "V2", None, Some("TrustedLaunch"));
        assert_eq!(
            mismatches(&tl_only, &traits("Linux", "V2", None, None)).len(),
            1
        );
    }
}
