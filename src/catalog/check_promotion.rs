//! A gallery target's `promotion` and `[[images.distribute.rings]]`.

use std::collections::BTreeSet;
use std::ops::Range;

use super::distribute::{Promotion, Ring, TargetRegion};
use super::error::Problems;
use super::raw::{RawDistribute, RawRing, S};
use super::values::parse_retention;

/// `regions` are the target's, already checked; `None` when they were not
/// valid (the rings are then only checked for their own shape).
pub(super) fn check_promotion(
    p: &mut Problems,
    target: &RawDistribute,
    table: Range<usize>,
    regions: Option<&[TargetRegion]>,
) -> Option<Promotion> {
    let excluded = target.exclude_from_latest.as_ref().filter(|e| *e.get_ref());
    let promotion = match (&target.promotion, &target.rings) {
        (None, None) => return Some(Promotion::Immediate),
        (Some(kind), Some(rings)) => {
            p.hint(
                rings.span(),
                "`rings` and `promotion` are both set",
                format!(
                    "rings promote on their own; drop `promotion = \"{}\"`, or drop the rings",
                    kind.get_ref()
                ),
            );
            return None;
        }
        (Some(kind), None) => match kind.get_ref().as_str() {
            "immediate" => return Some(Promotion::Immediate),
            "manual" => Promotion::Manual,
            other => {
                p.hint(
                    kind.span(),
                    format!("unknown promotion `{other}`"),
                    "use \"immediate\" or \"manual\", or list [[images.distribute.rings]]",
                );
                return None;
            }
        },
        (None, Some(rings)) => Promotion::Rings(rings_of(p, rings, table, regions?)?),
    };
    if let Some(excluded) = excluded {
        p.hint(
            excluded.span(),
            "`exclude_from_latest = true` with staged promotion",
            "a staged version is published excluded from latest and promoted later; drop `exclude_from_latest`",
        );
        return None;
    }
    Some(promotion)
}

fn rings_of(
    p: &mut Problems,
    rings: &S<Vec<S<RawRing>>>,
    table: Range<usize>,
    regions: &[TargetRegion],
) -> Option<Vec<Ring>> {
    if rings.get_ref().is_empty() {
        p.hint(
            rings.span(),
            "`rings` is empty",
            "list at least one ring, or leave `rings` out to promote at once",
        );
        return None;
    }
    let before = p.len();
    let targets: BTreeSet<&str> = regions.iter().map(|r| r.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    let mut typed = Vec::new();
    for (index, ring) in rings.get_ref().iter().enumerate() {
        let raw = ring.get_ref();
        let Some(names) = raw.regions.as_ref().filter(|r| !r.get_ref().is_empty()) else {
            p.hint(
                ring.span(),
                format!("ring {} has no `regions`", index + 1),
                "e.g. regions = [\"westeurope\"]: target regions that become latest together",
            );
            continue;
        };
        let mut ring_regions = Vec::new();
        for name in names.get_ref() {
            let region = name.get_ref();
            if !targets.contains(region.as_str()) {
                p.hint(
                    name.span(),
                    format!("ring region `{region}` is not one of the target's regions"),
                    format!(
                        "use one of {}, or add it to `regions`",
                        targets.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                );
            } else if !seen.insert(region.clone()) {
                p.error(name.span(), format!("region `{region}` is in two rings"));
            }
            ring_regions.push(region.clone());
        }
        let after = match &raw.after {
            None => Some(std::time::Duration::ZERO),
            Some(text) => parse_retention(text.get_ref()).ok().or_else(|| {
                p.hint(
                    text.span(),
                    format!("`after` cannot be `{}`", text.get_ref()),
                    "how long after the ring before (the build, for the first), e.g. \"1d\" or \"6h\"",
                );
                None
            }),
        };
        if let Some(after) = after {
            typed.push(Ring {
                regions: ring_regions,
                after,
            });
        }
    }
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|r| !seen.contains(*r))
        .collect();
    if p.len() == before && !missing.is_empty() {
        p.hint(
            table,
            format!("target regions {} are in no ring", missing.join(", ")),
            "every target region is promoted in exactly one ring: add them to one",
        );
    }
    (p.len() == before).then_some(typed)
}

#[cfg(test)]
mod tests {
    use crate::catalog::{Distribute, Promotion, parse};

    const SUB: &str = "00000000-0000-0000-0000-000000000000";

    /// A catalog whose only target is a gallery in westeurope and northeurope;
    /// `extra` goes at the end of its table (line 17 onwards).
    fn catalog(extra: &str) -> String {
        format!(
            "[azure]\nsubscription_id = \"{SUB}\"\nresource_group = \"rg\"\nlocation = \"westeurope\"\n\
             identity = \"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id\"\n\
             [[images]]\nname = \"img\"\n[images.source]\ntype = \"marketplace\"\npublisher = \"Canonical\"\n\
             offer = \"0001-com-ubuntu-server-jammy\"\nsku = \"22_04-lts-gen2\"\n[[images.distribute]]\ntype = \"gallery\"\n\
             image_id = \"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d\"\n\
             regions = [\"westeurope\", \"northeurope\"]\n{extra}"
        )
    }

    fn promotion(extra: &str) -> Promotion {
        let catalog = parse(&catalog(extra), "test.toml").unwrap();
        match &catalog.images[0].distribute[0] {
            Distribute::Gallery(target) => target.promotion.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// The one problem's line, column and message, and its hint.
    fn problem(extra: &str) -> (usize, usize, String, String) {
        let error = parse(&catalog(extra), "test.toml").unwrap_err();
        let problems = error.problems();
        assert_eq!(problems.len(), 1, "{error}");
        let p = &problems[0];
        (
            p.line,
            p.column,
            p.message.clone(),
            p.hint.clone().unwrap_or_default(),
        )
    }

    const RINGS: &str = "[[images.distribute.rings]]\nregions = [\"westeurope\"]\n\
                         [[images.distribute.rings]]\nregions = [\"northeurope\"]\nafter = \"2d\"\n";

    #[test]
    fn promotion_kinds_and_rings_parse() {
        assert_eq!(promotion(""), Promotion::Immediate);
        assert_eq!(promotion("promotion = \"immediate\""), Promotion::Immediate);
        assert_eq!(promotion("promotion = \"manual\""), Promotion::Manual);
        let Promotion::Rings(rings) = promotion(RINGS) else {
            panic!("rings expected");
        };
        assert_eq!(rings[0].regions, ["westeurope"]);
        assert_eq!(rings[0].after, std::time::Duration::ZERO);
        assert_eq!(rings[1].regions, ["northeurope"]);
        assert_eq!(rings[1].after, std::time::Duration::from_secs(2 * 86_400));
    }

    #[test]
    fn rings_must_cover_the_target_regions_once() {
        let (line, column, message, hint) = problem(
            "[[images.distribute.rings]]\nregions = [\"westeurope\", \"eastus\"]\n\
             [[images.distribute.rings]]\nregions = [\"northeurope\"]\n",
        );
        assert_eq!((line, column), (18, 26));
        assert!(
            message.contains("`eastus` is not one of the target's regions"),
            "{message}"
        );
        assert!(
            hint.contains("westeurope") && hint.contains("northeurope"),
            "{hint}"
        );

        let (line, _, message, _) = problem(
            "[[images.distribute.rings]]\nregions = [\"westeurope\"]\n\
             [[images.distribute.rings]]\nregions = [\"westeurope\", \"northeurope\"]\n",
        );
        assert_eq!(line, 20);
        assert!(
            message.contains("`westeurope` is in two rings"),
            "{message}"
        );

        let (_, _, message, hint) =
            problem("[[images.distribute.rings]]\nregions = [\"westeurope\"]\n");
        assert!(message.contains("northeurope are in no ring"), "{message}");
        assert!(hint.contains("exactly one ring"), "{hint}");
    }

    #[test]
    fn conflicting_or_unknown_settings_are_refused() {
        let (line, column, message, hint) = problem("promotion = \"canary\"\n");
        assert_eq!((line, column), (17, 13));
        assert!(message.contains("unknown promotion `canary`"), "{message}");
        assert!(hint.contains("\"manual\""), "{hint}");

        let (_, _, message, _) = problem(&format!("promotion = \"manual\"\n{RINGS}"));
        assert!(
            message.contains("`rings` and `promotion` are both set"),
            "{message}"
        );

        let (line, _, message, hint) =
            problem("exclude_from_latest = true\npromotion = \"manual\"\n");
        assert_eq!(line, 17);
        assert!(
            message.contains("`exclude_from_latest = true` with staged promotion"),
            "{message}"
        );
        assert!(hint.contains("drop `exclude_from_latest`"), "{hint}");

        let (line, column, message, _) = problem(
            "[[images.distribute.rings]]\nregions = [\"westeurope\", \"northeurope\"]\nafter = \"soon\"\n",
        );
        assert_eq!((line, column), (19, 9));
        assert!(message.contains("`after` cannot be `soon`"), "{message}");
    }
}
