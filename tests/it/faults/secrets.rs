//! A known client secret, a wrong one, and every token the simulator minted never appear
//! in any output, log or database byte, with every log line on (`RUST_LOG=trace`).

use image_refresh::model::BuildState;

use super::service::{FaultWorld, SECRET, World, eventually, world};

const TRACE: &str = "trace";
const WRONG_SECRET: &str = "Wr0ng~leak-canary-8d3b1f9a2c7e";

/// Everything a person or a tool could read afterwards: outputs, logs, database files.
struct Evidence(Vec<(String, Vec<u8>)>);

impl Evidence {
    fn output(&mut self, what: &str, output: &std::process::Output) {
        self.0
            .push((format!("{what} stdout"), output.stdout.clone()));
        self.0
            .push((format!("{what} stderr"), output.stderr.clone()));
    }

    /// Every file in the world's directory (logs, database, -wal, -shm), raw bytes.
    fn files(&mut self, world: &World, when: &str) {
        for entry in std::fs::read_dir(world.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path == world.secret_file || path.is_dir() {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                self.0.push((format!("{} ({when})", path.display()), bytes));
            }
        }
    }

    /// Guards against proving nothing: the places that matter were read.
    fn assert_covers(&self, suffixes: &[&str]) {
        for suffix in suffixes {
            assert!(
                self.0
                    .iter()
                    .any(|(place, bytes)| place.contains(suffix) && !bytes.is_empty()),
                "nothing read from a {suffix} file"
            );
        }
    }

    fn assert_absent(&self, what: &str, needle: &str) {
        assert!(needle.len() >= 16, "a needle too short to mean anything");
        for (place, bytes) in &self.0 {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "{what} leaked into {place}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_tokens_never_leak() {
    let world = world(None).await;
    let mut evidence = Evidence(Vec::new());

    let check = world.run(&["check"], TRACE);
    assert_eq!(check.status.code(), Some(3), "{check:?}");
    evidence.output("check", &check);
    let build = world.run(&["build", super::service::IMAGE, "--wait"], TRACE);
    assert!(build.status.success(), "{build:?}");
    evidence.output("build --wait", &build);
    for args in [
        &["history"][..],
        &["status"],
        &["history", "--output", "json"],
    ] {
        let output = world.run(args, TRACE);
        assert!(output.status.success(), "{args:?}: {output:?}");
        evidence.output(&args.join(" "), &output);
    }

    // The service rebuilds once Azure publishes a newer base image.
    let daemon = world.spawn_logging("service", TRACE);
    world.sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202412010",
    );
    eventually("the service's rebuild", &daemon, || async {
        let done = world
            .builds()
            .await
            .iter()
            .filter(|b| b.state == BuildState::Succeeded)
            .count();
        (done == 2).then_some(())
    })
    .await;
    evidence.files(&world, "while the service runs");
    daemon.stop_cleanly().await;
    evidence.files(&world, "after the service stopped");

    // A wrong secret: the failure says so without quoting either secret.
    std::fs::write(&world.secret_file, WRONG_SECRET).unwrap();
    let refused = world.run(&["check"], TRACE);
    evidence.output("check with a wrong secret", &refused);
    let said = String::from_utf8_lossy(&refused.stdout).into_owned()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("AADSTS7000215"),
        "the refusal is not explained:\n{said}"
    );
    evidence.files(&world, "after the refused check");

    evidence.assert_covers(&["history.db ", "history.db-shm", "service.log"]);
    // Read too, but it may be empty: every store closing truncates it into the
    // database file (read above), the test's own probes included.
    assert!(
        evidence
            .0
            .iter()
            .any(|(place, _)| place.contains("history.db-wal")),
        "the -wal file was not read"
    );
    let tokens = world.sim.issued_tokens();
    assert!(tokens.len() >= 2, "each process signs in: {tokens:?}");
    evidence.assert_absent("the client secret", SECRET);
    evidence.assert_absent("the wrong client secret", WRONG_SECRET);
    for token in &tokens {
        evidence.assert_absent("an access token", token);
    }
}
