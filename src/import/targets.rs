//! AIB distributors → `[[images.distribute]]` targets.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::toml_text::{Block, Line, Obj, string};
use super::translate::Tx;
use crate::build::template::run_output_name;

/// A target's artifact tags, with the path they were read from.
pub(super) type ArtifactTags = (String, BTreeMap<String, String>);

/// One block per distributor, and the artifact tags they carry (the catalog has
/// one set of tags per image, put on the template and on every artifact).
pub(super) fn targets(
    tx: &mut Tx<'_>,
    image: &str,
    distribute: &[Value],
) -> (Vec<Block>, Vec<ArtifactTags>) {
    let mut blocks = Vec::new();
    let mut tags = Vec::new();
    for (i, target) in distribute.iter().enumerate() {
        let path = format!("properties.distribute[{i}]");
        let Some(target) = target.as_object() else {
            let why = tx.dropped(&path, "not an object");
            blocks.push(Block {
                lines: vec![Line::Comment(target.to_string())],
                why: vec![why],
            });
            continue;
        };
        let mut obj = Obj::new(target);
        let mut block = distributor(tx, &path, &mut obj);
        if let Some(artifact_tags) = obj.object("artifactTags") {
            let artifact_tags = artifact_tags
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect();
            tags.push((format!("{path}.artifactTags"), artifact_tags));
        }
        if let Some(name) = obj.str("runOutputName") {
            let renamed = run_output_name(image, i);
            if name != renamed {
                let note = tx.changed(
                    &format!("{path}.runOutputName"),
                    &format!(
                        "run output {name:?} is named {renamed:?}: image-refresh names run outputs \
                         after the image"
                    ),
                );
                block.lines.push(Line::Comment(note));
            }
        }
        let left = tx.leftovers(&obj, &path);
        block.lines.extend(left.into_iter().map(Line::Comment));
        blocks.push(block);
    }
    (blocks, tags)
}

fn distributor(tx: &mut Tx<'_>, path: &str, obj: &mut Obj<'_>) -> Block {
    let kind = obj.str("type").unwrap_or("");
    let mut block = Block::default();
    match kind.to_ascii_lowercase().as_str() {
        "managedimage" => {
            block.lines.push(Line::key("type", string("managed_image")));
            if let Some(id) = obj.text("imageId") {
                block.lines.push(Line::key("image_id", string(id)));
            }
            if let Some(location) = obj.text("location") {
                block.lines.push(Line::key("location", string(location)));
            }
        }
        "sharedimage" => {
            block.lines.push(Line::key("type", string("gallery")));
            if let Some(id) = obj.text("galleryImageId") {
                block.lines.push(Line::key("image_id", string(id)));
            }
            gallery_regions(tx, path, obj, &mut block);
            if let Some(exclude) = obj.bool("excludeFromLatest") {
                block
                    .lines
                    .push(Line::key("exclude_from_latest", exclude.to_string()));
            }
        }
        "vhd" => block.lines.push(Line::key("type", string("vhd"))),
        _ => {
            let why = tx.dropped(
                path,
                &format!("distributor type {kind:?} has no catalog target type"),
            );
            block.disable(why);
        }
    }
    block
}

/// `targetRegions` (2022 and later) or `replicationRegions` with one
/// `storageAccountType` (older): the catalog has one storage type per target.
fn gallery_regions(tx: &mut Tx<'_>, path: &str, obj: &mut Obj<'_>, block: &mut Block) {
    let mut regions: Vec<(String, Option<u64>)> = Vec::new();
    let mut storage: Vec<String> = obj
        .text("storageAccountType")
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(names) = obj.strings("replicationRegions") {
        regions.extend(names.into_iter().map(|n| (n, None)));
    }
    if let Some(targets) = obj.array("targetRegions") {
        for (i, region) in targets.iter().enumerate() {
            let Some(region) = region.as_object() else {
                continue;
            };
            let mut region_obj = Obj::new(region);
            let Some(name) = region_obj.text("name") else {
                continue;
            };
            regions.push((name.to_owned(), region_obj.uint("replicaCount")));
            if let Some(kind) = region_obj.text("storageAccountType") {
                storage.push(kind.to_owned());
            }
            let left = tx.leftovers(&region_obj, &format!("{path}.targetRegions[{i}]"));
            block.lines.extend(left.into_iter().map(Line::Comment));
        }
    }
    if !regions.is_empty() {
        let items: Vec<String> = regions
            .iter()
            .map(|(name, replicas)| match replicas {
                Some(n) => format!("{{ name = {}, replicas = {n} }}", string(name)),
                None => string(name),
            })
            .collect();
        block
            .lines
            .push(Line::key("regions", format!("[{}]", items.join(", "))));
    }
    storage.dedup();
    if let Some(first) = storage.first() {
        block
            .lines
            .push(Line::key("storage_account_type", string(first)));
    }
    if storage.len() > 1 {
        let note = tx.changed(
            path,
            &format!(
                "regions use storage types {}; the catalog has one per target, {first:?} for all",
                storage.join(", "),
                first = storage[0]
            ),
        );
        block.lines.push(Line::Comment(note));
    }
}

/// The image's tags: the template's, overlaid with every target's artifact
/// tags; a key two of them set differently keeps the first value, and says so.
pub(super) fn merge_tags(
    tx: &mut Tx<'_>,
    template: &Map<String, Value>,
    artifacts: Vec<ArtifactTags>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut tags: BTreeMap<String, String> = template
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let mut comments = Vec::new();
    for (path, artifact_tags) in artifacts {
        for (key, value) in artifact_tags {
            match tags.get(&key) {
                Some(kept) if *kept != value => comments.push(tx.changed(
                    &path,
                    &format!("tag {key} = {value:?} conflicts with {kept:?}, which is kept"),
                )),
                Some(_) => {}
                None => {
                    tags.insert(key, value);
                }
            }
        }
    }
    // The daemon writes these itself on every build.
    tags.retain(|key, _| !key.starts_with("image-refresh."));
    (tags, comments)
}
