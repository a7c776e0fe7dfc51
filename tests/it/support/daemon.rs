//! The real `image-refresh run` as a child process with its log in a file:
//! what the daemon, fault and crash suites drive.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    log: PathBuf,
    /// How long waits on this service may take before the test fails.
    patience: Duration,
}

impl Daemon {
    pub fn new(child: Child, log: PathBuf, patience: Duration) -> Daemon {
        Daemon {
            child,
            log,
            patience,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn assert_running(&mut self) {
        let exited = self.child.try_wait().unwrap();
        assert!(
            exited.is_none(),
            "the service exited ({exited:?}):\n{}",
            self.log()
        );
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub async fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not stop:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM; asserts a clean exit.
    pub async fn stop_cleanly(self) {
        let log = self.log.clone();
        let status = self.stop().await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "{status}:\n{text}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed test must not leave the service running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` until it returns `Some`, failing with `what` once the
/// daemon's patience runs out.
pub async fn eventually<T, F, Fut>(what: &str, daemon: &Daemon, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + daemon.patience;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting: {what}\nservice log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
