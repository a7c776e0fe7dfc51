//! The questions about one image: its build region, its source, its targets,
//! and the staging resource group it would build in.

use crate::azure::marketplace::{self, MarketplaceSku};
use crate::azure::resources::{self, ImageTraits};
use crate::azure::{api_versions, gallery};
use crate::catalog::{Distribute, Image, Key, KeyPath, Source, VersionSpec};

use super::lookups::Found;
use super::traits::mismatches;
use super::{Run, azure};

/// `(subscription, group)` of a resource id, matched case-insensitively.
fn group_of(id: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    let after = |key: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(key))
            .and_then(|i| parts.get(i + 1))
            .map(|s| (*s).to_owned())
    };
    Some((after("subscriptions")?, after("resourceGroups")?))
}

/// Paths inside `[[images]]` entry `index`; none when the image is not in the
/// catalog being reported (a build only needs the messages).
struct At(Option<usize>);

impl At {
    fn path(&self, keys: &[Key]) -> Vec<KeyPath> {
        self.0
            .map(|i| {
                let mut all = vec![Key::Name("images"), Key::Index(i)];
                all.extend_from_slice(keys);
                KeyPath(all)
            })
            .into_iter()
            .collect()
    }

    fn source(&self, key: &'static str) -> Vec<KeyPath> {
        self.path(&[Key::Name("source"), Key::Name(key)])
    }

    fn target(&self, j: usize, key: &'static str) -> Vec<KeyPath> {
        self.path(&[Key::Name("distribute"), Key::Index(j), Key::Name(key)])
    }
}

impl Run<'_> {
    pub(super) async fn image(&mut self, image: &Image, index: Option<usize>) {
        if self.stopped {
            return;
        }
        let at = At(index);
        let mut build_region = at.source("location");
        build_region.push(azure("location"));
        self.region(&image.location, build_region).await;
        self.staging_group(image, &at).await;
        let traits = self.source(image, &at).await;
        for (j, target) in image.distribute.iter().enumerate() {
            match target {
                Distribute::Gallery(gallery) => {
                    self.gallery_target(&gallery.image_id, traits.as_ref(), &at, j)
                        .await;
                    for region in &gallery.regions {
                        self.region(&region.name, at.target(j, "regions")).await;
                    }
                }
                Distribute::ManagedImage(managed) => {
                    if let Some((sub, group)) = group_of(&managed.image_id)
                        && let Some(None) =
                            self.group(&sub, &group, &at.target(j, "image_id")).await
                    {
                        self.found(
                            at.target(j, "image_id"),
                            format!(
                                "resource group {group} (for the managed image) does not exist"
                            ),
                            Some("create it, or point image_id at an existing group"),
                        );
                    }
                    let mut where_ = at.target(j, "location");
                    where_.push(azure("location"));
                    self.region(&managed.location, where_).await;
                }
                Distribute::Vhd => {}
            }
        }
    }

    /// A configured staging group that exists is empty and in the image's
    /// region: AIB refuses it otherwise.
    async fn staging_group(&mut self, image: &Image, at: &At) {
        let Some(id) = image.staging_resource_group.clone() else {
            return;
        };
        let Some((sub, name)) = group_of(&id) else {
            return;
        };
        let mut at = at.path(&[Key::Name("staging_resource_group")]);
        at.push(azure("staging_resource_group"));
        // One that does not exist AIB creates under that name (the 2025-10-01
        // contract says so), and deletes with the template.
        let Some(Some(group)) = self.group(&sub, &name, &at).await else {
            return;
        };
        if !group.location.eq_ignore_ascii_case(&image.location) {
            self.found(
                at.clone(),
                format!(
                    "the staging resource group {name} is in {}, but {} builds in {}; AIB refuses it",
                    group.location, image.name, image.location
                ),
                Some("AIB needs the staging group in the template's region"),
            );
        }
        let arm = self.arm;
        let (s, n) = (sub.clone(), name.clone());
        let question = format!("resources {sub}/{name}");
        if let Some(Found::Names(inside)) = self
            .ask(&at, "what the staging group holds", question, async move {
                resources::resources_in_group(arm, &s, &n)
                    .await
                    .map(Found::Names)
            })
            .await
            && !inside.is_empty()
        {
            self.found(
                at,
                format!(
                    "the staging resource group {name} is not empty ({} resource(s), e.g. {}); AIB refuses it",
                    inside.len(),
                    inside[0]
                ),
                Some("give AIB a group of its own, holding nothing else"),
            );
        }
    }

    /// The source exists (a pinned version too); its traits, when Azure says them.
    async fn source(&mut self, image: &Image, at: &At) -> Option<ImageTraits> {
        let arm = self.arm;
        match &image.source {
            Source::Marketplace(m) => {
                let urn = format!("{}:{}:{}", m.publisher, m.offer, m.sku);
                let sku = MarketplaceSku {
                    subscription_id: self.azure.subscription_id.clone(),
                    location: m.location.clone(),
                    publisher: m.publisher.clone(),
                    offer: m.offer.clone(),
                    sku: m.sku.clone(),
                };
                let version = match (&self.source_version, &m.version) {
                    (Some(v), _) | (None, VersionSpec::Exact(v)) => v.clone(),
                    (None, VersionSpec::Latest) => {
                        let listing = sku.clone();
                        let question = format!("versions {urn} {}", m.location);
                        let listed = self
                            .ask(&at.source("sku"), &urn, question, async move {
                                match marketplace::list_versions(arm, &listing).await {
                                    Err(e) if e.is_not_found() => Ok(Found::Names(Vec::new())),
                                    listed => listed.map(Found::Names),
                                }
                            })
                            .await;
                        match listed {
                            Some(Found::Names(names)) if names.is_empty() => {
                                self.missing_marketplace(&urn, &m.location, at.source("sku"));
                                return None;
                            }
                            Some(Found::Names(names)) => {
                                marketplace::resolve_latest_of(&sku, names)
                                    .ok()?
                                    .version
                                    .as_str()
                                    .to_owned()
                            }
                            _ => return None,
                        }
                    }
                };
                let v = version.clone();
                let question = format!("traits {urn} {} {version}", m.location);
                let traits = self
                    .ask(&at.source("version"), &urn, question, async move {
                        resources::marketplace_image_traits(arm, &sku, &v)
                            .await
                            .map(Found::Traits)
                    })
                    .await;
                match traits {
                    Some(Found::Traits(Some(traits))) => Some(traits),
                    Some(Found::Traits(None)) => {
                        self.found(
                            at.source("version"),
                            format!("marketplace image {urn} has no version {version} in {}", m.location),
                            Some("pin a published version (az vm image list --all -p … -f … -s …), or use \"latest\""),
                        );
                        None
                    }
                    _ => None,
                }
            }
            Source::Gallery(g) => {
                let id = g.image_id.clone();
                let traits = self.gallery_traits(&id, &at.source("image_id")).await;
                match traits {
                    Some(None) => {
                        self.found(
                            at.source("image_id"),
                            format!("the source gallery image definition {id} does not exist"),
                            None,
                        );
                        return None;
                    }
                    None => return None,
                    Some(Some(_)) => {}
                }
                let pinned = match (&self.source_version, &g.version) {
                    (Some(v), _) | (None, VersionSpec::Exact(v)) => Some(v.clone()),
                    (None, VersionSpec::Latest) => None,
                };
                if let Some(version) = &pinned
                    && let Some(image_ref) = gallery::GalleryImageRef::from_id(&id)
                {
                    let v = version.clone();
                    let found = self
                        .ask(
                            &at.source("version"),
                            &id,
                            format!("gallery version {id} {version}"),
                            async move {
                                gallery::get_version(arm, &image_ref, &v)
                                    .await
                                    .map(Found::GalleryVersion)
                            },
                        )
                        .await;
                    if let Some(Found::GalleryVersion(None)) = found {
                        self.found(
                            at.source("version"),
                            format!("gallery image {id} has no version {version}"),
                            Some("pin a version the definition has, or use \"latest\""),
                        );
                    }
                }
                traits.flatten()
            }
            Source::ManagedImage(managed) => {
                let id = managed.image_id.clone();
                if let Some(false) = self
                    .exists(&id, api_versions::COMPUTE, &at.source("image_id"))
                    .await
                {
                    self.found(
                        at.source("image_id"),
                        format!("the source managed image {id} does not exist"),
                        None,
                    );
                }
                None
            }
        }
    }

    fn missing_marketplace(&mut self, urn: &str, location: &str, at: Vec<KeyPath>) {
        self.found(
            at,
            format!("no marketplace image {urn} in {location}"),
            Some("check publisher, offer and sku: az vm image list --all --location … --publisher … --offer …"),
        );
    }

    async fn gallery_traits(&mut self, id: &str, at: &[KeyPath]) -> Option<Option<ImageTraits>> {
        let arm = self.arm;
        let owned = id.to_owned();
        match self
            .ask(at, id, format!("definition {id}"), async move {
                resources::gallery_image_traits(arm, &owned)
                    .await
                    .map(Found::Traits)
            })
            .await
        {
            Some(Found::Traits(traits)) => Some(traits),
            _ => None,
        }
    }

    async fn gallery_target(&mut self, id: &str, source: Option<&ImageTraits>, at: &At, j: usize) {
        let path = at.target(j, "image_id");
        match self.gallery_traits(id, &path).await {
            Some(None) => self.found(
                path,
                format!("the gallery image definition {id} does not exist; AIB would build for an hour and fail at distributing"),
                Some("create it (az sig image-definition create) with the source's OS type, Hyper-V generation, architecture and security type"),
            ),
            Some(Some(target)) => {
                for mismatch in source.map(|s| mismatches(s, &target)).unwrap_or_default() {
                    self.found(
                        path.clone(),
                        format!("gallery image definition {id} does not fit the source: {mismatch}"),
                        Some("AIB cannot publish into it; use a definition made for this source"),
                    );
                }
            }
            None => {}
        }
    }
}
