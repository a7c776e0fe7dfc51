//! One AIB template → one catalog image (its settings, source, steps, targets),
//! with a note for everything the catalog cannot say.

use serde_json::{Map, Value};

use super::find::Found;
use super::toml_text::{Block, Line, Obj, string, table};
use super::{Note, NoteKind, steps, targets};

/// Notes for one template, kept in the list and returned as comment text.
pub(super) struct Tx<'a> {
    pub origin: &'a str,
    pub notes: &'a mut Vec<Note>,
}

impl Tx<'_> {
    fn note(&mut self, kind: NoteKind, path: &str, message: &str) -> String {
        let note = Note::new(kind, self.origin, path, message);
        let text = note.comment();
        self.notes.push(note);
        text
    }

    pub fn dropped(&mut self, path: &str, message: &str) -> String {
        self.note(NoteKind::Dropped, path, message)
    }

    /// A note for every key of `obj` nobody took, as `# not imported:` comment texts.
    pub fn leftovers(&mut self, obj: &Obj<'_>, path: &str) -> Vec<String> {
        obj.rest()
            .into_iter()
            .map(|(key, value)| {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let note = self.dropped(&at, &format!("{key} = {value} has no catalog key"));
                format!("not imported: {note}")
            })
            .collect()
    }

    pub fn changed(&mut self, path: &str, message: &str) -> String {
        format!("changed: {}", self.note(NoteKind::Changed, path, message))
    }
}

/// A template, translated.
#[derive(Debug, Clone)]
pub(super) struct Imported {
    pub origin: String,
    pub name: String,
    pub location: Option<String>,
    pub identity: Option<String>,
    pub subnet: Option<String>,
    pub container_subnet: Option<String>,
    /// `errorHandling` says abort (keep the failed build VM) for both kinds.
    pub keep_failed: bool,
    /// Comments at the top of the image: template-level notes.
    pub comments: Vec<String>,
    /// Keys of `[[images]]` (vm_size, tags, …).
    pub settings: Vec<Line>,
    pub steps: Vec<Block>,
    pub source: Block,
    pub targets: Vec<Block>,
    /// `[[images.validate]]`: the in-VM validators.
    pub validators: Vec<Block>,
    /// Why the whole image is commented out; active when empty.
    pub why: Vec<String>,
}

/// Fields of a GET answer that are state, not configuration.
const READ_ONLY: &[&str] = &[
    "id",
    "type",
    "apiVersion",
    "dependsOn",
    "systemData",
    "etag",
    "name",
];
const READ_ONLY_PROPERTIES: &[&str] = &[
    "provisioningState",
    "provisioningError",
    "lastRunStatus",
    "exactStagingResourceGroup",
];

pub(super) fn image(found: &Found, name: String, notes: &mut Vec<Note>) -> Imported {
    let mut tx = Tx {
        origin: &found.origin,
        notes,
    };
    let mut top = Obj::new(&found.template);
    top.ignore(READ_ONLY);
    let empty = Map::new();
    let properties = top.object("properties").unwrap_or(&empty);
    let mut props = Obj::new(properties);
    props.ignore(READ_ONLY_PROPERTIES);
    let mut imported = Imported {
        origin: found.origin.clone(),
        name: name.clone(),
        location: top.text("location").map(str::to_owned),
        identity: None,
        subnet: None,
        container_subnet: None,
        keep_failed: false,
        comments: Vec::new(),
        settings: Vec::new(),
        steps: Vec::new(),
        source: Block::default(),
        targets: Vec::new(),
        validators: Vec::new(),
        why: Vec::new(),
    };
    identity(&mut tx, &mut top, &mut imported);
    imported.source = source(&mut tx, props.object("source"));
    if !imported.source.active() {
        imported.why.extend(imported.source.why.clone());
    }
    let customize = props.array("customize").map_or(&[][..], Vec::as_slice);
    imported.steps = steps::steps(&mut tx, "properties.customize", customize);
    validate(&mut tx, props.object("validate"), &mut imported);
    let (blocks, artifact_tags) = targets::targets(
        &mut tx,
        &name,
        props.array("distribute").map_or(&[], Vec::as_slice),
    );
    imported.targets = blocks;
    if imported.targets.iter().all(|t| !t.active()) {
        imported
            .why
            .push(tx.dropped("properties.distribute", "no target the catalog can express"));
    }
    vm_profile(&mut tx, props.object("vmProfile"), &mut imported);
    if !imported
        .settings
        .iter()
        .any(|l| matches!(l, Line::Key { key, .. } if key == "vm_size"))
    {
        let note = tx.changed(
            "properties.vmProfile.vmSize",
            &format!(
                "none given, where AIB picks one by the image's generation; the catalog sends its \
                 default, {}",
                crate::catalog::Defaults::VM_SIZE
            ),
        );
        imported.comments.push(note);
    }
    if let Some(minutes) = props.uint("buildTimeoutInMinutes") {
        imported
            .settings
            .push(Line::key("build_timeout_minutes", minutes.to_string()));
    }
    if let Some(group) = props.text("stagingResourceGroup") {
        imported
            .settings
            .push(Line::key("staging_resource_group", string(group)));
    }
    error_handling(&mut tx, props.object("errorHandling"), &mut imported);
    let (tags, comments) =
        targets::merge_tags(&mut tx, top.object("tags").unwrap_or(&empty), artifact_tags);
    if !tags.is_empty() {
        let entries: Vec<(String, String)> = tags.into_iter().collect();
        imported.settings.push(Line::key("tags", table(&entries)));
    }
    imported.comments.extend(comments);
    for (key, value) in props.rest() {
        let why = why_not(&key);
        let note = tx.dropped(
            &format!("properties.{key}"),
            &format!("{key} = {value}: {why}"),
        );
        imported.comments.push(format!("not imported: {note}"));
    }
    let left = tx.leftovers(&top, "");
    imported.comments.extend(left);
    imported
}

fn why_not(key: &str) -> &'static str {
    match key {
        "autoRun" => "image-refresh starts every build itself, when the image is stale",
        "optimize" => "the catalog has no VM boot optimisation",
        "managedResourceTags" => "the catalog does not tag AIB's staging resources",
        _ => "the catalog has no such setting",
    }
}

/// In-VM validation: validators are written like steps, its two switches are
/// keys of the image.
fn validate(tx: &mut Tx<'_>, validate: Option<&Map<String, Value>>, imported: &mut Imported) {
    let Some(validate) = validate else {
        return;
    };
    let mut obj = Obj::new(validate);
    let validators = obj.array("inVMValidations").map_or(&[][..], Vec::as_slice);
    imported.validators = steps::steps(tx, "properties.validate.inVMValidations", validators);
    for (json, toml) in [
        (
            "continueDistributeOnFailure",
            "continue_distribute_on_failure",
        ),
        ("sourceValidationOnly", "source_validation_only"),
    ] {
        if let Some(on) = obj.bool(json).filter(|on| *on) {
            imported.settings.push(Line::key(toml, on.to_string()));
        }
    }
    let left = tx.leftovers(&obj, "properties.validate");
    imported.comments.extend(left);
}

fn identity(tx: &mut Tx<'_>, top: &mut Obj<'_>, imported: &mut Imported) {
    let Some(identity) = top.object("identity") else {
        return;
    };
    let ids: Vec<&String> = identity
        .get("userAssignedIdentities")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    imported.identity = ids.first().map(|id| (*id).clone());
    if ids.len() > 1 {
        let others: Vec<&str> = ids[1..].iter().map(|s| s.as_str()).collect();
        let note = tx.dropped(
            "identity.userAssignedIdentities",
            &format!(
                "AIB builds run as one identity, the first; {} left out",
                others.join(", ")
            ),
        );
        imported.comments.push(format!("not imported: {note}"));
    }
}

fn source(tx: &mut Tx<'_>, source: Option<&Map<String, Value>>) -> Block {
    let mut block = Block::default();
    let Some(source) = source else {
        block.disable(tx.dropped("properties.source", "the template has no source"));
        return block;
    };
    let mut obj = Obj::new(source);
    let kind = obj.str("type").unwrap_or("");
    let lines = &mut block.lines;
    let pinned = match kind.to_ascii_lowercase().as_str() {
        "platformimage" => {
            lines.push(Line::key("type", string("marketplace")));
            for key in ["publisher", "offer", "sku"] {
                if let Some(value) = obj.text(key) {
                    lines.push(Line::key(key, string(value)));
                }
            }
            if let Some(plan) = obj.object("planInfo") {
                let entries: Vec<(String, String)> = [
                    ("planName", "name"),
                    ("planProduct", "product"),
                    ("planPublisher", "publisher"),
                ]
                .iter()
                .filter_map(|(json, toml)| {
                    Some(((*toml).to_owned(), plan.get(*json)?.as_str()?.to_owned()))
                })
                .collect();
                lines.push(Line::key("plan", table(&entries)));
            }
            obj.ignore(&["exactVersion"]);
            obj.text("version")
                .filter(|v| !v.eq_ignore_ascii_case("latest"))
        }
        "sharedimageversion" => {
            lines.push(Line::key("type", string("gallery")));
            let id = obj.text("imageVersionId").unwrap_or("");
            let (definition, version) = split_version(id);
            lines.push(Line::key("image_id", string(definition)));
            obj.ignore(&["exactVersion"]);
            version.filter(|v| !v.eq_ignore_ascii_case("latest"))
        }
        "managedimage" => {
            lines.push(Line::key("type", string("managed_image")));
            if let Some(id) = obj.text("imageId") {
                lines.push(Line::key("image_id", string(id)));
            }
            None
        }
        _ => {
            let why = tx.dropped(
                "properties.source",
                &format!("source type {kind:?} has no catalog source type"),
            );
            block.disable(why);
            block
                .lines
                .push(Line::Comment(Value::Object(source.clone()).to_string()));
            return block;
        }
    };
    if !kind.eq_ignore_ascii_case("managedimage") {
        let line = match pinned {
            Some(version) => Line::commented(
                "version",
                string("latest"),
                tx.changed(
                    "properties.source.version",
                    &format!("the template pins {version}; image-refresh follows the newest (pin it with version = {version:?})"),
                ),
            ),
            None => Line::key("version", string("latest")),
        };
        block.lines.push(line);
    }
    let left = tx.leftovers(&obj, "properties.source");
    block.lines.extend(left.into_iter().map(Line::Comment));
    block
}

/// `…/images/DEF/versions/1.2.3` → (`…/images/DEF`, `1.2.3`).
fn split_version(id: &str) -> (&str, Option<&str>) {
    let lower = id.to_ascii_lowercase();
    match lower.rfind("/versions/") {
        Some(at) => (&id[..at], Some(&id[at + "/versions/".len()..])),
        None => (id, None),
    }
}

fn vm_profile(tx: &mut Tx<'_>, profile: Option<&Map<String, Value>>, imported: &mut Imported) {
    let Some(profile) = profile else {
        return;
    };
    let mut obj = Obj::new(profile);
    if let Some(size) = obj.text("vmSize") {
        imported.settings.push(Line::key("vm_size", string(size)));
    }
    if let Some(gb) = obj.uint("osDiskSizeGB") {
        imported
            .settings
            .push(Line::key("os_disk_size_gb", gb.to_string()));
    }
    if let Some(vnet) = obj.object("vnetConfig") {
        let mut vnet_obj = Obj::new(vnet);
        imported.subnet = vnet_obj.text("subnetId").map(str::to_owned);
        imported.container_subnet = vnet_obj
            .text("containerInstanceSubnetId")
            .map(str::to_owned);
        let left = tx.leftovers(&vnet_obj, "properties.vmProfile.vnetConfig");
        imported.comments.extend(left);
    }
    let left = tx.leftovers(&obj, "properties.vmProfile");
    imported.comments.extend(left);
}

/// The catalog keeps a failed build (`abort`) exactly when it keeps failed
/// templates, for both kinds of error at once.
fn error_handling(tx: &mut Tx<'_>, handling: Option<&Map<String, Value>>, imported: &mut Imported) {
    let Some(handling) = handling else {
        return;
    };
    let mut obj = Obj::new(handling);
    let on_customizer = obj.text("onCustomizerError").unwrap_or("cleanup");
    let on_validation = obj.text("onValidationError").unwrap_or("cleanup");
    let abort = |v: &str| v.eq_ignore_ascii_case("abort");
    imported.keep_failed = abort(on_customizer) && abort(on_validation);
    if abort(on_customizer) != abort(on_validation) {
        let note = tx.dropped(
            "properties.errorHandling",
            &format!(
                "onCustomizerError = {on_customizer:?} and onValidationError = {on_validation:?}: \
                 the catalog aborts on both (keep_failed_templates = true) or cleans up after both"
            ),
        );
        imported.comments.push(format!("not imported: {note}"));
    }
    let left = tx.leftovers(&obj, "properties.errorHandling");
    imported.comments.extend(left);
}
