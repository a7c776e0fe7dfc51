//! The history store: check cycles, builds and per-image state in SQLite.
//!
//! One [`Store`] (one connection pool) per process. Several processes may share
//! the file: every write that spans rows runs in one `BEGIN IMMEDIATE`
//! transaction, so nothing half-written is ever visible, and image leases keep
//! two processes from building the same image.
//!
//! Callers pass "now"; the store never reads the clock. Timestamps are kept to
//! whole seconds (see `columns`).

mod build_reads;
mod builds;
mod checks;
mod columns;
mod error;
mod fault;
mod found;
mod gauges;
mod images;
mod leases;
mod migrations;
mod outbox;
mod promotion_notices;
mod promotions;
mod revocations;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};

pub use builds::{BuildRecord, BuildTransition, EventRecord, NewBuild, Transitioned};
pub use checks::{CheckRecord, DecisionRecord, ResolvedVersionRecord};
pub use error::{ClaimError, StoreError};
pub use fault::{DiskFault, DiskTrouble, FULL_DISK_HEADROOM, free_bytes};
pub use found::{Found, FoundBuild};
pub use gauges::{FinishedBuild, GoodCheck};
pub use images::{BuildSummary, FailureLimit, ImageState, ImageStatus};
pub use leases::Lease;
pub use outbox::Notice;
pub use promotions::{Promotion, PromotionRing, RingRequest};
pub use revocations::Revocation;

/// Where the daemon keeps its history unless told otherwise.
pub const DEFAULT_DATABASE_PATH: &str = "/var/lib/image-refresh/history.db";

/// How long a statement waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts every transaction that writes: taking the write lock up front means
/// a transaction never has to upgrade a read snapshot another process has
/// meanwhile made stale, which SQLite would refuse without waiting.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Handle to the history database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

/// Refuses a symlink in the database's place (a root-run CLI followed a dangling
/// one and created its target), and creates a new database readable by its
/// owner only, whatever the caller's umask; SQLite gives the `-wal` and `-shm`
/// files the database's mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |source: std::io::Error| StoreError::Create {
        path: path.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(refuse(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a symbolic link; give the database's real path",
        ))),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(path)
            {
                Ok(_) => Ok(()),
                // Another process created it meanwhile.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(error) => Err(refuse(error)),
            }
        }
        Err(error) => Err(refuse(error)),
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        create_private(path)?;
        Store::connect(path, true).await
    }

    /// Opens the database at `path` only if it is there: what the commands that read
    /// history do, so that a mistyped `--database` is an error, not a new empty history.
    ///
    /// The connection is read-write all the same: a database of an older schema is
    /// brought up to date by whoever opens it first, and reading a WAL database needs
    /// its `-shm` file written.
    pub async fn open_existing(path: &Path) -> Result<Store, StoreError> {
        match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::Missing {
                    path: path.to_owned(),
                })
            }
            _ => Store::connect(path, false).await,
        }
    }

    async fn connect(path: &Path, create: bool) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            // SQLite opens a file it may not write read-only instead of failing, and
            // such a connection stays read-only after the fault clears. A write that
            // changes nothing finds it out; the connection is then made query-only, which
            // marks it to be closed when released (it still serves reads meanwhile).
            // Failing here instead would make sqlx retry the connection silently until
            // the pool timed out, and every caller would read "pool timed out" instead
            // of "read-only".
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
                        .fetch_one(&mut *conn)
                        .await?;
                    let same = format!("PRAGMA user_version = {version}");
                    // Anything but read-only (a full disk) leaves a sound connection:
                    // the write that needs it fails and says why.
                    if let Err(error) = conn.execute(same.as_str()).await
                        && DiskFault::of_query(&error) == Some(DiskFault::ReadOnly)
                    {
                        conn.execute("PRAGMA query_only = ON").await?;
                    }
                    Ok(())
                })
            })
            // A task cancelled while `BEGIN IMMEDIATE` runs hands its connection
            // back inside a transaction sqlx does not know about, holding the
            // write lock. Ending any such transaction on release keeps the pool
            // usable after a cancelled or timed-out task.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    if let Err(error) = conn.execute("ROLLBACK").await {
                        let idle = error.to_string().contains("no transaction is active");
                        if !idle {
                            return Err(error);
                        }
                    }
                    // A COMMIT that failed (a full disk, say) leaves sqlx counting a
                    // transaction SQLite already rolled back; such a connection refuses
                    // every later BEGIN, so it is closed rather than pooled. So is one
                    // opened read-only while the directory was.
                    let read_only: bool = sqlx::query_scalar("PRAGMA query_only")
                        .fetch_one(&mut *conn)
                        .await?;
                    Ok(!read_only && !sqlx::Connection::is_in_transaction(&*conn))
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let store = Store {
            pool,
            path: path.to_owned(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations embedded at build time. They run inside one
    /// write transaction so two processes starting together apply them once.
    async fn migrate(&self) -> Result<(), StoreError> {
        let failed = |source| StoreError::Migrate {
            path: self.path.clone(),
            source,
        };
        let migrator = migrations::migrator().await.map_err(failed)?;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(|e| failed(e.into()))?;
        // `run_direct` rather than `run`: `run`'s generic `Acquire` bound makes
        // this future not `Send` (the "not general enough" compiler error), and
        // the daemon opens the store inside spawned tasks.
        migrator.run_direct(&mut *tx).await.map_err(failed)?;
        tx.commit().await.map_err(|e| failed(e.into()))
    }

    /// The connection pool, for tests and ad-hoc queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection; waits for those in use to be returned. The
    /// write-ahead log is checkpointed and truncated first: SQLite would do it
    /// when the last connection closes, but sqlx closes connections on their
    /// worker threads, which a command's process may not wait for.
    pub async fn close(&self) {
        // Best effort: a busy database (the service writing) keeps its log.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }

    async fn begin_write(
        &self,
        action: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(StoreError::query(action))
    }
}
