//! The imported catalog's text: `[azure]` from the templates, a recipe per
//! distinct customize list, an image per template; then checked with the
//! catalog's own parser until it validates.

use std::ops::Range;

use super::azure_section::{AZURE_KEYS, azure, settle_catalog_wide, value_of};
use super::find::Found;
use super::toml_text::{Block, Line, bare_or_quoted, push_comment, string};
use super::translate::Imported;
use super::{Import, Note, NoteKind};
use crate::catalog;

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
    Validator(usize, usize),
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
        settle_catalog_wide(
            &mut image,
            &state.azure,
            state.keep_failed,
            location.as_deref(),
            &mut notes,
        );
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
                let images = state
                    .images
                    .iter()
                    .filter(|(i, _)| i.why.is_empty())
                    .count();
                return Import {
                    toml: text,
                    images,
                    notes,
                };
            }
            Err(error) => error.problems().to_vec(),
        };
        // A bad `[azure]` value (a placeholder location, say) makes images look
        // wrong too: mend it alone first and look again.
        let azure_only = problems
            .iter()
            .any(|p| matches!(owner_of(&owners, p.line), Some(Owner::Azure(_))));
        let mut changed = false;
        for problem in &problems {
            let Some(owner) = owner_of(&owners, problem.line) else {
                continue;
            };
            if azure_only && !matches!(owner, Owner::Azure(_)) {
                continue;
            }
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

fn disable(state: &mut State, owner: Owner, why: String, notes: &mut Vec<Note>) -> bool {
    let (origin, path) = match owner {
        Owner::Azure(at) => {
            let Line::Key { key, value, .. } = state.azure[at].clone() else {
                return false;
            };
            let placeholder = AZURE_KEYS
                .iter()
                .find(|(k, _)| *k == key)
                .map_or("", |(_, p)| *p);
            let comment = format!("fill in: the templates say {value}, and {why}");
            notes.push(Note::new(
                NoteKind::FillIn,
                "[azure]",
                &key,
                &comment["fill in: ".len()..],
            ));
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
        Owner::Target(i, t)
            if state.images[i]
                .0
                .targets
                .iter()
                .filter(|b| b.active())
                .count()
                > 1 =>
        {
            let image = &mut state.images[i].0;
            if !image.targets[t].active() {
                return false;
            }
            image.targets[t].disable(why.clone());
            (image.origin.clone(), format!("properties.distribute[{t}]"))
        }
        Owner::Validator(i, v) => {
            let image = &mut state.images[i].0;
            if !image.validators[v].active() {
                return false;
            }
            image.validators[v].disable(why.clone());
            (
                image.origin.clone(),
                format!("properties.validate.inVMValidations[{v}]"),
            )
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
        Line::key(
            "description",
            string(&format!("imported from {}", recipe.origin)),
        )
        .write(&mut out, off);
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
        write_image(
            &mut out,
            &mut owners,
            i,
            image,
            recipe.map(|r| r.name.as_str()),
        );
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
    for (v, validator) in image.validators.iter().enumerate() {
        let start = line_no(out);
        validator.write(out, "[[images.validate]]", off);
        owners.push((start..line_no(out), Owner::Validator(i, v)));
    }
}
