//! Raw `[images.source]` and `[[images.distribute]]` → typed sources and targets.

use std::collections::BTreeSet;
use std::ops::Range;

use super::check_settings::{location, required, resource_id};
use super::distribute::{
    Distribute, GalleryTarget, ManagedImageTarget, StorageAccountType, TargetRegion,
};
use super::error::Problems;
use super::raw::{RawDistribute, RawSource, S, Str};
use super::source::{
    GallerySource, ManagedImageSource, MarketplaceSource, PurchasePlan, Source, VersionSpec,
};
use super::values::{IdKind, check_exact_version};

/// Reports every present field that the given type does not take.
fn reject_foreign(
    p: &mut Problems,
    present: &[(&str, Option<Range<usize>>)],
    allowed: &[&str],
    what: &str,
) {
    for (field, span) in present {
        if let Some(span) = span.as_ref().filter(|_| !allowed.contains(field)) {
            let takes = if allowed.is_empty() {
                "no other fields".to_owned()
            } else {
                allowed.join(", ")
            };
            p.hint(
                span.clone(),
                format!("`{field}` is not valid for {what}"),
                format!("{what} takes: {takes}"),
            );
        }
    }
}

/// Marketplace names become ARM path segments: letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit, at most 128 characters (so never `.` or `..`,
/// which a URL would drop or climb with).
fn marketplace_name<'a>(
    p: &mut Problems,
    value: &'a S<String>,
    field: &str,
) -> Option<&'a S<String>> {
    let name = value.get_ref();
    let ok = name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        return Some(value);
    }
    p.hint(
        value.span(),
        format!("invalid marketplace `{field}`"),
        "use the name from `az vm image list`: letters, digits, `.`, `_` and `-`, \
         starting with a letter or digit, at most 128 characters",
    );
    None
}

fn span<T>(field: &Option<S<T>>) -> Option<Range<usize>> {
    field.as_ref().map(|f| f.span())
}

/// `default_location` is `azure.location`, or `None` when that is itself invalid.
/// A marketplace source's own `location` is where its image is built.
pub(super) fn check_source(
    p: &mut Problems,
    raw: &S<RawSource>,
    default_location: Option<&str>,
) -> Option<Source> {
    let source = raw.get_ref();
    let table = raw.span();
    let kinds = "use \"marketplace\", \"gallery\" or \"managed_image\"";
    let Some(kind) = &source.r#type else {
        p.hint(table, "source has no `type`", kinds);
        return None;
    };
    let present = [
        ("publisher", span(&source.publisher)),
        ("offer", span(&source.offer)),
        ("sku", span(&source.sku)),
        ("version", span(&source.version)),
        ("plan", span(&source.plan)),
        ("image_id", span(&source.image_id)),
        ("location", span(&source.location)),
    ];
    let before = p.len();
    let typed = match kind.get_ref().as_str() {
        "marketplace" => {
            reject_foreign(
                p,
                &present,
                &["publisher", "offer", "sku", "version", "plan", "location"],
                "a marketplace source",
            );
            let publisher = required(
                p,
                &source.publisher,
                table.clone(),
                "publisher",
                "e.g. publisher = \"Canonical\"",
            );
            let offer = required(
                p,
                &source.offer,
                table.clone(),
                "offer",
                "e.g. offer = \"0001-com-ubuntu-server-jammy\"",
            );
            let sku = required(
                p,
                &source.sku,
                table.clone(),
                "sku",
                "e.g. sku = \"22_04-lts-gen2\"",
            );
            let publisher = publisher.and_then(|v| marketplace_name(p, v, "publisher"));
            let offer = offer.and_then(|v| marketplace_name(p, v, "offer"));
            let sku = sku.and_then(|v| marketplace_name(p, v, "sku"));
            let version = version(p, &source.version);
            let plan = source.plan.as_ref().map(|plan| {
                let t = plan.span();
                let r = plan.get_ref();
                let name = required(
                    p,
                    &r.name,
                    t.clone(),
                    "name",
                    "the plan name from the marketplace listing",
                );
                let product = required(
                    p,
                    &r.product,
                    t.clone(),
                    "product",
                    "the plan product from the marketplace listing",
                );
                let publisher = required(
                    p,
                    &r.publisher,
                    t,
                    "publisher",
                    "the plan publisher from the marketplace listing",
                );
                Some(PurchasePlan {
                    name: name?.get_ref().clone(),
                    product: product?.get_ref().clone(),
                    publisher: publisher?.get_ref().clone(),
                })
            });
            let location = match &source.location {
                Some(loc) => location(p, loc),
                None => default_location.map(str::to_owned),
            };
            Some(Source::Marketplace(MarketplaceSource {
                publisher: publisher?.get_ref().clone(),
                offer: offer?.get_ref().clone(),
                sku: sku?.get_ref().clone(),
                version: version?,
                plan: plan.map(|plan| plan.ok_or(())).transpose().ok()?,
                location: location?,
            }))
        }
        "gallery" => {
            reject_foreign(p, &present, &["image_id", "version"], "a gallery source");
            let image_id = image_id(p, &source.image_id, table, IdKind::GalleryImage);
            let version = version(p, &source.version);
            Some(Source::Gallery(GallerySource {
                image_id: image_id?,
                version: version?,
            }))
        }
        "managed_image" => {
            reject_foreign(p, &present, &["image_id"], "a managed_image source");
            let image_id = image_id(p, &source.image_id, table, IdKind::ManagedImage);
            Some(Source::ManagedImage(ManagedImageSource {
                image_id: image_id?,
            }))
        }
        other => {
            p.hint(kind.span(), format!("unknown source type `{other}`"), kinds);
            None
        }
    };
    typed.filter(|_| p.len() == before)
}

fn version(p: &mut Problems, version: &Str) -> Option<VersionSpec> {
    let Some(version) = version else {
        return Some(VersionSpec::Latest);
    };
    match version.get_ref().as_str() {
        "latest" => Some(VersionSpec::Latest),
        exact => match check_exact_version(exact) {
            Ok(()) => Some(VersionSpec::Exact(exact.to_owned())),
            Err(hint) => {
                p.hint(version.span(), format!("bad version `{exact}`"), hint);
                None
            }
        },
    }
}

fn image_id(p: &mut Problems, id: &Str, table: Range<usize>, kind: IdKind) -> Option<String> {
    let hint = format!("the {} resource ID", kind.describe());
    required(p, id, table, "image_id", &hint).and_then(|id| resource_id(p, id, kind))
}

pub(super) fn check_distribute(
    p: &mut Problems,
    raw: &S<RawDistribute>,
    default_location: Option<&str>,
) -> Option<Distribute> {
    let target = raw.get_ref();
    let table = raw.span();
    let kinds = "use \"gallery\", \"managed_image\" or \"vhd\"";
    let Some(kind) = &target.r#type else {
        p.hint(table, "distribution target has no `type`", kinds);
        return None;
    };
    let present = [
        ("image_id", span(&target.image_id)),
        ("location", span(&target.location)),
        ("regions", span(&target.regions)),
        ("storage_account_type", span(&target.storage_account_type)),
        ("exclude_from_latest", span(&target.exclude_from_latest)),
        ("versions_to_keep", span(&target.versions_to_keep)),
        ("end_of_life_after", span(&target.end_of_life_after)),
        ("promotion", span(&target.promotion)),
        ("rings", span(&target.rings)),
    ];
    let before = p.len();
    let typed = match kind.get_ref().as_str() {
        "gallery" => {
            reject_foreign(
                p,
                &present,
                &[
                    "image_id",
                    "regions",
                    "storage_account_type",
                    "exclude_from_latest",
                    "versions_to_keep",
                    "end_of_life_after",
                    "promotion",
                    "rings",
                ],
                "a gallery target",
            );
            let image_id = image_id(p, &target.image_id, table.clone(), IdKind::GalleryImage);
            let regions = regions(p, target, default_location);
            let promotion =
                super::check_promotion::check_promotion(p, target, table, regions.as_deref());
            let storage_account_type = match &target.storage_account_type {
                None => Some(StorageAccountType::StandardLrs),
                Some(name) => StorageAccountType::from_name(name.get_ref()).or_else(|| {
                    p.hint(
                        name.span(),
                        format!("unknown storage account type `{}`", name.get_ref()),
                        format!("use {}", StorageAccountType::NAMES.join(", ")),
                    );
                    None
                }),
            };
            let versions_to_keep = target.versions_to_keep.as_ref().map(|keep| {
                u32::try_from(*keep.get_ref())
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        p.hint(
                            keep.span(),
                            "`versions_to_keep` must be at least 1",
                            "leave it out to keep every version",
                        );
                    })
            });
            let end_of_life_after = target.end_of_life_after.as_ref().map(|text| {
                super::values::parse_retention(text.get_ref())
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        p.hint(
                            text.span(),
                            format!("`end_of_life_after` cannot be `{}`", text.get_ref()),
                            "write how long a version is supported, e.g. \"90d\"",
                        );
                    })
            });
            Some(Distribute::Gallery(GalleryTarget {
                image_id: image_id?,
                regions: regions?,
                storage_account_type: storage_account_type?,
                exclude_from_latest: target
                    .exclude_from_latest
                    .as_ref()
                    .is_some_and(|e| *e.get_ref()),
                versions_to_keep: versions_to_keep.transpose().ok()?,
                end_of_life_after: end_of_life_after.transpose().ok()?,
                promotion: promotion?,
            }))
        }
        "managed_image" => {
            reject_foreign(
                p,
                &present,
                &["image_id", "location"],
                "a managed_image target",
            );
            let image_id = image_id(p, &target.image_id, table, IdKind::ManagedImage);
            let location = match &target.location {
                Some(loc) => location(p, loc),
                None => default_location.map(str::to_owned),
            };
            Some(Distribute::ManagedImage(ManagedImageTarget {
                image_id: image_id?,
                location: location?,
            }))
        }
        "vhd" => {
            reject_foreign(p, &present, &[], "a vhd target");
            Some(Distribute::Vhd)
        }
        other => {
            p.hint(
                kind.span(),
                format!("unknown distribution type `{other}`"),
                kinds,
            );
            None
        }
    };
    typed.filter(|_| p.len() == before)
}

fn regions(
    p: &mut Problems,
    target: &RawDistribute,
    default_location: Option<&str>,
) -> Option<Vec<TargetRegion>> {
    let Some(raw_regions) = &target.regions else {
        return default_location.map(|name| {
            vec![TargetRegion {
                name: name.to_owned(),
                replicas: 1,
            }]
        });
    };
    if raw_regions.get_ref().is_empty() {
        p.hint(
            raw_regions.span(),
            "`regions` is empty",
            "list at least one region, or leave `regions` out to use the build region",
        );
        return None;
    }
    let before = p.len();
    let mut seen = BTreeSet::new();
    let mut regions = Vec::new();
    for region in raw_regions.get_ref() {
        let raw = region.get_ref();
        let Some(name) = &raw.name else {
            p.hint(
                region.span(),
                "region has no `name`",
                "write { name = \"westeurope\", replicas = 2 }",
            );
            continue;
        };
        let named = S::new(region.span(), name.clone());
        let Some(name) = location(p, &named) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            p.error(region.span(), format!("region `{name}` is listed twice"));
        }
        let replicas = raw.replicas.unwrap_or(1);
        match u32::try_from(replicas)
            .ok()
            .filter(|r| (1..=100).contains(r))
        {
            Some(replicas) => regions.push(TargetRegion { name, replicas }),
            None => p.hint(
                region.span(),
                format!("bad replica count {replicas}"),
                "use 1 to 100 replicas",
            ),
        }
    }
    // AIB creates the gallery version in the region it builds in and replicates
    // from there, so that region must be one of the version's target regions.
    if p.len() == before
        && let Some(build) = default_location
        && !regions.iter().any(|region| region.name == build)
    {
        p.hint(
            raw_regions.span(),
            format!("`regions` does not include {build}, where the image is built"),
            format!(
                "add {{ name = \"{build}\" }}: the build region is the source's `location`, or azure.location"
            ),
        );
        return None;
    }
    (p.len() == before).then_some(regions)
}
