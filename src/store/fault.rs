//! Faults of the disk under the history database, as opposed to faults of one query.
//!
//! A full disk or a read-only directory fails every write until someone fixes it, whatever
//! the write was for; the service says so once instead of once per failed write (see
//! `daemon::health`), and that needs the cause told apart from the rest.

use std::error::Error;
use std::fmt;
use std::io::ErrorKind;
use std::path::Path;

use super::StoreError;

/// Why the disk refuses the database's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFault {
    Full,
    ReadOnly,
    /// SQLite's "disk I/O error": the OS refused a read or write.
    Io,
    CannotOpen,
}

/// SQLite's primary result codes for the faults above.
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

impl DiskFault {
    /// The disk fault behind a query's error, if that is what it is.
    pub(super) fn of_query(error: &sqlx::Error) -> Option<DiskFault> {
        match error {
            sqlx::Error::Database(database) => {
                let extended: i64 = database.code()?.parse().ok()?;
                // Extended codes carry the primary code in their low byte.
                match extended & 0xff {
                    SQLITE_FULL => Some(DiskFault::Full),
                    SQLITE_READONLY => Some(DiskFault::ReadOnly),
                    SQLITE_IOERR => Some(DiskFault::Io),
                    SQLITE_CANTOPEN => Some(DiskFault::CannotOpen),
                    _ => None,
                }
            }
            sqlx::Error::Io(io) => Some(DiskFault::of_io(io)),
            _ => None,
        }
    }

    fn of_io(error: &std::io::Error) -> DiskFault {
        match error.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => DiskFault::Full,
            ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied => DiskFault::ReadOnly,
            _ => DiskFault::Io,
        }
    }

    /// The disk fault among `error`'s causes. Only causes from the store count: an I/O
    /// error talking to Azure is not a disk fault.
    pub fn find(error: &(dyn Error + 'static)) -> Option<DiskFault> {
        let mut next = Some(error);
        while let Some(cause) = next {
            if let Some(StoreError::CreateDir { source, .. }) = cause.downcast_ref::<StoreError>() {
                return Some(DiskFault::of_io(source));
            }
            // `ClaimError` and `BuildError` wrap store errors transparently, which hides
            // the `StoreError` itself from the chain; its sqlx cause is always there.
            if let Some(query) = cause.downcast_ref::<sqlx::Error>() {
                return DiskFault::of_query(query);
            }
            next = cause.source();
        }
        None
    }
}

impl fmt::Display for DiskFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiskFault::Full => "the disk is full",
            DiskFault::ReadOnly => "the database or its directory is read-only",
            DiskFault::Io => "the disk refused a read or write (disk I/O error)",
            DiskFault::CannotOpen => "the database file cannot be opened",
        })
    }
}

impl StoreError {
    /// Whether the disk, not this query, is at fault: the same write will fail until
    /// someone frees space or makes the directory writable again.
    pub fn is_disk_fault(&self) -> bool {
        DiskFault::find(self).is_some()
    }
}

/// Free space below which a full disk still counts as full although a write went
/// through: SQLite reuses room in its write-ahead log, so small writes can succeed on a
/// full disk. This is room for that log to reach its checkpoint size (1,000 pages).
pub const FULL_DISK_HEADROOM: u64 = 4 * 1024 * 1024;

/// The space left for the database's directory to grow into, as the OS reports it.
pub fn free_bytes(database: &Path) -> Option<u64> {
    let dir = database
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// A disk fault as an operator should read it: what SQLite said, sharpened by what the
/// OS says when asked whether the database may be written. SQLite reports a file made
/// immutable as a bare "disk I/O error"; the OS says "Operation not permitted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTrouble {
    pub fault: DiskFault,
    /// The OS's refusal to let the database be written, when it refuses.
    pub os_says: Option<String>,
    /// Free space on a full disk.
    pub free_bytes: Option<u64>,
}

impl DiskTrouble {
    pub fn diagnose(database: &Path, fault: DiskFault) -> DiskTrouble {
        // access(2), never open(2): closing any descriptor of the database file drops
        // every POSIX lock this process holds on it, SQLite's included, and another
        // process may then checkpoint the WAL under our connections and corrupt the file.
        let refusal = rustix::fs::access(database, rustix::fs::Access::WRITE_OK)
            .err()
            .map(std::io::Error::from);
        let fault = match &refusal {
            Some(error) if fault == DiskFault::Io => match DiskFault::of_io(error) {
                DiskFault::Io => fault,
                sharper => sharper,
            },
            _ => fault,
        };
        DiskTrouble {
            fault,
            os_says: refusal.map(|error| error.to_string()),
            free_bytes: (fault == DiskFault::Full)
                .then(|| free_bytes(database))
                .flatten(),
        }
    }
}

impl fmt::Display for DiskTrouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fault)?;
        if let Some(free) = self.free_bytes {
            write!(f, " ({free} bytes free)")?;
        }
        if let Some(os) = &self.os_says {
            write!(f, " (writing it: {os})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, Executor};

    async fn memory() -> sqlx::SqliteConnection {
        let mut conn = SqliteConnectOptions::new()
            .filename(":memory:")
            .connect()
            .await
            .unwrap();
        conn.execute("CREATE TABLE t (x BLOB)").await.unwrap();
        conn
    }

    #[tokio::test]
    async fn a_full_database_is_a_full_disk() {
        let mut conn = memory().await;
        // The page limit stands in for the disk: SQLite answers SQLITE_FULL the same way.
        conn.execute("PRAGMA max_page_count = 3").await.unwrap();
        let error = conn
            .execute("INSERT INTO t VALUES (zeroblob(100000))")
            .await
            .unwrap_err();
        assert_eq!(DiskFault::of_query(&error), Some(DiskFault::Full));
        let store = StoreError::query("record a build")(error);
        assert!(store.is_disk_fault());
        assert_eq!(DiskFault::find(&store), Some(DiskFault::Full));
    }

    #[tokio::test]
    async fn a_read_only_connection_is_a_read_only_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        let mut rw = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        rw.execute("CREATE TABLE t (x)").await.unwrap();
        rw.close().await.unwrap();
        let mut ro = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        let error = ro.execute("INSERT INTO t VALUES (1)").await.unwrap_err();
        assert_eq!(DiskFault::of_query(&error), Some(DiskFault::ReadOnly));
    }

    #[tokio::test]
    async fn a_query_mistake_is_not_a_disk_fault() {
        let mut conn = memory().await;
        let error = conn
            .execute("INSERT INTO nowhere VALUES (1)")
            .await
            .unwrap_err();
        assert_eq!(DiskFault::of_query(&error), None);
        assert!(!StoreError::query("read")(error).is_disk_fault());
    }

    #[test]
    fn io_errors_from_elsewhere_are_not_disk_faults() {
        let azure = std::io::Error::new(ErrorKind::StorageFull, "not the database");
        assert_eq!(DiskFault::find(&azure), None);
    }

    #[test]
    fn the_os_sharpens_a_bare_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone.db");
        let trouble = DiskTrouble::diagnose(&missing, DiskFault::Io);
        assert!(trouble.os_says.is_some(), "{trouble}");
        assert!(trouble.to_string().contains("(writing it: "), "{trouble}");

        let present = dir.path().join("here.db");
        std::fs::write(&present, b"").unwrap();
        let trouble = DiskTrouble::diagnose(&present, DiskFault::Full);
        let free = free_bytes(&present).unwrap();
        assert_eq!(trouble.fault, DiskFault::Full);
        assert_eq!(trouble.os_says, None);
        // The free space moves with whatever else writes to this disk meanwhile.
        assert!(
            trouble
                .free_bytes
                .is_some_and(|bytes| bytes.abs_diff(free) < free / 10 + 1_000_000)
        );
        assert!(
            trouble.to_string().starts_with("the disk is full ("),
            "{trouble}"
        );
    }
}
