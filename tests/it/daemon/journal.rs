//! Under systemd the service logs through journald's native protocol, with
//! structured fields. Needs root to stand in for journald at its fixed socket
//! path; skipped (with a note) where a real journald owns it or it can't be made.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{BIN, IMAGE, world};

const JOURNALD_SOCKET: &str = "/run/systemd/journal/socket";

/// One journald entry: the native protocol's `KEY=value` lines, with the
/// binary form (`KEY\n`, little-endian length, bytes) for values with newlines.
fn parse_entry(mut data: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let line_end = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
        let line = &data[..line_end];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            fields.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            ));
            data = data.get(line_end + 1..).unwrap_or_default();
        } else {
            let key = String::from_utf8_lossy(line).into_owned();
            let rest = &data[line_end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            fields.push((key, String::from_utf8_lossy(&rest[8..8 + len]).into_owned()));
            data = rest.get(8 + len + 1..).unwrap_or_default();
        }
    }
    fields
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_go_to_journald_with_structured_fields() {
    let socket_path = Path::new(JOURNALD_SOCKET);
    if socket_path.exists() {
        eprintln!("skipped: {JOURNALD_SOCKET} belongs to a running journald");
        return;
    }
    if std::fs::create_dir_all(socket_path.parent().unwrap()).is_err() {
        eprintln!("skipped: cannot create {JOURNALD_SOCKET} here (not root?)");
        return;
    }
    let Ok(journal) = UnixDatagram::bind(socket_path) else {
        eprintln!("skipped: cannot bind {JOURNALD_SOCKET}");
        return;
    };
    journal
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let world = world(0).await;
    // systemd hands the service a stderr connected to the journal and names
    // it in JOURNAL_STREAM; a plain file stands in for that stream.
    let stderr_path = world.dir.path().join("journal-stream");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&world.config)
        .arg("--database")
        .arg(&world.database)
        .arg("run")
        .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "100")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();

    let mut build_finished = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 64 * 1024];
    while build_finished.is_none() && Instant::now() < deadline {
        let Ok(n) = journal.recv(&mut buf) else {
            continue;
        };
        let entry = parse_entry(&buf[..n]);
        let message = entry.iter().find(|(k, _)| k == "MESSAGE");
        if message.is_some_and(|(_, m)| m.contains("build finished")) {
            build_finished = Some(entry);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_file(socket_path);

    let entry = build_finished.expect("a `build finished` entry reached the journal");
    let field = |key: &str| {
        entry
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in {entry:?}"))
    };
    assert_eq!(field("IMAGE"), IMAGE, "structured, unprefixed field");
    assert_eq!(field("STATE"), "succeeded");
    assert_eq!(field("PRIORITY"), "5", "info is journald's notice level");
    assert_eq!(field("SYSLOG_IDENTIFIER"), "image-refresh");
    let text = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        !text.contains("build finished"),
        "with the journal reachable nothing is written to the stream as text:\n{text}"
    );
}
