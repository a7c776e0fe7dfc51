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
    let (image, build_id): (String, String) = sqlx::query_as(
        "SELECT image, build_id FROM promotions WHERE gallery_image_id = ?1 AND version = ?2",
    )
    .bind(id)
    .bind(version)
    .fetch_one(&mut *conn)
    .await?;
    let rings: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT ring, regions, done_at, due_at FROM promotion_rings
         WHERE gallery_image_id = ?1 AND version = ?2 ORDER BY ring",
    )
    .bind(id)
    .bind(version)
    .fetch_all(&mut *conn)
    .await?;
    let regions = |done: bool| -> Vec<String> {
        rings
            .iter()
            .filter(|(_, _, done_at, _)| done_at.is_some() == done)
            .flat_map(|(_, regions, _, _)| {
                serde_json::from_str::<Vec<String>>(regions).unwrap_or_default()
            })
            .collect()
    };
    let next_ring_at = rings
        .iter()
        .find(|(_, _, done_at, _)| done_at.is_none())
        .and_then(|(_, _, _, due)| due.clone());
    let data = json!({
        "version": version,
        "gallery_image_id": id,
        "build_id": build_id,
        "ring": upto,
        "rings": rings.len(),
        "latest_in": regions(true),
        "staged_in": regions(false),
        "next_ring_at": next_ring_at,
    });
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
