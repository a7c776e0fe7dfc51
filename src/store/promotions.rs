//! Staged promotions (see `promote::rings`): which gallery image version is
//! being made latest ring by ring, what each ring has reached, and what is due.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{opt_time, time, time_text};
use super::{Store, StoreError};

/// One staged version in one gallery image definition, and its rings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    /// The gallery image definition, lower case.
    pub gallery_image_id: String,
    pub version: String,
    pub image: String,
    pub build_id: String,
    pub staged_at: DateTime<Utc>,
    /// Why it ended before its last ring (a revoke).
    pub stopped_reason: Option<String>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// In order, the first is ring 1.
    pub rings: Vec<PromotionRing>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotionRing {
    pub ring: u32,
    pub regions: Vec<String>,
    /// After the ring before (after staging, for ring 1); `None`: by hand only.
    pub after_secs: Option<u64>,
    /// When it moves on its own, once the ring before is done.
    pub due_at: Option<DateTime<Utc>>,
    pub requested_at: Option<DateTime<Utc>>,
    pub requested_by: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    /// Why the last attempt to move it failed; `None` once it moved.
    pub last_error: Option<String>,
}

impl Promotion {
    /// The first ring not promoted yet; `None` when every ring is, or the
    /// promotion was stopped.
    pub fn next_ring(&self) -> Option<&PromotionRing> {
        if self.stopped_reason.is_some() {
            return None;
        }
        self.rings.iter().find(|r| r.done_at.is_none())
    }

    /// The regions of the rings promoted so far (`promoted`), or of those
    /// still to come.
    pub fn regions(&self, promoted: bool) -> Vec<String> {
        self.rings
            .iter()
            .filter(|r| r.done_at.is_some() == promoted)
            .flat_map(|r| r.regions.iter().cloned())
            .collect()
    }

    /// When the service must act on it: at once for a ring asked for and not
    /// seen through (a process died), else the next ring's due time.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        let ring = self.next_ring()?;
        match ring.requested_at {
            Some(asked) => Some(asked),
            None => ring.due_at,
        }
    }
}

fn promotion_from_row(row: &SqliteRow) -> Result<Promotion, sqlx::Error> {
    Ok(Promotion {
        gallery_image_id: row.try_get("gallery_image_id")?,
        version: row.try_get("version")?,
        image: row.try_get("image")?,
        build_id: row.try_get("build_id")?,
        staged_at: time(row, "staged_at")?,
        stopped_reason: row.try_get("stopped_reason")?,
        stopped_at: opt_time(row, "stopped_at")?,
        rings: Vec::new(),
    })
}

fn ring_from_row(row: &SqliteRow) -> Result<(String, String, PromotionRing), sqlx::Error> {
    let regions: String = row.try_get("regions")?;
    let regions = serde_json::from_str(&regions).map_err(|e| sqlx::Error::ColumnDecode {
        index: "regions".into(),
        source: Box::new(e),
    })?;
    let ring: i64 = row.try_get("ring")?;
    let after: Option<i64> = row.try_get("after_secs")?;
    Ok((
        row.try_get("gallery_image_id")?,
        row.try_get("version")?,
        PromotionRing {
            ring: u32::try_from(ring).unwrap_or(u32::MAX),
            regions,
            after_secs: after.and_then(|a| u64::try_from(a).ok()),
            due_at: opt_time(row, "due_at")?,
            requested_at: opt_time(row, "requested_at")?,
            requested_by: row.try_get("requested_by")?,
            done_at: opt_time(row, "done_at")?,
            last_error: row.try_get("last_error")?,
        },
    ))
}

/// One promotion with its rings, read on `conn` (the caller's transaction).
pub(super) async fn read_one(
    conn: &mut sqlx::SqliteConnection,
    id: &str,
    version: &str,
) -> Result<Option<Promotion>, sqlx::Error> {
    let Some(mut promotion) =
        sqlx::query("SELECT * FROM promotions WHERE gallery_image_id = ?1 AND version = ?2")
            .bind(id)
            .bind(version)
            .try_map(|row: SqliteRow| promotion_from_row(&row))
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(None);
    };
    promotion.rings = sqlx::query(
        "SELECT * FROM promotion_rings WHERE gallery_image_id = ?1 AND version = ?2 ORDER BY ring",
    )
    .bind(id)
    .bind(version)
    .try_map(|row: SqliteRow| ring_from_row(&row).map(|(_, _, ring)| ring))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(promotion))
}

fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}

/// What a request to promote found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingRequest {
    /// Recorded: ask Azure now.
    Go,
    /// The version is revoked: the promotion is stopped and Azure is not asked.
    Revoked,
}

impl Store {
    /// Records a freshly published staged version; ring 1 is due `after` its
    /// staging. Recording it again (a resumed build) changes nothing.
    pub async fn stage_promotion(&self, promotion: &Promotion) -> Result<(), StoreError> {
        const ACTION: &str = "record a staged version";
        let id = promotion.gallery_image_id.to_ascii_lowercase();
        let mut tx = self.begin_write(ACTION).await?;
        let inserted = sqlx::query(
            "INSERT INTO promotions (gallery_image_id, version, image, build_id, staged_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (gallery_image_id, version) DO NOTHING",
        )
        .bind(&id)
        .bind(&promotion.version)
        .bind(&promotion.image)
        .bind(&promotion.build_id)
        .bind(time_text(promotion.staged_at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?
        .rows_affected();
        if inserted == 1 {
            for ring in &promotion.rings {
                let due = (ring.ring == 1)
                    .then_some(ring.after_secs)
                    .flatten()
                    .map(|after| time_text(promotion.staged_at + seconds(after)));
                let regions = serde_json::to_string(&ring.regions).unwrap_or_default();
                sqlx::query(
                    "INSERT INTO promotion_rings (gallery_image_id, version, ring, regions,
                         after_secs, due_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .bind(&id)
                .bind(&promotion.version)
                .bind(i64::from(ring.ring))
                .bind(regions)
                .bind(ring.after_secs.and_then(|a| i64::try_from(a).ok()))
                .bind(due)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(ACTION))?;
            }
        }
        tx.commit().await.map_err(StoreError::query(ACTION))
    }

    /// Promotions of `image` (all images when `None`), oldest first.
    pub async fn promotions(&self, image: Option<&str>) -> Result<Vec<Promotion>, StoreError> {
        const ACTION: &str = "read the promotions";
        let mut promotions: Vec<Promotion> = sqlx::query(
            "SELECT * FROM promotions WHERE ?1 IS NULL OR image = ?1
             ORDER BY staged_at, rowid",
        )
        .bind(image)
        .try_map(|row: SqliteRow| promotion_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(ACTION))?;
        let rings = sqlx::query(
            "SELECT r.* FROM promotion_rings r JOIN promotions p USING (gallery_image_id, version)
             WHERE ?1 IS NULL OR p.image = ?1 ORDER BY r.ring",
        )
        .bind(image)
        .try_map(|row: SqliteRow| ring_from_row(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(ACTION))?;
        for (id, version, ring) in rings {
            if let Some(p) = promotions
                .iter_mut()
                .find(|p| p.gallery_image_id == id && p.version == version)
            {
                p.rings.push(ring);
            }
        }
        Ok(promotions)
    }

    /// Records the intent to promote rings up to `upto`, before Azure is asked;
    /// a revoked version is stopped instead, in the same transaction, so a
    /// revoke and a promotion cannot both be recorded as going ahead.
    pub async fn request_rings(
        &self,
        gallery_image_id: &str,
        version: &str,
        upto: u32,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<RingRequest, StoreError> {
        const ACTION: &str = "record a promotion";
        let id = gallery_image_id.to_ascii_lowercase();
        let mut tx = self.begin_write(ACTION).await?;
        let revoked: Option<String> = sqlx::query_scalar(
            "SELECT reason FROM revocations WHERE gallery_image_id = ?1 AND version = ?2",
        )
        .bind(&id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        let outcome = if let Some(reason) = revoked {
            stop(&mut tx, &id, version, &format!("revoked: {reason}"), at)
                .await
                .map_err(StoreError::query(ACTION))?;
            RingRequest::Revoked
        } else {
            sqlx::query(
                "UPDATE promotion_rings SET requested_at = coalesce(requested_at, ?4),
                     requested_by = coalesce(requested_by, ?5)
                 WHERE gallery_image_id = ?1 AND version = ?2 AND ring <= ?3 AND done_at IS NULL",
            )
            .bind(&id)
            .bind(version)
            .bind(i64::from(upto))
            .bind(time_text(at))
            .bind(by)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
            RingRequest::Go
        };
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(outcome)
    }

    /// Ends a promotion before its last ring (the version is gone from Azure).
    pub async fn stop_promotion(
        &self,
        gallery_image_id: &str,
        version: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "record a promotion as stopped";
        let id = gallery_image_id.to_ascii_lowercase();
        let mut tx = self.begin_write(ACTION).await?;
        stop(&mut tx, &id, version, reason, at)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))
    }

    /// Azure has applied rings up to `upto`: they are done, and the ring after
    /// them falls due its delay from now.
    pub async fn finish_rings(
        &self,
        gallery_image_id: &str,
        version: &str,
        upto: u32,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "record a promotion as done";
        let id = gallery_image_id.to_ascii_lowercase();
        let mut tx = self.begin_write(ACTION).await?;
        let moved = sqlx::query(
            "UPDATE promotion_rings SET done_at = ?4, last_error = NULL
             WHERE gallery_image_id = ?1 AND version = ?2 AND ring <= ?3 AND done_at IS NULL",
        )
        .bind(&id)
        .bind(version)
        .bind(i64::from(upto))
        .bind(time_text(at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?
        .rows_affected();
        let after: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT after_secs FROM promotion_rings
             WHERE gallery_image_id = ?1 AND version = ?2 AND ring = ?3 AND due_at IS NULL",
        )
        .bind(&id)
        .bind(version)
        .bind(i64::from(upto) + 1)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        if let Some(Some(after)) = after {
            let due = at + seconds(u64::try_from(after).unwrap_or(0));
            sqlx::query(
                "UPDATE promotion_rings SET due_at = ?4
                 WHERE gallery_image_id = ?1 AND version = ?2 AND ring = ?3",
            )
            .bind(&id)
            .bind(version)
            .bind(i64::from(upto) + 1)
            .bind(time_text(due))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        }
        // Told once: a ring recorded as done again (a resumed pass) is no news.
        if moved > 0 {
            super::promotion_notices::promoted(&mut tx, &id, version, upto, at)
                .await
                .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))
    }

    /// A ring could not move: the error is kept on it (and notified when its
    /// failures begin); the ring stays asked for and is tried again.
    pub async fn fail_ring(
        &self,
        gallery_image_id: &str,
        version: &str,
        ring: u32,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "record a failed promotion";
        let id = gallery_image_id.to_ascii_lowercase();
        let mut tx = self.begin_write(ACTION).await?;
        super::promotion_notices::failed(&mut tx, &id, version, ring, error, at)
            .await
            .map_err(StoreError::query(ACTION))?;
        tx.commit().await.map_err(StoreError::query(ACTION))
    }
}

/// The first reason a promotion stopped is the one kept.
async fn stop(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    version: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE promotions SET stopped_reason = ?3, stopped_at = ?4
         WHERE gallery_image_id = ?1 AND version = ?2 AND stopped_reason IS NULL",
    )
    .bind(id)
    .bind(version)
    .bind(reason)
    .bind(time_text(at))
    .execute(tx)
    .await
    .map(|_| ())
}
