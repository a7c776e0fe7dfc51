//! The notices of a promotion, written in the transaction of the change they
//! report (see `outbox`): a ring moved, a ring could not move.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::SqliteConnection;

use super::columns::time_text;
use super::outbox::enqueue;
use crate::model::NoticeKind;

/// A ring moved: where the version is latest now and where it waits.
pub(super) async fn promoted(
    conn: &mut SqliteConnection,
    id: &str,
    version: &str,
    upto: u32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let Some(p) = super::promotions::read_one(conn, id, version).await? else {
        return Ok(());
    };
    let next_ring_at = p.next_ring().and_then(|r| r.due_at).map(time_text);
    let data = json!({
        "version": version,
        "gallery_image_id": id,
        "build_id": p.build_id,
        "ring": upto,
        "rings": p.rings.len(),
        "latest_in": p.regions(true),
        "staged_in": p.regions(false),
        "next_ring_at": next_ring_at,
    });
    let image = p.image;
    enqueue(conn, NoticeKind::VersionPromoted, Some(&image), at, &data).await?;
    Ok(())
}

/// A ring could not move; notified when its failures begin, not on every retry.
pub(super) async fn failed(
    conn: &mut SqliteConnection,
    id: &str,
    version: &str,
    ring: u32,
    error: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let before: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT r.last_error, p.image FROM promotion_rings r
         JOIN promotions p USING (gallery_image_id, version)
         WHERE r.gallery_image_id = ?1 AND r.version = ?2 AND r.ring = ?3",
    )
    .bind(id)
    .bind(version)
    .bind(i64::from(ring))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((last_error, image)) = before else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE promotion_rings SET last_error = ?4
         WHERE gallery_image_id = ?1 AND version = ?2 AND ring = ?3",
    )
    .bind(id)
    .bind(version)
    .bind(i64::from(ring))
    .bind(error)
    .execute(&mut *conn)
    .await?;
    if last_error.is_none() {
        let data = json!({
            "version": version,
            "gallery_image_id": id,
            "ring": ring,
            "error": error,
            "since": time_text(at),
        });
        enqueue(conn, NoticeKind::PromotionFailed, Some(&image), at, &data).await?;
    }
    Ok(())
}
