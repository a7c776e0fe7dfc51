//! Image leases: at most one process builds an image at a time.
//!
//! A lease is a row naming its holder and when it expires. Claiming is one
//! write transaction, so of any number of processes racing for an image,
//! exactly one wins; a lease its holder stopped renewing can be taken over.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::{time, time_text};
use super::{ClaimError, Store, StoreError};

/// A held lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub image: String,
    /// "host:pid:start:uuid" of the holder, as the caller chose it.
    pub holder: String,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Takes the lease on `image` until `now + ttl`: if nobody holds it, its
    /// holder let it expire, or `holder` already holds it (then it is renewed
    /// and keeps its `acquired_at`).
    pub async fn try_claim(
        &self,
        image: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Lease, ClaimError> {
        const ACTION: &str = "claim an image";
        let mut tx = self.begin_write(ACTION).await?;
        let claimed = sqlx::query(
            "INSERT INTO image_leases (image, holder, acquired_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (image) DO UPDATE SET
                 acquired_at = CASE WHEN holder = excluded.holder THEN acquired_at
                                    ELSE excluded.acquired_at END,
                 holder = excluded.holder,
                 expires_at = excluded.expires_at
             WHERE holder = excluded.holder OR expires_at <= excluded.acquired_at
             RETURNING *",
        )
        .bind(image)
        .bind(holder)
        .bind(time_text(now))
        .bind(time_text(now + ttl))
        .try_map(|row: SqliteRow| lease_from_row(&row))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        settle(tx, image, ACTION, claimed).await
    }

    /// Extends a lease `holder` still holds to `now + ttl`. Unlike
    /// [`Store::try_claim`] this never takes a lease that is not already ours.
    pub async fn renew(
        &self,
        image: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Lease, ClaimError> {
        const ACTION: &str = "renew the lease on an image";
        let mut tx = self.begin_write(ACTION).await?;
        let renewed = sqlx::query(
            "UPDATE image_leases SET expires_at = ?3
             WHERE image = ?1 AND holder = ?2
             RETURNING *",
        )
        .bind(image)
        .bind(holder)
        .bind(time_text(now + ttl))
        .try_map(|row: SqliteRow| lease_from_row(&row))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        settle(tx, image, ACTION, renewed).await
    }

    /// Takes the lease on `image` from `dead_holder`, a holder the caller knows
    /// to be dead (a killed process cannot release its leases), without waiting
    /// for it to expire. Only succeeds while `dead_holder` still holds it, so of
    /// processes racing to take over, exactly one wins.
    pub async fn take_over(
        &self,
        image: &str,
        dead_holder: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Lease, ClaimError> {
        const ACTION: &str = "take over the lease of a dead process";
        let mut tx = self.begin_write(ACTION).await?;
        let taken = sqlx::query(
            "UPDATE image_leases SET holder = ?3, acquired_at = ?4, expires_at = ?5
             WHERE image = ?1 AND holder = ?2
             RETURNING *",
        )
        .bind(image)
        .bind(dead_holder)
        .bind(holder)
        .bind(time_text(now))
        .bind(time_text(now + ttl))
        .try_map(|row: SqliteRow| lease_from_row(&row))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        settle(tx, image, ACTION, taken).await
    }

    /// Gives up the lease if `holder` holds it; returns whether it did.
    pub async fn release(&self, image: &str, holder: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM image_leases WHERE image = ?1 AND holder = ?2")
            .bind(image)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("release the lease on an image"))?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Every lease as stored, expired or not, by image.
    pub async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        sqlx::query("SELECT * FROM image_leases ORDER BY image")
            .try_map(|row: SqliteRow| lease_from_row(&row))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("read the image leases"))
    }

    /// The lease on an image as stored, expired or not.
    pub async fn lease(&self, image: &str) -> Result<Option<Lease>, StoreError> {
        sqlx::query("SELECT * FROM image_leases WHERE image = ?1")
            .bind(image)
            .try_map(|row: SqliteRow| lease_from_row(&row))
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("read the lease on an image"))
    }
}

/// Why a claim or renewal on `image` failed, read in the same transaction.
/// Commits a lease write: the lease it wrote, or who holds the image instead.
async fn settle(
    mut tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    image: &str,
    action: &'static str,
    written: Option<Lease>,
) -> Result<Lease, ClaimError> {
    let result = match written {
        Some(lease) => Ok(lease),
        None => Err(held_by(&mut tx, image, action).await?),
    };
    tx.commit().await.map_err(StoreError::query(action))?;
    result
}

async fn held_by(
    tx: &mut sqlx::SqliteConnection,
    image: &str,
    action: &'static str,
) -> Result<ClaimError, StoreError> {
    let current = sqlx::query("SELECT * FROM image_leases WHERE image = ?1")
        .bind(image)
        .try_map(|row: SqliteRow| lease_from_row(&row))
        .fetch_optional(tx)
        .await
        .map_err(StoreError::query(action))?;
    Ok(match current {
        Some(lease) => ClaimError::HeldBy {
            image: lease.image,
            holder: lease.holder,
            expires_at: lease.expires_at,
        },
        None => ClaimError::NotHeld {
            image: image.to_owned(),
        },
    })
}

fn lease_from_row(row: &SqliteRow) -> Result<Lease, sqlx::Error> {
    Ok(Lease {
        image: row.try_get("image")?,
        holder: row.try_get("holder")?,
        acquired_at: time(row, "acquired_at")?,
        expires_at: time(row, "expires_at")?,
    })
}
