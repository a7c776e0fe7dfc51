//! `completions SHELL` and `man --dir DIR`: shell completions and manual pages,
//! generated from the clap definitions in `args.rs` so that they can never
//! drift from the commands the binary really has (the Debian package ships
//! what these print; see `.ci/package`).

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use miette::{IntoDiagnostic, WrapErr};

use super::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> miette::Result<ExitCode> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    // Rendered whole first: clap_complete panics when a write fails, and a
    // reader that closes the pipe early (`| head`) is no reason to panic.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    match io::stdout().lock().write_all(&script) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error)
            .into_diagnostic()
            .wrap_err("failed to write the completions"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Writes `image-refresh.1` and one `image-refresh-COMMAND.1` per visible
/// command into `dir` (made if missing), uncompressed: packaging gzips them.
pub fn man(dir: &Path) -> miette::Result<ExitCode> {
    std::fs::create_dir_all(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("failed to create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("failed to write the manual pages into {}", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
