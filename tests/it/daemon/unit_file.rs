//! `systemd/image-refresh.service` passes `systemd-analyze verify` and scores
//! at most 1.5 in `systemd-analyze security` (where systemd-analyze exists).

use std::process::Command;

use super::BIN;

const UNIT: &str = include_str!("../../../systemd/image-refresh.service");

/// The unit with its ExecStart pointing at the binary under test, since
/// `verify` rejects a unit whose executable does not exist.
fn unit_for_this_build(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if !analyze.is_ok_and(|out| out.status.success()) {
        eprintln!("systemd-analyze is not installed; the unit file is not checked");
        return None;
    }
    assert!(UNIT.contains("/usr/bin/image-refresh "), "ExecStart moved?");
    let path = dir.join("image-refresh.service");
    std::fs::write(
        &path,
        UNIT.replace("/usr/bin/image-refresh ", &format!("{BIN} ")),
    )
    .unwrap();
    Some(path)
}

#[test]
fn unit_file_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let Some(unit) = unit_for_this_build(dir.path()) else {
        return;
    };
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("image-refresh.service"),
        "systemd-analyze verify complains about the unit:\n{stderr}"
    );
}

#[test]
fn unit_file_exposure_is_at_most_two() {
    let dir = tempfile::tempdir().unwrap();
    let Some(unit) = unit_for_this_build(dir.path()) else {
        return;
    };
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score: f64 = stdout
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for image-refresh.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{stdout}"));
    assert!(score <= 1.5, "exposure {score} > 1.5:\n{stdout}");
}

/// The credentials the shipped catalogs and the README name are the ones the
/// unit loads, from the files the README says, so copying them works at the
/// first check (security finding 6, issue 16).
#[test]
fn the_catalogs_the_readme_and_the_unit_name_the_same_credentials() {
    // name -> the file systemd loads it from
    let loaded: Vec<(&str, &str)> = UNIT
        .lines()
        .filter_map(|line| line.strip_prefix("LoadCredential="))
        .filter_map(|spec| spec.split_once(':'))
        .collect();
    let names: Vec<&str> = loaded.iter().map(|(name, _)| *name).collect();
    assert!(names.contains(&"image-refresh-client-secret"), "{names:?}");
    assert!(
        names.contains(&"image-refresh-client-certificate"),
        "{names:?}"
    );
    let readme = include_str!("../../../README.md");
    for (name, file) in &loaded {
        assert!(
            readme.contains(&format!("`{name}`")),
            "the README never names {name}"
        );
        assert!(
            readme.contains(&format!("`{file}`")),
            "the README never says {name} is read from {file}"
        );
    }
    // Every catalog shipped or shown (the examples, the package's starting
    // catalog, the README's own snippets), commented-out lines included.
    let mut texts = vec![("README.md".to_owned(), readme.to_owned())];
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for dir in ["", "examples", "package"] {
        for entry in std::fs::read_dir(config.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                texts.push((path.display().to_string(), text));
            }
        }
    }
    let mut named = 0;
    for (file, text) in &texts {
        let credentials = text
            .lines()
            .map(|line| line.trim().trim_start_matches('#').trim())
            .filter_map(|line| line.strip_prefix("credential = \""))
            .filter_map(|rest| rest.split('"').next());
        for name in credentials {
            named += 1;
            assert!(
                names.contains(&name),
                "{file} names the credential {name}, the unit loads {names:?}"
            );
        }
    }
    // The enterprise example and the package's catalog name one at least.
    assert!(named >= 2, "{named}");
    // The watchdog's SIGABRT must not dump a process holding secrets.
    assert!(UNIT.lines().any(|line| line == "LimitCORE=0"));
    assert!(UNIT.lines().any(|line| line.starts_with("MemoryMax=")));
}
