//! The imported catalog's text: `[azure]` from the templates, a recipe per
//! distinct customize list, an image per template; then checked with the
//! catalog's own parser until it validates.

use std::ops::Range;

use super::find::Found;
use super::toml_text::{Block, Line, bare_or_quoted, push_comment, string};
use super::translate::Imported;
use super::{Import, Note, NoteKind};
use crate::catalog;

/// The `[azure]` keys an import sets, with the placeholder written when the
/// templates do not say (or say something the catalog refuses).
const AZURE_KEYS: &[(&str, &str)] = &[
    ("subscription_id", "00000000-0000-0000-0000-000000000000"),
    ("resource_group", "rg-image-builder"),
    ("location", "westeurope"),
    (
        "identity",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder",
    ),
    ("subnet_id", ""),
    ("container_instance_subnet_id", ""),
];

struct Recipe {
    name: String,
    origin: String,
    steps: Vec<Block>,
}

impl Recipe {
    /// A recipe without a step is refused, so one whose steps were all
    /// commented out is too, and its images list no recipe.
    fn active(&self) -> bool {
        self.steps.iter().any(Block::active)
    }
}

/// What a line of the text belongs to, so that a problem the parser finds
/// there disables the smallest thing that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Azure(usize),
    Step(usize, usize),
    Image(usize),
    Target(usize, usize),
}

struct State {
    azure: Vec<Line>,
    keep_failed: bool,
    recipes: Vec<Recipe>,
    /// Each image with the recipe it uses.
    images: Vec<(Imported, Option<usize>)>,
}

pub(super) fn write(found: &[Found], images: Vec<Imported>, mut notes: Vec<Note>) -> Import {
    let mut state = State {
        azure: azure(found, &images, &mut notes),
        keep_failed: images.first().is_some_and(|i| i.keep_failed),
        recipes: Vec::new(),
        images: Vec::new(),
    };
    let location = value_of(&state.azure, "location");
    for mut image in images {
        settle_catalog_wide(&mut image, &state, location.as_deref(), &mut notes);
        let recipe = (!image.steps.is_empty()).then(|| {
            let same = state.recipes.iter().position(|r| r.steps == image.steps);
            same.unwrap_or_else(|| {
                state.recipes.push(Recipe {
                    name: image.name.clone(),
                    origin: image.origin.clone(),
                    steps: image.steps.clone(),
                });
                state.recipes.len() - 1
            })
        });
        state.images.push((image, recipe));
    }
    // Each round disables what the catalog refused; every round disables
    // something or ends, and there is only so much to disable.
    let mut left = Vec::new();
    for _ in 0..64 {
        let (text, owners) = render(&state);
        let problems = match catalog::parse(&text, "imported.toml") {
            Ok(_) => {
                let images = state.images.iter().filter(|(i, _)| i.why.is_empty()).count();
                return Import {
                    toml: text,
                    images,
                    notes,
                };
            }
            Err(error) => error.problems().to_vec(),
        };
        let mut changed = false;
        for problem in &problems {
            let Some(owner) = owner_of(&owners, problem.line) else {
                continue;
            };
            let why = match &problem.hint {
                Some(hint) => format!("the catalog refuses it: {} ({hint})", problem.message),
                None => format!("the catalog refuses it: {}", problem.message),
            };
            changed |= disable(&mut state, owner, why, &mut notes);
        }
        if !changed {
            left = problems;
            break;
        }
    }
    let (text, _) = render(&state);
    notes.push(Note::new(
        NoteKind::Dropped,
        "import",
        "",
        &format!(
            "the importer wrote a catalog it could not make valid, a bug: {}",
            left.iter()
                .map(|p| format!("line {}: {}", p.line, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    ));
    Import {
        toml: text,
        images: 0,
        notes,
    }
}

fn value_of(lines: &[Line], key: &str) -> Option<String> {
    lines.iter().find_map(|line| match line {
        Line::Key { key: k, value, .. } if k == key => toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()?
            .get("v")?
            .as_str()
            .map(str::to_owned),
        _ => None,
    })
}

/// `[azure]` from the first template that says each thing.
fn azure(found: &[Found], images: &[Imported], notes: &mut Vec<Note>) -> Vec<Line> {
    let first = |pick: fn(&Imported) -> Option<&String>| images.iter().find_map(pick).cloned();
    let identity = first(|i| i.identity.as_ref());
    let mut ids: Vec<String> = identity.iter().cloned().collect();
    for f in found {
        resource_ids(&serde_json::Value::Object(f.template.clone()), &mut ids);
    }
    let subscription = ids.iter().find_map(|id| segment_after(id, "subscriptions").filter(|s| looks_like_guid(s)));
    let group = found
        .iter()
        .find_map(|f| segment_after(f.template.get("id")?.as_str()?, "resourceGroups"));
    let values = [
        subscription,
        group,
        first(|i| i.location.as_ref()),
        identity,
        first(|i| i.subnet.as_ref()),
        first(|i| i.container_subnet.as_ref()),
    ];
    let mut lines = Vec::new();
    for ((key, placeholder), value) in AZURE_KEYS.iter().zip(values) {
        match value {
            Some(value) => lines.push(Line::key(key, string(&value))),
            None if placeholder.is_empty() => {}
            None => {
                let note = Note::new(
                    NoteKind::FillIn,
                    "[azure]",
                    key,
                    &format!("no template says it; replace the placeholder {placeholder:?}"),
                );
                lines.push(Line::commented(key, string(placeholder), format!("fill in: {}", note.message)));
                notes.push(note);
            }
        }
    }
    lines
}

/// Every string in `value` that names an ARM resource, in document order.
fn resource_ids(value: &serde_json::Value, ids: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if text.starts_with("/subscriptions/") => ids.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| resource_ids(v, ids)),
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if key.starts_with("/subscriptions/") {
                    ids.push(key.clone());
                }
                resource_ids(item, ids);
            }
        }
        _ => {}
    }
}

fn segment_after(id: &str, name: &str) -> Option<String> {
    let mut segments = id.split('/');
    segments.find(|s| s.eq_ignore_ascii_case(name))?;
    segments.next().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn looks_like_guid(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// What `[azure]` says for every image: an image whose template said otherwise
/// is told so; a marketplace image keeps its own region as its source's `location`.
fn settle_catalog_wide(image: &mut Imported, state: &State, location: Option<&str>, notes: &mut Vec<Note>) {
    let catalog_wide = [
        ("identity", image.identity.clone()),
        ("subnet_id", image.subnet.clone()),
        ("container_instance_subnet_id", image.container_subnet.clone()),
    ];
    for (key, own) in catalog_wide {
        let shared = value_of(&state.azure, key);
        if own.is_some() && own != shared {
            let note = Note::new(
                NoteKind::Changed,
                &image.origin,
                key,
                &format!(
                    "{} is catalog-wide ([azure] {key}); this template's {} is not used",
                    shared.as_deref().unwrap_or("none"),
                    own.as_deref().unwrap_or("none")
                ),
            );
            image.comments.push(format!("changed: {}", note.comment()));
            notes.push(note);
        }
    }
    if image.keep_failed != state.keep_failed {
        let note = Note::new(
            NoteKind::Changed,
            &image.origin,
            "properties.errorHandling",
            "error handling is catalog-wide (keep_failed_templates); the first template's is used",
        );
        image.comments.push(format!("changed: {}", note.comment()));
        notes.push(note);
    }
    let Some(own) = image.location.clone().filter(|own| Some(own.as_str()) != location) else {
        return;
    };
    if image.source.lines.first() == Some(&Line::key("type", string("marketplace"))) {
        image.source.lines.push(Line::key("location", string(&own)));
    } else {
        let note = Note::new(
            NoteKind::Changed,
            &image.origin,
            "location",
            &format!(
                "built in [azure] location {}, not {own}: only a marketplace source has a region of its own",
                location.unwrap_or("?")
            ),
        );
        image.comments.push(format!("changed: {}", note.comment()));
        notes.push(note);
    }
}

fn disable(state: &mut State, owner: Owner, why: String, notes: &mut Vec<Note>) -> bool {
    let (origin, path) = match owner {
        Owner::Azure(at) => {
            let Line::Key { key, value, .. } = state.azure[at].clone() else {
                return false;
            };
            let placeholder = AZURE_KEYS.iter().find(|(k, _)| *k == key).map_or("", |(_, p)| *p);
            let comment = format!("fill in: the templates say {value}, and {why}");
            notes.push(Note::new(NoteKind::FillIn, "[azure]", &key, &comment["fill in: ".len()..]));
            state.azure[at] = if placeholder.is_empty() {
                Line::Comment(format!("{key} = {value}  # {comment}"))
            } else {
                Line::commented(&key, string(placeholder), comment)
            };
            return true;
        }
        Owner::Step(r, s) => {
            let recipe = &mut state.recipes[r];
            if !recipe.steps[s].active() {
                return false;
            }
            recipe.steps[s].disable(why.clone());
            (recipe.origin.clone(), format!("properties.customize[{s}]"))
        }
        Owner::Target(i, t) if state.images[i].0.targets.iter().filter(|b| b.active()).count() > 1 => {
            let image = &mut state.images[i].0;
            if !image.targets[t].active() {
                return false;
            }
            image.targets[t].disable(why.clone());
            (image.origin.clone(), format!("properties.distribute[{t}]"))
        }
        Owner::Image(i) | Owner::Target(i, _) => {
            let image = &mut state.images[i].0;
            if image.why.contains(&why) {
                return false;
            }
            image.why.push(why.clone());
            (image.origin.clone(), String::new())
        }
    };
    notes.push(Note::new(NoteKind::Dropped, &origin, &path, &why));
    true
}

/// The innermost part of the text that holds `line`.
fn owner_of(owners: &[(Range<usize>, Owner)], line: usize) -> Option<Owner> {
    owners
        .iter()
        .filter(|(range, _)| range.contains(&line))
        .min_by_key(|(range, _)| range.len())
        .map(|(_, owner)| *owner)
}

fn line_no(out: &str) -> usize {
    out.matches('\n').count() + 1
}

fn render(state: &State) -> (String, Vec<(Range<usize>, Owner)>) {
    let mut out = String::new();
    let mut owners = Vec::new();
    push_comment(
        &mut out,
        "image-refresh catalog imported from AIB templates by `image-refresh import`.\n\
         Lines starting `# not imported:` or `# changed:` say what the catalog does differently;\n\
         `# fill in:` marks placeholders to replace. See config/examples/enterprise.toml for every key.",
    );
    out.push_str("\n[azure]\n");
    for (at, line) in state.azure.iter().enumerate() {
        let start = line_no(&out);
        line.write(&mut out, false);
        owners.push((start..line_no(&out), Owner::Azure(at)));
    }
    if state.keep_failed {
        Line::commented(
            "keep_failed_templates",
            "true".into(),
            "errorHandling said abort: keep a failed build's VM to debug it".into(),
        )
        .write(&mut out, false);
    }
    for (r, recipe) in state.recipes.iter().enumerate() {
        let key = bare_or_quoted(&recipe.name);
        out.push('\n');
        let off = !recipe.active();
        if off {
            push_comment(&mut out, "not imported: none of its steps could be");
        }
        out.push_str(&format!("{}[recipes.{key}]\n", if off { "# " } else { "" }));
        Line::key("description", string(&format!("imported from {}", recipe.origin))).write(&mut out, off);
        for (s, step) in recipe.steps.iter().enumerate() {
            out.push('\n');
            let start = line_no(&out);
            step.write(&mut out, &format!("[[recipes.{key}.steps]]"), false);
            owners.push((start..line_no(&out), Owner::Step(r, s)));
        }
    }
    for (i, (image, recipe)) in state.images.iter().enumerate() {
        out.push('\n');
        let start = line_no(&out);
        let recipe = recipe.map(|r| &state.recipes[r]).filter(|r| r.active());
        write_image(&mut out, &mut owners, i, image, recipe.map(|r| r.name.as_str()));
        owners.push((start..line_no(&out), Owner::Image(i)));
    }
    (out, owners)
}

fn write_image(
    out: &mut String,
    owners: &mut Vec<(Range<usize>, Owner)>,
    i: usize,
    image: &Imported,
    recipe: Option<&str>,
) {
    let off = !image.why.is_empty();
    push_comment(out, &format!("from {}", image.origin));
    for why in &image.why {
        push_comment(out, &format!("not imported: {why}"));
    }
    for comment in &image.comments {
        push_comment(out, comment);
    }
    let header = |out: &mut String, text: &str| {
        out.push_str(if off { "# " } else { "" });
        out.push_str(text);
        out.push('\n');
    };
    header(out, "[[images]]");
    Line::key("name", string(&image.name)).write(out, off);
    let recipes: Vec<String> = recipe.into_iter().map(string).collect();
    Line::key("recipes", format!("[{}]", recipes.join(", "))).write(out, off);
    for line in &image.settings {
        line.write(out, off);
    }
    image.source.write(out, "[images.source]", off);
    for (t, target) in image.targets.iter().enumerate() {
        let start = line_no(out);
        target.write(out, "[[images.distribute]]", off);
        owners.push((start..line_no(out), Owner::Target(i, t)));
    }
}
