//! The rough edges of issue 16, on the real binary: a closed pipe, colour, history
//! databases that are missing or cannot be opened, typos in names, catalog value types,
//! cron reasons and `--version`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use image_refresh::catalog;

use crate::support::setup::{self, BIN, IMAGE};
use crate::support::world::World;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The classic catalog in `dir`, with `extra` appended (a `[schedule]`, say).
fn classic(dir: &Path, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let path = dir.join("image-refresh.toml");
    std::fs::write(&path, edit(catalog::CLASSIC)).unwrap();
    path
}

fn run(config: &Path, database: &Path, args: &[&str]) -> Output {
    setup::binary(config, database)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // Far more JSON than a pipe holds, so the command is still writing when the reader
    // leaves.
    let mut big = catalog::CLASSIC.to_owned();
    let image = &catalog::CLASSIC[catalog::CLASSIC.find("[[images]]").unwrap()..];
    for i in 0..600 {
        big.push_str(&image.replace("ubuntu-golden", &format!("ubuntu-golden-{i}")));
    }
    let config = dir.path().join("big.toml");
    std::fs::write(&config, big).unwrap();
    let mut child = Command::new(BIN)
        .args(["--config"])
        .arg(&config)
        .args(["validate", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "[\n");
    // The reader is dropped here, as `head -1` exits.
    let output = child.wait_with_output().unwrap();
    assert_eq!(text(&output.stderr), "", "nothing on stderr, no panic");
    // Killed by SIGPIPE, as `cat` or `grep` are: the shell says 141.
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}",
        output.status
    );
}

#[test]
fn no_color_and_a_pipe_keep_escapes_out_of_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = classic(dir.path(), str::to_owned);
    let database = dir.path().join("history.db");
    let enable = format!(
        "{BIN} --config {} --database {} enable {IMAGE}",
        config.display(),
        database.display()
    );
    // sqlx logs its statements at debug: log lines from a one-shot command.
    let piped = Command::new("sh")
        .args(["-c", &enable])
        .env("RUST_LOG", "sqlx=debug")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let logs = text(&piped.stderr);
    assert!(logs.contains("DEBUG"), "{logs}");
    assert!(!logs.contains('\x1b'), "escapes on a pipe: {logs:?}");

    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped the terminal half: util-linux `script` is not installed");
        return;
    }
    let on_terminal = |no_color: Option<&str>| {
        let mut command = Command::new("script");
        command
            .args(["-qec", &enable, "/dev/null"])
            .env("RUST_LOG", "sqlx=debug")
            .env_remove("NO_COLOR");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        text(&command.output().unwrap().stdout)
    };
    let coloured = on_terminal(None);
    assert!(
        coloured.contains("DEBUG") && coloured.contains('\x1b'),
        "{coloured:?}"
    );
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("DEBUG"), "{plain}");
    assert!(
        !plain.contains('\x1b'),
        "NO_COLOR=1 on a terminal: {plain:?}"
    );
}

#[test]
fn reading_history_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = classic(dir.path(), str::to_owned);
    let database = dir.path().join("state/history.db");
    for args in [
        &["status"][..],
        &["history"],
        &["logs", "1a2b3c4d", "--url"],
    ] {
        let output = run(&config, &database, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let err = text(&output.stderr);
        assert!(err.contains("no history at"), "{args:?}: {err}");
        assert!(
            err.contains("the service has not run yet"),
            "{args:?}: {err}"
        );
        assert!(
            !database.exists() && !dir.path().join("state").exists(),
            "{args:?}"
        );
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_named_once_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = classic(dir.path(), str::to_owned);
    let database = dir.path().join("history.db");
    std::fs::write(
        &database,
        "these are not the pages you are looking for\n".repeat(200),
    )
    .unwrap();
    for args in [
        &["status"][..],
        &["history"],
        &["check"],
        &["enable", IMAGE],
    ] {
        let output = run(&config, &database, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let err = text(&output.stderr);
        assert!(err.contains("is not an SQLite database"), "{args:?}: {err}");
        assert!(err.contains("move it away"), "{args:?}: {err}");
        assert_eq!(err.matches("not a database").count(), 0, "{args:?}: {err}");
        assert_eq!(err.matches("SQLite").count(), 1, "said once: {err}");
    }
}

#[test]
fn a_database_this_user_may_not_write_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let root = rustix::process::geteuid().is_root();
    // Root may write anything: as root, the commands run as nobody (setpriv, util-linux).
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if root && !setpriv {
        println!(
            "skipped: running as root, for whom file permissions do not apply, without setpriv"
        );
        return;
    }
    let as_user = |config: &Path, database: &Path, args: &[&str]| {
        let mut command = if root {
            let mut command = Command::new("setpriv");
            command.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
            command
        } else {
            Command::new(BIN)
        };
        command
            .arg("--config")
            .arg(config)
            .arg("--database")
            .arg(database)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = classic(dir.path(), str::to_owned);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let database = locked.join("history.db");
    let seeded = run(&config, &database, &["enable", IMAGE]);
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    // Readable, not writable, by the user the command runs as.
    let mode = if root { 0o644 } else { 0o444 };
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(mode)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let uid = if root {
        65534
    } else {
        rustix::process::getuid().as_raw()
    };

    let existing = as_user(&config, &database, &["disable", IMAGE]);
    let new = as_user(&config, &locked.join("new.db"), &["enable", IMAGE]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (output, what) in [
        (existing, format!("{}", database.display())),
        (new, format!("{}", locked.display())),
    ] {
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        // miette wraps long paths; compare without its line breaks and margins.
        let squeeze = |s: &str| s.replace(|c: char| c.is_whitespace() || c == '│', "");
        let err = squeeze(&text(&output.stderr));
        assert!(err.contains("permissiondenied"), "{err}");
        let expected = squeeze(&format!("uid {uid} may not write {what} (owner uid"));
        assert!(err.contains(&expected), "{err}");
        assert!(err.contains(",mode0"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_an_unknown_image_names_it_and_the_known_ones() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    let enabled = world.command(&["enable", IMAGE]);
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    let output = world.command(&["history", "--image", "ubuntu-goldne"]);
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(err.contains("unknown image ubuntu-goldne"), "{err}");
    assert!(err.contains("known images: ubuntu-golden"), "{err}");
    let known = world.command(&["history", "--image", IMAGE]);
    assert!(known.status.success(), "{}", text(&known.stderr));
    assert!(text(&known.stdout).contains("no builds recorded yet"));
}

#[test]
fn a_value_of_the_wrong_type_gets_a_hint_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = classic(dir.path(), |text| {
        text.replace("build_timeout_minutes = 80", "max_age_days = \"35\"")
    });
    let output = run(&config, &dir.path().join("db"), &["validate"]);
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(
        err.contains("`max_age_days` must be a whole number, found string \"35\""),
        "{err}"
    );
    assert!(err.contains("image-refresh.toml:15:16"), "{err}");
    assert!(err.contains("a whole number of days, e.g. 35"), "{err}");
    assert!(
        !err.contains("i64"),
        "serde's type names stay inside: {err}"
    );
}

#[test]
fn a_bad_cron_expression_is_quoted_as_written_with_a_plain_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = classic(dir.path(), |text| {
        text.replacen(
            "[defaults]",
            "[schedule]\ncron = \"0 25 * * MON\"\n\n[defaults]",
            1,
        )
    });
    let output = run(
        &config,
        &dir.path().join("db"),
        &["validate", "--output", "json"],
    );
    assert_eq!(output.status.code(), Some(1));
    let problems: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        problems[0]["message"],
        "bad cron expression `0 25 * * MON`: the hour field `25` is out of range: it takes 0-23"
    );
    let message = problems[0]["message"].as_str().unwrap();
    // croner's rewriting (a seconds field in front) and its type names stay inside.
    assert!(!message.contains("0 0 25"), "{message}");
    assert!(!message.contains("Component"), "{message}");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    let line = text(&output.stdout);
    let rest = line
        .trim_end()
        .strip_prefix(&format!("image-refresh {}", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    let git = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match git {
        Ok(head) if head.status.success() => {
            // A commit made after this build was linked is not it; the shape still is.
            let commit = rest
                .strip_prefix(" (")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or_else(|| panic!("no commit in {line:?}"));
            let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
            assert_eq!(hash.len(), 7, "{line}");
            assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
        }
        _ => assert_eq!(rest, "", "no git, no commit: {line}"),
    }
}

#[test]
fn a_database_on_a_read_only_file_system_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = classic(dir.path(), str::to_owned);
    let mounted = dir.path().join("ro");
    std::fs::create_dir(&mounted).unwrap();
    let Some(_tmpfs) = crate::support::disk::Tmpfs::mount(&mounted, "8m") else {
        println!("skipped: a tmpfs cannot be mounted here (it needs root)");
        return;
    };
    // A history written first, then its file system made read-only.
    let database = mounted.join("history.db");
    let made = run(&config, &database, &["disable", IMAGE]);
    assert!(made.status.success(), "{made:?}");
    let remounted = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&mounted)
        .status()
        .unwrap();
    assert!(remounted.success());
    for args in [&["check"][..], &["enable", IMAGE]] {
        let output = run(&config, &database, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let err = text(&output.stderr);
        assert!(
            err.contains("is on a read-only file system"),
            "{args:?}: {err}"
        );
        assert!(err.contains("remount it read-write"), "{args:?}: {err}");
        assert_eq!(err.matches("read-only").count(), 1, "said once: {err}");
    }
}
