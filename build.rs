use std::path::Path;
use std::process::Command;
use std::{env, fs};

fn main() {
    // store::migrations embeds migrations/ at compile time; a new file must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    embed_migrations();
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

/// Writes `$OUT_DIR/migrations.rs`: the `sqlx::migrate::Migration`s of migrations/, as
/// `sqlx::migrate!` would build them (the same file name rules; a test compares the two),
/// without sqlx's macros, which compile a second sqlx and SQLite for the build host.
fn embed_migrations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut found: Vec<(i64, String)> = Vec::new();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        // sqlx ignores what is not a `<VERSION>_<DESCRIPTION>.sql` file.
        let Some((version, rest)) = name.as_deref().and_then(|n| n.split_once('_')) else {
            continue;
        };
        if !path.is_file() || !rest.ends_with(".sql") {
            continue;
        }
        let version: i64 = version.parse().unwrap_or_else(|_| {
            panic!(
                "migration {}: the name must start with an integer version, as in 01_foo.sql",
                path.display()
            )
        });
        let (kind, suffix) = if rest.ends_with(".up.sql") {
            ("ReversibleUp", ".up.sql")
        } else if rest.ends_with(".down.sql") {
            ("ReversibleDown", ".down.sql")
        } else {
            ("Simple", ".sql")
        };
        let description = rest.trim_end_matches(suffix).replace('_', " ");
        let sql = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read migration {}: {e}", path.display()));
        let no_tx = sql.starts_with("-- no-transaction");
        let path = path.to_string_lossy();
        found.push((
            version,
            format!(
                "sqlx::migrate::Migration::new({version}, std::borrow::Cow::Borrowed({description:?}), \
                 sqlx::migrate::MigrationType::{kind}, std::borrow::Cow::Borrowed(include_str!({path:?})), {no_tx}),\n"
            ),
        ));
    }
    found.sort_by_key(|(version, _)| *version);
    let mut code = String::from("vec![\n");
    for (_, migration) in found {
        code.push_str(&migration);
    }
    code.push(']');
    let out = Path::new(&env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    fs::write(&out, code).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
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
