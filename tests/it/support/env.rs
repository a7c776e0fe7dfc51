//! Tests that change the process environment run alone, in a child process.
//!
//! Every suite's tests share this one binary and run on parallel threads:
//! changing the environment while another thread reads it (a spawned
//! service, SQLite looking for its temporary directory) is undefined
//! behaviour, and a variable left set would leak into the other suites.

use std::process::Command;

/// Names the test a child process was started to run.
const CHILD: &str = "IMAGE_REFRESH_IT_ALONE";

/// Whether the caller, the test `name` in `module` (its `module_path!()`),
/// may change the environment. In the test binary's own process it runs that
/// test alone in a child process, asserts that it passed and returns `false`:
/// the caller returns. In that child it returns `true`: no other test runs
/// there.
pub fn alone(module: &str, name: &str) -> bool {
    // `it::daemon::x` → `daemon::x`, as the test harness names tests.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let test = format!("{module}::{name}");
    if std::env::var(CHILD).is_ok_and(|t| t == test) {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([&test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, &test)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} failed in its own process ({}):\n{stdout}\n{stderr}",
        output.status
    );
    false
}
