//! `import`: existing AIB templates → catalog TOML (see [`crate::import`]).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr};

use super::GlobalArgs;
use crate::import::{self, Input, NoteKind};

/// Exit 0 when at least one image was imported, 1 when none could be; the
/// notes go to stderr either way, and the catalog to stdout or `write`.
pub fn import(
    global: &GlobalArgs,
    files: &[std::path::PathBuf],
    write: Option<&Path>,
) -> miette::Result<ExitCode> {
    let mut inputs = Vec::new();
    for file in files {
        let name = file.display().to_string();
        match std::fs::read_to_string(file) {
            Ok(text) => inputs.push(Input { name, text }),
            Err(error) => eprintln!("{name}: cannot read it: {error}"),
        }
    }
    let imported = import::import(&inputs);
    for note in &imported.notes {
        if !global.quiet || note.kind != NoteKind::Changed {
            eprintln!("{note}");
        }
    }
    if imported.images == 0 {
        eprintln!("error: nothing could be imported");
        return Ok(ExitCode::FAILURE);
    }
    match write {
        Some(path) => {
            // create_new: an import never replaces a catalog someone edited.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .into_diagnostic()
                .wrap_err_with(|| format!("failed to create {}", path.display()))?;
            file.write_all(imported.toml.as_bytes())
                .into_diagnostic()
                .wrap_err_with(|| format!("failed to write {}", path.display()))?;
        }
        None => print!("{}", imported.toml),
    }
    if !global.quiet {
        eprintln!(
            "imported {} image(s); {} note(s) above",
            imported.images,
            imported.notes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
