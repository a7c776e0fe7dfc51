//! Where a round's builds stand, as the next process will find them.

use std::collections::BTreeSet;

use image_refresh::store::Store;
use sqlx::Row;

/// The states a kill must have hit at least once across the suite.
pub const REQUIRED: &[&str] = &[
    "decided",
    "planned",
    "template_created",
    "run_requested",
    "running",
    "terminal_before_cleanup",
];

/// Every build's phase among `images`: its state while unfinished,
/// `terminal_before_cleanup` once it ended but its template is not yet
/// deleted, `done` after that. An image without a build is `decided` once a
/// finished check found it stale, `unchecked` before.
pub async fn phases(store: &Store, images: &[String]) -> BTreeSet<&'static str> {
    let rows = sqlx::query(
        "SELECT image, state, cleanup FROM builds
         WHERE image IN (SELECT value FROM json_each(?1))",
    )
    .bind(serde_json::to_string(images).unwrap())
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut found = BTreeSet::new();
    for row in &rows {
        let state: String = row.get("state");
        let cleanup: String = row.get("cleanup");
        found.insert(phase(&state, &cleanup));
    }
    if rows.len() < images.len() {
        let decided: i64 = sqlx::query(
            "SELECT count(*) FROM json_each(?1) AS i
             WHERE NOT EXISTS (SELECT 1 FROM builds WHERE image = i.value)
               AND EXISTS (SELECT 1 FROM check_decisions WHERE image = i.value AND stale)",
        )
        .bind(serde_json::to_string(images).unwrap())
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
        if decided > 0 {
            found.insert("decided");
        }
        if rows.len() + (decided as usize) < images.len() {
            found.insert("unchecked");
        }
    }
    found
}

fn phase(state: &str, cleanup: &str) -> &'static str {
    match (state, cleanup) {
        ("planned", _) => "planned",
        ("template_created", _) => "template_created",
        ("run_requested", _) => "run_requested",
        ("running", _) => "running",
        ("canceling", _) => "canceling",
        (_, "pending") => "terminal_before_cleanup",
        _ => "done",
    }
}

/// Whether every one of `images` has a build that ended and was cleaned up.
pub async fn all_done(store: &Store, images: &[String]) -> bool {
    phases(store, images).await.into_iter().all(|p| p == "done")
}
