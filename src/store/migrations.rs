//! The schema migrations of migrations/, embedded at build time by build.rs.
//!
//! `sqlx::migrate!` would do the same, but sqlx's macros compile a second sqlx, tokio
//! and SQLite for the build host: about a tenth of a clean release build (issue 16).
//! No query is checked at compile time, so the macros bought nothing else; the test
//! below holds the embedded list to what `sqlx::migrate!` makes of the same directory.

use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, Migrator};

/// The migrations as build.rs found them, sorted by version.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async { Ok(include!(concat!(env!("OUT_DIR"), "/migrations.rs"))) })
    }
}

/// The migrator `sqlx::migrate!()` would build (same migrations, default settings).
pub(super) async fn migrator() -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn embedded_migrations_are_what_sqlx_migrate_makes_of_the_directory() {
        let embedded = migrator().await.unwrap();
        let reference = sqlx::migrate!();
        let ours: Vec<&Migration> = embedded.iter().collect();
        let theirs: Vec<&Migration> = reference.iter().collect();
        assert!(!ours.is_empty());
        assert_eq!(ours.len(), theirs.len());
        for (ours, theirs) in ours.iter().zip(theirs) {
            assert_eq!(ours.version, theirs.version);
            assert_eq!(ours.description, theirs.description);
            assert_eq!(ours.migration_type, theirs.migration_type);
            assert_eq!(ours.sql, theirs.sql);
            // What a database that has run them records and checks on every start.
            assert_eq!(ours.checksum, theirs.checksum, "{}", ours.description);
            assert_eq!(ours.no_tx, theirs.no_tx);
        }
        // The settings (hidden fields, so only a test looks at them).
        let settings = |m: &Migrator| (m.ignore_missing, m.locking, m.no_tx);
        assert_eq!(settings(&embedded), settings(&reference));
    }
}
