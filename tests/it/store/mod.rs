//! The history store against real SQLite files.

mod builds;
mod checks;
mod disk;
mod images;
mod leases;
mod shell;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use image_refresh::model::{DecisionKind, SourceKey};
use image_refresh::store::{DecisionRecord, NewBuild, ResolvedVersionRecord, Store};
use tempfile::TempDir;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn t0() -> DateTime<Utc> {
    at("2026-11-25T09:00:00Z")
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("history.db")
}

async fn fresh() -> (TempDir, Store) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db_path(&dir)).await.unwrap();
    (dir, store)
}

fn new_build(image: &str, created_at: DateTime<Utc>) -> NewBuild {
    NewBuild {
        image: image.into(),
        check_id: None,
        decision: Some(DecisionKind::NewBaseVersion),
        reason: "new base version 22.04.202411010 → 22.04.202411200".into(),
        recipe_hash: "sha256:aaaa".into(),
        source_version: "22.04.202411200".into(),
        created_at,
    }
}

fn decision(image: &str, kind: DecisionKind) -> DecisionRecord {
    DecisionRecord {
        image: image.into(),
        kind,
        reason: format!("{kind} because"),
        source_version: Some("22.04.202411200".into()),
        recipe_hash: "sha256:aaaa".into(),
    }
}

fn marketplace(version: &str) -> ResolvedVersionRecord {
    ResolvedVersionRecord {
        key: SourceKey::Marketplace {
            location: "westeurope".into(),
            publisher: "Canonical".into(),
            offer: "ubuntu-24_04-lts".into(),
            sku: "server".into(),
        },
        version: version.into(),
        resolved_at: t0(),
    }
}

async fn count(store: &Store, table_query: &str) -> i64 {
    sqlx::query_scalar(table_query)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_create_the_schema_in_a_new_directory_and_reopening_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("var/lib/image-refresh/history.db");
    let store = Store::open(&path).await.unwrap();
    assert!(path.exists());
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'
         ORDER BY name",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "build_events",
            "builds",
            "check_cycles",
            "check_decisions",
            "deliveries",
            "image_leases",
            "images",
            "outbox",
            "promotion_rings",
            "promotions",
            "resolved_versions",
            "revocations",
            "source_versions"
        ]
    );
    store.ensure_images(["web"]).await.unwrap();
    store.close().await;

    let again = Store::open(&path).await.unwrap();
    let also = Store::open(&path).await.unwrap();
    assert_eq!(
        count(&also, "SELECT count(*) FROM _sqlx_migrations").await,
        migrations()
    );
    assert!(again.image_state("web").await.unwrap().is_some());
}

#[tokio::test]
async fn processes_starting_together_on_a_new_file_apply_the_schema_once() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let opens = (0..4).map(|_| {
        let path = path.clone();
        tokio::spawn(async move { Store::open(&path).await })
    });
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    assert_eq!(
        count(&stores[0], "SELECT count(*) FROM _sqlx_migrations").await,
        migrations()
    );
}

#[tokio::test]
async fn connections_use_wal_foreign_keys_and_normal_sync() {
    let (_dir, store) = fresh().await;
    let mut conn = store.pool().acquire().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(foreign_keys, 1);
    assert_eq!(synchronous, 1, "1 is NORMAL");
}

#[tokio::test]
async fn opening_something_that_is_not_a_database_names_the_file() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = Store::open(&path).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(path.to_str().unwrap()),
        "message should name the file: {message}"
    );
}

/// How many migrations the repository ships: each is applied exactly once.
fn migrations() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("sql".as_ref()))
        .count() as i64
}

#[tokio::test]
async fn a_database_of_the_first_schema_keeps_its_decisions_through_the_upgrade() {
    use sqlx::sqlite::SqliteConnectOptions;
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    // The first release's schema, with a check recorded by it.
    let pool = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    let mut first = sqlx::migrate!();
    first.migrations = std::borrow::Cow::Owned(vec![first.migrations[0].clone()]);
    first.run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO images (name) VALUES ('web')",
        "INSERT INTO check_cycles (id, started_at, finished_at, trigger, images_total, images_stale)
         VALUES (1, '2026-11-25T09:00:00Z', '2026-11-25T09:00:01Z', 'cli', 1, 1)",
        "INSERT INTO check_decisions (check_id, image, decision, reason, source_version, recipe_hash)
         VALUES (1, 'web', 'never_built', 'never built', '1.0.0', 'sha256:ab')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = Store::open(&path).await.unwrap();
    let decisions = store
        .decisions(image_refresh::model::CheckId(1))
        .await
        .unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].kind, DecisionKind::NeverBuilt);
    assert_eq!(decisions[0].source_version.as_deref(), Some("1.0.0"));
    let stale: i64 = sqlx::query_scalar("SELECT stale FROM check_decisions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stale, 1);
    // The new word is accepted now, and the old table is gone.
    assert_eq!(
        store.last_decision("web").await.unwrap(),
        Some(DecisionKind::NeverBuilt)
    );
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name LIKE 'check_decisions%'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(tables.contains(&"check_decisions".to_owned()), "{tables:?}");
    assert!(!tables.iter().any(|t| t.ends_with("_v2")), "{tables:?}");
}

/// The promotions migration rebuilds the outbox and its deliveries (a CHECK
/// cannot be changed in place): notices waiting to be delivered survive it,
/// still tied to their deliveries, and the new kinds are accepted.
#[tokio::test]
async fn undelivered_notices_survive_the_outbox_rebuild() {
    use sqlx::sqlite::SqliteConnectOptions;
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let pool = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    let mut before = sqlx::migrate!();
    let kept: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < 20261202110000)
        .cloned()
        .collect();
    before.migrations = std::borrow::Cow::Owned(kept);
    before.run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO outbox (id, created_at, kind, image, data)
         VALUES ('e1', '2026-12-01T09:00:00Z', 'build_failed', 'web', '{\"error_code\":\"X\"}')",
        "INSERT INTO deliveries (event_id, sink, state, attempts, next_attempt_at)
         VALUES ('e1', 'ops', 'pending', 2, '2026-12-01T09:05:00Z')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = Store::open(&path).await.unwrap();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT o.kind, d.state, d.attempts FROM outbox o JOIN deliveries d ON d.event_id = o.id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(rows, [("build_failed".to_owned(), "pending".to_owned(), 2)]);
    let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    // A delivery must still name a notice that exists.
    let orphan = sqlx::query(
        "INSERT INTO deliveries (event_id, sink, state, next_attempt_at)
         VALUES ('nope', 'ops', 'pending', '2026-12-01T09:05:00Z')",
    )
    .execute(store.pool())
    .await;
    assert!(orphan.is_err(), "{orphan:?}");
    store
        .enqueue_notice(
            image_refresh::model::NoticeKind::VersionPromoted,
            Some("web"),
            chrono::Utc::now(),
            &serde_json::json!({ "version": "1.0.1" }),
        )
        .await
        .unwrap();
}
