//! Says once that the history database cannot be written, and once that it can again.
//!
//! A full or read-only disk fails every check, every build step and every retry of them
//! until someone fixes it; a line apiece would bury the one that says what is wrong. The
//! first failure warns, with the cause; later ones are debug lines, but for a reminder
//! every [`REMIND_EVERY`] while the fault lasts. The first successful write says so (on
//! a full disk, the first one once there is room again).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use tracing::{debug, info, warn};

use crate::report::chain;
use crate::store::{DiskFault, DiskTrouble, FULL_DISK_HEADROOM, free_bytes};

/// How often a fault that lasts is said again.
pub const REMIND_EVERY: Duration = Duration::minutes(15);

/// What [`DatabaseHealth::failed`] did with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// Not a disk fault: the caller reports it as usual.
    NotDisk,
    /// Warned: a fault starts, changes cause, or it is time for a reminder.
    Warned,
    /// A debug line: the fault was said already.
    Quiet,
}

pub struct DatabaseHealth {
    database: PathBuf,
    down: Option<Down>,
    /// The fault as `/healthz` says it, while it lasts.
    shared: Arc<Mutex<Option<String>>>,
}

struct Down {
    since: DateTime<Utc>,
    warned_at: DateTime<Utc>,
    trouble: DiskTrouble,
}

impl DatabaseHealth {
    pub fn new(database: PathBuf) -> DatabaseHealth {
        DatabaseHealth {
            database,
            down: None,
            shared: Arc::default(),
        }
    }

    /// What `/healthz` asks: `Err(reason)` while a fault said here lasts, or when the OS
    /// says now that the database (or its directory) cannot be written or the disk is full.
    pub fn probe(&self) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
        let shared = self.shared.clone();
        let database = self.database.clone();
        move || {
            let said = shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match said {
                Some(trouble) => Err(cannot_write(&database, &trouble)),
                None => writable(&database).map_err(|trouble| cannot_write(&database, &trouble)),
            }
        }
    }

    fn share(&self, trouble: Option<String>) {
        *self.shared.lock().unwrap_or_else(PoisonError::into_inner) = trouble;
    }

    /// Reports `error` when a disk fault under the database caused it; `doing` is what
    /// failed ("check", "build ubuntu-golden").
    pub fn failed(
        &mut self,
        doing: &str,
        error: &(dyn Error + 'static),
        now: DateTime<Utc>,
    ) -> Said {
        let Some(fault) = DiskFault::find(error) else {
            return Said::NotDisk;
        };
        let trouble = DiskTrouble::diagnose(&self.database, fault);
        let database = self.database.display().to_string();
        let error = chain(error);
        match &mut self.down {
            Some(down)
                if down.trouble.fault == trouble.fault && now - down.warned_at < REMIND_EVERY =>
            {
                debug!(
                    database,
                    doing, error, "the history database still cannot be written"
                );
                Said::Quiet
            }
            Some(down) => {
                warn!(
                    database,
                    doing,
                    error,
                    since = %down.since,
                    "the history database still cannot be written: {trouble}; checks and builds wait until it can"
                );
                down.warned_at = now;
                self.shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .replace(trouble.to_string());
                down.trouble = trouble;
                Said::Warned
            }
            None => {
                warn!(
                    database,
                    doing,
                    error,
                    "the history database cannot be written: {trouble}; checks and builds wait until it can"
                );
                self.share(Some(trouble.to_string()));
                self.down = Some(Down {
                    since: now,
                    warned_at: now,
                    trouble,
                });
                Said::Warned
            }
        }
    }

    /// Records that a write went through; true when that ends a fault. On a full
    /// disk small writes can go through while larger ones still fail, so a full disk
    /// ends only once it has room again.
    pub fn wrote(&mut self, now: DateTime<Utc>) -> bool {
        let Some(down) = self.down.take() else {
            return false;
        };
        if down.trouble.fault == DiskFault::Full
            && let Some(free) = free_bytes(&self.database)
            && free < FULL_DISK_HEADROOM
        {
            debug!(
                database = %self.database.display(),
                free_bytes = free,
                "a write went through, but the disk is still nearly full"
            );
            self.down = Some(down);
            return false;
        }
        self.share(None);
        info!(
            database = %self.database.display(),
            was = %down.trouble.fault,
            down_secs = (now - down.since).num_seconds(),
            "the history database can be written again"
        );
        true
    }
}

fn cannot_write(database: &Path, trouble: &str) -> String {
    format!(
        "the history database {} cannot be written: {trouble}",
        database.display()
    )
}

/// Asks the OS with access(2), never open(2): closing a descriptor of the database
/// would drop SQLite's locks (see `store::fault`).
fn writable(database: &Path) -> Result<(), String> {
    let dir = database
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let wal = PathBuf::from(format!("{}-wal", database.display()));
    for path in [dir, database, wal.as_path()] {
        match rustix::fs::access(path, rustix::fs::Access::WRITE_OK) {
            Ok(()) => {}
            Err(rustix::io::Errno::NOENT) if path != dir => {}
            Err(error) => {
                return Err(format!(
                    "writing {}: {}",
                    path.display(),
                    std::io::Error::from(error)
                ));
            }
        }
    }
    match free_bytes(database) {
        Some(free) if free < FULL_DISK_HEADROOM => {
            Err(format!("the disk is full ({free} bytes free)"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    async fn full_disk_error() -> StoreError {
        use sqlx::{ConnectOptions, Executor};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(":memory:")
            .connect()
            .await
            .unwrap();
        conn.execute("CREATE TABLE t (x BLOB)").await.unwrap();
        conn.execute("PRAGMA max_page_count = 3").await.unwrap();
        let error = conn
            .execute("INSERT INTO t VALUES (zeroblob(100000))")
            .await
            .unwrap_err();
        StoreError::Query {
            action: "record a build",
            source: error,
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minutes)
    }

    #[tokio::test]
    async fn one_warning_per_fault_and_a_reminder_while_it_lasts() {
        let error = full_disk_error().await;
        let mut health = DatabaseHealth::new(PathBuf::from("/nonexistent/history.db"));
        assert!(!health.wrote(at(0)), "nothing to recover from");
        assert_eq!(health.failed("check", &error, at(0)), Said::Warned);
        assert_eq!(health.failed("build a", &error, at(1)), Said::Quiet);
        assert_eq!(health.failed("check", &error, at(14)), Said::Quiet);
        assert_eq!(health.failed("check", &error, at(15)), Said::Warned);
        assert_eq!(health.failed("check", &error, at(16)), Said::Quiet);
        assert!(health.wrote(at(17)));
        assert!(!health.wrote(at(18)), "said once");
        assert_eq!(
            health.failed("check", &error, at(19)),
            Said::Warned,
            "a new fault"
        );
    }

    #[test]
    fn other_errors_are_left_to_the_caller() {
        let mut health = DatabaseHealth::new(PathBuf::from("/nonexistent/history.db"));
        let azure = std::io::Error::other("connection reset");
        assert_eq!(health.failed("check", &azure, at(0)), Said::NotDisk);
        assert!(!health.wrote(at(1)));
    }
}
