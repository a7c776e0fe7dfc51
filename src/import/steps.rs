//! AIB customizers → catalog steps.

use serde_json::{Map, Value};

use super::toml_text::{Block, Line, Obj, string, strings};
use super::translate::Tx;

/// One `[[recipes.NAME.steps]]` block per customizer, commented out when the
/// catalog cannot take it (a download without a checksum, an unknown type).
/// `at` is where the list is in the template (`properties.customize`), for notes.
pub(super) fn steps(tx: &mut Tx<'_>, at: &str, customize: &[Value]) -> Vec<Block> {
    customize
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let path = format!("{at}[{i}]");
            match step.as_object() {
                Some(step) => customizer(tx, &path, step),
                None => {
                    let why = tx.dropped(&path, "not an object");
                    Block {
                        lines: vec![Line::Comment(step.to_string())],
                        why: vec![why],
                    }
                }
            }
        })
        .collect()
}

fn customizer(tx: &mut Tx<'_>, path: &str, step: &Map<String, Value>) -> Block {
    let mut obj = Obj::new(step);
    let kind = obj.str("type").unwrap_or("");
    let mut block = Block::default();
    let mut lines = Vec::new();
    let name = obj.text("name");
    let catalog_type = match kind.to_ascii_lowercase().as_str() {
        "shell" => Some("shell"),
        "powershell" => Some("powershell"),
        "file" => Some("file"),
        "windowsrestart" => Some("windows_restart"),
        "windowsupdate" => Some("windows_update"),
        _ => None,
    };
    let Some(catalog_type) = catalog_type else {
        let why = tx.dropped(
            path,
            &format!("customizer type {kind:?} has no catalog step type"),
        );
        block.disable(why);
        block
            .lines
            .push(Line::Comment(Value::Object(step.clone()).to_string()));
        return block;
    };
    lines.push(Line::key("type", string(catalog_type)));
    if let Some(name) = name {
        lines.push(Line::key("name", string(name)));
    }
    match catalog_type {
        "shell" | "powershell" => script(tx, path, &mut obj, &mut lines, &mut block),
        "file" => {
            if let Some(uri) = obj.text("sourceUri") {
                lines.push(Line::key("source_uri", string(uri)));
            }
            if let Some(destination) = obj.text("destination") {
                lines.push(Line::key("destination", string(destination)));
            }
            checksum(tx, path, &mut obj, &mut lines, &mut block);
        }
        "windows_restart" => {
            for (json, toml) in [
                ("restartCommand", "restart_command"),
                ("restartCheckCommand", "restart_check_command"),
                ("restartTimeout", "restart_timeout"),
            ] {
                if let Some(value) = obj.text(json) {
                    lines.push(Line::key(toml, string(value)));
                }
            }
        }
        _ => {
            if let Some(criteria) = obj.text("searchCriteria") {
                lines.push(Line::key("search_criteria", string(criteria)));
            }
            if let Some(filters) = obj.strings("filters").filter(|f| !f.is_empty()) {
                lines.push(Line::key("filters", strings(&filters)));
            }
            if let Some(limit) = obj.uint("updateLimit") {
                lines.push(Line::key("update_limit", limit.to_string()));
            }
        }
    }
    if catalog_type == "powershell" {
        for (json, toml) in [
            ("runElevated", "run_elevated"),
            ("runAsSystem", "run_as_system"),
        ] {
            if let Some(value) = obj.bool(json) {
                lines.push(Line::key(toml, value.to_string()));
            }
        }
        if let Some(codes) = obj.array("validExitCodes") {
            let codes: Vec<String> = codes.iter().map(Value::to_string).collect();
            lines.push(Line::key(
                "valid_exit_codes",
                format!("[{}]", codes.join(", ")),
            ));
        }
    }
    let left = tx.leftovers(&obj, path);
    lines.extend(left.into_iter().map(Line::Comment));
    block.lines = lines;
    block
}

fn script(
    tx: &mut Tx<'_>,
    path: &str,
    obj: &mut Obj<'_>,
    lines: &mut Vec<Line>,
    block: &mut Block,
) {
    let inline = obj.strings("inline");
    let uri = obj.text("scriptUri");
    if let Some(inline) = &inline {
        lines.push(Line::key("inline", strings(inline)));
    }
    if let Some(uri) = uri {
        lines.push(Line::key("script_uri", string(uri)));
        checksum(tx, path, obj, lines, block);
    }
}

/// A download the catalog takes only with its checksum: without one, the step
/// is kept commented out, with where to get it.
fn checksum(
    tx: &mut Tx<'_>,
    path: &str,
    obj: &mut Obj<'_>,
    lines: &mut Vec<Line>,
    block: &mut Block,
) {
    match obj.text("sha256Checksum") {
        Some(sum) => lines.push(Line::key("sha256_checksum", string(sum))),
        None => {
            let why = tx.dropped(
                path,
                "the download has no sha256Checksum, which the catalog requires (a changed file \
                 must change the recipe hash); add it (`sha256sum FILE`) and uncomment the step",
            );
            block.disable(why);
            lines.push(Line::key("sha256_checksum", string("")));
        }
    }
}
