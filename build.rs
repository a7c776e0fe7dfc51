use std::path::Path;
use std::process::Command;

fn main() {
    // sqlx::migrate! embeds migrations/ at compile time; a new file must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    // `--version` names the commit: which build a bug report is about.
    println!(
        "cargo:rustc-env=IMAGE_REFRESH_VERSION={}",
        version(env!("CARGO_PKG_VERSION"))
    );
    // A source edit can make the tree dirty without touching .git.
    for path in ["src", "azure-sim/src", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// "0.1.0 (1a2b3c4)", "0.1.0 (1a2b3c4-dirty)", or "0.1.0" alone when there is no
/// git or no repository (a source tarball, a vendored crate).
fn version(package: &str) -> String {
    // A tarball unpacked inside some other repository must not take its commit.
    let ours = git(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| Path::new(&top) == Path::new(env!("CARGO_MANIFEST_DIR")));
    let commit = git(&["rev-parse", "--short=7", "HEAD"]).filter(|_| ours);
    let Some(commit) = commit else {
        return package.to_owned();
    };
    watch_git_state();
    // Untracked files are left out: a stray scratch file is not a changed build.
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|changes| !changes.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    format!("{package} ({commit}{suffix})")
}

/// A new commit, checkout or staged change reruns this script.
fn watch_git_state() {
    for name in ["HEAD", "index"] {
        if let Some(path) = git(&["rev-parse", "--git-path", name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &reference])
        && Path::new(&path).exists()
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        // `git status` would otherwise refresh the index it is watched by, and a
        // concurrent git command in the checkout would find it locked.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
