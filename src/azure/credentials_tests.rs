//! Secret sources: files and systemd credentials read and trimmed, checked for
//! size, type and who else may read them, and never shown.

use super::*;

#[test]
fn secret_file_is_read_and_trimmed_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "s3cr3t-value\n").unwrap();
    let secret = SecretSource::File(path)
        .read(None, SecretKind::Line)
        .unwrap();
    assert_eq!(secret.secret(), "s3cr3t-value");
    assert!(!format!("{secret:?}").contains("s3cr3t"));
}

#[test]
fn systemd_credential_resolves_against_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("arm-secret"), "from-systemd").unwrap();
    let source = SecretSource::SystemdCredential("arm-secret".to_owned());
    assert_eq!(
        source
            .read(Some(dir.path()), SecretKind::Line)
            .unwrap()
            .secret(),
        "from-systemd"
    );
    let err = source.read(None, SecretKind::Line).unwrap_err();
    assert!(err.to_string().contains("CREDENTIALS_DIRECTORY"), "{err}");
    let escape = SecretSource::SystemdCredential("../etc/passwd".to_owned());
    assert!(escape.read(Some(dir.path()), SecretKind::Line).is_err());
}

#[test]
fn empty_or_missing_secret_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let err = SecretSource::File(empty)
        .read(None, SecretKind::Line)
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let missing = dir.path().join("missing");
    let err = SecretSource::File(missing.clone())
        .read(None, SecretKind::Line)
        .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

/// Security finding 2: `secret_file` naming some other file (a root-only
/// `/etc/shadow`, a directory, a log) must not post its contents.
#[test]
fn only_a_small_regular_one_line_file_is_a_client_secret() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |path: &Path, kind| {
        SecretSource::File(path.to_owned())
            .read(None, kind)
            .unwrap_err()
            .to_string()
    };
    assert!(refused(dir.path(), SecretKind::Line).contains("not a regular file"));

    let lines = dir.path().join("shadow");
    std::fs::write(&lines, "root:x:0:0\ndaemon:x:1:1\n").unwrap();
    let err = refused(&lines, SecretKind::Line);
    assert!(err.contains("one line"), "{err}");
    assert!(!err.contains("root:x"), "never the content: {err}");
    // A PEM file is several lines by nature.
    let pem = SecretSource::File(lines.clone()).read(None, SecretKind::Pem);
    assert!(pem.is_ok());

    let big = dir.path().join("big");
    std::fs::write(&big, "x".repeat(MAX_SECRET_FILE as usize + 1)).unwrap();
    assert!(refused(&big, SecretKind::Pem).contains("at most"));
}

#[test]
fn a_secret_others_may_read_is_noticed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "s").unwrap();
    let source = SecretSource::File(path.clone());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(source.loose_mode(None).unwrap(), None);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(source.loose_mode(None).unwrap(), Some(0o644));
}
