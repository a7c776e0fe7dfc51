//! Why the history database cannot be opened, said once, with what to do about it.
//!
//! The store's error chain names each layer (the store, sqlx, SQLite), and most layers
//! repeat their cause's text; printed as a miette chain the same cause came out up to four
//! times. Here the chain is reduced to one cause an operator can act on: the file is
//! missing, is not SQLite, is locked, sits on a read-only file system or may not be
//! written by this user.

use std::error::Error;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use miette::miette;
use rustix::fs::{Access, StatVfsMountFlags};

use crate::report::chain;
use crate::store::StoreError;

/// SQLite's primary result codes this module tells apart.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOTADB: i64 = 26;

/// The report for a database at `path` that could not be opened.
pub fn explain(path: &Path, error: &StoreError) -> miette::Report {
    let shown = path.display();
    if let StoreError::Missing { .. } = error {
        return miette!(
            help = "the service has not run yet, or --database (or the catalog's [store] \
                    database) points elsewhere",
            "no history at {shown}"
        );
    }
    if let StoreError::Migrate {
        source: sqlx::migrate::MigrateError::VersionMissing(_),
        ..
    } = error
    {
        return miette!(
            help = "use the image-refresh that wrote it, or a newer one",
            "the history database {shown} was written by a newer image-refresh"
        );
    }
    match sqlite_code(error) {
        Some(SQLITE_NOTADB) => {
            return miette!(
                help = "point --database (or [store] database) at the history file; if this \
                        file is a leftover, move it away and the service starts a new history",
                "{shown} is not an SQLite database"
            );
        }
        Some(SQLITE_BUSY | SQLITE_LOCKED) => {
            return miette!(
                help = format!(
                    "another process holds it (`fuser {shown}` says which); try again when \
                     it is done"
                ),
                "the history database {shown} is locked"
            );
        }
        _ => {}
    }
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if read_only_mount(dir) {
        return miette!(
            help = "remount it read-write, or give --database a writable place (the \
                    service's unit gets one from StateDirectory=)",
            "cannot open the history database {shown}: {} is on a read-only file system",
            dir.display()
        );
    }
    if let Some(denied) = permission_denied(path, dir) {
        return miette!(
            help = "run the command as the database's owner, or as root (the service runs \
                    with DynamicUser=, so its history is root's to read), or fix the \
                    owner or mode",
            "cannot open the history database {shown}: permission denied: {denied}"
        );
    }
    miette!("cannot open the history database {shown}: {}", cause(error))
}

/// The primary SQLite result code among the error's causes.
fn sqlite_code(error: &(dyn Error + 'static)) -> Option<i64> {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(sqlx::Error::Database(database)) = cause.downcast_ref::<sqlx::Error>() {
            // Extended codes carry the primary code in their low byte.
            return database.code()?.parse::<i64>().ok().map(|code| code & 0xff);
        }
        next = cause.source();
    }
    None
}

fn read_only_mount(dir: &Path) -> bool {
    rustix::fs::statvfs(dir).is_ok_and(|stats| stats.f_flag.contains(StatVfsMountFlags::RDONLY))
}

/// "uid 1000 may not write /var/lib/x/history.db (owner uid 0, mode 0600)", when the OS
/// refuses this process the file or, for a file not made yet, its directory.
fn permission_denied(path: &Path, dir: &Path) -> Option<String> {
    let uid = rustix::process::getuid().as_raw();
    let (target, access) = if path.exists() {
        (path, Access::READ_OK | Access::WRITE_OK)
    } else {
        (dir, Access::WRITE_OK | Access::EXEC_OK)
    };
    let refused = rustix::fs::access(target, access).err()?;
    if refused != rustix::io::Errno::ACCESS && refused != rustix::io::Errno::PERM {
        return None;
    }
    let owner = std::fs::metadata(target)
        .map(|meta| {
            format!(
                " (owner uid {}, mode {:04o})",
                meta.uid(),
                meta.mode() & 0o7777
            )
        })
        .unwrap_or_default();
    Some(format!(
        "uid {uid} may not write {}{owner}",
        target.display()
    ))
}

/// The chain past the store's own "open the history database PATH", which the headline says.
fn cause(error: &StoreError) -> String {
    match error.source() {
        Some(source) => chain(source),
        None => error.to_string(),
    }
}
