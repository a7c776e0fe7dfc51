//! The demo's temporary directory (security finding, low): owner-only, since it
//! holds the simulator's client secret, and removed when SIGTERM stops the demo.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::setup::BIN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_demo_leaves_no_directory_behind() {
    let mut child = tokio::process::Command::new(BIN)
        .arg("demo")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut workdir = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some((_, rest)) = line.split_once("(working in ") {
            workdir = Some(std::path::PathBuf::from(rest.trim_end_matches(')')));
            break;
        }
    }
    let workdir = workdir.expect("the demo says where it works");
    let mode = std::fs::metadata(&workdir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", workdir.display());

    let pid = child.id().unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Drain stdout so the demo never blocks on a full pipe while it stops.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the demo stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(!workdir.exists(), "{} was left behind", workdir.display());
}
