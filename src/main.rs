use std::process::ExitCode;

use clap::Parser;
use image_refresh::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !is_service(&cli.command) && !image_refresh::logging::stderr_is_journal() {
        die_quietly_on_closed_pipe();
    }
    cli::init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::FAILURE
        }
    }
}

/// The long-running commands: `run` (also under systemd) and `simulate`.
fn is_service(command: &Command) -> bool {
    match command {
        Command::Run { once, .. } => !once,
        #[cfg(feature = "simulator")]
        Command::Simulate { .. } => true,
        _ => false,
    }
}

/// Rust ignores SIGPIPE, so `println!` to a closed pipe (`validate --output json |
/// head -1`) panics. A one-shot command instead ends as `cat`, `ls` or `grep` do: killed
/// by SIGPIPE, silently, with the shell's status 141 (128 + 13), which `set -o pipefail`
/// sees and plain pipelines ignore. This covers every write to stdout of every command at
/// once, where handling `BrokenPipe` at each `println!` would miss the next one.
///
/// The service keeps SIGPIPE ignored, as systemd starts it (`IgnoreSIGPIPE=yes`): a
/// journald restart closes its stderr, and that must be a failed write it logs past, not
/// a death by signal in the middle of a build. So does any command systemd started (a
/// `run --once` from a timer, its stderr the journal), and so does `simulate`. Sockets
/// are unaffected either way: Rust sends with `MSG_NOSIGNAL`.
fn die_quietly_on_closed_pipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler, so no code runs in signal
    // context; it is called before the runtime or any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
